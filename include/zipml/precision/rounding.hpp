// zipml — rounding policies for quantization.
#ifndef ZIPML_PRECISION_ROUNDING_HPP
#define ZIPML_PRECISION_ROUNDING_HPP

#include <cmath>
#include <string_view>

#include "zipml/random.hpp"

namespace zipml {

//! Round to the nearest level, ties to even (numpy's rint, as the original host does).
//! Deterministic, and biased: E[round(x)] != x.
struct Nearest {
  static constexpr std::string_view name = "nearest";
  static constexpr bool stochastic = false;
  [[nodiscard]] static float round(float scaled, SplitMix64& /*rng*/) noexcept { return std::nearbyint(scaled); }
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
