// zipml — packed stream files (.zps): a PackedStream written once, trained from by mmap.
//
// The words of a packed stream (stream/packed.hpp) are what every backend trains on: the CPU
// reads them, the RTL engine and the board's DMA receive them. A packed stream file holds them
// exactly as the engine receives them, after a header that says how they were made (layout,
// rounding, seed and epoch of the quantization, order, classes, scalers, source), so a run can
// train from the file with no parse and no pack: load_stream maps it (MAP_PRIVATE) and the
// stream's WordStore views the mapping.
//
// Binary, little-endian, versioned and checked end to end, in the style of model_file.hpp: a
// magic, a format version, the file's own size, a CRC-32 of the header, a CRC-32 of the data.
// The data region starts at a multiple of 4096 bytes, so that it maps page-aligned and can be
// read with O_DIRECT-friendly offsets; its CRC is at the very end, so a writer streams the
// words and a reader checks the header without reading the data. Saving is atomic (a temporary
// file, fsync, rename: an existing file's inode is never rewritten, so a process that has it
// mapped keeps its words); loading validates every header field before it allocates or maps
// anything it did not check, and refuses with a zipml::Error naming the file and the value.
//
// Layout of format version 2 (offsets in bytes; u8/u16/u32/u64 little-endian unsigned, f32
// IEEE binary32 little-endian):
//
//    0  8  magic 89 5a 50 53 0d 0a 1a 0a  ("\x89ZPS\r\n\x1a\n")
//    8  4  u32 format version (2; version 1 files, which end their header at the source, still load)
//   12  8  u64 size of the whole file, data checksum included
//   20  8  u64 data offset O: a multiple of 4096, the first one after the header checksum
//   28  8  u64 data bytes D = file size - O - 4: rows x layout.row_words() x 8 for rows,
//          PlaneLayout::total_words(rows) x 8 for bit planes
//   36  1  u8 bits: 32 (float32), 8, 4, 2 or 1
//   37  1  u8 minus_one_one (features in [-1, 1]; never with 1 bit)
//   38  1  u8 double_sampled (two quantized copies per row; never at float32)
//   39  1  u8 rounding: 0 none (float32), 1 nearest, 2 stochastic (double sampling: 2)
//   40  1  u8 engine_range (PackOptions::engine_range)
//   41  8  u64 seed (PackOptions::seed)       49  8  u64 epoch (PackOptions::epoch)
//   57  4  u32 d, features with the bias, 1 .. 2^20
//   61  8  u64 rows, 1 .. 2^32 - 1
//   69  1  u8 order: 0 file order, 1 shuffled once with the seed
//   70  4  u32 classes C (0: regression), then f32 classes[C], ascending, distinct, finite
//          u8 feature scaler present; if 1: u8 range (0 [0, 1], 1 [-1, 1]), u8 axis (0 rows,
//             1 columns), u32 columns (d for columns, 0 for rows), f32 min[columns], f32 max[columns]
//          u8 label scaler present (never with classes); if 1: f32 min, f32 max, u8 range
//          f64 mean squared norm E||x||^2 of the rows as tuning::mean_sq_norm<P> computes it
//              (what --step auto derives the step from); NaN if unknown
//          u16 source length + bytes (where the data came from, e.g. the IDX path)
//          (version 2) u8 storage: 0 rows (the words as the engine receives them), 1 bit planes
//             (stream/planes.hpp: the B = bits planes of every row, then the labels; quantized
//             precisions only; with stochastic rounding the levels carry the planes' dither,
//             recomputed from the seed and epoch)
//          (version 2) u8 levels: 0 uniform (the ZipML level mapping, precision/quantized.hpp)
//          u32 CRC-32 of every header byte before it
//          zero bytes up to O
//    O  D  the words, u64 little-endian (PackedStream::words)
//  end-4 4  u32 CRC-32 of the D data bytes
//
// Checked on load, beyond the header fields: the data region's size and CRC, and in every row
// what the packer guarantees about the words: the label word holds a finite float32 in bits
// 31..0 and zeros above, one of the classes (if any); the padding bits after feature d-1 of
// each copy are zero. Bit planes: every row's label finite (and a class), the bits after
// feature d-1 of every plane zero, and the regions' padding words zero. (Verify::SizeOnly skips the data CRC and these row checks, so that
// nothing of the data region is read at load time.)
#ifndef ZIPML_IO_STREAM_FILE_HPP
#define ZIPML_IO_STREAM_FILE_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zipml/concepts.hpp"
#include "zipml/data/scaling.hpp"
#include "zipml/error.hpp"
#include "zipml/io/binary.hpp"
#include "zipml/precision/rounding.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"
#include "zipml/stream/packer.hpp"
#include "zipml/stream/planes.hpp"
#include "zipml/stream/word_store.hpp"

namespace zipml::io {

//! How the features were rounded to levels (None: float32, nothing is rounded).
enum class StreamRounding : std::uint8_t { None = 0, Nearest = 1, Stochastic = 2 };

[[nodiscard]] constexpr std::string_view rounding_name(StreamRounding r) noexcept {
  switch (r) {
    case StreamRounding::None: return "none";
    case StreamRounding::Nearest: return "nearest";
    case StreamRounding::Stochastic: return "stochastic";
  }
  return "unknown";
}

//! How the data region holds the rows: as the engine receives them, or as bit planes.
enum class StreamStorage : std::uint8_t { Rows = 0, Planes = 1 };

//! Everything a packed stream file says about its words.
struct StreamFileInfo {
  stream::Layout layout;          //!< bits, d, range, double sampling
  std::uint64_t rows = 0;
  StreamRounding rounding = StreamRounding::None;
  bool engine_range = false;      //!< packed with PackOptions::engine_range
  std::uint64_t seed = 0;         //!< PackOptions::seed (stochastic rounding, shuffle)
  std::uint64_t epoch = 0;        //!< PackOptions::epoch: which quantization
  bool shuffled = false;          //!< order: false = file order, true = shuffled once with the seed
  std::vector<float> classes;     //!< sorted distinct labels of a classifier; empty for regression
  std::optional<data::MinMaxScaler> scaler;      //!< the feature scaling the rows went through
  std::optional<data::LabelScaler> label_scaler; //!< regression label scaling
  //! E||x||^2 of the scaled rows as tuning::mean_sq_norm<P> computes it for this precision
  //! (the step rule's input), so a run from the file picks the step a run from the data
  //! would; NaN if the writer did not know it.
  double mean_sq_norm = std::numeric_limits<double>::quiet_NaN();
  std::string source;             //!< where the data came from (at most 65535 bytes)
  StreamStorage storage = StreamStorage::Rows; //!< rows (stream::PackedStream) or bit planes (stream::PlaneStream)
  std::uint64_t data_offset = 0;  //!< filled by the reader: where the words start
  std::uint32_t data_crc = 0;     //!< filled by the reader: the stored CRC-32 of the words

