// zipml — bit-plane streams: one quantized copy of the data that serves every precision.
//
// An ordinary packed stream (packer.hpp) fixes Q when it is packed. A bit-plane stream stores
// each feature's B-bit level (B = the precision it was packed with, 8 for a schedule up to
// 8 bits) as B bit planes, MLWeaving's layout (VLDB 2019): plane 0 holds the most significant
// bit of every feature of every row, plane 1 the next bit, and so on, each plane a region of
// its own. The top Q planes are then a Q-bit copy of the data, and reading them reads Q/B of
// the stream's bytes (Q/32 of float32's). `extract(planes, Q)` turns them into the ordinary
// Q-bit stream that every backend trains on; Sgd does it when a precision schedule
// (Options::schedule) moves to another precision, so each epoch reads a Q-bit stream only.
//
// Rounding at Q < B (what the top planes mean):
// * Stochastic: the stored word of a feature is v = L + W, L its B-bit stochastic level (the
//   same level pack<Quantized<B, Stochastic>> makes, from the same draws) and W a dither,
//   uniform over 2^(B-1) integers and recomputed from (seed, epoch, row, copy, feature) by
//   `dither` at extraction. The Q-bit level (v >> s) - (W >> s), s = B - Q, equals
//   floor((L + (W mod 2^s)) / 2^s): L rounded up with probability (L mod 2^s) / 2^s, so the
//   Q-bit level is an unbiased stochastic rounding of the feature at every Q, from the top Q
//   planes alone. At Q = B it is L: the ordinary B-bit stream bit for bit.
// * Nearest: v = L, the B-bit nearest level, and the Q-bit level is L / 2^s rounded to
//   nearest (ties up), which needs one plane more than Q (the rounding bit). Rounding twice
//   differs from rounding the feature once to Q bits only where L falls exactly half-way
//   between two Q-bit levels.
// Where the feature lies on the Q-bit grid (a multiple of the Q-bit level step), both give
// exactly the ordinary Q-bit stream's level: the test compares them there.
//
// Layout of the words (little-endian u64): regions of ceil(rows * ceil(d / 64) / 512) * 512
// words (a multiple of 4096 bytes, so that each starts on a page of a mapped file and an
// extraction faults only the pages of the planes it reads). Region r = p * copies + c holds
// plane p (bit B - 1 - p of the level) of copy c: row i's plane is ceil(d / 64) words at
// i * ceil(d / 64), feature j in bit j % 64 of word j / 64, zeros past d. After the planes,
// the labels: row i's float32 label in bits 32 (i % 2) .. 32 (i % 2) + 31 of word i / 2,
// padded with zero words to a multiple of 512.
#ifndef ZIPML_STREAM_PLANES_HPP
#define ZIPML_STREAM_PLANES_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "zipml/concepts.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/error.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/packed.hpp"
#include "zipml/stream/packer.hpp"

namespace zipml::stream {

//! Shape of a bit-plane stream (see the file comment).
struct PlaneLayout {
  unsigned planes = 8;         //!< B: bits of the stored levels (1, 2, 4 or 8)
  std::uint32_t dim = 0;       //!< d, including the bias feature 0
  bool minus_one_one = false;  //!< feature range [-1, 1] (else [0, 1])
  bool double_sampled = false; //!< two quantized copies per row
  bool dithered = false;       //!< stochastic rounding: the words carry the dither W

  //! Region granularity: 512 words, 4096 bytes.
  static constexpr std::size_t kAlign = 512;

