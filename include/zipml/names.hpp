// zipml — the names users type for models, precisions and roundings, mapped to the policy
// types at compile time (Boost.Hana), and dispatch over such a map. zipml-train
// (examples/train/settings.hpp) and the Python module (python/src/fit_on.hpp) share them:
// adding a model or a precision is one line here.
#ifndef ZIPML_NAMES_HPP
#define ZIPML_NAMES_HPP

#include <string_view>

#include <boost/hana.hpp>

#include "zipml/model/l2svm.hpp"
#include "zipml/model/least_squares.hpp"
#include "zipml/model/logistic.hpp"
#include "zipml/precision/float32.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/precision/rounding.hpp"

namespace zipml::names {

namespace hana = boost::hana;

constexpr auto kModels = hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("l2svm"), hana::type_c<L2Svm>),
                                          hana::make_pair(BOOST_HANA_STRING("logistic"), hana::type_c<Logistic>),
                                          hana::make_pair(BOOST_HANA_STRING("least-squares"), hana::type_c<LeastSquares>));

//! The quantized precisions with rounding R ("float32" is Float32, whatever the rounding).
template <class R>
constexpr auto quantized_with() {
  return hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("q8"), hana::type_c<Quantized<8, R>>),
                          hana::make_pair(BOOST_HANA_STRING("q4"), hana::type_c<Quantized<4, R>>),
                          hana::make_pair(BOOST_HANA_STRING("q2"), hana::type_c<Quantized<2, R>>),
                          hana::make_pair(BOOST_HANA_STRING("q1"), hana::type_c<Quantized<1, R>>));
}

constexpr auto kRoundings = hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("nearest"), hana::type_c<Nearest>),
                                             hana::make_pair(BOOST_HANA_STRING("stochastic"), hana::type_c<Stochastic>));

//! Calls f(type_c<T>) for the entry of `map` named `name`; false if there is none.
template <class Map, class F>
bool dispatch(const Map& map, std::string_view name, F&& f) {
  bool found = false;
  hana::for_each(map, [&](auto entry) {
    if (!found && name == hana::to<const char*>(hana::first(entry))) {
      found = true;
      f(hana::second(entry));
    }
  });
  return found;
}

} // namespace zipml::names

#endif