  //! The bit-plane layout of a Planes file.
  [[nodiscard]] stream::PlaneLayout plane_layout() const noexcept {
    return {layout.bits, layout.dim, layout.minus_one_one, layout.double_sampled, rounding == StreamRounding::Stochastic};
  }
  [[nodiscard]] std::uint64_t data_words() const noexcept {
    return storage == StreamStorage::Planes ? plane_layout().total_words(rows) : rows * layout.row_words();
  }
  //! Bytes of the data region (of a validated info: no overflow).
  [[nodiscard]] std::uint64_t data_bytes() const noexcept { return data_words() * sizeof(stream::Word); }

  friend bool operator==(const StreamFileInfo& a, const StreamFileInfo& b) {
    const auto same_scaler = [](const std::optional<data::MinMaxScaler>& x, const std::optional<data::MinMaxScaler>& y) {
      if (x.has_value() != y.has_value()) return false;
      return !x || (x->range() == y->range() && x->axis() == y->axis() && x->min() == y->min() && x->max() == y->max());
    };
    const auto same_labels = [](const std::optional<data::LabelScaler>& x, const std::optional<data::LabelScaler>& y) {
      if (x.has_value() != y.has_value()) return false;
      return !x || (x->min == y->min && x->max == y->max && x->range == y->range);
    };
    return a.layout == b.layout && a.rows == b.rows && a.rounding == b.rounding && a.engine_range == b.engine_range &&
           a.seed == b.seed && a.epoch == b.epoch && a.shuffled == b.shuffled && a.classes == b.classes &&
           same_scaler(a.scaler, b.scaler) && same_labels(a.label_scaler, b.label_scaler) &&
           std::bit_cast<std::uint64_t>(a.mean_sq_norm) == std::bit_cast<std::uint64_t>(b.mean_sq_norm) &&
           a.source == b.source && a.storage == b.storage;
  }
};

//! The format version this build writes (and the newest it reads).
inline constexpr std::uint32_t kStreamFormatVersion = 2;
//! The oldest format version this build reads.
inline constexpr std::uint32_t kStreamOldestVersion = 1;
//! The first eight bytes of every packed stream file (PNG-style, as the model file's).
inline constexpr std::array<unsigned char, 8> kStreamMagic = {0x89, 'Z', 'P', 'S', '\r', '\n', 0x1a, '\n'};
//! The data region starts at a multiple of this.
inline constexpr std::uint64_t kStreamAlignment = 4096;
//! Bytes before the classes (magic .. class count).
inline constexpr std::size_t kStreamFixedHeader = 74;
//! The smallest header: no classes, no scalers, an empty source, the header checksum.
inline constexpr std::size_t kStreamMinHeader = kStreamFixedHeader + 1 + 1 + 8 + 2 + 4;
inline constexpr std::uint32_t kStreamMaxDim = std::uint32_t{1} << 20;
inline constexpr std::uint64_t kStreamMaxRows = std::numeric_limits<std::uint32_t>::max(); // MAGIC4's count

//! What load_stream checks of the data region: its CRC and the row checks (Checksum), or only
//! its size (SizeOnly: no byte of the data is read at load time).
enum class Verify { Checksum, SizeOnly };

//! A loaded file: its header and the stream, whose words view the file's mapping.
struct LoadedStream {
  StreamFileInfo info;
  stream::PackedStream stream;
};

//! The header fields of a stream packed by pack<P>(rows, options): layout, rows, rounding,
//! seed, epoch, engine_range, and shuffled = a row order was given. The caller adds the
//! classes, scalers and source.
template <PrecisionPolicy P>
[[nodiscard]] StreamFileInfo stream_file_info(const stream::PackedStream& s, const stream::PackOptions& options) {
  using R = typename P::rounding;
  static_assert(P::bits == 32 || std::is_same_v<R, Nearest> || std::is_same_v<R, Stochastic>,
                "a packed stream file records nearest or stochastic rounding only");
  StreamFileInfo f;
  f.layout = s.layout;
  f.rows = s.rows;
  f.rounding = P::bits == 32                        ? StreamRounding::None
               : std::is_same_v<R, Stochastic> ? StreamRounding::Stochastic
                                                    : StreamRounding::Nearest;
  f.engine_range = options.engine_range;
  f.seed = options.seed;
  f.epoch = options.epoch;
  f.shuffled = !options.order.empty();
  return f;
}

//! The header fields of a bit-plane stream packed by pack_planes<P>(rows, options).
template <PrecisionPolicy P>
[[nodiscard]] StreamFileInfo stream_file_info(const stream::PlaneStream& s, const stream::PackOptions& options) {
  stream::PackedStream shape;
  shape.layout = s.layout.at(P::bits);
  shape.rows = s.rows;
  StreamFileInfo f = stream_file_info<P>(shape, options);
  f.storage = StreamStorage::Planes;
  return f;
}

namespace detail {

// Offsets of the fixed fields (the fuzz target rewrites some of them).
inline constexpr std::size_t kStreamOffVersion = 8, kStreamOffFileSize = 12, kStreamOffDataOffset = 20,
                             kStreamOffDataBytes = 28, kStreamOffBits = 36, kStreamOffRows = 61;
inline constexpr std::size_t kStreamChecksumBytes = 4;
inline constexpr std::string_view kStreamKind = "packed stream file";

// Built by appends: `"q" + std::to_string(...)` trips a GCC 12 -Wrestrict false positive.
inline std::string precision_text(unsigned bits) {
  std::string out = bits == 32 ? "float32" : "q";
  if (bits != 32) out.append(std::to_string(bits));
  return out;
}

inline std::string layout_text(const stream::Layout& l) {
  std::string out = precision_text(l.bits);
  out.append(", d ").append(std::to_string(l.dim)).append(l.minus_one_one ? ", [-1, 1]" : ", [0, 1]");
  if (l.double_sampled) out.append(", double sampled");
  return out;
}

//! Every rule a header obeys; save_stream checks it before writing and the reader after the
//! header checksum, so a file that saves always loads. `what` starts every message.
inline void check_info(const StreamFileInfo& f, const std::string& what) {
  auto bad = [&](const std::string& msg) { throw Error(what + ": " + msg); };
  const stream::Layout& l = f.layout;
  if (l.bits != 32 && l.bits != 8 && l.bits != 4 && l.bits != 2 && l.bits != 1)
    bad("precision bits " + std::to_string(l.bits) + " is not 32, 8, 4, 2 or 1");
  if (l.bits == 1 && l.minus_one_one)
    bad("1-bit precision with features in [-1, 1] (every level would round to 0)");
  if (l.is_float() && l.double_sampled) bad("double sampling at float32 (only quantized rows have two copies)");
  if (static_cast<std::uint8_t>(f.storage) > 1)
    bad("storage " + std::to_string(static_cast<unsigned>(f.storage)) + " is not 0 (rows) or 1 (bit planes)");
  if (f.storage == StreamStorage::Planes && l.is_float()) bad("bit planes of float32 (bit planes hold quantized levels)");
  if (l.dim == 0 || l.dim > kStreamMaxDim)
    bad("dimension d = " + std::to_string(l.dim) + " is outside 1.." + std::to_string(kStreamMaxDim));
  if (f.rows == 0) bad("0 rows: a packed stream has at least one");
  if (f.rows > kStreamMaxRows)
    bad(std::to_string(f.rows) + " rows do not fit the stream's 32-bit sample count (at most " +
        std::to_string(kStreamMaxRows) + ")");
  const auto r = static_cast<std::uint8_t>(f.rounding);
  if (r > 2) bad("rounding " + std::to_string(r) + " is not 0 (none), 1 (nearest) or 2 (stochastic)");
  if (l.is_float() != (f.rounding == StreamRounding::None))
    bad("precision " + precision_text(l.bits) + " with rounding '" +
        std::string(rounding_name(f.rounding)) +
        "': float32 has rounding 'none', the quantized precisions 'nearest' or 'stochastic'");
  if (l.double_sampled && f.rounding != StreamRounding::Stochastic)
    bad("double sampling with rounding '" + std::string(rounding_name(f.rounding)) +
        "': both copies would be identical (it needs 'stochastic')");
  if (f.classes.size() > std::numeric_limits<std::uint32_t>::max()) bad("too many classes");
  for (std::size_t i = 0; i < f.classes.size(); ++i) {
    if (!std::isfinite(f.classes[i]))
      bad("class " + std::to_string(i) + " is " + data::detail::format_value(f.classes[i]) + ", not finite");
    if (i > 0 && !(f.classes[i - 1] < f.classes[i]))
      bad("the classes are not sorted and distinct (class " + std::to_string(i - 1) + " is " +
          data::detail::format_value(f.classes[i - 1]) + ", class " + std::to_string(i) + " is " +
          data::detail::format_value(f.classes[i]) + ")");
  }
  if (f.scaler) {
    const auto& s = *f.scaler;
    if (!s.fitted()) bad("the feature scaler is not fitted");
    // The scaler's own checks (finite ranges, min <= max, empty for rows).
    (void)data::MinMaxScaler::from_state(s.range(), s.axis(), s.min(), s.max(), what + ": feature scaler");
    if (s.axis() == data::Axis::Columns && s.min().size() != l.dim)
      bad("the column scaler has " + std::to_string(s.min().size()) + " columns, the stream d = " +
          std::to_string(l.dim));
  }
  if (f.label_scaler) {
    const auto& s = *f.label_scaler;
    if (!f.classes.empty())
      bad("a classifier's stream (" + std::to_string(f.classes.size()) + " classes) has no label scaler");
    if (!std::isfinite(s.min) || !std::isfinite(s.max) || !(s.min <= s.max))
      bad("the label scaler's range [" + data::detail::format_value(s.min) + ", " + data::detail::format_value(s.max) +
          "] is not a finite interval");
    if (s.range != data::Range::ZeroOne && s.range != data::Range::MinusOneOne)
      bad("the label scaler has an unknown range");
  }
  if (!std::isnan(f.mean_sq_norm) && !(std::isfinite(f.mean_sq_norm) && f.mean_sq_norm >= 0))
    bad("the mean squared norm " + std::to_string(f.mean_sq_norm) +
        " is neither a finite number >= 0 nor NaN (unknown)");
  if (f.source.size() > std::numeric_limits<std::uint16_t>::max())
    bad("the source string has " + std::to_string(f.source.size()) + " bytes, at most 65535 fit");
}

//! What the packer guarantees of rows [first, last) (see the file comment); word_at(k) is
//! word k of the data region. Throws Error naming `what` and the row.
template <class WordAt>
void check_rows(const StreamFileInfo& f, const WordAt& word_at, std::uint64_t first, std::uint64_t last,
                const std::string& what) {
  const stream::Layout& l = f.layout;
  const std::uint64_t rw = l.row_words(), fw = l.feature_words();
  const unsigned per_word = l.values_per_word(), width = l.is_float() ? 32u : l.bits;
  const unsigned used = l.dim % per_word; // values in the last feature word; 0: it is full
  const stream::Word pad = used == 0 ? 0 : ~stream::Word{0} << (used * width);
  for (std::uint64_t i = first; i < last; ++i) {
    const std::uint64_t base = i * rw;
    auto bad = [&](const std::string& msg) { throw Error(what + ": row " + std::to_string(i + 1) + ": " + msg); };
    for (std::uint64_t copy = 0; copy < l.copies(); ++copy) {
      const stream::Word w = word_at(base + copy * fw + fw - 1);
      if ((w & pad) != 0)
        bad("the padding after feature " + std::to_string(l.dim - 1) + (l.copies() > 1 ? " of copy " + std::to_string(copy) : "") +
            " is not zero (word " + hex64(w) + ")");
    }
    const stream::Word label = word_at(base + rw - 1);
    if ((label >> 32) != 0)
      bad("the label word " + hex64(label) + " has bits 63..32 set (a label word is a float32 in bits 31..0)");
    const float y = std::bit_cast<float>(static_cast<std::uint32_t>(label));
    if (!std::isfinite(y)) bad("the label " + data::detail::format_value(y) + " is not finite");
    if (!f.classes.empty() && !std::binary_search(f.classes.begin(), f.classes.end(), y))
      bad("the label " + data::detail::format_value(y) + " is not one of the " + std::to_string(f.classes.size()) +
          " classes");
  }
}

//! What pack_planes guarantees of a bit-plane data region (see the file comment); word_at(k) is
//! word k of it. Throws Error naming `what` and the row.
template <class WordAt>
void check_plane_words(const StreamFileInfo& f, const WordAt& word_at, const std::string& what) {
  const stream::PlaneLayout l = f.plane_layout();
  const std::uint64_t pw = l.plane_words(), region = l.region_words(f.rows), rows = f.rows;
  const unsigned used = l.dim % 64;
  const stream::Word pad = used == 0 ? 0 : ~stream::Word{0} << used;
  for (std::uint64_t r = 0; r < l.regions(); ++r) {
    const std::string plane = "plane " + std::to_string(r / l.copies()) +
                              (l.copies() > 1 ? " of copy " + std::to_string(r % l.copies()) : std::string());
    for (std::uint64_t i = 0; i < rows; ++i) {
      const stream::Word w = word_at(r * region + i * pw + pw - 1);
      if ((w & pad) != 0)
        throw Error(what + ": row " + std::to_string(i + 1) + ": " + plane + ": the bits after feature " +
                    std::to_string(l.dim - 1) + " are not zero (word " + hex64(w) + ")");
    }
    for (std::uint64_t k = rows * pw; k < region; ++k)
      if (word_at(r * region + k) != 0)
        throw Error(what + ": " + plane + ": the padding after the last row is not zero (word " + std::to_string(k) + ")");
  }
  const std::uint64_t labels = l.regions() * region;
  for (std::uint64_t i = 0; i < rows; ++i) {
    const float y = std::bit_cast<float>(static_cast<std::uint32_t>(word_at(labels + i / 2) >> (32 * (i % 2))));
    auto bad = [&](const std::string& msg) { throw Error(what + ": row " + std::to_string(i + 1) + ": " + msg); };
    if (!std::isfinite(y)) bad("the label " + data::detail::format_value(y) + " is not finite");
    if (!f.classes.empty() && !std::binary_search(f.classes.begin(), f.classes.end(), y))
      bad("the label " + data::detail::format_value(y) + " is not one of the " + std::to_string(f.classes.size()) +
          " classes");
  }
  if (rows % 2 == 1 && (word_at(labels + rows / 2) >> 32) != 0)
    throw Error(what + ": the label region's padding after row " + std::to_string(rows) + " is not zero");
  for (std::uint64_t k = (rows + 1) / 2; k < l.label_words(rows); ++k)
    if (word_at(labels + k) != 0)
      throw Error(what + ": the label region's padding is not zero (word " + std::to_string(k) + ")");
}

//! The header bytes for `f` (checked), its checksum and the zero padding up to the data offset.
inline std::vector<unsigned char> stream_header(const StreamFileInfo& f) {
  Writer out;
  for (unsigned char c : kStreamMagic) out.u8(c);
  out.u32(kStreamFormatVersion);
  out.u64(0); // file size, patched below
  out.u64(0); // data offset, patched below
  out.u64(f.data_bytes());
  out.u8(static_cast<std::uint8_t>(f.layout.bits));
  out.u8(f.layout.minus_one_one ? 1 : 0);
  out.u8(f.layout.double_sampled ? 1 : 0);
  out.u8(static_cast<std::uint8_t>(f.rounding));
  out.u8(f.engine_range ? 1 : 0);
  out.u64(f.seed);
  out.u64(f.epoch);
  out.u32(f.layout.dim);
  out.u64(f.rows);
  out.u8(f.shuffled ? 1 : 0);
  out.u32(static_cast<std::uint32_t>(f.classes.size()));
  out.floats(f.classes);
  out.u8(f.scaler ? 1 : 0);
  if (f.scaler) {
    out.u8(static_cast<std::uint8_t>(f.scaler->range()));
    out.u8(static_cast<std::uint8_t>(f.scaler->axis()));
    out.u32(static_cast<std::uint32_t>(f.scaler->min().size()));
    out.floats(f.scaler->min());
    out.floats(f.scaler->max());
  }
  out.u8(f.label_scaler ? 1 : 0);
  if (f.label_scaler) {
    out.f32(f.label_scaler->min);
    out.f32(f.label_scaler->max);
    out.u8(static_cast<std::uint8_t>(f.label_scaler->range));
  }
  out.f64(f.mean_sq_norm);
  out.str16(f.source);
  out.u8(static_cast<std::uint8_t>(f.storage));
  out.u8(0); // levels: uniform
  const std::uint64_t end = out.size() + kStreamChecksumBytes;
  const std::uint64_t offset = (end + kStreamAlignment - 1) / kStreamAlignment * kStreamAlignment;
  out.put_u64_at(kStreamOffFileSize, offset + f.data_bytes() + kStreamChecksumBytes);
  out.put_u64_at(kStreamOffDataOffset, offset);
  out.u32(crc32_of(out.bytes()));
  out.zeros(static_cast<std::size_t>(offset - out.size()));
  return std::move(out.bytes());
}

//! Calls emit(bytes) for the data region `words` in order, in pieces of about 1 MiB, as the
//! file holds it (little-endian words).
template <class Emit>
void for_each_data_piece(const stream::WordStore& words, Emit&& emit) {
  constexpr std::size_t kPieceWords = std::size_t{1} << 17;
  const std::size_t n = words.size();
  [[maybe_unused]] std::vector<unsigned char> buf;
  for (std::size_t at = 0; at < n; at += kPieceWords) {
    const std::size_t k = std::min(kPieceWords, n - at);
    if constexpr (std::endian::native == std::endian::little) {
      emit(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(words.data() + at), k * 8));
    } else {
      buf.resize(k * 8);
      for (std::size_t i = 0; i < k; ++i)
        for (int b = 0; b < 8; ++b) buf[i * 8 + static_cast<std::size_t>(b)] = static_cast<unsigned char>(words[at + i] >> (8 * b));
      emit(std::span<const unsigned char>(buf));
    }
  }
}

//! What save_stream and serialize_stream check before writing anything.
inline void check_for_save(const StreamFileInfo& f, const stream::PackedStream& s, const std::string& what) {
  check_info(f, what);
  if (f.storage != StreamStorage::Rows)
    throw Error(what + ": the header says bit planes, the stream holds rows");
  if (!(f.layout == s.layout))
    throw Error(what + ": the header's layout (" + layout_text(f.layout) + ") is not the stream's (" +
                layout_text(s.layout) + ")");
  if (f.rows != s.rows)
    throw Error(what + ": the header says " + std::to_string(f.rows) + " rows, the stream has " + std::to_string(s.rows));
  if (s.words.size() != f.rows * s.layout.row_words())
    throw Error(what + ": the stream has " + std::to_string(s.words.size()) + " words, but " + std::to_string(f.rows) +
                " rows of " + std::to_string(s.layout.row_words()) + " words need " +
                std::to_string(f.rows * s.layout.row_words()));
  const stream::WordStore& w = s.words;
  check_rows(f, [&](std::uint64_t k) { return w[static_cast<std::size_t>(k)]; }, 0, f.rows, what);
}

//! The same for a bit-plane stream.
inline void check_for_save(const StreamFileInfo& f, const stream::PlaneStream& s, const std::string& what) {
  check_info(f, what);
  if (f.storage != StreamStorage::Planes)
    throw Error(what + ": the header says rows, the stream holds bit planes");
  if (!(f.plane_layout() == s.layout) || f.rows != s.rows)
    throw Error(what + ": the header's layout (" + layout_text(f.layout) + ", " + std::to_string(f.rows) +
                " rows) is not the bit-plane stream's (" + layout_text(s.layout.at(s.layout.planes)) + ", " +
                std::to_string(s.rows) + " rows, " + (s.layout.dithered ? "stochastic" : "nearest") + ")");
  if (s.first_row != 0 || s.dither_key != stream::planes::key(f.seed, f.epoch))
    throw Error(what + ": the bit-plane stream's dither is not the one of the header's seed and epoch");
  if (s.words.size() != s.layout.total_words(s.rows))
    throw Error(what + ": the bit-plane stream has " + std::to_string(s.words.size()) + " words, its layout needs " +
                std::to_string(s.layout.total_words(s.rows)));
  const stream::WordStore& w = s.words;
  check_plane_words(f, [&](std::uint64_t k) { return w[static_cast<std::size_t>(k)]; }, what);
}

//! A regular file opened for reading (closed when it goes), and its size; Error starting with
//! `cannot` for a missing file, a directory, anything else, or one too big to map.
struct OpenFile {
  int fd = -1;
  std::uint64_t size = 0;
  OpenFile(const std::filesystem::path& path, const std::string& cannot) {
    namespace fs = std::filesystem;
    const std::string name = path.string();
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec && status.type() != fs::file_type::not_found) throw Error(cannot + ": " + ec.message());
    if (!fs::exists(status)) throw Error(cannot + ": file not found");
    if (fs::is_directory(status)) throw Error(cannot + ": it is a directory, not a file");
    if (!fs::is_regular_file(status)) throw Error(cannot + ": not a regular file");
    fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      throw Error(cannot + ": " + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(cannot + ": not a regular file");
    }
    size = static_cast<std::uint64_t>(st.st_size);
    if (size > std::numeric_limits<std::size_t>::max() / 2) {
      ::close(fd);
      throw Error("'" + name + "': its " + std::to_string(size) + " bytes need more than this machine's address space");
    }
  }
  ~OpenFile() { ::close(fd); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
};

//! The data region of `file` (a whole file whose header `f` came from).
inline std::span<const unsigned char> data_region(const StreamFileInfo& f, std::span<const unsigned char> file) {
  return file.subspan(static_cast<std::size_t>(f.data_offset), static_cast<std::size_t>(f.data_bytes()));
}

} // namespace detail

