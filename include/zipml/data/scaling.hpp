// zipml — feature and label scaling, label helpers, and data-set checks.
//
// The quantized engines assume features in a known range ([0, 1] or [-1, 1]); these helpers
// get data there and say clearly, with row and column, when it is not.
#ifndef ZIPML_DATA_SCALING_HPP
#define ZIPML_DATA_SCALING_HPP

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xtensor.hpp>

#include "zipml/data/dataset.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/error.hpp"

namespace zipml::data {

//! Rows: each sample scaled by its own min/max. Columns: each feature by its min/max over the
//! training set.
enum class Axis { Rows, Columns };

namespace detail {

//! Shortest round-trip spelling of `v` ("nan", "inf", "0.1"): exact, locale-free.
inline std::string format_value(float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

inline std::string source_name(const Dataset& ds) {
  return ds.source.empty() ? std::string("data set") : "'" + ds.source + "'";
}

inline const char* range_name(Range r) noexcept {
  return r == Range::ZeroOne ? "[0, 1]" : "[-1, 1]";
}

//! Maps t in [0, 1] onto `r`.
inline double to_range(double t, Range r) noexcept {
  return r == Range::ZeroOne ? t : 2.0 * t - 1.0;
}

//! x in [lo, hi] to `r`, clipped; a constant (hi == lo) maps to 0 so it contributes nothing.
inline float scale_one(float x, double lo, double hi, Range r) noexcept {
  if (!(hi > lo)) return 0.0F;
  const double t = std::clamp((static_cast<double>(x) - lo) / (hi - lo), 0.0, 1.0);
  return static_cast<float>(to_range(t, r));
}

//! Whether all of x[0, n) are finite: exponent bits not all ones, branch-free so that it
//! vectorizes (validation reads every value of a data set).
inline bool all_finite(const float* x, std::size_t n) noexcept {
  std::uint32_t bad = 0;
  for (std::size_t j = 0; j < n; ++j)
    bad |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(x[j]) & 0x7f800000u) == 0x7f800000u);
  return bad == 0;
}

//! std::clamp(t, 0, 1).
inline double clamp01(double t) noexcept { return std::clamp(t, 0.0, 1.0); }

//! x[0, n) to `r` by one [lo, hi], as scale_one does for each value (the same operations, so
//! the same bits), in a plain loop the compiler vectorizes. (An xsimd version of this loop was
//! miscompiled by GCC 12 at -O3 with AVX-512 once inlined into MinMaxScaler::apply: only lane 0
//! of each batch got the [-1, 1] map; tests/unit/test_data.cpp "random data scaled ..." caught it.)
inline void scale_span(float* x, std::size_t n, double lo, double hi, Range r) noexcept {
  if (!(hi > lo)) {
    std::fill(x, x + n, 0.0F);
    return;
  }
  const double span = hi - lo;
  if (r == Range::ZeroOne) {
    for (std::size_t j = 0; j < n; ++j) x[j] = static_cast<float>(clamp01((static_cast<double>(x[j]) - lo) / span));
  } else {
    for (std::size_t j = 0; j < n; ++j)
      x[j] = static_cast<float>(2.0 * clamp01((static_cast<double>(x[j]) - lo) / span) - 1.0);
  }
}

//! Minimum and maximum of x[0, n), n >= 1, finite values.
inline std::pair<float, float> min_max(const float* x, std::size_t n) noexcept {
  using B = xsimd::batch<float>;
  std::size_t j = 0;
  float lo = x[0], hi = x[0];
  if (n >= B::size) {
    B vlo = B::load_unaligned(x), vhi = vlo;
    for (j = B::size; j + B::size <= n; j += B::size) {
      const B v = B::load_unaligned(x + j);
      vlo = xsimd::min(vlo, v);
      vhi = xsimd::max(vhi, v);
    }
    alignas(64) float l[B::size], h[B::size];
    vlo.store_aligned(l);
    vhi.store_aligned(h);
    lo = *std::min_element(l, l + B::size);
    hi = *std::max_element(h, h + B::size);
  }
  for (; j < n; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  return {lo, hi};
}

} // namespace detail

//! Throws Error naming the source, 1-based row, column and value of the first problem: an empty
//! data set, features and labels of different lengths, a bias (column 0) other than 1.0, or a
//! NaN/inf feature or label.
inline void validate(const Dataset& ds) {
  const std::string src = detail::source_name(ds);
  if (ds.empty()) throw Error(src + ": the data set is empty (no samples)");
  if (ds.labels.size() != ds.size()) {
    throw Error(src + ": " + std::to_string(ds.size()) + " samples but " +
                std::to_string(ds.labels.size()) + " labels");
  }
  if (ds.dim() == 0) throw Error(src + ": the samples have no columns, not even the bias");
  const std::size_t d = ds.dim();
  const float* x = ds.features.data();
  for (std::size_t i = 0; i < ds.size(); ++i, x += d) {
    if (x[0] != 1.0F) {
      throw Error(src + ": row " + std::to_string(i + 1) + ", column 0: bias is " +
                  detail::format_value(x[0]) + ", expected 1");
    }
    // The vectorized test first; the loop that names the value only for a row that fails it.
    if (!detail::all_finite(x + 1, d - 1)) {
      for (std::size_t j = 1; j < d; ++j) {
        if (!std::isfinite(x[j])) {
          throw Error(src + ": row " + std::to_string(i + 1) + ", column " + std::to_string(j) +
                      ": feature value " + detail::format_value(x[j]) + " is not finite");
        }
      }
    }
    if (!std::isfinite(ds.labels(i))) {
      throw Error(src + ": row " + std::to_string(i + 1) + ": label " +
                  detail::format_value(ds.labels(i)) + " is not finite");
    }
  }
}

//! Throws Error (source, row, column, value, and the --scale hint) for the first feature, bias
//! excluded, outside `range`; NaN counts as outside.
inline void check_range(const Dataset& ds, Range range) {
  const float lo = range == Range::ZeroOne ? 0.0F : -1.0F;
  const float hi = 1.0F;
  const std::size_t d = ds.dim();
  const float* x = ds.features.data();
  for (std::size_t i = 0; i < ds.size(); ++i, x += d) {
    for (std::size_t j = 1; j < d; ++j) {
      if (!(x[j] >= lo && x[j] <= hi)) {
        throw Error(detail::source_name(ds) + ": row " + std::to_string(i + 1) + ", column " +
                    std::to_string(j) + ": feature value " + detail::format_value(x[j]) +
                    " is outside " + detail::range_name(range) +
                    "; scale the features with --scale");
      }
    }
  }
}

//! Min-max feature scaling whose column ranges are learned on one set (training) and applied to
//! others (test), so both see the same transformation. Column 0, the bias, is never touched.
class MinMaxScaler {
 public:
  //! Columns: records each feature's min/max over `train`. Rows: records only range and axis,
  //! since each row is scaled by its own min/max. Throws Error if `train` fails validate().
  void fit(const Dataset& train, Range range, Axis axis) {
    validate(train);
    range_ = range;
    axis_ = axis;
    min_.clear();
    max_.clear();
    if (axis == Axis::Columns) {
      const std::size_t d = train.dim();
      min_.assign(d, std::numeric_limits<float>::infinity());
      max_.assign(d, -std::numeric_limits<float>::infinity());
      const float* x = train.features.data();
      for (std::size_t i = 0; i < train.size(); ++i, x += d) {
        for (std::size_t j = 1; j < d; ++j) {
          min_[j] = std::min(min_[j], x[j]);
          max_[j] = std::max(max_[j], x[j]);
        }
      }
      min_[0] = max_[0] = 1.0F; // the bias is not scaled; keep the vectors aligned with columns
    }
    fitted_ = true;
  }

