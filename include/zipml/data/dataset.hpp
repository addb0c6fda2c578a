// zipml — the in-memory data set every reader produces and every packer consumes.
#ifndef ZIPML_DATA_DATASET_HPP
#define ZIPML_DATA_DATASET_HPP

#include <cstddef>
#include <string>

#include <xtensor/xtensor.hpp>

namespace zipml::data {

//! Value range that features (or labels) are scaled to; the engine needs to know which.
enum class Range { ZeroOne, MinusOneOne };

//! Dense samples with the bias already in place.
//!
//! `features` is N x d, row-major; column 0 is the bias feature and is 1.0 in every row, so
//! d counts the bias (as the ZipML-PYNQ stream does). `labels` holds one value per row: a class
//! id for classification, a target for regression.
struct Dataset {
  xt::xtensor<float, 2> features;
  xt::xtensor<float, 1> labels;
  std::string source; //!< where the samples came from (file name), for error messages

  [[nodiscard]] std::size_t size() const noexcept { return features.shape(0); }
  [[nodiscard]] std::size_t dim() const noexcept { return features.shape(1); }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
};

} // namespace zipml::data

#endif
