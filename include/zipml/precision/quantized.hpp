// zipml — low-precision samples: Q-bit levels, 64/Q per stream word.
#ifndef ZIPML_PRECISION_QUANTIZED_HPP
#define ZIPML_PRECISION_QUANTIZED_HPP

#include <cstdint>
#include <string_view>

#include "zipml/precision/rounding.hpp"

namespace zipml {

//! Q-bit quantized samples with the ZipML-PYNQ level mapping.
//!
//! Features in [0, 1] map to levels q = round(a * 2^(Q-1)) in [0, 2^(Q-1)], value q / 2^(Q-1),
//! stored as an unsigned Q-bit pattern (so the top level is 1 followed by Q-1 zeros).
//! Features in [-1, 1] (Q >= 2) map to q = round(a * 2^(Q-2)) in [-2^(Q-2), 2^(Q-2)], stored
//! two's complement. `Rounding` is `Nearest` (the original host) or `Stochastic` (the papers).
template <unsigned Q, class Rounding = Nearest>
struct Quantized {
  static_assert(Q == 1 || Q == 2 || Q == 4 || Q == 8, "zipml: Quantized<Q>: Q must be 1, 2, 4 or 8");
  static constexpr unsigned bits = Q;
  using rounding = Rounding;
  static constexpr std::string_view name = Q == 1 ? "q1" : Q == 2 ? "q2" : Q == 4 ? "q4" : "q8";
};

namespace quant {

//! Fraction bits of a level: value = level / 2^fraction_bits. Q = 1 in [-1, 1] has none (-1).
[[nodiscard]] constexpr int fraction_bits(unsigned q, bool minus_one_one) noexcept {
  return minus_one_one ? static_cast<int>(q) - 2 : static_cast<int>(q) - 1;
}

//! The smallest and largest level of a range.
//! (1-bit [-1, 1] has no level but 0: the packer and the engine refuse it.)
[[nodiscard]] constexpr std::int32_t min_level(unsigned q, bool minus_one_one) noexcept {
  return minus_one_one && q >= 2 ? -(std::int32_t{1} << (q - 2)) : 0;
}
[[nodiscard]] constexpr std::int32_t max_level(unsigned q, bool minus_one_one) noexcept {
  if (minus_one_one) return q >= 2 ? (std::int32_t{1} << (q - 2)) : 0;
  return std::int32_t{1} << (q - 1);
}

//! Level -> stored Q-bit pattern.
[[nodiscard]] constexpr std::uint64_t to_pattern(std::int32_t level, unsigned q) noexcept {
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(level)) & ((std::uint64_t{1} << q) - 1);
}

//! Stored pattern -> level: unsigned in [0, 1] mode, two's complement in [-1, 1] mode.
[[nodiscard]] constexpr std::int32_t from_pattern(std::uint64_t pattern, unsigned q, bool minus_one_one) noexcept {
  const auto p = static_cast<std::int32_t>(pattern & ((std::uint64_t{1} << q) - 1));
  if (!minus_one_one) return p;
  return p >= (std::int32_t{1} << (q - 1)) ? p - (std::int32_t{1} << q) : p;
}

} // namespace quant
} // namespace zipml

#endif