//! The header of a packed stream file, parsed and validated: magic, version, the size field
//! against `file_size` (the file's true size), the data offset and size, the header checksum
//! and every field (layout, rounding, classes, scalers). `bytes` are the file's first bytes,
//! at least up to the data offset (the whole file is fine); `name` starts every message.
//! Fills data_offset; data_crc is left 0 (check_stream_data reads it). Throws Error otherwise.
[[nodiscard]] inline StreamFileInfo parse_stream_header(std::span<const unsigned char> bytes, const std::string& name,
                                                        std::uint64_t file_size) {
  using namespace detail;
  const std::string q = "'" + name + "'";
  const std::size_t n = bytes.size();
  if (n > file_size)
    throw Error(q + ": " + std::to_string(n) + " bytes given for a file of " + std::to_string(file_size));
  const std::size_t magic_seen = std::min(n, kStreamMagic.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(magic_seen), kStreamMagic.begin()))
    throw Error(q + " is not a zipml packed stream file (its first bytes are not the packed stream file magic)");
  // `k` bytes must be there: a file shorter than that is truncated, a shorter `bytes` a caller's slip.
  const auto need = [&](std::uint64_t k) {
    if (file_size < k)
      throw Error(q + " is truncated: a packed stream file has at least " + std::to_string(std::max<std::uint64_t>(k, kStreamMinHeader)) +
                  " bytes of header, the file has " + std::to_string(file_size));
    if (n < k)
      throw Error(q + ": only the first " + std::to_string(n) + " bytes were read, the header needs " + std::to_string(k));
  };
  need(kStreamOffFileSize);
  Reader in(bytes, name, kStreamKind);
  for (std::size_t i = 0; i < kStreamMagic.size(); ++i) (void)in.u8();
  const std::uint32_t version = in.u32();
  if (version < kStreamOldestVersion || version > kStreamFormatVersion)
    throw Error(q + ": packed stream file format version " + std::to_string(version) +
                " is not supported; this build of zipml reads versions " + std::to_string(kStreamOldestVersion) +
                " to " + std::to_string(kStreamFormatVersion) +
                (version > kStreamFormatVersion ? " (the file was written by a newer zipml)" : ""));
  need(kStreamMinHeader);
  auto corrupt = [&](const std::string& what) -> Error { return Error(q + ": corrupt packed stream file: " + what); };
  const std::uint64_t declared = in.u64(), offset = in.u64(), data_bytes = in.u64();
  if (file_size < declared)
    throw Error(q + " is truncated: expected " + std::to_string(declared) + " bytes, the file has " +
                std::to_string(file_size));
  if (file_size > declared)
    throw Error(q + " has " + std::to_string(file_size - declared) + " bytes after the end of the packed stream (expected " +
                std::to_string(declared) + " bytes, the file has " + std::to_string(file_size) +
                "): corrupt, or not a zipml packed stream file");
  if (offset % kStreamAlignment != 0 || offset < kStreamMinHeader)
    throw corrupt("data offset " + std::to_string(offset) + " is not a multiple of " + std::to_string(kStreamAlignment) +
                  " after the header");
  if (offset > file_size - kStreamChecksumBytes)
    throw Error(q + " is truncated: the data starts at byte " + std::to_string(offset) + ", the file has " +
                std::to_string(file_size) + " bytes");
  if (data_bytes != file_size - offset - kStreamChecksumBytes)
    throw Error(q + " is truncated or corrupt: the header says " + std::to_string(data_bytes) +
                " bytes of data, the file has " + std::to_string(file_size - offset - kStreamChecksumBytes) +
                " between the data offset " + std::to_string(offset) + " and the data checksum");
  if (file_size > std::numeric_limits<std::size_t>::max() / 2)
    throw Error(q + ": its " + std::to_string(file_size) + " bytes need more than this machine's address space");
  need(offset);

  // The header, bounds-checked field by field, up to its checksum. Values are checked after
  // the checksum, so that a damaged header reads as damaged.
  Reader h(bytes.first(static_cast<std::size_t>(offset)), name, kStreamKind);
  for (std::size_t i = 0; i < kStreamOffBits; ++i) (void)h.u8();
  const std::uint8_t bits = h.u8(), mm = h.u8(), ds = h.u8(), rounding = h.u8(), engine_range = h.u8();
  StreamFileInfo f;
  f.seed = h.u64();
  f.epoch = h.u64();
  const std::uint32_t dim = h.u32();
  f.rows = h.u64();
  const std::uint8_t order = h.u8();
  f.classes = h.floats(h.u32());
  // The two presence flags decide what follows: checked at once.
  const bool has_scaler = h.flag("feature scaler present");
  std::uint8_t srange = 0, saxis = 0;
  std::vector<float> lo, hi;
  if (has_scaler) {
    srange = h.u8();
    saxis = h.u8();
    const std::uint32_t columns = h.u32();
    lo = h.floats(columns);
    hi = h.floats(columns);
  }
  const bool has_labels = h.flag("label scaler present");
  data::LabelScaler ls;
  std::uint8_t lrange = 0;
  if (has_labels) {
    ls.min = h.f32();
    ls.max = h.f32();
    lrange = h.u8();
  }
  f.mean_sq_norm = h.f64();
  f.source = h.str16();
  std::uint8_t storage = 0, levels = 0;
  if (version >= 2) {
    storage = h.u8();
    levels = h.u8();
  }
  const std::size_t crc_at = h.offset();
  const std::uint32_t stored = h.u32(), computed = crc32_of(bytes.first(crc_at));
  if (stored != computed)
    throw Error(q + " is corrupt: header checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) +
                " over " + std::to_string(crc_at) + " bytes)");
  const std::uint64_t want_offset = (h.offset() + kStreamAlignment - 1) / kStreamAlignment * kStreamAlignment;
  if (offset != want_offset)
    throw corrupt("data offset " + std::to_string(offset) + ", but the header ends at byte " + std::to_string(h.offset()) +
                  " (expected the data at " + std::to_string(want_offset) + ")");
  for (std::size_t i = h.offset(); i < offset; ++i)
    if (bytes[i] != 0)
      throw corrupt("the padding between the header and the data is not zero (byte " + std::to_string(i) + " is " +
                    std::to_string(bytes[i]) + ")");

  // From here the bytes are the ones that were written, unless forged with a valid checksum.
  const auto flag = [&](std::uint8_t v, const char* what) {
    if (v > 1) throw corrupt(std::string(what) + " is " + std::to_string(v) + ", expected 0 or 1");
    return v == 1;
  };
  f.layout.bits = bits;
  f.layout.dim = dim;
  f.layout.minus_one_one = flag(mm, "minus_one_one");
  f.layout.double_sampled = flag(ds, "double_sampled");
  if (rounding > 2) throw corrupt("rounding " + std::to_string(rounding) + " is not 0 (none), 1 (nearest) or 2 (stochastic)");
  f.rounding = static_cast<StreamRounding>(rounding);
  f.engine_range = flag(engine_range, "engine_range");
  f.shuffled = flag(order, "order");
  if (storage > 1) throw corrupt("storage " + std::to_string(storage) + " is not 0 (rows) or 1 (bit planes)");
  f.storage = static_cast<StreamStorage>(storage);
  if (levels != 0)
    throw Error(q + ": levels " + std::to_string(levels) + " are not supported by this build of zipml (it reads 0, "
                "uniform levels)");
  if (has_scaler) {
    if (srange > 1) throw corrupt("feature scaler range " + std::to_string(srange) + " is not 0..1");
    if (saxis > 1) throw corrupt("feature scaler axis " + std::to_string(saxis) + " is not 0 (rows) or 1 (columns)");
    const auto axis = static_cast<data::Axis>(saxis);
    if (axis == data::Axis::Rows && !lo.empty())
      throw corrupt("a row scaler with " + std::to_string(lo.size()) + " columns (it keeps none)");
    if (axis == data::Axis::Columns && lo.size() != dim)
      throw corrupt("the column scaler has " + std::to_string(lo.size()) + " columns, the stream d = " + std::to_string(dim));
    f.scaler = data::MinMaxScaler::from_state(static_cast<data::Range>(srange), axis, std::move(lo), std::move(hi),
                                              q + ": feature scaler");
  }
  if (has_labels) {
    if (lrange > 1) throw corrupt("label scaler range " + std::to_string(lrange) + " is not 0..1");
    ls.range = static_cast<data::Range>(lrange);
    f.label_scaler = ls;
  }
  check_info(f, q);
  // (rows < 2^32 and d <= 2^20: the plane layout's words fit in 64 bits)
  const std::optional<std::uint64_t> want =
      f.storage == StreamStorage::Planes ? std::optional<std::uint64_t>(f.data_bytes())
                                         : mul_add(f.rows, f.layout.row_words() * sizeof(stream::Word), 0);
  const std::string shape = f.storage == StreamStorage::Planes
                                ? std::to_string(f.layout.bits) + " bit planes of d " + std::to_string(f.layout.dim)
                                : std::to_string(f.layout.row_words()) + " words (" + layout_text(f.layout) + ")";
  if (!want || *want != data_bytes)
    throw Error(q + ": inconsistent sizes: " + std::to_string(f.rows) + " rows of " + shape + " need " +
                (want ? std::to_string(*want) : "more than 2^64") + " bytes of data, the file has " +
                std::to_string(data_bytes));
  f.data_offset = offset;
  return f;
}

