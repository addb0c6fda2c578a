// Unit tests of the CPU backend's SIMD kernels (backends/cpu/include/zipml/backend/cpu/kernels.hpp)
// against the scalar code they replace: the stream reader's decoders, engine::float_feature,
// engine::update and the exact dot product. The whole passes are checked against the
// docs/ENGINE.md reference in test_engine.cpp; these tests pin the pieces down one by one,
// with values at the edges (saturation, padding bits, every block size).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "zipml/zipml.hpp"

namespace cpu = zipml::cpu;
namespace engine = zipml::engine;
namespace stream = zipml::stream;
using zipml::SplitMix64;

namespace {

constexpr std::size_t kDims[] = {1, 2, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 257, 511, 513, 785};

struct Format {
  unsigned bits;
  bool mm;
};
constexpr Format kFormats[] = {{32, false}, {8, false}, {8, true}, {4, false}, {4, true},
                               {2, false},  {2, true},  {1, false}};

//! Random words for one row copy, padding bits included (the kernels must ignore them), plus
//! words after the row, which the kernels must not read as features either.
std::vector<stream::Word> random_row(const stream::Layout& layout, SplitMix64& rng) {
  std::vector<stream::Word> w(layout.feature_words() + 8);
  for (auto& v : w) v = rng();
  if (layout.is_float())
    for (std::size_t j = 0; j < 2 * layout.feature_words(); ++j) {
      // floats in [-2, 2), as the engine range allows; padding stays random
      const float f = static_cast<float>(rng.uniform() * 4.0 - 2.0);
      const auto bits = static_cast<stream::Word>(std::bit_cast<std::uint32_t>(f));
      if (j < layout.dim) w[j / 2] = (w[j / 2] & ~(stream::Word{0xffffffffu} << (32 * (j % 2)))) | (bits << (32 * (j % 2)));
    }
  return w;
}

} // namespace

TEST_CASE("kernel order: every feature has its own position, padding past d") {
  for (const auto& f : kFormats)
    for (std::size_t d : kDims) {
      CAPTURE(f.bits);
      CAPTURE(d);
      const stream::Layout layout{f.bits, static_cast<std::uint32_t>(d), f.mm, false};
      const cpu::KernelOrder order(layout);
      CHECK(order.padded() % cpu::KernelOrder::width == 0);
      CHECK(order.padded() >= d);
      CHECK(order.padded() < d + cpu::KernelOrder::width); // the tail in file order: padded to W only
      std::set<std::size_t> seen;
      for (std::size_t j = 0; j < d; ++j) {
        const std::size_t p = order.position(j);
        CHECK(p < order.padded());
        seen.insert(p);
      }
      CHECK(seen.size() == d);
      // Round trip of a model through kernel order.
      std::vector<float> model(2 * d), kernel(2 * order.padded()), back(2 * d);
      for (std::size_t j = 0; j < 2 * d; ++j) model[j] = static_cast<float>(j) + 0.5f;
      order.to_kernel(model.data(), 2, kernel.data());
      order.to_natural(kernel.data(), 2, back.data());
      CHECK(back == model);
    }
}

TEST_CASE("unpacking into kernel order equals the stream reader, padding values cleared") {
  SplitMix64 rng(0x4B1D);
  for (const auto& f : kFormats)
    for (std::size_t d : kDims) {
      CAPTURE(f.bits);
      CAPTURE(f.mm);
      CAPTURE(d);
      const stream::Layout layout{f.bits, static_cast<std::uint32_t>(d), f.mm, false};
      const cpu::KernelOrder order(layout);
      const auto words = random_row(layout, rng);
      const std::span<const stream::Word> row(words.data(), layout.feature_words());
      std::vector<float> want_v(d);
      std::vector<std::int32_t> want_a(d);
      stream::decode_values(row, layout, want_v.data());
      stream::decode_fixed(row, layout, want_a.data());
      cpu::aligned_vector<float> got_v(order.padded(), -7.0f);
      cpu::aligned_vector<std::int32_t> got_a(order.padded(), -7);
      cpu::unpack_values(words.data(), layout, order, got_v.data());
      cpu::unpack_fixed(words.data(), layout, order, got_a.data());
      // The levels are the values in units of level_unit, exactly (padding included).
      cpu::aligned_vector<float> levels(order.padded(), -7.0f);
      cpu::unpack_levels(words.data(), layout, order, levels.data());
      const float unit = cpu::level_unit(layout);
      for (std::size_t p = 0; p < order.padded(); ++p)
        if (std::bit_cast<std::uint32_t>(levels[p] * unit) != std::bit_cast<std::uint32_t>(got_v[p]) ||
            (!layout.is_float() && levels[p] != std::nearbyint(levels[p]))) {
          FAIL_CHECK("position ", p, ": level ", levels[p], " x ", unit, " is not the value ", got_v[p]);
          break;
        }
      std::vector<char> real(order.padded(), 0);
      for (std::size_t j = 0; j < d; ++j) {
        const std::size_t p = order.position(j);
        real[p] = 1;
        if (got_v[p] != want_v[j] || got_a[p] != want_a[j]) {
          FAIL_CHECK("feature ", j, ": values ", got_v[p], " vs ", want_v[j], ", integers ", got_a[p], " vs ", want_a[j]);
          break;
        }
      }
      for (std::size_t p = 0; p < order.padded(); ++p)
        if (!real[p] && (got_v[p] != 0.0f || got_a[p] != 0)) {
          FAIL_CHECK("padding position ", p, " is not 0: ", got_v[p], ", ", got_a[p]);
          break;
        }
    }
}