  [[nodiscard]] constexpr std::size_t copies() const noexcept { return double_sampled ? 2 : 1; }
  //! Words of one row's plane: d bits.
  [[nodiscard]] constexpr std::size_t plane_words() const noexcept { return (static_cast<std::size_t>(dim) + 63) / 64; }
  [[nodiscard]] static constexpr std::size_t round_up(std::size_t n) noexcept { return (n + kAlign - 1) / kAlign * kAlign; }
  [[nodiscard]] constexpr std::size_t region_words(std::size_t rows) const noexcept { return round_up(rows * plane_words()); }
  [[nodiscard]] constexpr std::size_t regions() const noexcept { return planes * copies(); }
  [[nodiscard]] constexpr std::size_t label_words(std::size_t rows) const noexcept { return round_up((rows + 1) / 2); }
  [[nodiscard]] constexpr std::size_t total_words(std::size_t rows) const noexcept {
    return regions() * region_words(rows) + label_words(rows);
  }
  //! The precisions an extraction can make: Q in {1, 2, 4, 8}, Q <= B (no 1 bit in [-1, 1]).
  [[nodiscard]] constexpr bool can_extract(unsigned q) const noexcept {
    return (q == 1 || q == 2 || q == 4 || q == 8) && q <= planes && !(q == 1 && minus_one_one);
  }
  //! The ordinary layout extract(.., q) produces.
  [[nodiscard]] constexpr Layout at(unsigned q) const noexcept { return Layout{q, dim, minus_one_one, double_sampled}; }
  friend constexpr bool operator==(const PlaneLayout&, const PlaneLayout&) = default;
};

//! A bit-plane stream: planes of every row, then the labels (see the file comment).
struct PlaneStream {
  PlaneLayout layout;
  WordStore words;
  std::size_t rows = 0;
  //! Where row 0 is in the whole stream: the dither's row index, and for messages.
  std::size_t first_row = 0;
  //! What the dither is computed from (planes_key of the packing's seed and epoch).
  std::uint64_t dither_key = 0;