//! Checks the data region of `file` (the whole file, whose header `f` is) and sets
//! f.data_crc: its size, and with Verify::Checksum its CRC-32 and the row checks (the file
//! comment), one piece at a time while it is in cache. Throws Error naming `name`.
inline void check_stream_data(StreamFileInfo& f, std::span<const unsigned char> file, const std::string& name,
                              Verify verify = Verify::Checksum) {
  using namespace detail;
  const std::string q = "'" + name + "'";
  const std::uint64_t data = f.data_bytes();
  if (file.size() != f.data_offset + data + kStreamChecksumBytes)
    throw Error(q + ": the file has " + std::to_string(file.size()) + " bytes, its header says " +
                std::to_string(f.data_offset + data + kStreamChecksumBytes));
  f.data_crc = load_le32(file.data() + file.size() - kStreamChecksumBytes);
  if (verify == Verify::SizeOnly) return;
  const unsigned char* words = file.data() + f.data_offset;
  const auto word_at = [words](std::uint64_t k) { return load_le64(words + k * sizeof(stream::Word)); };
  if (f.storage == StreamStorage::Planes) {
    const std::uint32_t crc = crc32_of(std::span<const unsigned char>(words, static_cast<std::size_t>(data)));
    if (crc != f.data_crc)
      throw Error(q + " is corrupt: data checksum mismatch (stored " + hex32(f.data_crc) + ", computed " + hex32(crc) +
                  " over the " + std::to_string(data) + " data bytes at offset " + std::to_string(f.data_offset) + ")");
    check_plane_words(f, word_at, q);
    return;
  }
  const std::uint64_t row_bytes = f.layout.row_words() * sizeof(stream::Word);
  const std::uint64_t per_piece = std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / row_bytes);
  std::uint32_t crc = 0;
  std::optional<std::string> bad_row; // reported only if the checksum holds: damage reads as damage
  for (std::uint64_t r = 0; r < f.rows; r += per_piece) {
    const std::uint64_t end = std::min(f.rows, r + per_piece);
    crc = crc32_of(std::span<const unsigned char>(words + r * row_bytes, static_cast<std::size_t>((end - r) * row_bytes)), crc);
    if (!bad_row) {
      try {
        check_rows(f, word_at, r, end, q);
      } catch (const Error& e) {
        bad_row = e.what();
      }
    }
  }
  if (crc != f.data_crc)
    throw Error(q + " is corrupt: data checksum mismatch (stored " + hex32(f.data_crc) + ", computed " + hex32(crc) +
                " over the " + std::to_string(data) + " data bytes at offset " + std::to_string(f.data_offset) + ")");
  if (bad_row) throw Error(*bad_row);
}

