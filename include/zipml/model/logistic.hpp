// zipml — logistic regression: l(dot, b) = C_b log(1 + exp(-b dot)), b in {-1, +1}.
#ifndef ZIPML_MODEL_LOGISTIC_HPP
#define ZIPML_MODEL_LOGISTIC_HPP

#include <cmath>
#include <cstdint>
#include <string_view>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/stream/format.hpp"

namespace zipml {

//! Logistic regression. dl/d(dot) = sigma(dot) - y with y = 1 for b = +1 and 0 for b = -1;
//! the engine evaluates sigma with a 16-chord piecewise-linear table (engine::sigmoid).
struct Logistic {
  static constexpr std::string_view name = "logistic";
  static constexpr stream::LossMode loss_mode = stream::LossMode::Logistic;
  static constexpr bool is_classifier = true;

  float cost_pos = 1.0f;
  float cost_neg = 1.0f;

  [[nodiscard]] float slope(float dot, float label) const noexcept {
    const float sigma = 1.0f / (1.0f + std::exp(-dot));
    return label > 0.0f ? sigma - 1.0f : sigma;
  }
  [[nodiscard]] double loss(double dot, double label) const noexcept {
    const double z = -label * dot; // log(1 + e^z), stable for large |z|
    const double l = z > 0.0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
    return cost(static_cast<float>(label)) * l;
  }
  [[nodiscard]] float cost(float label) const noexcept { return label > 0.0f ? cost_pos : cost_neg; }
  [[nodiscard]] static constexpr std::int64_t engine_slope(std::int32_t dot, std::int32_t label) noexcept {
    return static_cast<std::int64_t>(engine::sigmoid(dot)) - (label > 0 ? engine::kOne : 0);
  }
};

} // namespace zipml

#endif
