// zipml — rounding policies for quantization.
#ifndef ZIPML_PRECISION_ROUNDING_HPP
#define ZIPML_PRECISION_ROUNDING_HPP

#include <cmath>
#include <string_view>

#include "zipml/random.hpp"

namespace zipml {

//! Round to the nearest level, ties to even (numpy's rint, as the original host does).
//! Deterministic, and biased: E[round(x)] != x. Written with floor so that it does not
//! depend on the floating-point rounding mode a caller may have set.
struct Nearest {
  static constexpr std::string_view name = "nearest";
  static constexpr bool stochastic = false;
  [[nodiscard]] static float round(float scaled, SplitMix64& /*rng*/) noexcept {
    const float lo = std::floor(scaled);
    const float frac = scaled - lo; // exact for the magnitudes levels have
    if (frac > 0.5f) return lo + 1.0f;
    if (frac < 0.5f) return lo;
    return std::fmod(lo, 2.0f) == 0.0f ? lo : lo + 1.0f;
  }
};

//! Round up with probability equal to the fractional part (ZipML's stochastic quantization),
//! so that E[round(x)] = x: the quantized sample is an unbiased estimate of the real one.
struct Stochastic {
  static constexpr std::string_view name = "stochastic";
  static constexpr bool stochastic = true;
  [[nodiscard]] static float round(float scaled, SplitMix64& rng) noexcept {
    const float lo = std::floor(scaled);
    return rng.uniform() < scaled - lo ? lo + 1.0f : lo;
  }
};

} // namespace zipml

#endif
