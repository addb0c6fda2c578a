// zipml — the CPU backend's inner loops: unpacking, dot products and model updates, float and integer.
//
// The fast passes keep every lane's model in *kernel order* for the epoch: within each group
// of W 32-bit slots of the row (W = one SIMD register of 32-bit values, 16 with AVX-512), value
// k of slot m sits at k*W + m. Then unpacking W Q-bit values is one uniform shift and mask of
// the register that holds the slots, with no shuffles. Dot products and updates are
// element-wise, so the order of the model words does not matter to them; the backend converts
// the model to kernel order at the start of a pass and back at its end. The few features after
// the last full group stay in file order (KernelOrder says why).
//
// One sweep over a block of lanes fuses the update of one sample with the dot product of the
// next: each model word is loaded once, updated, stored once and multiplied into the next
// sample's dot product (for the engine arithmetic the dot product reads the word before the
// pending update, which is exactly its staleness of one sample). The block's dot-product
// accumulators stay in registers, and the features are loaded once for all lanes of the block.
#ifndef ZIPML_BACKEND_CPU_KERNELS_HPP
#define ZIPML_BACKEND_CPU_KERNELS_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/arithmetic/float.hpp"
#include "zipml/stream/format.hpp"

#if XSIMD_WITH_AVX512F
#include <immintrin.h>
#endif

// GCC 12 warns that the AVX-512 intrinsics' own "undefined" pass-through register may be
// used uninitialized when they are inlined here (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace zipml::cpu {

//! The engine's exact dot product: sum A[j] x[j] in 64 bits (no rounding, so any order).
[[nodiscard]] inline std::int64_t dot_exact(const std::int32_t* a, const std::int32_t* x, std::size_t n) noexcept {
  std::int64_t s = 0;
  for (std::size_t j = 0; j < n; ++j) s += static_cast<std::int64_t>(a[j]) * x[j];
  return s;
}

