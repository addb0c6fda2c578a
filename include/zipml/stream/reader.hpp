// zipml — reading features back out of packed words.
//
// Two views of the same bits: `decode_values` gives the real numbers the float arithmetic
// trains on; `decode_fixed` gives the integers the engine arithmetic (and the RTL unpacker)
// works with. Both read only the words; nothing else about the sample is kept anywhere.
#ifndef ZIPML_STREAM_READER_HPP
#define ZIPML_STREAM_READER_HPP

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/stream/format.hpp"

namespace zipml::stream {

//! Writes the layout's d feature values as floats (level / 2^F for Q-bit rows).
inline void decode_values(std::span<const Word> words, const Layout& layout, float* out) noexcept {
  const std::size_t d = layout.dim;
  if (layout.is_float()) {
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out, words.data(), d * sizeof(float));
    } else {
      for (std::size_t j = 0; j < d; ++j)
        out[j] = std::bit_cast<float>(static_cast<std::uint32_t>(words[j / 2] >> (32 * (j % 2))));
    }
    return;
  }
  const unsigned q = layout.bits;
  const unsigned per_word = layout.values_per_word();
  const float unit = std::ldexp(1.0f, -quant::fraction_bits(q, layout.minus_one_one));
  std::size_t j = 0;
  for (std::size_t w = 0; j < d; ++w) {
    Word bits = words[w];
    for (unsigned k = 0; k < per_word && j < d; ++k, ++j, bits >>= q)
      out[j] = static_cast<float>(quant::from_pattern(bits, q, layout.minus_one_one)) * unit;
  }
}

//! Writes the layout's d features as the engine's integers A (value = A / 2^F, F =
//! layout.feature_fraction_bits()): Q-bit levels as they are, float32 through
//! engine::float_feature.
inline void decode_fixed(std::span<const Word> words, const Layout& layout, std::int32_t* out) noexcept {
  const std::size_t d = layout.dim;
  if (layout.is_float()) {
    for (std::size_t j = 0; j < d; ++j)
      out[j] = engine::float_feature(std::bit_cast<float>(static_cast<std::uint32_t>(words[j / 2] >> (32 * (j % 2)))));
    return;
  }
  const unsigned q = layout.bits;
  const unsigned per_word = layout.values_per_word();
  std::size_t j = 0;
  for (std::size_t w = 0; j < d; ++w) {
    Word bits = words[w];
    for (unsigned k = 0; k < per_word && j < d; ++k, ++j, bits >>= q)
      out[j] = quant::from_pattern(bits, q, layout.minus_one_one);
  }
}

} // namespace zipml::stream

#endif
