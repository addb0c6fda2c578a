// zipml — a packed sample stream: the data region that every backend trains on.
#ifndef ZIPML_STREAM_PACKED_HPP
#define ZIPML_STREAM_PACKED_HPP

#include <bit>
#include <cstddef>
#include <span>
#include <vector>

#include "zipml/stream/format.hpp"
#include "zipml/stream/word_store.hpp"

namespace zipml::stream {

//! Rows back to back in the layout's format; the CPU backend reads these words, the RTL
//! engine and the board receive them. Commands and configuration are not part of it
//! (see program.hpp), so the same data region can be re-sent every epoch. The words are owned
//! (packed here) or a view of a packed stream file's mapping (io/stream_file.hpp); copying a
//! PackedStream copies them into an owned buffer, moving it keeps the mapping.
struct PackedStream {
  Layout layout;
  WordStore words;
  std::size_t rows = 0;
  //! Where row 0 is in the whole stream, for messages: 0, or a rank's share's first row
  //! (io::load_stream_rows).
  std::size_t first_row = 0;

  [[nodiscard]] std::span<const Word> row(std::size_t i) const noexcept {
    const std::size_t n = layout.row_words();
    return {words.data() + i * n, n};
  }
  //! One quantized copy of row i's features (copy 1 exists only with double sampling).
  [[nodiscard]] std::span<const Word> features(std::size_t i, std::size_t copy = 0) const noexcept {
    return row(i).subspan(copy * layout.feature_words(), layout.feature_words());
  }
  [[nodiscard]] float label(std::size_t i) const noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(row(i).back()));
  }
  [[nodiscard]] std::uint32_t label_bits(std::size_t i) const noexcept { return static_cast<std::uint32_t>(row(i).back()); }
  [[nodiscard]] std::size_t bytes() const noexcept { return words.size() * sizeof(Word); }
};

} // namespace zipml::stream

#endif
