// zipml — full precision samples: float32 features, two per stream word.
#ifndef ZIPML_PRECISION_FLOAT32_HPP
#define ZIPML_PRECISION_FLOAT32_HPP

#include <string_view>

#include "zipml/precision/rounding.hpp"

namespace zipml {

//! Samples travel as float32, as the original `floatFSGD` engine reads them.
struct Float32 {
  static constexpr unsigned bits = 32;
  static constexpr std::string_view name = "float32";
  using rounding = Nearest; //!< nothing is rounded; kept so that every precision names one
};

} // namespace zipml

#endif
