// zipml — a step size chosen from the training data (what Sgd's users get without --step).
#ifndef ZIPML_TUNING_STEP_HPP
#define ZIPML_TUNING_STEP_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "zipml/concepts.hpp"
#include "zipml/data/dataset.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/options.hpp"
#include "zipml/precision/quantized.hpp"

namespace zipml::tuning {

//! What auto_step chose, and from what (for --summary and messages).
struct StepChoice {
  float step = 0.0f;          //!< a power of two
  double mean_sq_norm = 0.0;  //!< E||x||^2 of the rows the engine sees (bias included)
  double curvature = 0.0;     //!< the loss's second derivative bound times the largest class cost
};

//! The fraction of 1 / L that auto_step takes, L = curvature x E||x||^2 the mean smoothness
//! of one sample's loss. 1 / L is where a plain SGD step starts to overshoot on an average
//! sample; 1/16 of it keeps the noise of a constant step small and, on Fashion-MNIST (rows
//! scaled to [0, 1], E||x||^2 = 162.9, C- = 1.5), gives back the original's 2^-12.
inline constexpr double kStepFraction = 1.0 / 16.0;

//! Bound on the second derivative of a loss in its dot product, without the class cost:
//! 1 for least squares and the squared hinge, 1/4 for the logistic loss.
[[nodiscard]] constexpr double loss_curvature(stream::LossMode mode) noexcept {
  return mode == stream::LossMode::Logistic ? 0.25 : 1.0;
}

//! The expected squared norm of a row as `Precision` delivers it: the full-precision norm,
//! plus, for stochastic rounding, the rounding's variance (a value a fraction f of the way
//! between two levels delta apart varies by delta^2 f (1 - f)).
template <PrecisionPolicy Precision, data::RowSource S>
[[nodiscard]] double mean_sq_norm(const S& train, data::Range range) {
  const std::size_t n = train.size(), d = train.dim();
  if (n == 0) return 0.0;
  [[maybe_unused]] const bool minus_one_one = range == data::Range::MinusOneOne;
  double sum = 0.0;
  std::vector<float> buf(d);
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = train.row(i, buf.data());
    // Eight partial sums, so that the compiler vectorizes the row (a pass over Fashion-MNIST
    // costs what reading it does); floats suffice within a row of values in [-1, 1].
    float part[8] = {};
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8)
      for (std::size_t k = 0; k < 8; ++k) part[k] += row[j + k] * row[j + k];
    double sq = 0.0;
    for (; j < d; ++j) sq += static_cast<double>(row[j]) * row[j];
    for (float p : part) sq += p;
    if constexpr (Precision::bits < 32 && Precision::rounding::stochastic) {
      const double delta = std::ldexp(1.0, -quant::fraction_bits(Precision::bits, minus_one_one));
      for (std::size_t c = 1; c < d; ++c) { // the bias (column 0) is exact
        const double a = row[c] / delta, f = a - std::floor(a);
        sq += delta * delta * f * (1.0 - f);
      }
    }
    sum += sq;
  }
  return sum / static_cast<double>(n);
}

template <PrecisionPolicy Precision>
[[nodiscard]] double mean_sq_norm(const data::Dataset& train, data::Range range) {
  return mean_sq_norm<Precision>(data::DatasetRows(train), range);
}

//! The step for `Model` given E||x||^2 of its rows (mean_sq_norm):
//! kStepFraction / (curvature x max class cost x E||x||^2 x mini-batch), rounded to the
//! nearest power of two (exact in the engine's fixed point) and kept inside the engine's range
//! [2^-34, 2^8) for step and step x cost. It depends on the data only, not on the backend, so
//! every backend given the same data trains with the same step.
template <ModelPolicy Model>
[[nodiscard]] StepChoice step_for(double mean_sq_norm, const Model& model, const Options& options) {
  StepChoice c;
  c.mean_sq_norm = mean_sq_norm;
  const double cost_max = std::max(model.cost(1.0f), model.cost(-1.0f));
  const double cost_min = std::min(model.cost(1.0f), model.cost(-1.0f));
  c.curvature = loss_curvature(Model::loss_mode) * cost_max;
  const double l = c.curvature * std::max(mean_sq_norm, 1.0) * static_cast<double>(std::max<std::size_t>(options.minibatch, 1));
  int e = static_cast<int>(std::lround(std::log2(kStepFraction / l)));
  // step >= 2^-34 and step x cost_min >= 2^-34; step x cost_max < 2^8.
  const int lo = -34 - static_cast<int>(std::floor(std::log2(std::min(1.0, cost_min))));
  const int hi = 7 - static_cast<int>(std::ceil(std::log2(std::max(1.0, cost_max))));
  e = std::clamp(e, lo, std::max(lo, hi));
  c.step = static_cast<float>(std::ldexp(1.0, e));
  return c;
}

//! step_for on `train` (scaled as Options::range says) as `Precision` delivers it.
template <ModelPolicy Model, PrecisionPolicy Precision, class Rows>
[[nodiscard]] StepChoice auto_step(const Rows& train, const Model& model, const Options& options) {
  return step_for(mean_sq_norm<Precision>(train, options.range), model, options);
}

//! Whether `Precision` changes E||x||^2 (stochastic rounding adds its variance); if not, one
//! mean_sq_norm<Float32> serves every precision of a run.
template <PrecisionPolicy Precision>
inline constexpr bool norm_depends_on_precision = Precision::bits < 32 && Precision::rounding::stochastic;

} // namespace zipml::tuning

#endif