//! A whole packed stream file held in memory: parse_stream_header, then check_stream_data.
[[nodiscard]] inline StreamFileInfo parse_stream(std::span<const unsigned char> file, const std::string& name,
                                                 Verify verify = Verify::Checksum) {
  StreamFileInfo f = parse_stream_header(file, name, file.size());
  check_stream_data(f, file, name, verify);
  return f;
}

//! The bytes save_stream writes for `s` with header `f` (checked first, as save_stream does).
template <class Stream> // stream::PackedStream or stream::PlaneStream
  requires std::same_as<Stream, stream::PackedStream> || std::same_as<Stream, stream::PlaneStream>
[[nodiscard]] std::vector<unsigned char> serialize_stream(const StreamFileInfo& f, const Stream& s,
                                                          const std::string& what = "packed stream") {
  detail::check_for_save(f, s, what);
  std::vector<unsigned char> out = detail::stream_header(f);
  out.reserve(out.size() + static_cast<std::size_t>(f.data_bytes()) + detail::kStreamChecksumBytes);
  std::uint32_t crc = 0;
  detail::for_each_data_piece(s.words, [&](std::span<const unsigned char> b) {
    crc = detail::crc32_of(b, crc);
    out.insert(out.end(), b.begin(), b.end());
  });
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(crc >> (8 * i)));
  return out;
}