//! The engine's model update for every feature; the old words go to `previous`, which is
//! the model the next sample's dot product sees (staleness 1).
inline void update_exact(std::int32_t* x, std::int32_t* previous, const std::int32_t* a, std::int32_t g, int frac,
                         std::uint32_t lambda_shift, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    previous[j] = x[j];
    x[j] = engine::update(x[j], a[j], g, frac, lambda_shift);
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel order and unpacking
// ---------------------------------------------------------------------------------------------

template <class T>
using aligned_vector = std::vector<T, xsimd::aligned_allocator<T, 64>>;

//! Where each feature of a row sits in kernel order, and the mask of the tail's slots.
//!
//! The row's full groups of W slots are in kernel order; the features past the last full group
//! (the tail, fewer than a group) stay in file order, padded to a multiple of W only. A tail in
//! kernel order would need a whole group of registers however few its features: for d = 785
//! that padded a lane to 832 (q8), 896 (q4) or 1024 (q2, q1) words; in file order it is 800.
class KernelOrder {
 public:
  static constexpr std::size_t width = xsimd::batch<std::uint32_t>::size; //!< W: 32-bit slots per group

  explicit KernelOrder(const stream::Layout& layout)
      : bits_(layout.bits),
        dim_(layout.dim),
        per_slot_(layout.is_float() ? 1 : 32 / layout.bits),
        group_(width * per_slot_),
        full_(dim_ / group_),
        tail_(dim_ - full_ * group_),
        padded_(full_ * group_ + (tail_ + width - 1) / width * width) {
    for (std::size_t m = 0; m < width; ++m) {
      const std::size_t first = full_ * group() + m * per_slot_;
      const std::size_t valid = first >= dim_ ? 0 : std::min<std::size_t>(per_slot_, dim_ - first);
      // Padding values are ignored (docs/ENGINE.md §2): their bits are cleared before decoding.
      tail_mask_[m] = valid == per_slot_ ? ~0u : layout.is_float() ? 0u : (1u << (valid * bits_)) - 1u;
    }
  }

  [[nodiscard]] std::size_t per_slot() const noexcept { return per_slot_; }
  [[nodiscard]] std::size_t group() const noexcept { return group_; }
  //! Groups of W slots that the row fills completely (in kernel order).
  [[nodiscard]] std::size_t full_groups() const noexcept { return full_; }
  //! Features after the full groups (file order), fewer than a group.
  [[nodiscard]] std::size_t tail() const noexcept { return tail_; }
  //! 32-bit slots that hold the tail.
  [[nodiscard]] std::size_t tail_slots() const noexcept { return (tail_ + per_slot_ - 1) / per_slot_; }
  //! Model words per lane in kernel order (the padding past d is kept at 0).
  [[nodiscard]] std::size_t padded() const noexcept { return padded_; }
  //! The kernel-order position of feature j.
  [[nodiscard]] std::size_t position(std::size_t j) const noexcept {
    if (j >= full_ * group_) return j;
    const std::size_t g = j / group(), r = j % group();
    return g * group() + (r % per_slot_) * width + r / per_slot_;
  }
  [[nodiscard]] const std::array<std::uint32_t, width>& tail_mask() const noexcept { return tail_mask_; }
  [[nodiscard]] std::size_t dim() const noexcept { return dim_; }
  [[nodiscard]] unsigned bits() const noexcept { return bits_; }

  //! Copies `lanes` models of d words into kernel order (`out`: lanes x padded, padding 0).
  template <class T>
  void to_kernel(const T* natural, std::size_t lanes, T* out) const noexcept {
    const std::size_t p = padded();
    for (std::size_t l = 0; l < lanes; ++l) {
      std::fill_n(out + l * p, p, T{});
      for (std::size_t j = 0; j < dim_; ++j) out[l * p + position(j)] = natural[l * dim_ + j];
    }
  }
  template <class T>
  void to_natural(const T* kernel, std::size_t lanes, T* out) const noexcept {
    const std::size_t p = padded();
    for (std::size_t l = 0; l < lanes; ++l)
      for (std::size_t j = 0; j < dim_; ++j) out[l * dim_ + j] = kernel[l * p + position(j)];
  }

 private:
  unsigned bits_;
  std::size_t dim_;
  std::size_t per_slot_;
  std::size_t group_; //!< features per group
  std::size_t full_;  //!< full groups per row
  std::size_t tail_;  //!< features after them
  std::size_t padded_;
  std::array<std::uint32_t, width> tail_mask_{};
};

namespace detail {

//! Q-bit values of one group's W slots, as the engine's integers A (shift and mask; in
//! [-1, 1] mode shifted up then arithmetically down, which sign-extends the pattern).
template <unsigned Q, bool MinusOneOne, class Sink>
inline void unpack_group(xsimd::batch<std::uint32_t> raw, Sink&& sink) noexcept {
  using ib = xsimd::batch<std::int32_t>;
  using ub = xsimd::batch<std::uint32_t>;
  constexpr unsigned per_slot = 32 / Q;
  for (unsigned k = 0; k < per_slot; ++k) {
    ib v;
    if constexpr (MinusOneOne)
      v = xsimd::bitwise_cast<ib>(raw << static_cast<std::int32_t>(32 - Q * (k + 1))) >> static_cast<std::int32_t>(32 - Q);
    else
      v = xsimd::bitwise_cast<ib>((raw >> static_cast<std::int32_t>(Q * k)) & ub((1u << Q) - 1u));
    sink(k, v);
  }
}

//! One Q-bit value as the engine's integer A (the scalar form of unpack_group).
template <unsigned Q, bool MinusOneOne>
[[nodiscard]] inline std::int32_t unpack_one(std::uint32_t slot, unsigned k) noexcept {
  if constexpr (MinusOneOne) return static_cast<std::int32_t>(slot << (32 - Q * (k + 1))) >> (32 - Q);
  return static_cast<std::int32_t>((slot >> (Q * k)) & ((1u << Q) - 1u));
}

//! The tail's values in file order, W per register: value f of the tail is value f % per_slot
//! of slot f / per_slot. With AVX-512 a register is one permute of the slots and one shift per
//! value; elsewhere one value at a time.
template <unsigned Q, bool MinusOneOne, class Sink>
inline void unpack_tail(xsimd::batch<std::uint32_t> tail, std::size_t registers, Sink&& sink) noexcept {
  using ib = xsimd::batch<std::int32_t>;
  constexpr std::size_t w = KernelOrder::width;
  constexpr unsigned per_slot = 32 / Q;
#if XSIMD_WITH_AVX512F
  static_assert(w == 16);
  constexpr int log_per_slot = std::countr_zero(per_slot);
  const __m512i raw = tail;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (std::size_t r = 0; r < registers; ++r) {
    const __m512i f = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(r * w)));
    const __m512i slot = _mm512_permutexvar_epi32(_mm512_srli_epi32(f, log_per_slot), raw);
    const __m512i low = _mm512_mullo_epi32(_mm512_and_si512(f, _mm512_set1_epi32(per_slot - 1)), _mm512_set1_epi32(Q));
    __m512i v;
    if constexpr (MinusOneOne)
      v = _mm512_srai_epi32(_mm512_sllv_epi32(slot, _mm512_sub_epi32(_mm512_set1_epi32(32 - Q), low)), 32 - Q);
    else
      v = _mm512_and_si512(_mm512_srlv_epi32(slot, low), _mm512_set1_epi32((1 << Q) - 1));
    sink(r, ib(v));
  }
#else
  alignas(64) std::array<std::uint32_t, w> slots{};
  tail.store_aligned(slots.data());
  alignas(64) std::array<std::int32_t, w> v{};
  for (std::size_t r = 0; r < registers; ++r) {
    for (std::size_t m = 0; m < w; ++m) {
      const std::size_t f = r * w + m;
      v[m] = unpack_one<Q, MinusOneOne>(slots[f / per_slot], static_cast<unsigned>(f % per_slot));
    }
    sink(r, ib::load_aligned(v.data()));
  }
#endif
}