  //! Plane p (0 = most significant) of copy c, for every row.
  [[nodiscard]] const Word* plane(std::size_t p, std::size_t copy = 0) const noexcept {
    return words.data() + (p * layout.copies() + copy) * layout.region_words(rows);
  }
  [[nodiscard]] const Word* label_region() const noexcept {
    return words.data() + layout.regions() * layout.region_words(rows);
  }
  [[nodiscard]] std::uint32_t label_bits(std::size_t i) const noexcept {
    return static_cast<std::uint32_t>(label_region()[i / 2] >> (32 * (i % 2)));
  }
  [[nodiscard]] float label(std::size_t i) const noexcept { return std::bit_cast<float>(label_bits(i)); }
  [[nodiscard]] std::size_t bytes() const noexcept { return words.size() * sizeof(Word); }
  //! Bytes an extraction at Q reads: Q planes (Q + 1 with nearest rounding below B) and the labels.
  [[nodiscard]] std::size_t bytes_read(unsigned q) const noexcept {
    const std::size_t planes = std::min<std::size_t>(layout.planes, q + (!layout.dithered && q < layout.planes ? 1 : 0));
    return (planes * layout.copies() * layout.region_words(rows) + layout.label_words(rows)) * sizeof(Word);
  }
};

namespace planes {

//! The dither's key for a packing's seed and epoch.
[[nodiscard]] constexpr std::uint64_t key(std::uint64_t seed, std::uint64_t epoch) noexcept {
  return SplitMix64(seed, epoch, 0x6269'7470'6c61'6e65ULL)(); // ("bitplane")
}

//! The per-row part of the dither (one 64-bit mix per row and copy).
[[nodiscard]] constexpr std::uint32_t row_key(std::uint64_t key, std::uint64_t row, std::size_t copy) noexcept {
  return static_cast<std::uint32_t>(mix64(key ^ (row * 2 + copy)) >> 32);
}

//! W of feature j for a row key: the top B - 1 bits of a 32-bit hash (Wellons' lowbias32) of
//! row_key + j * golden, uniform on [0, 2^(B-1)), or centred on [-2^(B-2), 2^(B-2)) in
//! [-1, 1] mode so that v = L + W stays within B bits. 32-bit multiplies: the extraction
//! computes one per feature, vectorized.
[[nodiscard]] constexpr std::uint32_t hash32(std::uint32_t x) noexcept {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}
[[nodiscard]] constexpr std::int32_t dither(std::uint32_t row_key, std::uint32_t j, unsigned b, bool mm) noexcept {
  const std::uint32_t x = hash32(row_key + j * 0x9e3779b9u);
  if (b == 1) return 0; // one plane: nothing below it to round from
  const auto w = static_cast<std::int32_t>(x >> (33 - b));
  return mm ? w - (std::int32_t{1} << (b - 2)) : w;
}

namespace detail {

//! For every byte, its 8 bits as 8 bytes of 0 or 1 (bit m -> byte m).
struct SpreadTable {
  std::array<std::uint64_t, 256> entry{};
  constexpr SpreadTable() {
    for (unsigned b = 0; b < 256; ++b)
      for (unsigned m = 0; m < 8; ++m) entry[b] |= static_cast<std::uint64_t>((b >> m) & 1u) << (8 * m);
  }
};
inline constexpr SpreadTable kSpread{};

//! Bit `bit` of 8 bytes, gathered into one byte (byte m -> bit m): one multiply, no carries
//! (the products land on distinct bits).
[[nodiscard]] constexpr std::uint64_t gather_bit(std::uint64_t bytes, unsigned bit) noexcept {
  return (((bytes >> bit) & 0x0101010101010101ULL) * 0x0102040810204080ULL) >> 56;
}

//! The B-bit words v of a row's copy (one per byte, d of them, zeros up to 64 * plane_words)
//! into its planes.
inline void scatter_planes(const std::uint8_t* v, const PlaneLayout& l, std::size_t rows, std::size_t i,
                           std::size_t copy, Word* words) noexcept {
  const std::size_t pw = l.plane_words(), region = l.region_words(rows);
  for (unsigned p = 0; p < l.planes; ++p) {
    Word* out = words + (p * l.copies() + copy) * region + i * pw;
    const unsigned bit = l.planes - 1 - p;
    for (std::size_t k = 0; k < pw; ++k) {
      Word w = 0;
      if constexpr (std::endian::native == std::endian::little) {
        for (unsigned c = 0; c < 8; ++c) {
          std::uint64_t bytes; // byte m = feature 64 k + 8 c + m
          std::memcpy(&bytes, v + 64 * k + 8 * c, sizeof bytes);
          w |= gather_bit(bytes, bit) << (8 * c);
        }
      } else {
        for (unsigned m = 0; m < 64; ++m) w |= static_cast<Word>((v[64 * k + m] >> bit) & 1u) << m;
      }
      out[k] = w;
    }
  }
}

//! The top n planes of row i's copy as the bytes of their bits (most significant first): byte
//! j = the top n bits of feature j's stored word; 64 * plane_words bytes.
inline void top_planes(const PlaneStream& s, std::size_t i, std::size_t copy, unsigned n, std::uint8_t* out) noexcept {
  const std::size_t pw = s.layout.plane_words();
  std::array<const Word*, 8> plane{};
  for (unsigned p = 0; p < n; ++p) plane[p] = s.plane(p, copy) + i * pw;
  for (std::size_t k = 0; k < pw; ++k) {
    if constexpr (std::endian::native == std::endian::little) {
      for (unsigned c = 0; c < 8; ++c) {
        std::uint64_t acc = 0; // 8 features' levels, one per byte: < 2^8, so no byte overflows
        for (unsigned p = 0; p < n; ++p) acc = (acc << 1) | kSpread.entry[(plane[p][k] >> (8 * c)) & 0xffu];
        std::memcpy(out + 64 * k + 8 * c, &acc, sizeof acc);
      }
    } else {
      for (unsigned m = 0; m < 64; ++m) {
        unsigned v = 0;
        for (unsigned p = 0; p < n; ++p) v = (v << 1) | static_cast<unsigned>((plane[p][k] >> m) & 1u);
        out[64 * k + m] = static_cast<std::uint8_t>(v);
      }
    }
  }
}

//! Q-bit patterns (one per byte) -> `words` stream words, as the packer lays them out.
inline void pack_patterns(unsigned q, const std::uint8_t* p, Word* w, std::size_t words) noexcept {
  switch (q) {
    case 1: stream::detail::pack_patterns<1>(p, w, words); break;
    case 2: stream::detail::pack_patterns<2>(p, w, words); break;
    case 4: stream::detail::pack_patterns<4>(p, w, words); break;
    default:
      for (std::size_t i = 0; i < words; ++i) {
        Word x = 0;
        for (unsigned k = 0; k < 8; ++k) x |= static_cast<Word>(p[8 * i + k]) << (8 * k);
        w[i] = x;
      }
  }
}

} // namespace detail

//! Row i's copy at Q bits as Q-bit patterns, one per byte (the ordinary packer's patterns):
//! `tmp` and `out` hold 64 * plane_words bytes each; out[d, ...) are 0.
inline void row_patterns(const PlaneStream& s, std::size_t i, std::size_t copy, unsigned q, std::uint8_t* tmp,
                         std::uint8_t* out) noexcept {
  const auto& l = s.layout;
  const unsigned shift = l.planes - q;
  const std::size_t d = l.dim, n = 64 * l.plane_words();
  const auto mask = static_cast<std::uint8_t>((1u << q) - 1u);
  if (l.dithered) {
    detail::top_planes(s, i, copy, q, out); // (v >> s) as a Q-bit pattern
    if (l.planes > 1) {
      // dither() with its constants hoisted, so that the loop vectorizes (32-bit lanes)
      const std::uint32_t rk = row_key(s.dither_key, s.first_row + i, copy);
      const unsigned top = 33 - l.planes;
      const std::int32_t centre = l.minus_one_one ? std::int32_t{1} << (l.planes - 2) : 0;
      const auto d32 = static_cast<std::uint32_t>(d);
      for (std::uint32_t j = 0; j < d32; ++j) {
        const std::uint32_t x = hash32(rk + j * 0x9e3779b9u);
        const std::int32_t w = (static_cast<std::int32_t>(x >> top) - centre) >> shift;
        out[j] = static_cast<std::uint8_t>((out[j] - static_cast<std::uint8_t>(w)) & mask); // mod 2^Q: in range
      }
    }
  } else if (shift == 0) {
    detail::top_planes(s, i, copy, q, out);
  } else {
    detail::top_planes(s, i, copy, q + 1, tmp); // Q bits and the rounding bit
    for (std::size_t j = 0; j < n; ++j)
      out[j] = static_cast<std::uint8_t>((((tmp[j] >> 1) + (tmp[j] & 1u)) & mask)); // ties up; mod 2^Q: in range
  }
}

} // namespace planes

//! Packs every row of a RowSource (or those opt.order names, in that order) as B = P::bits
//! bit planes: the levels pack<P> makes (same draws), with the dither under Stochastic. Throws
//! zipml::Error for what pack<P> refuses (a value outside the range, 1 bit in [-1, 1], ...).
template <PrecisionPolicy P, data::RowSource S>
[[nodiscard]] PlaneStream pack_planes(const S& ds, const PackOptions& opt = {}) {
  static_assert(P::bits <= 8, "zipml: pack_planes: bit planes hold quantized levels (Quantized<Q>), not float32");
  detail::check_shape<P>(ds, opt);
  constexpr unsigned B = P::bits;
  PlaneStream s;
  s.layout = PlaneLayout{B, static_cast<std::uint32_t>(ds.dim()), opt.range == data::Range::MinusOneOne,
                         opt.double_sampled, P::rounding::stochastic};
  s.rows = opt.order.empty() ? ds.size() : opt.order.size();
  s.dither_key = planes::key(opt.seed, opt.epoch);
  detail::allocate_words(s.words, s.layout.total_words(s.rows));
  std::fill(s.words.begin(), s.words.end(), Word{0}); // the regions' and labels' padding
  const auto& l = s.layout;
  const std::size_t d = l.dim, bytes = 64 * l.plane_words();
  unsigned threads = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, s.rows / 1024)));
  std::vector<char> ok(threads, 1);
  Word* words = s.words.data();
  Word* labels = words + l.regions() * l.region_words(s.rows);
  // Labels two per word: a thread's range starts on an even row, so no two threads share a word.
  const auto work = [&](unsigned t) {
    std::vector<float> row(d);
    std::vector<std::uint8_t> v(std::max<std::size_t>(bytes, l.at(B).padded_dim()), 0);
    const std::size_t begin = s.rows * t / threads / 2 * 2;
    const std::size_t end = t + 1 == threads ? s.rows : s.rows * (t + 1) / threads / 2 * 2;
    if (!opt.order.empty()) { // rows left out must be valid too
      const std::size_t n = ds.size();
      for (std::size_t i = n * t / threads; i < n * (t + 1) / threads && ok[t]; ++i)
        ok[t] = detail::row_ok<P>(ds.row(i, row.data()), d, ds.label(i), opt);
    }
    for (std::size_t pos = begin; pos < end && ok[t]; ++pos) {
      const std::size_t src = opt.order.empty() ? pos : opt.order[pos];
      const float* a = ds.row(src, row.data());
      const float label = ds.label(src);
      if (!detail::row_ok<P>(a, d, label, opt)) {
        ok[t] = 0;
        break;
      }
      for (std::size_t copy = 0; copy < l.copies(); ++copy) {
        detail::quantize_row<B, typename P::rounding>(a, d, l.minus_one_one, SplitMix64(opt.seed, opt.epoch, copy, src),
                                                      v.data());
        if (l.dithered && B > 1) {
          const std::uint32_t rk = planes::row_key(s.dither_key, pos, copy);
          for (std::size_t j = 0; j < d; ++j) {
            const std::int32_t level = quant::from_pattern(v[j], B, l.minus_one_one);
            const std::int32_t w = planes::dither(rk, static_cast<std::uint32_t>(j), B, l.minus_one_one);
            v[j] = static_cast<std::uint8_t>(quant::to_pattern(level + w, B));
          }
        }
        std::fill(v.begin() + static_cast<std::ptrdiff_t>(d), v.end(), std::uint8_t{0});
        planes::detail::scatter_planes(v.data(), l, s.rows, pos, copy, words);
      }
      labels[pos / 2] |= static_cast<Word>(std::bit_cast<std::uint32_t>(label)) << (32 * (pos % 2));
    }
  };
  if (threads <= 1) {
    work(0);
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
  }
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) {
    detail::scan_values<P>(ds, opt);
    throw Error("packing: a value the precision cannot hold (internal: the scan found none)");
  }
  return s;
}