//! Saves `s` with header `f` to `path` atomically: the header and the words are checked (a
//! file that saves always loads; f.layout and f.rows must be the stream's), then written to
//! `path + ".tmp-<pid>-<n>"` piece by piece, fsynced and renamed over `path`. On any failure the
//! temporary is removed, an existing `path` is left as it was, and Error says why.
//! A bit-plane stream saves the same way, with f.storage Planes (stream_file_info of it).
template <class Stream> // stream::PackedStream or stream::PlaneStream
  requires std::same_as<Stream, stream::PackedStream> || std::same_as<Stream, stream::PlaneStream>
void save_stream(const std::filesystem::path& path, const StreamFileInfo& f, const Stream& s) {
  const std::string what = "cannot save the packed stream to '" + path.string() + "'";
  detail::check_for_save(f, s, what);
  const std::vector<unsigned char> header = detail::stream_header(f);
  AtomicFile file(path, what, header.size() + f.data_bytes() + detail::kStreamChecksumBytes);
  file.write(header);
  std::uint32_t crc = 0;
  detail::for_each_data_piece(s.words, [&](std::span<const unsigned char> b) {
    crc = detail::crc32_of(b, crc);
    file.write(b);
  });
  const std::array<unsigned char, 4> tail = {static_cast<unsigned char>(crc), static_cast<unsigned char>(crc >> 8),
                                             static_cast<unsigned char>(crc >> 16), static_cast<unsigned char>(crc >> 24)};
  file.write(tail);
  file.commit();
}

