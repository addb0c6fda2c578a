// zipml — the float arithmetic's kernels: float32 dot product and model update.
//
// The float arithmetic is the accurate one (float32 model, no staleness); the host also uses
// its dot product to evaluate any model. Sums are reordered for SIMD, so results can differ
// in the last bits between machines; only the engine arithmetic is bit-exact by contract.
#ifndef ZIPML_ARITHMETIC_FLOAT_HPP
#define ZIPML_ARITHMETIC_FLOAT_HPP

#include <cmath>
#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace zipml::arith {

// xsimd 8 has no AVX-512 fused multiply-add, and none for fnma on NEON: there its fma/fnma are
// a * b + c, fused only where the compiler happens to contract it (at -O3, not in the
// sanitizer build). These round once wherever the target has fused multiply-add
// (kFusedMultiplyAdd), so a build's flags never change a trained model.
inline constexpr bool kFusedMultiplyAdd =
    XSIMD_WITH_AVX512F || XSIMD_WITH_FMA3_AVX2 || XSIMD_WITH_FMA3_AVX || XSIMD_WITH_FMA3_SSE || XSIMD_WITH_FMA4
#if defined(__ARM_FEATURE_FMA)
    || XSIMD_WITH_NEON || XSIMD_WITH_NEON64
#endif
    ;

template <class B>
[[nodiscard]] inline B fused_madd(const B& a, const B& b, const B& c) noexcept { // a b + c
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of_v<xsimd::avx512f, typename B::arch_type>)
    return B(_mm512_fmadd_ps(a, b, c));
  else
#endif
    return xsimd::fma(a, b, c);
}

template <class B>
[[nodiscard]] inline B fused_nmadd(const B& a, const B& b, const B& c) noexcept { // c - a b
  return fused_madd(-a, b, c); // negation is exact: the same single rounding as c - a b
}

//! sum a[j] x[j], float32, in SIMD batches (two accumulators hide the FMA latency).
[[nodiscard]] inline float dot(const float* a, const float* x, std::size_t n) noexcept {
  using batch = xsimd::batch<float>;
  constexpr std::size_t w = batch::size;
  batch acc0(0.0f), acc1(0.0f);
  std::size_t j = 0;
  for (; j + 2 * w <= n; j += 2 * w) {
    acc0 = fused_madd(batch::load_unaligned(a + j), batch::load_unaligned(x + j), acc0);
    acc1 = fused_madd(batch::load_unaligned(a + j + w), batch::load_unaligned(x + j + w), acc1);
  }
  for (; j + w <= n; j += w) acc0 = fused_madd(batch::load_unaligned(a + j), batch::load_unaligned(x + j), acc0);
  float s = xsimd::hadd(acc0 + acc1);
  for (; j < n; ++j) s = std::fma(a[j], x[j], s);
  return s;
}

//! x = keep * x - g * a (keep = 1 - step x lambda).
inline void update(float* x, const float* a, float g, float keep, std::size_t n) noexcept {
  using batch = xsimd::batch<float>;
  constexpr std::size_t w = batch::size;
  const batch vg(g), vk(keep);
  std::size_t j = 0;
  for (; j + w <= n; j += w) {
    const batch xv = batch::load_unaligned(x + j);
    fused_nmadd(vg, batch::load_unaligned(a + j), xv * vk).store_unaligned(x + j);
  }
  for (; j < n; ++j) x[j] = std::fma(-g, a[j], keep * x[j]);
}

} // namespace zipml::arith

#endif