  //! Scales `ds` in place. Columns: values outside the training range are clipped into `range`.
  //! Throws Error if not fitted, if `ds` has a different width than the fitted set, or if `ds`
  //! fails validate(). An empty set is left as it is.
  void apply(Dataset& ds) const {
    if (!fitted_) throw Error("MinMaxScaler::apply called before fit");
    if (ds.empty()) return;
    validate(ds);
    const std::size_t d = ds.dim();
    if (axis_ == Axis::Columns && d != min_.size()) {
      throw Error(detail::source_name(ds) + ": has " + std::to_string(d) +
                  " columns, but the scaler was fit on " + std::to_string(min_.size()) +
                  " (bias included)");
    }
    const RowScaling scale(*this);
    float* x = ds.features.data();
    for (std::size_t i = 0; i < ds.size(); ++i, x += d) scale(x, d);
  }

  //! What apply() does to one row, its per-column constants computed once: a row of d
  //! columns (bias first) scaled in place. ScaledRows scales the rows of any RowSource with
  //! it as they are read (a NumPy array's, without a scaled copy of the matrix).
  class RowScaling {
   public:
    explicit RowScaling(const MinMaxScaler& s) : range_(s.range_), axis_(s.axis_) {
      if (!s.fitted_) throw Error("MinMaxScaler: used before fit");
      if (axis_ == Axis::Rows) return;
      const std::size_t d = s.min_.size();
      lo_.assign(d, 0.0);
      span_.assign(d, 1.0);
      live_.assign(d, 0);
      for (std::size_t j = 1; j < d; ++j) {
        lo_[j] = s.min_[j];
        live_[j] = s.max_[j] > s.min_[j];
        span_[j] = live_[j] ? static_cast<double>(s.max_[j]) - s.min_[j] : 1.0;
      }
    }
    //! Columns: the width the scaler was fitted on (bias included); Rows: 0 (any width).
    [[nodiscard]] std::size_t dim() const noexcept { return lo_.size(); }
    void operator()(float* x, std::size_t d) const noexcept {
      if (axis_ == Axis::Rows) {
        if (d < 2) return;
        const auto [lo, hi] = detail::min_max(x + 1, d - 1);
        detail::scale_span(x + 1, d - 1, lo, hi, range_);
        return;
      }
      // Columns: scale_one per value, from per-column constants (the same operations).
      const bool zero_one = range_ == Range::ZeroOne;
      for (std::size_t j = 1; j < d; ++j) {
        const double t = detail::clamp01((static_cast<double>(x[j]) - lo_[j]) / span_[j]);
        x[j] = live_[j] ? static_cast<float>(zero_one ? t : 2.0 * t - 1.0) : 0.0F;
      }
    }