namespace detail {

//! A packed stream file mapped and validated (load_stream's work): its header and its words.
struct MappedStream {
  StreamFileInfo info;
  stream::WordStore words;
};

[[nodiscard]] inline MappedStream map_stream(const std::filesystem::path& path, Verify verify, const std::string& cannot) {
  const std::string name = path.string();
  const OpenFile opened(path, cannot);
  const int fd = opened.fd;
  const std::uint64_t size = opened.size;
  if (size < kStreamMinHeader) { // too small to map usefully (or empty): the same messages from a read
    std::array<unsigned char, kStreamMinHeader> small{};
    const ssize_t got = ::pread(fd, small.data(), small.size(), 0);
    if (got < 0) {
      const int err = errno;
      throw Error(cannot + ": read failed: " + std::strerror(err));
    }
    (void)parse_stream(std::span<const unsigned char>(small.data(), static_cast<std::size_t>(got)), name, verify);
    throw Error(cannot + ": the file is too short"); // not reached: parse_stream refuses it
  }
  void* base = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    // The whole file is mapped: it needs that much address space, not that much memory.
    const std::string hint = err == ENOMEM ? " (the file is mapped whole: the process's address-space limit, "
                                             "ulimit -v, must exceed its size; physical memory need not)"
                                           : "";
    throw Error(cannot + ": mmap of " + std::to_string(size) + " bytes failed: " + std::strerror(err) + hint);
  }
  std::shared_ptr<const stream::MappedRegion> region = std::make_shared<stream::MappedRegion>(base, static_cast<std::size_t>(size));
  // Hints only: the words are read front to back (each epoch), and all of them.
  (void)::madvise(base, static_cast<std::size_t>(size), MADV_SEQUENTIAL);
  (void)::madvise(base, static_cast<std::size_t>(size), MADV_WILLNEED);
  const std::span<const unsigned char> file(static_cast<const unsigned char*>(base), static_cast<std::size_t>(size));
  MappedStream out;
  out.info = parse_stream(file, name, verify);
  const auto count = static_cast<std::size_t>(out.info.data_words());
  if constexpr (std::endian::native == std::endian::little) {
    // Page-aligned base + a multiple of 4096: the words are aligned.
    auto* words = reinterpret_cast<stream::Word*>(static_cast<unsigned char*>(base) + out.info.data_offset);
    out.words = stream::WordStore::mapped(std::move(region), words, count);
  } else {
    std::vector<stream::Word> words(count);
    const unsigned char* p = file.data() + out.info.data_offset;
    for (std::size_t i = 0; i < count; ++i) words[i] = load_le64(p + i * sizeof(stream::Word));
    out.words = std::move(words);
  }
  return out;
}

} // namespace detail

