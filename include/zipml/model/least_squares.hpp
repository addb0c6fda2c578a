// zipml — least squares regression: l(dot, b) = (dot - b)^2 / 2.
#ifndef ZIPML_MODEL_LEAST_SQUARES_HPP
#define ZIPML_MODEL_LEAST_SQUARES_HPP

#include <cstdint>
#include <string_view>

#include "zipml/stream/format.hpp"

namespace zipml {

//! Linear regression by SGD on the squared error (the original's LINREG_SGD).
//!
//! The slope dl/d(dot) = dot - b is linear in the sample, so with double sampling (two
//! independent stochastic quantizations, one for the dot product and one for the update) the
//! low-precision gradient is unbiased.
struct LeastSquares {
  static constexpr std::string_view name = "least-squares";
  static constexpr stream::LossMode loss_mode = stream::LossMode::LeastSquares;
  static constexpr bool is_classifier = false;

  //! dl/d(dot).
  [[nodiscard]] float slope(float dot, float label) const noexcept { return dot - label; }
  //! The loss of one sample.
  [[nodiscard]] double loss(double dot, double label) const noexcept { return 0.5 * (dot - label) * (dot - label); }
  //! No per-class costs: the step is the whole factor.
  [[nodiscard]] float cost(float /*label*/) const noexcept { return 1.0f; }
  //! The engine's slope in Q.23 from the Q9.23 dot product and label (docs/ENGINE.md).
  [[nodiscard]] static constexpr std::int64_t engine_slope(std::int32_t dot, std::int32_t label) noexcept {
    return static_cast<std::int64_t>(dot) - label;
  }
};

} // namespace zipml

#endif