TEST_CASE("float_features equals engine::float_feature, NaN and infinities included") {
  using fb = xsimd::batch<float>;
  constexpr std::size_t w = fb::size;
  std::vector<float> values = {0.0f,
                               -0.0f,
                               -2.0f,
                               2.0f,
                               std::nextafter(2.0f - 0x1p-17f, 0.0f),
                               2.0f - 0x1p-17f,
                               0x1p-17f,
                               -0x1p-17f,
                               0x1.8p-17f,
                               -0x1.8p-17f,
                               0x1p-18f,
                               -0x1p-18f,
                               1e-40f,
                               -1e-40f,
                               1e30f,
                               -1e30f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(),
                               -std::numeric_limits<float>::quiet_NaN(),
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::lowest()};
  SplitMix64 rng(77);
  for (int i = 0; i < 4000; ++i) values.push_back(static_cast<float>(rng.uniform() * 6.0 - 3.0));
  for (int i = 0; i < 200; ++i) values.push_back(std::ldexp(static_cast<float>(rng.below(1 << 20)), -20) - 0.5f); // many ties
  while (values.size() % w != 0) values.push_back(0.25f);
  for (std::size_t i = 0; i < values.size(); i += w) {
    alignas(64) std::int32_t got[w];
    cpu::float_features(fb::load_unaligned(values.data() + i)).store_aligned(got);
    for (std::size_t k = 0; k < w; ++k) {
      CAPTURE(values[i + k]);
      CHECK(got[k] == engine::float_feature(values[i + k]));
    }
  }
}

namespace {

template <std::size_t NB, cpu::Update U, bool D, std::size_t NU = (U == cpu::Update::None ? 0 : NB)>
void check_float_sweep(SplitMix64& rng, std::size_t n) {
  CAPTURE(NB);
  CAPTURE(NU);
  CAPTURE(static_cast<int>(U));
  CAPTURE(D);
  cpu::aligned_vector<float> x(NB * n), a(n), u(n);
  for (auto& v : x) v = static_cast<float>(rng.uniform() - 0.5);
  for (auto& v : a) v = static_cast<float>(rng.uniform());
  for (auto& v : u) v = static_cast<float>(rng.uniform());
  std::vector<float*> xp(NB);
  std::vector<float> g(NB), dot(NB, -1.0f);
  for (std::size_t l = 0; l < NB; ++l) {
    xp[l] = x.data() + l * n;
    g[l] = l % 3 == 0 ? 0.0f : static_cast<float>(rng.uniform() - 0.5) * 0.01f;
  }
  const float keep = U == cpu::Update::StepDecay ? 1.0f - 0x1p-6f : 1.0f;
  const auto before = x;
  const auto sums = cpu::float_sweep<NB, U, D, NU>(xp.data(), g.data(), keep, u.data(), a.data(), n, dot.data());
#if XSIMD_WITH_AVX512F
  // The register holds the stored dot products, bit for bit, and 0 past them.
  alignas(64) std::array<float, 16> in_register{};
  sums.store_aligned(in_register.data());
  for (std::size_t l = 0; l < 16; ++l)
    CHECK(std::bit_cast<std::uint32_t>(in_register[l]) == (D && l < NB ? std::bit_cast<std::uint32_t>(dot[l]) : 0u));
#else
  (void)sums;
#endif
  for (std::size_t l = 0; l < NB; ++l) {
    double s = 0.0;
    const bool updated = l < NU; // lanes past NU are only read
    for (std::size_t j = 0; j < n; ++j) {
      float want = before[l * n + j];
      if (updated && U == cpu::Update::Step) want = std::fma(-g[l], u[j], want);
      if (updated && U == cpu::Update::StepDecay) want = std::fma(-g[l], u[j], want * keep);
      // Step: the same fused multiply-add, bit for bit, where the target has one
      // (zipml::arith::kFusedMultiplyAdd); with decay the compiler may contract keep * x
      // differently in the reference, and without FMA the kernel rounds twice: an ulp of the terms.
      const float terms = std::abs(before[l * n + j] * keep) + std::abs(g[l] * u[j]);
      const bool exact =
          !updated || U == cpu::Update::None || (U == cpu::Update::Step && zipml::arith::kFusedMultiplyAdd);
      const float tol = exact ? 0.0f : 2.0f * terms * std::numeric_limits<float>::epsilon();
      if (!(std::abs(x[l * n + j] - want) <= tol)) {
        FAIL_CHECK("lane ", l, " word ", j, ": ", x[l * n + j], " want ", want);
        return;
      }
      s += static_cast<double>(want) * a[j];
    }
    if (D) CHECK(dot[l] == doctest::Approx(s).epsilon(1e-5));
  }
}

template <cpu::Update U, bool D, std::size_t... I>
void float_sweeps(SplitMix64& rng, std::size_t n, std::index_sequence<I...>) {
  (check_float_sweep<I + 1, U, D>(rng, n), ...);
}

//! The sweeps that update only the first NU of NB lanes (the others are read-only), NU = 1..NB.
template <std::size_t NB, std::size_t... I>
void partial_sweeps(SplitMix64& rng, std::size_t n, std::index_sequence<I...>) {
  (check_float_sweep<NB, cpu::Update::Step, true, I + 1>(rng, n), ...);
}

} // namespace

