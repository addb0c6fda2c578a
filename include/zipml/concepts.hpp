// zipml — what a model, a precision and a rounding policy must provide.
//
// The concepts keep template noise out of error messages: Sgd<int, ...> fails with one line
// naming the concept, not a page of instantiation backtrace.
#ifndef ZIPML_CONCEPTS_HPP
#define ZIPML_CONCEPTS_HPP

#include <concepts>
#include <cstdint>
#include <string_view>

#include "zipml/random.hpp"
#include "zipml/stream/format.hpp"

namespace zipml {

//! How values are rounded to levels: `Nearest`, `Stochastic`, or your own.
template <class R>
concept RoundingPolicy = requires(float scaled, SplitMix64& rng) {
  { R::name } -> std::convertible_to<std::string_view>;
  { R::stochastic } -> std::convertible_to<bool>;
  { R::round(scaled, rng) } -> std::same_as<float>;
};

//! A sample precision: `Float32` or `Quantized<Q, Rounding>`.
template <class P>
concept PrecisionPolicy = requires {
  { P::bits } -> std::convertible_to<unsigned>;
  { P::name } -> std::convertible_to<std::string_view>;
  typename P::rounding;
} && RoundingPolicy<typename P::rounding> && (P::bits == 32 || P::bits == 1 || P::bits == 2 || P::bits == 4 || P::bits == 8);

//! A loss: the float slope dl/d(dot) and loss, the class cost, and the engine's integer slope.
template <class M>
concept ModelPolicy = std::default_initializable<M> && std::copy_constructible<M> &&
    requires(const M m, float dot, float label, double ddot, std::int32_t fixed) {
  { M::name } -> std::convertible_to<std::string_view>;
  { M::loss_mode } -> std::convertible_to<stream::LossMode>;
  { M::is_classifier } -> std::convertible_to<bool>;
  { m.slope(dot, label) } -> std::same_as<float>;
  { m.loss(ddot, ddot) } -> std::same_as<double>;
  { m.cost(label) } -> std::same_as<float>;
  { M::engine_slope(fixed, fixed) } -> std::same_as<std::int64_t>;
};

} // namespace zipml

#endif
