// zipml — reading features back out of packed words.
//
// Two views of the same bits: `decode_values` gives the real numbers the float arithmetic
// trains on; `decode_fixed` gives the integers the engine arithmetic (and the RTL unpacker)
// works with. Both read only the words; nothing else about the sample is kept anywhere.
#ifndef ZIPML_STREAM_READER_HPP
#define ZIPML_STREAM_READER_HPP

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/stream/format.hpp"

namespace zipml::stream {

namespace detail {

//! For every byte value, the 8/Q levels it packs (feature order), as T. One table per
//! (Q, range); they fit in L1, so decoding a row is a run of small copies.
template <class T, unsigned Q, bool MinusOneOne>
struct ByteTable {
  static constexpr unsigned per_byte = 8 / Q;
  std::array<std::array<T, per_byte>, 256> entry{};
  constexpr ByteTable() {
    constexpr int frac = quant::fraction_bits(Q, MinusOneOne);
    for (unsigned b = 0; b < 256; ++b)
      for (unsigned k = 0; k < per_byte; ++k) {
        const std::int32_t level = quant::from_pattern(b >> (k * Q), Q, MinusOneOne);
        if constexpr (std::is_floating_point_v<T>) {
          // level / 2^frac, exact in float for every Q (frac <= 7).
          T v = static_cast<T>(level);
          for (int s = 0; s < frac; ++s) v /= 2;
          entry[b][k] = v;
        } else {
          entry[b][k] = static_cast<T>(level);
        }
      }
  }
};

template <class T, unsigned Q, bool MinusOneOne>
inline constexpr ByteTable<T, Q, MinusOneOne> kByteTable{};

template <class T, unsigned Q, bool MinusOneOne>
inline void decode_bytes(std::span<const Word> words, std::size_t d, T* out) noexcept {
  constexpr unsigned per_byte = 8 / Q;
  const auto& table = kByteTable<T, Q, MinusOneOne>.entry;
  const auto* bytes = reinterpret_cast<const unsigned char*>(words.data());
  std::size_t j = 0, b = 0;
  for (; j + per_byte <= d; j += per_byte, ++b) {
    const T* levels = table[bytes[b]].data();
    for (unsigned k = 0; k < per_byte; ++k) out[j + k] = levels[k];
  }
  for (unsigned k = 0; j < d; ++j, ++k) out[j] = table[bytes[b]][k];
}

template <class T, bool MinusOneOne>
inline void decode_q(std::span<const Word> words, unsigned q, std::size_t d, T* out) noexcept {
  switch (q) {
    case 1:
      if constexpr (!MinusOneOne) decode_bytes<T, 1, false>(words, d, out);
      break; // 1-bit [-1, 1] is refused by the packer and the engine
    case 2: decode_bytes<T, 2, MinusOneOne>(words, d, out); break;
    case 4: decode_bytes<T, 4, MinusOneOne>(words, d, out); break;
    default: decode_bytes<T, 8, MinusOneOne>(words, d, out); break;
  }
}

} // namespace detail

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
  if constexpr (std::endian::native == std::endian::little) {
    if (layout.minus_one_one)
      detail::decode_q<float, true>(words, layout.bits, d, out);
    else
      detail::decode_q<float, false>(words, layout.bits, d, out);
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
  if constexpr (std::endian::native == std::endian::little) {
    if (layout.minus_one_one)
      detail::decode_q<std::int32_t, true>(words, layout.bits, d, out);
    else
      detail::decode_q<std::int32_t, false>(words, layout.bits, d, out);
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
