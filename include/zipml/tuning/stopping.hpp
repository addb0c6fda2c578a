// zipml — when to stop: the epoch budget of --epochs auto and the loss-plateau rule of
// Options::tol (scikit-learn's tol / n_iter_no_change, relative to the loss).
#ifndef ZIPML_TUNING_STOPPING_HPP
#define ZIPML_TUNING_STOPPING_HPP

#include <algorithm>
#include <cstddef>
#include <limits>

namespace zipml::tuning {

//! --epochs auto: a budget of sample updates, at least kMinEpochs and at most kMaxEpochs
//! passes. Fashion-MNIST's 60,000 samples get the original's 10 epochs; a table of a few
//! hundred rows gets up to 1000 passes (milliseconds each), which the plateau rule cuts short.
inline constexpr std::size_t kUpdateBudget = 600'000;
inline constexpr std::size_t kMinEpochs = 10;
inline constexpr std::size_t kMaxEpochs = 1000;
//! The tolerance and patience --epochs auto uses (scikit-learn's SGD defaults: 1e-3, 5).
inline constexpr double kAutoTol = 1e-3;
inline constexpr unsigned kAutoPatience = 5;

[[nodiscard]] constexpr std::size_t auto_epochs(std::size_t samples) noexcept {
  if (samples == 0) return kMinEpochs;
  return std::clamp((kUpdateBudget + samples - 1) / samples, kMinEpochs, kMaxEpochs);
}

//! Stops when `patience` epochs in a row have not lowered the best training loss by at least
//! the fraction `tol` of it. tol = 0 never stops (the fixed-epoch runs of the original).
class LossPlateau {
 public:
  LossPlateau(double tol, unsigned patience) noexcept : tol_(tol), patience_(std::max(patience, 1u)) {}

  //! Records an epoch's loss; true when training should stop after it.
  bool stop_after(double loss) noexcept {
    if (loss < best_ && (best_ == std::numeric_limits<double>::infinity() || best_ - loss >= tol_ * best_)) {
      best_ = loss;
      stale_ = 0;
      return false;
    }
    best_ = std::min(best_, loss);
    return tol_ > 0.0 && ++stale_ >= patience_;
  }

 private:
  double tol_;
  unsigned patience_;
  double best_ = std::numeric_limits<double>::infinity();
  unsigned stale_ = 0;
};

//! The fraction by which the last epoch lowered the loss (0 when it did not, or when there
//! is no earlier loss): what a "still falling fast" note is based on.
[[nodiscard]] inline double last_relative_drop(double before, double after) noexcept {
  if (!(before > 0.0) || !(after < before)) return 0.0;
  return (before - after) / before;
}

} // namespace zipml::tuning

#endif