TEST_CASE("float sweeps: every block size and mode against the scalar update and dot") {
  SplitMix64 rng(0xF10A7);
  constexpr auto sizes = std::make_index_sequence<cpu::kMaxFloatBlock>{};
  for (std::size_t n : {std::size_t{16}, std::size_t{48}, std::size_t{800}}) {
    CAPTURE(n);
    float_sweeps<cpu::Update::None, true>(rng, n, sizes);
    float_sweeps<cpu::Update::Step, true>(rng, n, sizes);
    float_sweeps<cpu::Update::Step, false>(rng, n, sizes);
    float_sweeps<cpu::Update::StepDecay, true>(rng, n, sizes);
    float_sweeps<cpu::Update::StepDecay, false>(rng, n, sizes);
    partial_sweeps<cpu::kMaxFloatBlock>(rng, n, std::make_index_sequence<cpu::kMaxFloatBlock>{});
    partial_sweeps<5>(rng, n, std::make_index_sequence<5>{});
    partial_sweeps<1>(rng, n, std::make_index_sequence<1>{});
  }
}

TEST_CASE("Lanes orders the lanes that change first, then the wide ones, then the others, each ascending") {
  constexpr std::uint64_t seed = 0x0DE5;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  // 1..16 lanes take the AVX-512 path where there is one, 17..64 the bit-mask loop, more the
  // per-class pass of arrange().
  for (std::size_t lanes : {1, 2, 3, 7, 10, 15, 16, 17, 33, 64, 65, 70}) {
    CAPTURE(lanes);
    std::vector<float> model(lanes * 4);
    cpu::Lanes<float, float> ln(model.data(), lanes, 4);
    for (int round = 0; round < 50; ++round) {
      std::vector<int> cls(lanes);
      for (auto& c : cls) c = static_cast<int>(rng.below(3));
      for (std::size_t l = 0; l < lanes; ++l) ln.g[l] = static_cast<float>(l) + 0.5f;
      const auto start = ln.arrange([&](std::size_t l) { return cls[l]; });
      std::vector<std::size_t> want;
      for (int c = 0; c < 3; ++c)
        for (std::size_t l = 0; l < lanes; ++l)
          if (cls[l] == c) want.push_back(l);
      CHECK(start[0] == static_cast<std::size_t>(std::count(cls.begin(), cls.end(), 0)));
      CHECK(start[1] == start[0] + static_cast<std::size_t>(std::count(cls.begin(), cls.end(), 1)));
      for (std::size_t k = 0; k < lanes; ++k) {
        CAPTURE(k);
        REQUIRE(ln.order[k] == want[k]);
        CHECK(ln.xs[k] == model.data() + 4 * want[k]);
        CHECK(ln.gs[k] == static_cast<float>(want[k]) + 0.5f);
        ln.dots[k] = static_cast<float>(k);
      }
      ln.scatter_dots();
      for (std::size_t k = 0; k < lanes; ++k) CHECK(ln.dot[want[k]] == static_cast<float>(k));
    }
  }
}