template <unsigned Q, bool MinusOneOne, class T>
inline void unpack_row(const std::uint32_t* slots, const KernelOrder& order, T unit, T* out) noexcept {
  using ub = xsimd::batch<std::uint32_t>;
  using ib = xsimd::batch<std::int32_t>;
  constexpr std::size_t w = KernelOrder::width;
  const std::size_t full = order.full_groups(), group = order.group();
  const bool scaled = unit != T(1);
  auto emit = [&](T* dst, ib v) {
    if constexpr (std::is_same_v<T, float>) {
      if (scaled)
        (xsimd::to_float(v) * xsimd::batch<float>(unit)).store_aligned(dst);
      else
        xsimd::to_float(v).store_aligned(dst);
    } else {
      v.store_aligned(dst);
    }
  };
  for (std::size_t g = 0; g < full; ++g) {
    T* dst = out + g * group;
    unpack_group<Q, MinusOneOne>(ub::load_unaligned(slots + g * w), [&](unsigned k, ib v) { emit(dst + k * w, v); });
  }
  if (order.tail() == 0) return;
  // The tail's slots may end before a register's worth: load what exists (a masked load with
  // AVX-512; a copy through memory elsewhere), clear the padding values.
#if XSIMD_WITH_AVX512F
  const ub raw(_mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << order.tail_slots()) - 1u), slots + full * w));
#else
  alignas(64) std::array<std::uint32_t, w> copy{};
  std::memcpy(copy.data(), slots + full * w, order.tail_slots() * sizeof(std::uint32_t));
  const ub raw = ub::load_aligned(copy.data());
#endif
  T* dst = out + full * group;
  unpack_tail<Q, MinusOneOne>(raw & ub::load_unaligned(order.tail_mask().data()), (order.tail() + w - 1) / w,
                              [&](std::size_t r, ib v) { emit(dst + r * w, v); });
}

template <class T>
inline void unpack_q(const std::uint32_t* slots, const stream::Layout& layout, const KernelOrder& order, T unit,
                     T* out) noexcept {
  const bool mm = layout.minus_one_one;
  switch (layout.bits) {
    case 1: unpack_row<1, false>(slots, order, unit, out); break; // 1-bit [-1, 1] is refused
    case 2: mm ? unpack_row<2, true>(slots, order, unit, out) : unpack_row<2, false>(slots, order, unit, out); break;
    case 4: mm ? unpack_row<4, true>(slots, order, unit, out) : unpack_row<4, false>(slots, order, unit, out); break;
    default: mm ? unpack_row<8, true>(slots, order, unit, out) : unpack_row<8, false>(slots, order, unit, out); break;
  }
}

//! float32 features of a row in kernel order (= file order), padding values cleared.
inline void copy_floats(const float* src, std::size_t d, const KernelOrder& order, float* out) noexcept {
  std::memcpy(out, src, d * sizeof(float));
  std::fill(out + d, out + order.padded(), 0.0f);
}

} // namespace detail

//! What a feature level of this layout is worth: 2^-F for Q-bit features (1 for float32).
[[nodiscard]] inline float level_unit(const stream::Layout& layout) noexcept {
  return layout.is_float() ? 1.0f : std::ldexp(1.0f, -static_cast<int>(layout.feature_fraction_bits()));
}

//! One copy of a row's features in kernel order, as real values (the float arithmetic).
//! `out` holds order.padded() values and is 64-byte aligned; little-endian words.
inline void unpack_values(const stream::Word* words, const stream::Layout& layout, const KernelOrder& order,
                          float* out) noexcept {
  if (layout.is_float()) {
    detail::copy_floats(reinterpret_cast<const float*>(words), layout.dim, order, out);
    return;
  }
  detail::unpack_q<float>(reinterpret_cast<const std::uint32_t*>(words), layout, order, level_unit(layout), out);
}