//! Packs a Dataset (its matrix rows, no copy): pack_planes() of data::DatasetRows.
template <PrecisionPolicy P>
[[nodiscard]] PlaneStream pack_planes(const data::Dataset& ds, const PackOptions& opt = {}) {
  return pack_planes<P>(data::DatasetRows(ds), opt);
}

//! Rows [first, last) of a bit-plane stream at Q bits: the ordinary Q-bit stream (Layout
//! at(Q)) that every backend trains on. Reads the top Q planes (Q + 1 for nearest rounding
//! below B) and the labels. Throws zipml::Error for a Q the stream cannot give.
[[nodiscard]] inline PackedStream extract(const PlaneStream& s, unsigned q, std::size_t first, std::size_t last,
                                          unsigned threads = 0) {
  const auto& l = s.layout;
  if (!l.can_extract(q))
    throw Error("bit-plane stream of " + std::to_string(l.planes) + "-bit levels" +
                (l.minus_one_one ? " in [-1, 1]" : "") + ": cannot give " + std::to_string(q) +
                "-bit samples (1, 2, 4 or 8 bits, at most " + std::to_string(l.planes) +
                (l.minus_one_one ? ", and not 1 bit in [-1, 1])" : ")"));
  if (first > last || last > s.rows)
    throw Error("bit-plane stream: rows [" + std::to_string(first) + ", " + std::to_string(last) + ") of " +
                std::to_string(s.rows));
  PackedStream out;
  out.layout = l.at(q);
  out.rows = last - first;
  out.first_row = s.first_row + first;
  const std::size_t row_words = out.layout.row_words(), fw = out.layout.feature_words();
  detail::allocate_words(out.words, out.rows * row_words);
  threads = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, out.rows / 1024)));
  const auto work = [&](unsigned t) {
    const std::size_t bytes = std::max<std::size_t>(64 * l.plane_words(), out.layout.padded_dim());
    std::vector<std::uint8_t> tmp(bytes), patterns(bytes);
    for (std::size_t r = out.rows * t / threads; r < out.rows * (t + 1) / threads; ++r) {
      const std::size_t i = first + r;
      Word* w = out.words.data() + r * row_words;
      for (std::size_t copy = 0; copy < l.copies(); ++copy) {
        planes::row_patterns(s, i, copy, q, tmp.data(), patterns.data());
        planes::detail::pack_patterns(q, patterns.data(), w + copy * fw, fw);
      }
      w[row_words - 1] = s.label_bits(i);
    }
  };
  if (threads <= 1) {
    work(0);
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
  }
  return out;
}

//! The whole stream at Q bits.
[[nodiscard]] inline PackedStream extract(const PlaneStream& s, unsigned q, unsigned threads = 0) {
  return extract(s, q, 0, s.rows, threads);
}

} // namespace zipml::stream

#endif