//! Loads a file saved by save_stream: maps it read-only (MAP_PRIVATE, so writes into the
//! stream's words are private copies and never reach the file), validates the header, the
//! sizes (data = rows x row words x 8) and, with Verify::Checksum, the data CRC and the rows.
//! The stream's words view the mapping (WordStore::is_mapped), which they keep alive; on a
//! big-endian machine they are copied instead. Do not truncate or rewrite the file in place
//! while it is loaded (save_stream never does: it renames a new file over it). Throws Error
//! naming `path` for a missing or unreadable file, everything parse_stream refuses, and a
//! bit-plane file (load_planes loads those).
[[nodiscard]] inline LoadedStream load_stream(const std::filesystem::path& path, Verify verify = Verify::Checksum) {
  const std::string cannot = "cannot load the packed stream '" + path.string() + "'";
  detail::MappedStream m = detail::map_stream(path, verify, cannot);
  if (m.info.storage == StreamStorage::Planes)
    throw Error(cannot + ": it holds bit planes (a precision schedule's samples), not rows: load it with "
                "io::load_planes (zipml-train reads it with --precision-schedule)");
  LoadedStream out;
  out.info = std::move(m.info);
  out.stream.layout = out.info.layout;
  out.stream.rows = static_cast<std::size_t>(out.info.rows);
  out.stream.words = std::move(m.words);
  return out;
}

//! A loaded bit-plane file: its header and the planes, whose words view the file's mapping.
struct LoadedPlanes {
  StreamFileInfo info;
  stream::PlaneStream planes;
};

//! Loads a bit-plane file saved by save_stream(path, info, PlaneStream) as load_stream does
//! (mapped, validated, the same errors); a file of rows is refused, saying so.
[[nodiscard]] inline LoadedPlanes load_planes(const std::filesystem::path& path, Verify verify = Verify::Checksum) {
  const std::string cannot = "cannot load the bit-plane stream '" + path.string() + "'";
  detail::MappedStream m = detail::map_stream(path, verify, cannot);
  if (m.info.storage != StreamStorage::Planes)
    throw Error(cannot + ": it holds " + detail::layout_text(m.info.layout) +
                " rows, not bit planes: load it with io::load_stream (a precision schedule needs a file saved from "
                "bit planes: zipml-train --save-stream with --precision-schedule)");
  LoadedPlanes out;
  out.info = std::move(m.info);
  out.planes.layout = out.info.plane_layout();
  out.planes.rows = static_cast<std::size_t>(out.info.rows);
  out.planes.dither_key = stream::planes::key(out.info.seed, out.info.epoch);
  out.planes.words = std::move(m.words);
  return out;
}

//! Whether `path` starts with the packed stream file magic (for --format auto). Never throws:
//! a missing or unreadable file is simply not one.
[[nodiscard]] inline bool has_stream_magic(const std::filesystem::path& path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::array<unsigned char, kStreamMagic.size()> head{};
  std::size_t got = 0;
  while (got < head.size()) {
    const ssize_t r = ::read(fd, head.data() + got, head.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return got == head.size() && head == kStreamMagic;
}

} // namespace zipml::io

#endif