   private:
    Range range_;
    Axis axis_;
    std::vector<double> lo_, span_;
    std::vector<std::uint8_t> live_;
  };

  //! A fitted scaler rebuilt from what range(), axis(), min() and max() returned (a saved
  //! model). Columns: `min` and `max` hold one finite value per column, bias included, with
  //! min <= max; Rows: both are empty. Throws Error (naming `what`) for anything else.
  [[nodiscard]] static MinMaxScaler from_state(Range range, Axis axis, std::vector<float> min,
                                               std::vector<float> max,
                                               const std::string& what = "MinMaxScaler") {
    if (range != Range::ZeroOne && range != Range::MinusOneOne)
      throw Error(what + ": unknown feature range");
    if (axis != Axis::Rows && axis != Axis::Columns) throw Error(what + ": unknown scaling axis");
    if (axis == Axis::Rows) {
      if (!min.empty() || !max.empty())
        throw Error(what + ": a row scaler keeps no column ranges, got " +
                    std::to_string(min.size()) + " minima and " + std::to_string(max.size()) +
                    " maxima");
    } else {
      if (min.empty() || min.size() != max.size())
        throw Error(what + ": a column scaler needs one minimum and one maximum per column, got " +
                    std::to_string(min.size()) + " minima and " + std::to_string(max.size()) +
                    " maxima");
      for (std::size_t j = 0; j < min.size(); ++j) {
        if (!std::isfinite(min[j]) || !std::isfinite(max[j]) || !(min[j] <= max[j]))
          throw Error(what + ": column " + std::to_string(j) + " has the range [" +
                      detail::format_value(min[j]) + ", " + detail::format_value(max[j]) +
                      "], not a finite interval");
      }
    }
    MinMaxScaler s;
    s.range_ = range;
    s.axis_ = axis;
    s.min_ = std::move(min);
    s.max_ = std::move(max);
    s.fitted_ = true;
    return s;
  }

  [[nodiscard]] bool fitted() const noexcept { return fitted_; }
  [[nodiscard]] Range range() const noexcept { return range_; }
  [[nodiscard]] Axis axis() const noexcept { return axis_; }
  //! Per-column training minima/maxima (index = column; [0] is the bias). Empty for Rows.
  [[nodiscard]] const std::vector<float>& min() const noexcept { return min_; }
  [[nodiscard]] const std::vector<float>& max() const noexcept { return max_; }

