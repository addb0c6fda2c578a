// zipml — one exception type for every user-facing error.
//
// Messages say what went wrong and where (file, line, value), so that a user can fix the
// input without reading zipml's source.
#ifndef ZIPML_ERROR_HPP
#define ZIPML_ERROR_HPP

#include <stdexcept>
#include <string>

namespace zipml {

//! Thrown for bad input (files, data, options) and for conditions a backend cannot meet.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

} // namespace zipml

#endif
