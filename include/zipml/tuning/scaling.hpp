// zipml — which feature scaling a data set needs (--scale auto).
#ifndef ZIPML_TUNING_SCALING_HPP
#define ZIPML_TUNING_SCALING_HPP

#include <cstddef>
#include <optional>
#include <string_view>

#include "zipml/data/dataset.hpp"
#include "zipml/data/scaling.hpp"

namespace zipml::tuning {

//! What --scale auto decided.
struct ScaleChoice {
  std::optional<data::Axis> axis; //!< empty: the features are used as they are
  data::Range range = data::Range::ZeroOne;
  std::string_view why;           //!< one phrase for the run's header line
};

//! Images are scaled by rows (each image to [0, 1], as the original scales MNIST). Tables are
//! scaled by columns (each feature to the range, fitted on the training set) unless every
//! feature already lies in the quantizer's range: data from svm-scale or a [0, 1] encoding is
//! left as it is, with the range it is in. `asked` is the range the user named, if any: data
//! outside it is scaled by columns.
[[nodiscard]] inline ScaleChoice choose_scaling(const data::Dataset& train, bool images,
                                                std::optional<data::Range> asked = std::nullopt) {
  const data::Range want = asked.value_or(data::Range::ZeroOne);
  if (images) return {data::Axis::Rows, want, "images: rows"};
  bool in_zero_one = true, in_minus_one_one = true;
  const std::size_t n = train.size(), d = train.dim();
  for (std::size_t i = 0; i < n && in_minus_one_one; ++i)
    for (std::size_t j = 1; j < d; ++j) {
      const float x = train.features(i, j);
      in_zero_one = in_zero_one && x >= 0.0f && x <= 1.0f;
      in_minus_one_one = in_minus_one_one && x >= -1.0f && x <= 1.0f;
    }
  if (in_zero_one && (!asked || *asked == data::Range::ZeroOne))
    return {std::nullopt, data::Range::ZeroOne, "features already in [0, 1]: none"};
  if (in_minus_one_one && (!asked || *asked == data::Range::MinusOneOne))
    return {std::nullopt, data::Range::MinusOneOne, "features already in [-1, 1]: none"};
  return {data::Axis::Columns, want, "table: columns"};
}

} // namespace zipml::tuning

#endif
