// zipml — whether a data set's rows come grouped by label (--order auto).
#ifndef ZIPML_TUNING_ORDER_HPP
#define ZIPML_TUNING_ORDER_HPP

#include <algorithm>
#include <cstddef>
#include <map>
#include <span>
#include <vector>

#include "zipml/data/dataset.hpp"

namespace zipml::tuning {

//! True when neighbouring rows share a label far more often than in a random order: a file
//! sorted by class (as many tables are) or, for regression, by target. SGD in such an order
//! fits the last group and forgets the first, so --order auto shuffles it once; a file already
//! in random order (Fashion-MNIST) keeps its order, and with it the original's results.
//!
//! Classification: the share of neighbours with different labels against its expectation in a
//! random order, 1 - sum p_c^2; regression: the same for "above the median". Grouped means
//! less than half the expected changes.
[[nodiscard]] inline bool labels_grouped(std::span<const float> labels, bool classification) {
  const std::size_t n = labels.size();
  if (n < 8) return false;
  std::vector<float> key(labels.begin(), labels.end());
  if (!classification) {
    std::vector<float> sorted = key;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n / 2), sorted.end());
    const float median = sorted[n / 2];
    for (auto& k : key) k = k > median ? 1.0f : 0.0f;
  }
  std::map<float, std::size_t> count;
  for (float k : key) ++count[k];
  double same = 0.0;
  for (const auto& [k, c] : count) same += (static_cast<double>(c) / n) * (static_cast<double>(c) / n);
  const double expected = (1.0 - same) * static_cast<double>(n - 1);
  std::size_t changes = 0;
  for (std::size_t i = 1; i < n; ++i) changes += key[i] != key[i - 1] ? 1 : 0;
  return expected > 0.0 && static_cast<double>(changes) < 0.5 * expected;
}

[[nodiscard]] inline bool labels_grouped(const data::Dataset& ds, bool classification) {
  return labels_grouped(std::span<const float>(ds.labels.data(), ds.labels.size()), classification);
}

} // namespace zipml::tuning

#endif