//! As unpack_values, but Q-bit features as their levels (value / level_unit, integers as
//! floats), without the multiply. The float passes train on levels: a power-of-two factor
//! commutes with rounding, so x a = (x level) unit and x - g a = x - (g unit) level give the
//! same floats bit for bit (as long as nothing reaches the denormal range), and the pass
//! scales each sample's dot products and steps once instead of every feature.
inline void unpack_levels(const stream::Word* words, const stream::Layout& layout, const KernelOrder& order,
                          float* out) noexcept {
  if (layout.is_float()) {
    detail::copy_floats(reinterpret_cast<const float*>(words), layout.dim, order, out);
    return;
  }
  detail::unpack_q<float>(reinterpret_cast<const std::uint32_t*>(words), layout, order, 1.0f, out);
}

//! The engine's float32 feature conversion for a register: sat_18(floor(a 2^16 + 1/2)), NaN
//! saturating by its sign, as engine::float_feature. a 2^16 is exact (a power-of-two scale),
//! and after the clamp |v| <= 2^17, so v + 1/2 and the floor are exact in float32 too.
[[nodiscard]] inline xsimd::batch<std::int32_t> float_features(xsimd::batch<float> a) noexcept {
  using fb = xsimd::batch<float>;
  using ib = xsimd::batch<std::int32_t>;
  constexpr float lo = -131072.0f, hi = 131071.0f;
  const fb v = xsimd::floor(xsimd::min(xsimd::max(a * fb(65536.0f), fb(lo)), fb(hi)) + fb(0.5f));
  const ib i = xsimd::batch_cast<std::int32_t>(v);
  if (xsimd::none(xsimd::isnan(a))) return i; // (a != a is an ordered compare: false for NaN)
  // NaN (which the host never sends) saturates by its sign bit: the scalar rule, per value.
  alignas(64) std::array<float, fb::size> in{};
  alignas(64) std::array<std::int32_t, fb::size> out{};
  a.store_aligned(in.data());
  for (std::size_t k = 0; k < fb::size; ++k) out[k] = engine::float_feature(in[k]);
  return ib::load_aligned(out.data());
}

//! One copy of a row's features in kernel order, as the engine's integers A.
inline void unpack_fixed(const stream::Word* words, const stream::Layout& layout, const KernelOrder& order,
                         std::int32_t* out) noexcept {
  if (layout.is_float()) {
    using fb = xsimd::batch<float>;
    constexpr std::size_t w = KernelOrder::width;
    const std::size_t d = layout.dim, full = d / w * w;
    const auto* src = reinterpret_cast<const float*>(words);
    for (std::size_t j = 0; j < full; j += w) float_features(fb::load_unaligned(src + j)).store_aligned(out + j);
    if (full < order.padded()) {
      alignas(64) std::array<float, w> tail{};
      std::memcpy(tail.data(), src + full, (d - full) * sizeof(float));
      float_features(fb::load_aligned(tail.data())).store_aligned(out + full);
      for (std::size_t j = d; j < order.padded(); ++j) out[j] = 0; // floor(0 + 1/2) = 0 anyway
    }
    return;
  }
  detail::unpack_q<std::int32_t>(reinterpret_cast<const std::uint32_t*>(words), layout, order, 1, out);
}

// ---------------------------------------------------------------------------------------------
// Fused sweeps over a block of lanes
// ---------------------------------------------------------------------------------------------

//! The largest block of lanes one sweep handles (accumulators and step factors in registers).
inline constexpr std::size_t kMaxFloatBlock = 10;
inline constexpr std::size_t kMaxEngineBlock = 8;
static_assert(kMaxFloatBlock <= 16, "a float sweep returns its dot products in one register");

//! What a sweep does besides reading: apply the pending update (x = keep x - g u), and
//! whether keep is 1 (no regularization).
enum class Update { None, Step, StepDecay };

