// zipml — the float arithmetic's kernels: float32 dot product and model update.
//
// The float arithmetic is the accurate one (float32 model, no staleness); the host also uses
// its dot product to evaluate any model. Sums are reordered for SIMD, so results can differ
// in the last bits between machines; only the engine arithmetic is bit-exact by contract.
#ifndef ZIPML_ARITHMETIC_FLOAT_HPP
#define ZIPML_ARITHMETIC_FLOAT_HPP

#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace zipml::arith {

//! sum a[j] x[j], float32, in SIMD batches (two accumulators hide the FMA latency).
[[nodiscard]] inline float dot(const float* a, const float* x, std::size_t n) noexcept {
  using batch = xsimd::batch<float>;
  constexpr std::size_t w = batch::size;
  batch acc0(0.0f), acc1(0.0f);
  std::size_t j = 0;
  for (; j + 2 * w <= n; j += 2 * w) {
    acc0 = xsimd::fma(batch::load_unaligned(a + j), batch::load_unaligned(x + j), acc0);
    acc1 = xsimd::fma(batch::load_unaligned(a + j + w), batch::load_unaligned(x + j + w), acc1);
  }
  for (; j + w <= n; j += w) acc0 = xsimd::fma(batch::load_unaligned(a + j), batch::load_unaligned(x + j), acc0);
  float s = xsimd::hadd(acc0 + acc1);
  for (; j < n; ++j) s += a[j] * x[j];
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
    xsimd::fnma(vg, batch::load_unaligned(a + j), xv * vk).store_unaligned(x + j);
  }
  for (; j < n; ++j) x[j] = keep * x[j] - g * a[j];
}

} // namespace zipml::arith

#endif
