// zipml fuzzing — the packed-stream reader (zipml/stream/reader.hpp, packed.hpp).
//
// Input: byte 0 chooses the precision (float32, q8, q4, q2, q1), byte 1 the range ([0, 1] or
// [-1, 1], bit 0) and double sampling (bit 1), bytes 2-3 the dimension d (little-endian,
// modulo 2049), the rest are the stream's 64-bit words (little-endian, the last one
// zero-padded). Sanity bounds on the Layout, as the packer and the engine have them: 1-bit
// precision only in [0, 1]. Every whole row is decoded, every copy, with decode_values and
// decode_fixed, and compared with a decoder written here from the format's description
// (docs/STREAM.md, stream/format.hpp): level j of a Q-bit row is bits [Q(j mod 64/Q), ...) of
// word j / (64/Q), unsigned in [0, 1], two's complement in [-1, 1], value level / 2^F with
// F = Q - 1 or Q - 2; float32 feature j is the low (even j) or high (odd j) half of word j / 2.
// Every one of the d outputs must be written.
#ifndef ZIPML_TESTS_FUZZ_TARGET_PACKED_HPP
#define ZIPML_TESTS_FUZZ_TARGET_PACKED_HPP

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "zipml/arithmetic/engine.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"
#include "zipml/stream/reader.hpp"

namespace zipml::fuzz {

namespace packed_detail {

//! The reference: feature j of one copy, as the level (Q-bit) or the float32 bits.
inline std::int64_t ref_level(const stream::Word* words, const stream::Layout& l, std::size_t j) {
  const unsigned q = l.bits, per = 64 / q;
  const stream::Word w = words[j / per];
  const std::uint64_t pattern = (w >> (q * (j % per))) & ((std::uint64_t{1} << q) - 1);
  if (!l.minus_one_one) return static_cast<std::int64_t>(pattern);
  const auto half = std::int64_t{1} << (q - 1);
  const auto p = static_cast<std::int64_t>(pattern);
  return p >= half ? p - 2 * half : p;
}

inline std::uint32_t ref_float_bits(const stream::Word* words, std::size_t j) {
  return static_cast<std::uint32_t>(words[j / 2] >> (32 * (j % 2)));
}

//! engine::float_feature as docs/ENGINE.md states it: floor(a * 2^16 + 1/2), saturated to 18
//! bits (finite values and infinities; NaN is handled by the caller).
inline std::int32_t ref_float_feature(float a) {
  const double s = std::floor(static_cast<double>(a) * 65536.0 + 0.5);
  const double lo = -(1 << 17), hi = (1 << 17) - 1;
  return static_cast<std::int32_t>(s < lo ? lo : s > hi ? hi : s);
}

} // namespace packed_detail

inline int packed(const std::uint8_t* data, std::size_t size) {
  using namespace packed_detail;
  if (size < 4) return 0;
  static constexpr unsigned kBits[] = {32, 8, 4, 2, 1};
  stream::Layout layout;
  layout.bits = kBits[data[0] % 5];
  layout.minus_one_one = (data[1] & 1) != 0;
  layout.double_sampled = (data[1] & 2) != 0;
  layout.dim = static_cast<std::uint32_t>((data[2] | (data[3] << 8)) % 2049);
  if (layout.bits == 1 && layout.minus_one_one) return 0; // refused by the packer and the engine

  stream::PackedStream ps;
  ps.layout = layout;
  const std::size_t payload = size - 4;
  ps.words.assign((payload + 7) / 8, 0);
  if (payload > 0) std::memcpy(ps.words.data(), data + 4, payload); // little-endian hosts only
  ps.rows = ps.words.size() / layout.row_words();
  ZIPML_FUZZ_CHECK(layout.row_words() == layout.feature_words() * layout.copies() + 1);
  ZIPML_FUZZ_CHECK(layout.feature_words() * layout.values_per_word() >= layout.dim);
  ZIPML_FUZZ_CHECK(layout.padded_dim() == layout.feature_words() * layout.values_per_word());

  const std::size_t d = layout.dim;
  const float kSentinel = std::bit_cast<float>(0x7fa5a5a5u); // a NaN no decoder writes
  const std::int32_t kFixedSentinel = 0x5a5a5a5a;           // outside every level range
  std::vector<float> values(d + 1);
  std::vector<std::int32_t> fixed(d + 1);
  for (std::size_t i = 0; i < ps.rows; ++i) {
    const auto row = ps.row(i);
    ZIPML_FUZZ_CHECK(row.size() == layout.row_words());
    ZIPML_FUZZ_CHECK(std::bit_cast<std::uint32_t>(ps.label(i)) == static_cast<std::uint32_t>(row.back()));
    ZIPML_FUZZ_CHECK(ps.label_bits(i) == static_cast<std::uint32_t>(row.back()));
    for (std::size_t copy = 0; copy < layout.copies(); ++copy) {
      const auto words = ps.features(i, copy);
      ZIPML_FUZZ_CHECK(words.size() == layout.feature_words());
      ZIPML_FUZZ_CHECK(words.data() == row.data() + copy * layout.feature_words());
      std::fill(values.begin(), values.end(), kSentinel);
      std::fill(fixed.begin(), fixed.end(), kFixedSentinel);
      stream::decode_values(words, layout, values.data());
      stream::decode_fixed(words, layout, fixed.data());
      // Nothing past d is touched.
      ZIPML_FUZZ_CHECK(std::bit_cast<std::uint32_t>(values[d]) == std::bit_cast<std::uint32_t>(kSentinel));
      ZIPML_FUZZ_CHECK(fixed[d] == kFixedSentinel);
      for (std::size_t j = 0; j < d; ++j) {
        if (layout.is_float()) {
          const std::uint32_t bits = ref_float_bits(words.data(), j);
          ZIPML_FUZZ_CHECK(std::bit_cast<std::uint32_t>(values[j]) == bits);
          const float a = std::bit_cast<float>(bits);
          // NaN saturates by its sign, as rtl/float_to_fixed.sv does (the host never sends it).
          ZIPML_FUZZ_CHECK(fixed[j] == (std::isnan(a) ? (std::signbit(a) ? -(1 << 17) : (1 << 17) - 1)
                                                      : ref_float_feature(a)));
        } else {
          const std::int64_t level = ref_level(words.data(), layout, j);
          ZIPML_FUZZ_CHECK(fixed[j] == level);
          const int f = static_cast<int>(layout.bits) - (layout.minus_one_one ? 2 : 1);
          ZIPML_FUZZ_CHECK(values[j] == std::ldexp(static_cast<float>(level), -f));
        }
      }
    }
  }
  return 0;
}

} // namespace zipml::fuzz

#endif