//! The NB <= 16 sums of acc[0..NB) as one AVX-512 register, element k = xsimd::hadd(acc[k]) bit
//! for bit (the elements from NB on are 0). The registers are reduced together, two to four
//! per instruction, in the order xsimd::hadd adds one register's elements (the upper
//! and lower halves, then quarters, then neighbours, then the two pair sums): about a third of
//! the instructions of NB separate reductions, and no scalar round trip through memory.
#if XSIMD_WITH_AVX512F
template <std::size_t NB>
[[nodiscard, gnu::always_inline]] inline __m512 sums_of(const xsimd::batch<float>* acc) noexcept {
  static_assert(NB >= 1 && NB <= 16);
  using fb = xsimd::batch<float>;
  const __m512 zero = _mm512_setzero_ps();
  if constexpr (NB <= 2) { // too few to share instructions
    __m512 r = zero;
    for (std::size_t k = 0; k < NB; ++k)
      r = _mm512_mask_broadcastss_ps(r, static_cast<__mmask16>(1u << k), _mm_set_ss(xsimd::hadd(acc[k])));
    return r;
  }
  // Each level adds neighbouring registers (a missing last one is 0) with shuffles picking the
  // same elements from both; every index is a constant, so all of it stays in registers.
  auto level = [&]<std::size_t N, class F>(const std::array<fb, N>& r, F add) {
    return [&]<std::size_t... K>(std::index_sequence<K...>) {
      return std::array<fb, (N + 1) / 2>{add(r[2 * K], 2 * K + 1 < N ? r[2 * K + 1] : fb(zero))...};
    }(std::make_index_sequence<(N + 1) / 2>{});
  };
  const auto in = [&]<std::size_t... K>(std::index_sequence<K...>) {
    return std::array<fb, NB>{acc[K]...};
  }(std::make_index_sequence<NB>{});
  // Halves: element block 0-1 of h[p] = acc 2p + its upper half, blocks 2-3 the same for 2p + 1.
  const auto h = level(in, [](fb a, fb b) {
    return fb(_mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE)));
  });
  // Quarters: block j of q[p] = the four 4-element sums of acc 4p + j.
  const auto q = level(h, [](fb a, fb b) {
    return fb(_mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD)));
  });
  // Neighbours, then the two pair sums: block j of v[p] = the pair sums of acc 8p + j, then of
  // acc 8p + 4 + j; element 4j + m of t = the sum of acc 4m + j.
  const auto pairs = [](fb a, fb b) {
    return fb(_mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD)));
  };
  const auto v = level(q, pairs);
  const __m512 t = level(v, pairs)[0];
  // One permutation puts the sum of acc k at element k.
  const __m512i transpose = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_maskz_permutexvar_ps(static_cast<__mmask16>((1u << NB) - 1u), transpose, t);
}

//! Values in sweep order (the lanes of `first` ascending, then the other lanes of `all`
//! ascending, as Lanes::arrange_masks orders them; bit l is lane l) put back in lane order.
inline __m512 to_lane_order(__m512 v, std::uint32_t first, std::uint32_t all) noexcept {
  const auto front = static_cast<__mmask16>(first & all), back = static_cast<__mmask16>(~first & all);
  const __m512i from_back = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(std::popcount(static_cast<unsigned>(front))));
  return _mm512_mask_expand_ps(_mm512_maskz_expand_ps(front, v), back, _mm512_permutexvar_ps(from_back, v));
}
#endif

//! Float arithmetic, lanes x[0..NB): the first NU lanes apply the pending update x = keep x -
//! g[l] u (unless U is None), the others are only read; then dot[l] = sum x a for every lane
//! (if Dot; the dot product reads the updated model: no staleness). n: padded words.
//! Updating and read-only lanes share one loop so that the features are loaded once and every
//! accumulator chain is interleaved with the others: a sweep of a few lanes alone waits on its
//! FMA latency, and the lanes that change a model are usually only one or two of ten.
//! With AVX-512 it also returns the dot products as one register, element l = dot[l] (0 from
//! NB on, and everywhere without Dot); other machines return 0.
template <std::size_t NB, Update U, bool Dot, std::size_t NU = (U == Update::None ? 0 : NB)>
inline xsimd::batch<float> float_sweep(float* const* x, const float* g, float keep, const float* u, const float* a,
                                       std::size_t n, float* dot) noexcept {
  static_assert(NU <= NB && (U != Update::None || NU == 0));
  using fb = xsimd::batch<float>;
  constexpr std::size_t w = fb::size;
  fb acc[NB], vg[NU > 0 ? NU : 1];
  float* xl[NB]; // local copies: the compiler need not reload them after every store
  // Zeroed one by one, not in a loop: GCC turned that loop into a call of memset on a stack
  // copy of the accumulators, every sweep, though they live in registers.
  [&]<std::size_t... L>(std::index_sequence<L...>) { ((xl[L] = x[L], acc[L] = fb(0.0f)), ...); }
  (std::make_index_sequence<NB>{});
  for (std::size_t l = 0; l < NU; ++l) vg[l] = fb(g[l]);
  const fb vk(keep);
  for (std::size_t j = 0; j < n; j += w) {
    const fb va = Dot ? fb::load_aligned(a + j) : fb(0.0f);
    const fb vu = NU > 0 ? fb::load_aligned(u + j) : fb(0.0f);
    for (std::size_t l = 0; l < NB; ++l) {
      if (!Dot && l >= NU) break;
      fb xv = fb::load_aligned(xl[l] + j);
      if (l < NU) {
        if constexpr (U == Update::Step) xv = arith::fused_nmadd(vg[l], vu, xv);
        if constexpr (U == Update::StepDecay) xv = arith::fused_nmadd(vg[l], vu, xv * vk);
        if constexpr (U != Update::None) xv.store_aligned(xl[l] + j);
      }
      if constexpr (Dot) acc[l] = arith::fused_madd(xv, va, acc[l]);
    }
  }
  if constexpr (Dot) {
#if XSIMD_WITH_AVX512F
    const __m512 sums = sums_of<NB>(acc);
    _mm512_mask_storeu_ps(dot, static_cast<__mmask16>((1u << NB) - 1u), sums);
    return fb(sums);
#else
    for (std::size_t l = 0; l < NB; ++l) dot[l] = xsimd::hadd(acc[l]);
#endif
  }
  return fb(0.0f);
}

