// zipml — L2-SVM: squared hinge loss with separate costs for the two classes.
#ifndef ZIPML_MODEL_L2SVM_HPP
#define ZIPML_MODEL_L2SVM_HPP

#include <cstdint>
#include <string_view>

#include <xsimd/xsimd.hpp>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/stream/format.hpp"

namespace zipml {

//! Linear SVM on the squared hinge: l(dot, b) = C_b / 2 * max(0, 1 - b dot)^2, b in {-1, +1}.
//!
//! The costs weight the classes, as the original's step x cost_pos / step x cost_neg: with
//! one-vs-rest on ten classes the negatives outnumber the positives nine to one, and a larger
//! C- (the original's MNIST setting is C+ = 1, C- = 1.5) shifts the balance back.
struct L2Svm {
  static constexpr std::string_view name = "l2svm";
  static constexpr stream::LossMode loss_mode = stream::LossMode::L2Svm;
  static constexpr bool is_classifier = true;

  float cost_pos = 1.0f; //!< C+ for samples labelled +1
  float cost_neg = 1.0f; //!< C- for samples labelled -1

  //! dl/d(dot) without the cost: dot - b inside the margin (b dot < 1), else 0.
  [[nodiscard]] float slope(float dot, float label) const noexcept { return label * dot < 1.0f ? dot - label : 0.0f; }
  //! slope() of a SIMD batch of lanes, by the same operations: the CPU backend's fused pass
  //! takes every lane's slope of a sample at once instead of branching per lane.
  template <class B>
  [[nodiscard]] B slopes(B dot, B label) const noexcept {
    return xsimd::select(label * dot < B(1.0f), dot - label, B(0.0f));
  }
  [[nodiscard]] double loss(double dot, double label) const noexcept {
    const double m = 1.0 - label * dot;
    return m > 0.0 ? 0.5 * cost(static_cast<float>(label)) * m * m : 0.0;
  }
  //! loss() of a SIMD batch of doubles, by the same operations in the same order (so the same
  //! bits): the CPU backend's fused pass sums the pass loss of every lane at once.
  template <class D>
  [[nodiscard]] D losses(D dot, D label) const noexcept {
    const D m = D(1.0) - label * dot;
    const D c = xsimd::select(label > D(0.0), D(static_cast<double>(cost_pos)), D(static_cast<double>(cost_neg)));
    return xsimd::select(m > D(0.0), D(0.5) * c * m * m, D(0.0));
  }
  [[nodiscard]] float cost(float label) const noexcept { return label > 0.0f ? cost_pos : cost_neg; }
  //! Labels are +-1 in Q9.23, so the margin test b dot < 1 is a compare against +-1.
  [[nodiscard]] static constexpr std::int64_t engine_slope(std::int32_t dot, std::int32_t label) noexcept {
    const bool inside = label > 0 ? dot < engine::kOne : dot > -engine::kOne;
    return inside ? static_cast<std::int64_t>(dot) - label : 0;
  }
};

} // namespace zipml

#endif