#if XSIMD_WITH_AVX512F
namespace {

//! sums_of<NB> against xsimd::hadd of each register, bit for bit. The values span many
//! exponents and both signs, so adding in any other order gives other roundings.
template <std::size_t NB>
void check_sums_of(SplitMix64& rng) {
  CAPTURE(NB);
  using fb = xsimd::batch<float>;
  std::array<fb, NB> acc;
  for (auto& r : acc) {
    alignas(64) std::array<float, fb::size> v{};
    for (auto& e : v) {
      const auto k = rng.below(8);
      e = k == 0 ? -0.0f : static_cast<float>(std::ldexp(rng.uniform() - 0.5, static_cast<int>(rng.below(40)) - 20));
    }
    r = fb::load_aligned(v.data());
  }
  alignas(64) std::array<float, 16> got{};
  _mm512_store_ps(got.data(), cpu::sums_of<NB>(acc.data()));
  for (std::size_t k = 0; k < 16; ++k) {
    CAPTURE(k);
    const float want = k < NB ? xsimd::hadd(acc[k]) : 0.0f;
    CHECK(std::bit_cast<std::uint32_t>(got[k]) == std::bit_cast<std::uint32_t>(want));
  }
}

template <std::size_t... I>
void sums_of_all(SplitMix64& rng, std::index_sequence<I...>) {
  (check_sums_of<I + 1>(rng), ...);
}

} // namespace

TEST_CASE("sums_of: the reductions of 1 to 16 registers at once equal xsimd::hadd bit for bit") {
  constexpr std::uint64_t seed = 0x5E3D;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  for (int round = 0; round < 200; ++round) sums_of_all(rng, std::make_index_sequence<16>{});
}

TEST_CASE("to_lane_order undoes Lanes::arrange_masks' order for any set of lanes taken first") {
  constexpr std::uint64_t seed = 0x1A7E;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  for (std::uint32_t lanes = 1; lanes <= 16; ++lanes) {
    const std::uint32_t all = (1u << lanes) - 1u;
    for (int round = 0; round < 64; ++round) {
      const auto first = static_cast<std::uint32_t>(rng()); // bits past the lanes must not matter
      // The sweep order: the lanes of `first` ascending, then the others ascending.
      std::vector<std::uint32_t> order;
      for (std::uint32_t l = 0; l < lanes; ++l)
        if (first >> l & 1u) order.push_back(l);
      for (std::uint32_t l = 0; l < lanes; ++l)
        if (!(first >> l & 1u)) order.push_back(l);
      alignas(64) std::array<float, 16> swept{}, back{};
      for (std::size_t k = 0; k < order.size(); ++k) swept[k] = static_cast<float>(100 + order[k]);
      _mm512_store_ps(back.data(), cpu::to_lane_order(_mm512_load_ps(swept.data()), first, all));
      for (std::uint32_t l = 0; l < lanes; ++l) {
        CAPTURE(lanes);
        CAPTURE(first);
        CHECK(back[l] == static_cast<float>(100 + l));
      }
    }
  }
}

