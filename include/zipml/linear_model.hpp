// zipml — a trained linear model: K weight vectors and what they stand for.
//
// What Sgd produces and what a saved model restores; predicting needs nothing else (no
// backend, no policy types).
#ifndef ZIPML_LINEAR_MODEL_HPP
#define ZIPML_LINEAR_MODEL_HPP

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "zipml/arithmetic/float.hpp"
#include "zipml/data/dataset.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/error.hpp"

namespace zipml {

//! K x d weights. Regression: one lane, the decision value is the prediction. Classification:
//! lane k scores `lane_classes[k]` against the rest; with one lane the model is binary and
//! predicts the positive class or, when the training set had exactly two classes, the other.
class LinearModel {
 public:
  LinearModel() = default;
  LinearModel(xt::xtensor<float, 2> weights, bool classification, std::vector<float> lane_classes = {},
              std::vector<float> all_classes = {})
      : weights_(std::move(weights)),
        classification_(classification),
        lane_classes_(std::move(lane_classes)),
        all_classes_(std::move(all_classes)) {
    if (classification_ && lane_classes_.size() != weights_.shape(0))
      throw Error("LinearModel: " + std::to_string(weights_.shape(0)) + " lanes but " +
                  std::to_string(lane_classes_.size()) + " class labels");
  }

  [[nodiscard]] bool empty() const noexcept { return weights_.size() == 0; }
  [[nodiscard]] bool is_classification() const noexcept { return classification_; }
  [[nodiscard]] std::size_t lanes() const noexcept { return weights_.shape(0); }
  [[nodiscard]] std::size_t dim() const noexcept { return weights_.shape(1); }
  [[nodiscard]] const xt::xtensor<float, 2>& weights() const noexcept { return weights_; }
  [[nodiscard]] xt::xtensor<float, 2>& weights() noexcept { return weights_; }
  //! The class each lane scores (classification), in lane order.
  [[nodiscard]] const std::vector<float>& lane_classes() const noexcept { return lane_classes_; }
  //! Every class of the training set, sorted.
  [[nodiscard]] const std::vector<float>& all_classes() const noexcept { return all_classes_; }

  //! Decision values: N x K, one column per lane.
  [[nodiscard]] xt::xtensor<float, 2> decision(const data::Dataset& ds, unsigned threads = 0) const {
    return decision(data::DatasetRows(ds), threads);
  }
  //! The same of any RowSource (IdxImages: from the file's bytes, scaled as each row is read,
  //! without the float matrix); a Dataset's rows are read in place, so the same bits either way.
  template <data::RowSource Rows>
  [[nodiscard]] xt::xtensor<float, 2> decision(const Rows& rows, unsigned threads = 0) const {
    check(rows.dim(), rows.name());
    const std::size_t n = rows.size(), d = rows.dim(), k = lanes();
    xt::xtensor<float, 2> out = xt::zeros<float>({n, k});
    const float* w = weights_.data();
    auto part = [&](std::size_t b, std::size_t e) {
      std::vector<float> buf(d);
      for (std::size_t i = b; i < e; ++i) {
        const float* x = rows.row(i, buf.data());
        for (std::size_t l = 0; l < k; ++l) out(i, l) = arith::dot(x, w + l * d, d);
      }
    };
    unsigned t = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    t = static_cast<unsigned>(std::min<std::size_t>(t, std::max<std::size_t>(1, n / 2048)));
    if (t <= 1) {
      part(0, n);
    } else {
      std::vector<std::jthread> pool;
      for (unsigned i = 0; i < t; ++i) pool.emplace_back(part, n * i / t, n * (i + 1) / t);
    }
    return out;
  }

  //! The label predicted from row i of a decision matrix.
  [[nodiscard]] float label_from(const xt::xtensor<float, 2>& dec, std::size_t i) const {
    if (!classification_) return dec(i, 0);
    if (lanes() == 1) {
      const float p = lane_classes_.front();
      if (dec(i, 0) > 0.0f) return p;
      if (all_classes_.size() == 2) return all_classes_[0] == p ? all_classes_[1] : all_classes_[0];
      return -1.0f; // "the rest"
    }
    std::size_t best = 0;
    for (std::size_t l = 1; l < lanes(); ++l)
      if (dec(i, l) > dec(i, best)) best = l;
    return lane_classes_[best];
  }

  //! Predicted labels (a class of the training set) or values (regression).
  [[nodiscard]] xt::xtensor<float, 1> predict(const data::Dataset& ds) const {
    const auto dec = decision(ds);
    xt::xtensor<float, 1> out = xt::zeros<float>({ds.size()});
    for (std::size_t i = 0; i < ds.size(); ++i) out(i) = label_from(dec, i);
    return out;
  }

  //! Whether row i of `dec` is classified right (binary: sign against the positive class,
  //! with a decision of exactly 0 counted as a miss for positives, as the original does).
  [[nodiscard]] bool correct(const xt::xtensor<float, 2>& dec, std::size_t i, float label) const {
    if (lanes() == 1) return (dec(i, 0) > 0.0f) == (label == lane_classes_.front());
    return label_from(dec, i) == label;
  }

  //! Accuracy (classification) or RMSE (regression).
  [[nodiscard]] double score(const data::Dataset& ds) const {
    const auto dec = decision(ds);
    double sum = 0.0;
    for (std::size_t i = 0; i < ds.size(); ++i) {
      if (classification_) {
        sum += correct(dec, i, ds.labels(i)) ? 1.0 : 0.0;
      } else {
        const double e = static_cast<double>(dec(i, 0)) - ds.labels(i);
        sum += e * e;
      }
    }
    const double n = static_cast<double>(ds.size());
    return classification_ ? sum / n : std::sqrt(sum / n);
  }

 private:
  void check(std::size_t dim_with_bias, const std::string& name) const {
    if (empty()) throw Error("model: no weights (train it with fit(), or load a saved model)");
    if (dim_with_bias != dim())
      throw Error(name + ": " + std::to_string(dim_with_bias) + " features (with bias), the model has " +
                  std::to_string(dim()));
  }

  xt::xtensor<float, 2> weights_;
  bool classification_ = false;
  std::vector<float> lane_classes_;
  std::vector<float> all_classes_;
};

} // namespace zipml

#endif