 private:
  Range range_ = Range::ZeroOne;
  Axis axis_ = Axis::Columns;
  std::vector<float> min_, max_;
  bool fitted_ = false;
};

//! A RowSource's rows scaled by a fitted MinMaxScaler as they are read: row i is the source's
//! row i as MinMaxScaler::apply would leave it, bit for bit, without a scaled copy of the
//! matrix. Views the source: it must outlive this.
template <RowSource Rows>
class ScaledRows {
 public:
  ScaledRows(const Rows& rows, const MinMaxScaler& scaler) : rows_(&rows), scale_(scaler) {
    if (scale_.dim() != 0 && scale_.dim() != rows.dim())
      throw Error(rows.name() + ": has " + std::to_string(rows.dim()) + " columns, but the scaler was fit on " +
                  std::to_string(scale_.dim()) + " (bias included)");
  }
  [[nodiscard]] std::size_t size() const noexcept { return rows_->size(); }
  [[nodiscard]] std::size_t dim() const noexcept { return rows_->dim(); }
  [[nodiscard]] std::string name() const { return rows_->name(); }
  [[nodiscard]] const float* row(std::size_t i, float* buf) const {
    const float* r = rows_->row(i, buf);
    if (r != buf) std::copy(r, r + dim(), buf);
    scale_(buf, dim());
    return buf;
  }
  [[nodiscard]] float label(std::size_t i) const { return rows_->label(i); }

 private:
  const Rows* rows_;
  MinMaxScaler::RowScaling scale_;
};

//! fit + apply on one set; for a train/test pair use a MinMaxScaler fit on the training set.
inline void scale_features(Dataset& ds, Range range, Axis axis) {
  MinMaxScaler scaler;
  scaler.fit(ds, range, axis);
  scaler.apply(ds);
}

//! Min-max map of regression targets, kept so predictions can be mapped back. Not clipped:
//! a prediction beyond the training targets maps beyond the range, and back again.
struct LabelScaler {
  float min = 0.0F;
  float max = 1.0F;
  Range range = Range::ZeroOne;

  [[nodiscard]] float to_scaled(float y) const noexcept {
    if (!(max > min)) return 0.0F;
    const double t = (static_cast<double>(y) - min) / (static_cast<double>(max) - min);
    return static_cast<float>(detail::to_range(t, range));
  }
  [[nodiscard]] float from_scaled(float s) const noexcept {
    const double t = range == Range::ZeroOne ? s : (static_cast<double>(s) + 1.0) / 2.0;
    return static_cast<float>(min + t * (static_cast<double>(max) - min));
  }
};

//! Scales `ds.labels` in place to `range` and returns the map. Throws Error on an empty set or a
//! NaN/inf label. Constant labels all map to 0.
inline LabelScaler scale_labels(Dataset& ds, Range range) {
  const std::string src = detail::source_name(ds);
  if (ds.labels.size() == 0) throw Error(src + ": no labels to scale");
  LabelScaler s{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                range};
  for (std::size_t i = 0; i < ds.labels.size(); ++i) {
    const float y = ds.labels(i);
    if (!std::isfinite(y)) {
      throw Error(src + ": row " + std::to_string(i + 1) + ": label " + detail::format_value(y) +
                  " is not finite");
    }
    s.min = std::min(s.min, y);
    s.max = std::max(s.max, y);
  }
  for (auto& y : ds.labels) y = s.to_scaled(y);
  return s;
}

//! The distinct labels, ascending: the classes of a classification set. Throws Error on a NaN
//! label, which has no place in an order.
[[nodiscard]] inline std::vector<float> classes(const Dataset& ds) {
  std::vector<float> out(ds.labels.begin(), ds.labels.end());
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (std::isnan(out[i])) {
      throw Error(detail::source_name(ds) + ": row " + std::to_string(i + 1) + ": label " +
                  detail::format_value(out[i]) + " is not a class");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

//! +1 where label == positive, -1 elsewhere: one-vs-rest targets for a binary model.
[[nodiscard]] inline xt::xtensor<float, 1> binarize(const xt::xtensor<float, 1>& labels,
                                                    float positive) {
  xt::xtensor<float, 1> out = xt::xtensor<float, 1>::from_shape({labels.size()});
  for (std::size_t i = 0; i < labels.size(); ++i) out(i) = labels(i) == positive ? 1.0F : -1.0F;
  return out;
}

} // namespace zipml::data

#endif