//! Engine arithmetic's fixed step parameters of a pass.
struct EngineStep {
  int frac = 0;                  //!< F of the features
  std::uint32_t lambda_shift = 32;
};

namespace detail {

//! The exact 64-bit sum of the 32 x 32-bit products of a register pair, added to acc
//! (signed widening multiplies of the even and the odd 32-bit elements).
#if XSIMD_WITH_AVX512F
inline __m512i madd_exact(__m512i acc, __m512i x, __m512i a, __m512i a_odd) noexcept {
  const __m512i even = _mm512_mul_epi32(x, a);
  const __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), a_odd);
  return _mm512_add_epi64(acc, _mm512_add_epi64(even, odd));
}
#endif

} // namespace detail

//! True when the fused engine sweeps are compiled for this machine (AVX-512F; else the
//! backend keeps its scalar pass).
inline constexpr bool kEngineSweeps = XSIMD_WITH_AVX512F != 0;

#if XSIMD_WITH_AVX512F
//! Engine arithmetic, lanes x[0..NB): dot[l] = exact sum of x a over the model *before* this
//! sweep's update (if Dot; staleness one sample), then, for the first NU lanes, x = sat_32(x -
//! (x >> lambda) - round_shift(g[l] u, F)) (unless U is None; the other lanes are only read).
//! The caller guarantees |g[l]| max|u| + 2^(F-1) fits in 32 bits, so g u and its rounding are
//! computed in 32-bit lanes. Updating and read-only lanes share one loop, as in float_sweep.
template <std::size_t NB, Update U, bool Dot, std::size_t NU = (U == Update::None ? 0 : NB)>
inline void engine_sweep(std::int32_t* const* x, const std::int32_t* g, EngineStep st, const std::int32_t* u,
                         const std::int32_t* a, std::size_t n, std::int64_t* dot) noexcept {
  static_assert(NU <= NB && (U != Update::None || NU == 0));
  using ib = xsimd::batch<std::int32_t>;
  constexpr std::size_t w = ib::size;
  __m512i acc[NB];
  ib vg[NU > 0 ? NU : 1];
  std::int32_t* xl[NB]; // local copies: the compiler need not reload them after every store
  for (std::size_t l = 0; l < NB; ++l) {
    xl[l] = x[l];
    acc[l] = _mm512_setzero_si512();
  }
  for (std::size_t l = 0; l < NU; ++l) vg[l] = ib(g[l]);
  const int f = st.frac;
  const ib half(f > 0 ? 1 << (f - 1) : 0);
  const auto lam = static_cast<std::int32_t>(st.lambda_shift);
  for (std::size_t j = 0; j < n; j += w) {
    __m512i va = _mm512_setzero_si512(), va_odd = va;
    if constexpr (Dot) {
      va = _mm512_load_si512(a + j);
      va_odd = _mm512_srli_epi64(va, 32);
    }
    const ib vu = NU > 0 ? ib::load_aligned(u + j) : ib(0);
    for (std::size_t l = 0; l < NB; ++l) {
      if (!Dot && l >= NU) break;
      ib xv = ib::load_aligned(xl[l] + j);
      if constexpr (Dot) acc[l] = detail::madd_exact(acc[l], xv, va, va_odd);
      if (l < NU) {
        const ib step = (vg[l] * vu + half) >> f;
        if constexpr (U == Update::StepDecay) xv -= xv >> lam; // never overflows: same sign, smaller
        xsimd::ssub(xv, step).store_aligned(xl[l] + j);
      }
    }
  }
  if constexpr (Dot)
    for (std::size_t l = 0; l < NB; ++l) {
      alignas(64) std::int64_t part[8];
      _mm512_store_si512(part, acc[l]);
      std::int64_t sum = 0;
      for (std::int64_t v : part) sum += v;
      dot[l] = sum;
    }
}
#endif

//! The exact sweep for lanes whose g u would not fit in 32 bits (only with |g| near its
//! 25-bit limit): the same result, one word at a time.
inline void engine_sweep_wide(std::int32_t* x, std::int32_t g, EngineStep st, bool update, const std::int32_t* u,
                              const std::int32_t* a, std::size_t n, std::int64_t* dot) noexcept {
  std::int64_t s = 0;
  for (std::size_t j = 0; j < n; ++j) {
    if (a != nullptr) s += static_cast<std::int64_t>(x[j]) * a[j];
    if (update) x[j] = engine::update(x[j], u[j], g, st.frac, st.lambda_shift);
  }
  if (dot != nullptr) *dot = s;
}

