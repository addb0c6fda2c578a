// zipml fuzzing — the packed stream file reader (zipml/io/stream_file.hpp).
//
// The input is a whole file, parsed twice: as it is (magic, version, sizes, header checksum,
// data checksum, rows), and "fixed up": the magic, the current version (its storage byte
// made 0 or 1, its levels byte 0), the true sizes and offset, the rows (or bit planes) the data
// region holds, both CRC-32s written over it, so that mutations reach the field
// and row checks behind the checksums, which random bytes would otherwise never pass. The
// fix-up walks the header by the layout of the format comment, written here again. Some
// fixed-up inputs go through load_stream from a temporary file (the mapping). Checks: nothing
// but zipml::Error escapes; an accepted file is consistent (data offset a multiple of 4096,
// offset + data + 4 = file size, data = rows x row words x 8, or the bit planes' words), its
// header alone parses the same, and its header and words serialize back to exactly the input
// bytes (a version 1 file: to a version 2 file that parses to the same header and words).
#ifndef ZIPML_TESTS_FUZZ_TARGET_STREAM_FILE_HPP
#define ZIPML_TESTS_FUZZ_TARGET_STREAM_FILE_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "zipml/error.hpp"
#include "zipml/io/stream_file.hpp"

namespace zipml::fuzz {

namespace stream_file_detail {

inline std::optional<io::StreamFileInfo> parse(std::span<const unsigned char> bytes) {
  try {
    return io::parse_stream(bytes, "fuzz.zps");
  } catch (const Error&) {
    return std::nullopt;
  }
}

//! What a file that parsed must satisfy.
inline void check_accepted(const io::StreamFileInfo& f, std::span<const unsigned char> bytes) {
  const std::uint64_t n = bytes.size();
  ZIPML_FUZZ_CHECK(f.data_offset % io::kStreamAlignment == 0);
  ZIPML_FUZZ_CHECK(f.data_offset >= io::kStreamMinHeader);
  ZIPML_FUZZ_CHECK(f.rows >= 1 && f.layout.dim >= 1);
  const bool planes = f.storage == io::StreamStorage::Planes;
  ZIPML_FUZZ_CHECK(f.data_bytes() == (planes ? f.plane_layout().total_words(f.rows) : f.rows * f.layout.row_words()) * 8);
  ZIPML_FUZZ_CHECK(f.data_offset + f.data_bytes() + 4 == n);
  ZIPML_FUZZ_CHECK(f.data_crc == io::detail::crc32_portable(bytes.subspan(f.data_offset, f.data_bytes())));
  // The header alone (no data byte) says the same.
  const auto h = io::parse_stream_header(bytes.first(static_cast<std::size_t>(f.data_offset)), "header.zps", n);
  ZIPML_FUZZ_CHECK(h == f && h.data_offset == f.data_offset);
  // SizeOnly accepts what Checksum accepts.
  (void)io::parse_stream(bytes, "size-only.zps", io::Verify::SizeOnly);
  // The format is canonical: what was read writes back to the same bytes (version 1: to the
  // version 2 file of the same header and words).
  std::vector<stream::Word> words(static_cast<std::size_t>(f.data_bytes() / 8));
  for (std::size_t i = 0; i < words.size(); ++i) words[i] = io::detail::load_le64(bytes.data() + f.data_offset + 8 * i);
  std::vector<unsigned char> again;
  if (planes) {
    stream::PlaneStream s;
    s.layout = f.plane_layout();
    s.rows = static_cast<std::size_t>(f.rows);
    s.dither_key = stream::planes::key(f.seed, f.epoch);
    s.words = std::move(words);
    again = io::serialize_stream(f, s); // must not throw: what loads, saves
    for (std::size_t i = 0; i < s.rows; ++i) ZIPML_FUZZ_CHECK(std::isfinite(s.label(i)));
  } else {
    stream::PackedStream s;
    s.layout = f.layout;
    s.rows = static_cast<std::size_t>(f.rows);
    s.words = std::move(words);
    again = io::serialize_stream(f, s);
    for (std::size_t i = 0; i < s.rows; ++i) ZIPML_FUZZ_CHECK(std::isfinite(s.label(i)));
  }
  if (io::detail::load_le32(bytes.data() + 8) == io::kStreamFormatVersion) {
    ZIPML_FUZZ_CHECK(again.size() == bytes.size() && std::equal(again.begin(), again.end(), bytes.begin()));
  } else {
    const auto g = io::parse_stream(again, "again.zps");
    ZIPML_FUZZ_CHECK(g == f && g.data_crc == f.data_crc);
  }
}

inline std::uint64_t get(const std::vector<unsigned char>& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
  return v;
}
inline void set(std::vector<unsigned char>& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (8 * i));
}

//! The input with its framing made valid (see the file comment), or nothing if its header's
//! lengths run past its end.
inline std::optional<std::vector<unsigned char>> fix_up(const std::uint8_t* data, std::size_t size) {
  if (size < io::kStreamMinHeader) return std::nullopt;
  std::vector<unsigned char> b(data, data + size);
  std::memcpy(b.data(), io::kStreamMagic.data(), io::kStreamMagic.size());
  set(b, 8, io::kStreamFormatVersion, 4);
  // Walk the header: classes, the feature scaler, the label scaler, the norm, the source, the checksum.
  std::uint64_t at = 70;
  const auto skip = [&](std::uint64_t k) { at += k; return at <= size; };
  if (!skip(4 + 4 * get(b, 70, 4)) || !skip(1)) return std::nullopt;
  b[at - 1] &= 1; // the presence flags decide the structure
  if (b[at - 1] != 0) {
    if (!skip(6)) return std::nullopt;
    if (!skip(8 * get(b, static_cast<std::size_t>(at - 4), 4))) return std::nullopt;
  }
  if (!skip(1)) return std::nullopt;
  b[at - 1] &= 1;
  if (b[at - 1] != 0 && !skip(9)) return std::nullopt;
  if (!skip(8 + 2)) return std::nullopt; // the mean squared norm, the source length
  if (!skip(get(b, static_cast<std::size_t>(at - 2), 2)) || !skip(2) || !skip(4)) return std::nullopt;
  const auto crc_at = static_cast<std::size_t>(at - 4);
  b[crc_at - 2] &= 1; // storage: rows or bit planes
  b[crc_at - 1] = 0;  // levels: uniform
  const bool planes = b[crc_at - 2] != 0;
  // The data region: from the input's data offset (a mutated valid file keeps its rows) and
  // for its data size if they lie inside the input, else all the bytes after the header; then
  // as many whole rows as it holds, if the layout can say how long a row is.
  std::uint64_t from = get(b, 20, 8), length = get(b, 28, 8);
  if (from < at || from > size) from = at;
  if (length > size - from) length = size - from;
  std::vector<unsigned char> rest(b.begin() + static_cast<std::ptrdiff_t>(from),
                                  b.begin() + static_cast<std::ptrdiff_t>(from + length));
  b.resize(static_cast<std::size_t>(at));
  stream::Layout l;
  l.bits = b[36];
  l.minus_one_one = (b[37] & 1) != 0;
  l.double_sampled = (b[38] & 1) != 0;
  l.dim = static_cast<std::uint32_t>(get(b, 57, 4));
  const bool bits_ok = l.bits == 32 || l.bits == 8 || l.bits == 4 || l.bits == 2 || l.bits == 1;
  if (planes && bits_ok && l.bits <= 8 && l.dim >= 1 && l.dim <= io::kStreamMaxDim) {
    // as many rows as the bit planes' words fit in the data
    const stream::PlaneLayout pl{l.bits, l.dim, l.minus_one_one, l.double_sampled, false};
    std::size_t rows = rest.size() / 8 / (pl.regions() * pl.plane_words()) + 1;
    while (rows > 0 && pl.total_words(rows) * 8 > rest.size()) --rows;
    if (rows > 0) set(b, 61, rows, 8);
    rest.resize(rows > 0 ? pl.total_words(rows) * 8 : rest.size() / 8 * 8);
  } else if (bits_ok && l.dim >= 1 && l.dim <= io::kStreamMaxDim) {
    const std::size_t row = l.row_words() * 8;
    const std::size_t rows = rest.size() / row;
    if (rows > 0) set(b, 61, rows, 8);
    rest.resize(rows > 0 ? rows * row : rest.size() / 8 * 8);
  }
  const std::uint64_t offset = (at + io::kStreamAlignment - 1) / io::kStreamAlignment * io::kStreamAlignment;
  set(b, 12, offset + rest.size() + 4, 8);
  set(b, 20, offset, 8);
  set(b, 28, rest.size(), 8);
  set(b, crc_at, io::detail::crc32_portable(std::span<const unsigned char>(b).first(crc_at)), 4);
  b.resize(static_cast<std::size_t>(offset), 0);
  b.insert(b.end(), rest.begin(), rest.end());
  const std::uint32_t data_crc = io::detail::crc32_portable(rest);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(data_crc >> (8 * i)));
  return b;
}

} // namespace stream_file_detail