namespace {

template <std::size_t NB, cpu::Update U, bool D, std::size_t NU = (U == cpu::Update::None ? 0 : NB)>
void check_engine_sweep(SplitMix64& rng, std::size_t n, int frac, std::uint32_t lambda, std::int32_t amax) {
  CAPTURE(NB);
  CAPTURE(NU);
  CAPTURE(static_cast<int>(U));
  CAPTURE(D);
  CAPTURE(frac);
  CAPTURE(lambda);
  cpu::aligned_vector<std::int32_t> x(NB * n), a(n), u(n);
  // Model words anywhere in 32 bits, many at the limits, so the update saturates.
  for (auto& v : x) {
    const auto k = rng.below(4);
    v = k == 0   ? std::numeric_limits<std::int32_t>::max() - static_cast<std::int32_t>(rng.below(1 << 25))
        : k == 1 ? std::numeric_limits<std::int32_t>::min() + static_cast<std::int32_t>(rng.below(1 << 25))
                 : static_cast<std::int32_t>(static_cast<std::uint32_t>(rng()));
  }
  auto level = [&] { return static_cast<std::int32_t>(rng.below(2 * static_cast<std::uint64_t>(amax) + 1)) - amax; };
  for (auto& v : a) v = level();
  for (auto& v : u) v = level();
  // The largest |g| the caller lets through: |g| amax + 2^(F-1) < 2^31, and at most 2^24.
  const std::int64_t limit = std::min<std::int64_t>(
      (std::int64_t{std::numeric_limits<std::int32_t>::max()} - (frac > 0 ? 1 << (frac - 1) : 0)) / amax, 1 << 24);
  std::vector<std::int32_t*> xp(NB);
  std::vector<std::int32_t> g(NB);
  std::vector<std::int64_t> dot(NB, -1);
  for (std::size_t l = 0; l < NB; ++l) {
    xp[l] = x.data() + l * n;
    const auto k = rng.below(3);
    const auto mag = static_cast<std::int32_t>(k == 0 ? limit : k == 1 ? rng.below(static_cast<std::uint64_t>(limit) + 1) : rng.below(1 << 12));
    g[l] = rng.below(2) ? mag : -mag;
  }
  const auto before = x;
  cpu::engine_sweep<NB, U, D, NU>(xp.data(), g.data(), cpu::EngineStep{frac, lambda}, u.data(), a.data(), n,
                                  dot.data());
  for (std::size_t l = 0; l < NB; ++l) {
    const bool updated = l < NU; // lanes past NU are only read
    std::int64_t s = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const std::int32_t old = before[l * n + j];
      s += static_cast<std::int64_t>(old) * a[j];
      const std::int32_t want = !updated ? old : engine::update(old, u[j], g[l], frac, lambda);
      if (x[l * n + j] != want) {
        FAIL_CHECK("lane ", l, " word ", j, ": x ", old, " u ", u[j], " g ", g[l], " -> ", x[l * n + j], ", want ", want);
        return;
      }
    }
    if (D) CHECK(dot[l] == s);
  }
  // The wide sweep gives the same words for any g.
  for (std::size_t l = 0; l < NB; ++l) {
    std::vector<std::int32_t> y(before.begin() + static_cast<std::ptrdiff_t>(l * n),
                                before.begin() + static_cast<std::ptrdiff_t>((l + 1) * n));
    std::int64_t wd = 0;
    cpu::engine_sweep_wide(y.data(), g[l], cpu::EngineStep{frac, lambda}, l < NU, u.data(), a.data(), n, &wd);
    if (D) CHECK(wd == dot[l]);
    for (std::size_t j = 0; j < n; ++j) REQUIRE(y[j] == x[l * n + j]);
  }
}

template <cpu::Update U, bool D, std::size_t... I>
void engine_sweeps(SplitMix64& rng, std::size_t n, int frac, std::uint32_t lambda, std::int32_t amax,
                   std::index_sequence<I...>) {
  (check_engine_sweep<I + 1, U, D>(rng, n, frac, lambda, amax), ...);
}

//! The engine sweeps that update only the first NU of NB lanes, NU = 1..NB.
template <std::size_t NB, std::size_t... I>
void partial_engine_sweeps(SplitMix64& rng, std::size_t n, int frac, std::int32_t amax, std::index_sequence<I...>) {
  (check_engine_sweep<NB, cpu::Update::Step, true, I + 1>(rng, n, frac, 32, amax), ...);
}

} // namespace

TEST_CASE("engine sweeps: bit-exact against engine::update and the exact dot, with saturation") {
  SplitMix64 rng(0xE9617E);
  constexpr auto sizes = std::make_index_sequence<cpu::kMaxEngineBlock>{};
  // (F, max |A|) of every format: Q-bit [0, 1] F = Q - 1, [-1, 1] F = Q - 2, float32 F = 16.
  const std::pair<int, std::int32_t> formats[] = {{0, 1}, {1, 2}, {3, 8}, {7, 128}, {0, 2}, {2, 8}, {6, 128}, {16, 131072}};
  for (const auto& [frac, amax] : formats)
    for (std::uint32_t lambda : {32u, 1u, 9u, 31u}) {
      const std::size_t n = 16 * (1 + rng.below(8));
      engine_sweeps<cpu::Update::None, true>(rng, n, frac, lambda, amax, sizes);
      if (lambda < 32) {
        engine_sweeps<cpu::Update::StepDecay, true>(rng, n, frac, lambda, amax, sizes);
        engine_sweeps<cpu::Update::StepDecay, false>(rng, n, frac, lambda, amax, sizes);
      } else {
        engine_sweeps<cpu::Update::Step, true>(rng, n, frac, lambda, amax, sizes);
        engine_sweeps<cpu::Update::Step, false>(rng, n, frac, lambda, amax, sizes);
        partial_engine_sweeps<cpu::kMaxEngineBlock>(rng, n, frac, amax, sizes);
        partial_engine_sweeps<5>(rng, n, frac, amax, std::make_index_sequence<5>{});
        partial_engine_sweeps<1>(rng, n, frac, amax, std::make_index_sequence<1>{});
      }
    }
}
#endif