//! Asks the caches for the packed rows a few samples ahead of the pass. A pass reads its row
//! in one burst and then works on it for hundreds of cycles, a pattern the hardware prefetchers
//! follow too late: without this a float32 pass took about a third longer here (27.5 against
//! 20.7 ms per epoch). The distance is at least `min_rows` rows and about `bytes` bytes.
class RowPrefetcher {
 public:
  RowPrefetcher(const stream::Word* words, std::size_t rows, std::size_t row_words, std::size_t bytes = 8192,
                std::size_t min_rows = 2) noexcept
      : words_(words), rows_(rows), row_bytes_(row_words * sizeof(stream::Word)),
        ahead_(std::max(min_rows, bytes / std::max<std::size_t>(row_bytes_, 1))) {}
  //! Called once per sample i: fetches row i + distance.
  void operator()(std::size_t i) const noexcept {
    if (i + ahead_ >= rows_) return;
    const char* row = reinterpret_cast<const char*>(words_) + (i + ahead_) * row_bytes_;
    for (std::size_t b = 0; b < row_bytes_; b += 64) __builtin_prefetch(row + b, 0, 3);
    __builtin_prefetch(row + row_bytes_ - 1, 0, 3);
  }

 private:
  const stream::Word* words_;
  std::size_t rows_, row_bytes_, ahead_;
};

//! Per sample, the lanes in sweep order: those whose model changes first, so that the
//! others are only read (most samples are outside most lanes' margins, and a lane that does
//! not change is not stored). x, g and dot are indexed by lane; xs, gs and dots by sweep
//! position, order[k] being the lane at position k. The arrays hold at least 16 entries, so
//! that with AVX-512 up to 16 lanes are ordered with whole registers (entries past the lanes
//! are not read).
template <class T, class G>
struct Lanes {
  static constexpr std::size_t kRegisterLanes = 16;
  std::size_t lanes;
  std::vector<T*> x, xs;
  std::vector<G> g, gs;
  std::vector<std::conditional_t<std::is_same_v<T, float>, float, std::int64_t>> dot, dots;
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> placed; // order plus one slot that the branch-free arrange may write
  std::vector<std::uint8_t> cls;

  Lanes(T* model, std::size_t n, std::size_t stride)
      : lanes(n), x(padded(n)), xs(padded(n)), g(padded(n), G{}), gs(padded(n), G{}), dot(n), dots(n),
        order(padded(n)), placed(n + 1), cls(n) {
    for (std::size_t l = 0; l < n; ++l) x[l] = model + l * stride, xs[l] = x[l], order[l] = static_cast<std::uint32_t>(l);
  }
  //! Orders the lanes by class(l) in {0, 1, 2}; returns where classes 1 and 2 start. The
  //! classes are data (which lanes a sample changes), so no branch per lane on its class: up
  //! to 64 lanes from bit masks of the classes, more by one branch-free pass per class.
  template <class C>
  std::array<std::size_t, 2> arrange(C&& class_of) {
    const std::size_t n = lanes;
    if (n <= 64) { // the usual case: the classes as bit masks, each placed by counting bits
      std::uint64_t first = 0, second = 0;
      for (std::size_t l = 0; l < n; ++l) {
        const auto c = class_of(l);
        first |= static_cast<std::uint64_t>(c == 0) << l;
        second |= static_cast<std::uint64_t>(c == 1) << l;
      }
      return arrange_masks(first, second, g.data());
    }
    for (std::size_t l = 0; l < n; ++l) cls[l] = static_cast<std::uint8_t>(class_of(l));
    std::array<std::size_t, 2> start{};
    std::size_t k = 0;
    for (std::uint8_t want = 0; want < 3; ++want) {
      if (want > 0) start[want - 1u] = k;
      for (std::size_t l = 0; l < n; ++l) {
        placed[k] = static_cast<std::uint32_t>(l);
        k += cls[l] == want;
      }
    }
    for (std::size_t q = 0; q < n; ++q) order[q] = placed[q], xs[q] = x[placed[q]], gs[q] = g[placed[q]];
    return start;
  }
  //! Orders at most 64 lanes: those in `first`, then those in `second`, then the others (bit l
  //! is lane l), each group ascending; the sweep-order steps from `steps` (16 readable entries
  //! when there are at most 16 lanes). Returns where the second and third groups start.
  std::array<std::size_t, 2> arrange_masks(std::uint64_t first, std::uint64_t second, const G* steps) {
    const std::size_t n = lanes;
    const std::uint64_t all = n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1u;
    const std::uint64_t front = first & all, middle = second & ~first & all, back = all & ~first & ~second;
    const auto second_start = static_cast<std::size_t>(std::popcount(front));
    const std::size_t third_start = second_start + static_cast<std::size_t>(std::popcount(middle));
#if XSIMD_WITH_AVX512F
    // Up to 16 lanes: each group's lanes compressed out of 0..15 and expanded to its positions,
    // then the pointers and steps permuted; no branch on the data and no loop.
    if constexpr (sizeof(G) == 4 && sizeof(T*) == 8) {
      if (n <= kRegisterLanes) {
        const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        auto at = [](std::size_t from, std::size_t to) { // bits [from, to)
          return static_cast<__mmask16>((1u << to) - (1u << from));
        };
        __m512i o = _mm512_maskz_compress_epi32(static_cast<__mmask16>(front), lane);
        if (middle != 0) // (rare: the float passes have no middle group)
          o = _mm512_mask_expand_epi32(o, at(second_start, third_start),
                                       _mm512_maskz_compress_epi32(static_cast<__mmask16>(middle), lane));
        o = _mm512_mask_expand_epi32(o, at(third_start, n), _mm512_maskz_compress_epi32(static_cast<__mmask16>(back), lane));
        _mm512_storeu_si512(order.data(), o);
        const __m512i lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(o));
        const __m512i hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(o, 1));
        const __m512i x_lo = _mm512_loadu_si512(x.data()), x_hi = _mm512_loadu_si512(x.data() + 8);
        _mm512_storeu_si512(xs.data(), _mm512_permutex2var_epi64(x_lo, lo, x_hi));
        _mm512_storeu_si512(xs.data() + 8, _mm512_permutex2var_epi64(x_lo, hi, x_hi));
        _mm512_storeu_si512(gs.data(), _mm512_permutexvar_epi32(o, _mm512_loadu_si512(steps)));
        return {second_start, third_start};
      }
    }