inline int stream_file(const std::uint8_t* data, std::size_t size) {
  using namespace stream_file_detail;
  const std::span<const unsigned char> input(data, size);
  if (auto f = parse(input)) check_accepted(*f, input);

  const auto b = fix_up(data, size);
  if (!b) return 0;
  const auto f = parse(*b);
  if (f) check_accepted(*f, *b);
  if (size % 8 == 0) {
    // The file path of load_stream (a mapping): the same verdict, the same words.
    const auto p = temp_dir().file("fuzz.zps");
    write_plain(p, b->data(), b->size());
    const bool planes = f && f->storage == io::StreamStorage::Planes;
    std::optional<io::StreamFileInfo> info;
    stream::WordStore words;
    try {
      if (planes) {
        auto loaded = io::load_planes(p);
        info = loaded.info;
        words = std::move(loaded.planes.words);
      } else {
        auto loaded = io::load_stream(p);
        info = loaded.info;
        words = std::move(loaded.stream.words);
      }
    } catch (const Error&) {
    }
    ZIPML_FUZZ_CHECK(info.has_value() == f.has_value());
    if (info) {
      ZIPML_FUZZ_CHECK(*info == *f && info->data_crc == f->data_crc);
      ZIPML_FUZZ_CHECK(words.size() * 8 == f->data_bytes());
      for (std::size_t i = 0; i < words.size(); ++i)
        ZIPML_FUZZ_CHECK(words[i] == io::detail::load_le64(b->data() + f->data_offset + 8 * i));
    }
  }
  return 0;
}

} // namespace zipml::fuzz

#endif