#endif
    std::size_t k = 0;
    for (std::uint64_t m : {front, middle, back})
      for (; m != 0; m &= m - 1) order[k++] = static_cast<std::uint32_t>(std::countr_zero(m));
    for (std::size_t q = 0; q < n; ++q) xs[q] = x[order[q]], gs[q] = steps[order[q]];
    return {second_start, third_start};
  }
  void scatter_dots() {
    for (std::size_t k = 0; k < lanes; ++k) dot[order[k]] = dots[k];
  }

 private:
  static std::size_t padded(std::size_t n) { return std::max(n, kRegisterLanes); }
};

//! Calls f with std::integral_constant<std::size_t, N> for the runtime n in 1..Max.
template <std::size_t Max, class F>
inline void with_block_size(std::size_t n, F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((n == I + 1 ? (f(std::integral_constant<std::size_t, I + 1>{}), 0) : 0), ...);
  }(std::make_index_sequence<Max>{});
}

//! Calls f with std::integral_constant<std::size_t, N> for the runtime n in 0..Max.
template <std::size_t Max, class F>
inline void with_count(std::size_t n, F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((n == I ? (f(std::integral_constant<std::size_t, I>{}), 0) : 0), ...);
  }(std::make_index_sequence<Max + 1>{});
}

//! Splits [from, to) into as few blocks of at most Max as it can, as even as possible, and
//! calls f(first, std::integral_constant<std::size_t, size>) for each.
template <std::size_t Max, class F>
inline void for_blocks(std::size_t from, std::size_t to, F&& f) {
  const std::size_t n = to - from, blocks = (n + Max - 1) / Max;
  if (blocks == 1) { // the usual case (ten lanes or fewer): no divisions per sample
    with_block_size<Max>(n, [&](auto nb) { f(from, nb); });
    return;
  }
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t lo = from + n * b / blocks, hi = from + n * (b + 1) / blocks;
    with_block_size<Max>(hi - lo, [&](auto nb) { f(lo, nb); });
  }
}

//! Splits the lanes [0, lanes) into blocks as for_blocks does and calls f(first, NB, NU), both
//! std::integral_constant: NU of the block's NB lanes are among the first n (those that change).
template <std::size_t Max, class F>
inline void for_blocks_changing(std::size_t lanes, std::size_t n, F&& f) {
  for_blocks<Max>(0, lanes, [&](std::size_t lo, auto nb) {
    constexpr std::size_t NB = decltype(nb)::value;
    with_count<NB>(std::min(NB, n > lo ? n - lo : 0), [&](auto nu) { f(lo, nb, nu); });
  });
}

} // namespace zipml::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
