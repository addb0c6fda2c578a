// zipml — packing a data set into the stream (data set -> 64-bit words).
#ifndef ZIPML_STREAM_PACKER_HPP
#define ZIPML_STREAM_PACKER_HPP

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "zipml/concepts.hpp"
#include "zipml/arithmetic/engine.hpp"
#include "zipml/data/dataset.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/error.hpp"
#include "zipml/precision/float32.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/packed.hpp"

namespace zipml::stream {

struct PackOptions {
  data::Range range = data::Range::ZeroOne; //!< the range the features were scaled to
  bool double_sampled = false; //!< two independent quantizations per row (needs Stochastic)
  std::uint64_t seed = 0;      //!< stochastic rounding seed
  std::uint64_t epoch = 0;     //!< selects a fresh quantization (re-quantize every epoch)
  std::span<const std::uint32_t> order = {}; //!< row order; empty = file order
  bool engine_range = false;   //!< float32: refuse features the engine cannot hold (|a| >= 2)
  unsigned threads = 0;        //!< 0 = all cores
};

namespace detail {

[[noreturn]] inline void bad_value(const std::string& name, std::size_t row, std::size_t col, float v,
                                   const std::string& why) {
  std::ostringstream os;
  os.precision(9);
  os << name << ": row " << row + 1;
  if (col == std::numeric_limits<std::size_t>::max())
    os << ", label";
  else
    os << ", feature " << col;
  os << ": value " << v << ' ' << why;
  throw Error(os.str());
}

//! The checks that do not read the values.
template <PrecisionPolicy P, data::RowSource S>
void check_shape(const S& ds, const PackOptions& opt) {
  const bool mm = opt.range == data::Range::MinusOneOne;
  if (ds.size() == 0) throw Error(ds.name() + ": no samples to pack");
  if (ds.dim() == 0 || ds.dim() > std::numeric_limits<std::uint32_t>::max())
    throw Error("packing: dimension " + std::to_string(ds.dim()) +
                " (with bias) is outside the stream's 32-bit field, 1 to 4294967295");
  if (ds.size() > std::numeric_limits<std::uint32_t>::max())
    throw Error("packing: " + std::to_string(ds.size()) +
                " samples do not fit the stream's 32-bit count (at most 4294967295): split the data");
  if constexpr (P::bits == 1) {
    if (mm)
      throw Error("1-bit precision cannot represent features in [-1, 1] (every level would round to 0): "
                  "scale the features to [0, 1] or use 2 bits or more");
  }
  if (opt.double_sampled && !P::rounding::stochastic)
    throw Error("double sampling needs stochastic rounding: with nearest rounding both copies are identical");
  for (std::uint32_t r : opt.order)
    if (r >= ds.size())
      throw Error("packing: row order names row " + std::to_string(r) + " of a data set with " +
                  std::to_string(ds.size()) + " rows");
}

//! Throws for the first value the precision cannot hold, in row order (a row's label before its
//! features). Only run once the fast check (row_ok) has found one: it is the slow, exact scan.
template <PrecisionPolicy P, data::RowSource S>
void scan_values(const S& ds, const PackOptions& opt) {
  const bool mm = opt.range == data::Range::MinusOneOne;
  const float lo = mm ? -1.0f : 0.0f;
  const std::size_t n = ds.size(), d = ds.dim();
  const std::string name = ds.name();
  std::vector<float> buf(d);
  for (std::size_t i = 0; i < n; ++i) {
    const float b = ds.label(i);
    if (!std::isfinite(b)) bad_value(name, i, std::numeric_limits<std::size_t>::max(), b, "is not finite");
    const float* f = ds.row(i, buf.data());
    for (std::size_t j = 0; j < d; ++j) {
      const float a = f[j];
      if (!std::isfinite(a)) bad_value(name, i, j, a, "is not finite");
      if constexpr (P::bits == 32) {
        if (opt.engine_range && !engine::float_feature_ok(a))
          bad_value(name, i, j, a,
                    "is outside [-2, 2 - 2^-17), which the engine's 18-bit features hold: scale the features");
      } else {
        if (a < lo || a > 1.0f)
          bad_value(name, i, j, a,
                    std::string("is outside the quantizer's range ") + (mm ? "[-1, 1]" : "[0, 1]") +
                        ": scale the features (or pick the other range)");
      }
    }
  }
}

//! Whether scan_values would accept the row: the same conditions without branches, so that
//! the compiler vectorizes the loop (NaN fails every comparison, so it is caught too).
template <PrecisionPolicy P>
[[nodiscard]] bool row_ok(const float* a, std::size_t d, float label, const PackOptions& opt) noexcept {
  if (!std::isfinite(label)) return false;
  unsigned bad = 0;
  if constexpr (P::bits == 32) {
    if (opt.engine_range) {
      for (std::size_t j = 0; j < d; ++j) bad |= static_cast<unsigned>(!engine::float_feature_ok(a[j]));
    } else {
      for (std::size_t j = 0; j < d; ++j)
        bad |= static_cast<unsigned>(!(std::fabs(a[j]) <= std::numeric_limits<float>::max()));
    }
  } else {
    const float lo = opt.range == data::Range::MinusOneOne ? -1.0f : 0.0f;
    for (std::size_t j = 0; j < d; ++j) bad |= static_cast<unsigned>(!(a[j] >= lo)) | static_cast<unsigned>(!(a[j] <= 1.0f));
  }
  return bad == 0;
}

//! One quantized copy of a row as Q-bit patterns, one per byte, into p[0, d). For Nearest and
//! Stochastic this is their round() computed on integers, without branches and with the row's
//! draws taken by index (rng.peek), so that GCC vectorizes the loop (it does not vectorize
//! std::floor unless -fno-trapping-math); the levels are the same bit for bit. The features
//! are validated (|a| <= 1), so |a · 2^F| <= 128 and the int32 conversions are exact.
template <unsigned Q, class Rounding>
void quantize_row(const float* a, std::size_t d, bool mm, SplitMix64 rng, std::uint8_t* p) noexcept {
  const float scale = std::ldexp(1.0f, quant::fraction_bits(Q, mm));
  const std::int32_t lo = quant::min_level(Q, mm), hi = quant::max_level(Q, mm);
  constexpr std::int32_t mask = (1 << Q) - 1;
  if constexpr (std::is_same_v<Rounding, Nearest> || std::is_same_v<Rounding, Stochastic>) {
    for (std::size_t j = 0; j < d; ++j) {
      const float scaled = a[j] * scale;
      std::int32_t level = static_cast<std::int32_t>(scaled);      // towards zero ...
      level -= static_cast<float>(level) > scaled ? 1 : 0;         // ... floor
      const float frac = scaled - static_cast<float>(level);       // exact, as in round()
      std::int32_t up = 0;
      if constexpr (std::is_same_v<Rounding, Nearest>) {
        up = frac > 0.5f ? 1 : frac == 0.5f ? (level & 1) : 0;     // ties to even
      } else {
        // uniform(): the draw's top 24 bits (< 2^24, so the int32 conversion is exact) times 2^-24.
        const float u = static_cast<float>(static_cast<std::int32_t>(rng.peek(j) >> 40)) * 0x1p-24f;
        up = u < frac ? 1 : 0;
      }
      p[j] = static_cast<std::uint8_t>(std::clamp(level + up, lo, hi) & mask);
    }
  } else { // another rounding policy: its own round(), draws in feature order
    const auto flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    for (std::size_t j = 0; j < d; ++j)
      p[j] = static_cast<std::uint8_t>(
          static_cast<std::int32_t>(std::clamp(Rounding::round(a[j] * scale, rng), flo, fhi)) & mask);
  }
}

//! Q-bit patterns (one per byte, Q < 8) -> `words` stream words, pattern k of a word in bits
//! Q·k. On little-endian machines eight patterns are loaded as one 64-bit value and squeezed
//! together by three shift-or-mask steps (8 -> 16 -> 32 -> 64 bits per group), no BMI2 needed.
template <unsigned Q>
void pack_patterns(const std::uint8_t* p, Word* w, std::size_t words) noexcept {
  constexpr unsigned per_word = 64 / Q;
  if constexpr (std::endian::native == std::endian::little) {
    constexpr Word m1 = 0x0001000100010001ULL * ((Word{1} << (2 * Q)) - 1);
    constexpr Word m2 = 0x0000000100000001ULL * ((Word{1} << (4 * Q)) - 1);
    constexpr Word m3 = (Word{1} << (8 * Q)) - 1;
    for (std::size_t i = 0; i < words; ++i) {
      Word word = 0;
      for (unsigned c = 0; c < per_word / 8; ++c) {
        Word x;
        std::memcpy(&x, p + i * per_word + 8 * c, sizeof x);
        x = (x | (x >> (8 - Q))) & m1;
        x = (x | (x >> (16 - 2 * Q))) & m2;
        x = (x | (x >> (32 - 4 * Q))) & m3;
        word |= x << (8 * Q * c);
      }
      w[i] = word;
    }
  } else {
    for (std::size_t i = 0; i < words; ++i) {
      Word word = 0;
      for (unsigned k = 0; k < per_word; ++k) word |= static_cast<Word>(p[i * per_word + k]) << (Q * k);
      w[i] = word;
    }
  }
}

//! Packs positions [begin, end); `patterns` holds layout.padded_dim() bytes (Q < 32), `row`
//! room for a row (sources that make their rows). Returns false, leaving the rest unpacked,
//! at the first row row_ok refuses.
template <PrecisionPolicy P, data::RowSource S>
[[nodiscard]] bool pack_rows(const S& ds, const PackOptions& opt, const Layout& layout, Word* out,
                             std::size_t begin, std::size_t end, std::vector<std::uint8_t>& patterns,
                             std::vector<float>& row) {
  const std::size_t d = ds.dim(), row_words = layout.row_words();
  for (std::size_t pos = begin; pos < end; ++pos) {
    const std::size_t src = opt.order.empty() ? pos : opt.order[pos];
    const float* a = ds.row(src, row.data());
    const float label = ds.label(src);
    if (!row_ok<P>(a, d, label, opt)) return false; // packed only once valid: no NaN reaches an int cast
    Word* w = out + pos * row_words;
    if constexpr (P::bits == 32) {
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(w, a, d * sizeof(float)); // feature 2k in bits 31..0 of word k
        if (d % 2 != 0) w[d / 2] = std::bit_cast<std::uint32_t>(a[d - 1]); // zero padding above
      } else {
        for (std::size_t j = 0; j < d; j += 2)
          w[j / 2] = std::bit_cast<std::uint32_t>(a[j]) |
                     (j + 1 < d ? static_cast<Word>(std::bit_cast<std::uint32_t>(a[j + 1])) << 32 : 0);
      }
    } else {
      constexpr unsigned q = P::bits;
      const std::size_t fw = layout.feature_words();
      for (std::size_t copy = 0; copy < layout.copies(); ++copy) {
        // A row's random numbers depend on (seed, epoch, copy, source row) only.
        quantize_row<q, typename P::rounding>(a, d, layout.minus_one_one, SplitMix64(opt.seed, opt.epoch, copy, src),
                                              patterns.data()); // p[d, padded_dim) stay 0: the padding
        if constexpr (q == 8 && std::endian::native == std::endian::little)
          std::memcpy(w + copy * fw, patterns.data(), fw * sizeof(Word)); // a byte per level, in order
        else
          pack_patterns<q>(patterns.data(), w + copy * fw, fw);
      }
    }
    w[row_words - 1] = std::bit_cast<std::uint32_t>(label);
  }
  return true;
}

//! n owned words in `store`, asking Linux for transparent huge pages first: the first touch of
//! a fresh buffer faults once per 4 KiB page, and on a VM those faults cost more than packing
//! itself (measured on the 2-vCPU VM of docs/PERFORMANCE.md, 189 MB as Fashion-MNIST's float32
//! stream: 1.2-1.4 s with 4 KiB pages; with the hint 0.4 s the first time in a process, 0.05 s after).
inline void allocate_words(WordStore& store, std::size_t n) {
  std::vector<Word>& words = store.make_owned();
  words.reserve(n);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  const auto begin = (reinterpret_cast<std::uintptr_t>(words.data()) + huge - 1) & ~(huge - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(words.data() + n) & ~(huge - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE); // a hint only
#endif
  words.resize(n);
}

} // namespace detail

//! The layout `pack<P>` produces for a data set of dimension d.
template <PrecisionPolicy P>
[[nodiscard]] constexpr Layout layout_for(std::size_t dim, const PackOptions& opt) noexcept {
  return Layout{P::bits, static_cast<std::uint32_t>(dim), opt.range == data::Range::MinusOneOne,
                P::bits != 32 && opt.double_sampled};
}

//! Packs every row of a RowSource (or the rows `opt.order` names, in that order) into stream
//! words. Throws zipml::Error naming the row, feature and value of anything the precision
//! cannot hold.
template <PrecisionPolicy P, data::RowSource S>
[[nodiscard]] PackedStream pack(const S& ds, const PackOptions& opt = {}) {
  detail::check_shape<P>(ds, opt);
  PackedStream s;
  s.layout = layout_for<P>(ds.dim(), opt);
  s.rows = opt.order.empty() ? ds.size() : opt.order.size();
  detail::allocate_words(s.words, s.rows * s.layout.row_words());
  unsigned threads = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, s.rows / 1024)));
  // Each thread checks the rows it packs as it packs them (while they are in cache); with a row
  // order, the rows it leaves out must be valid too, so each thread also checks a share of all.
  std::vector<std::vector<std::uint8_t>> patterns(threads, std::vector<std::uint8_t>(P::bits == 32 ? 0 : s.layout.padded_dim()));
  std::vector<std::vector<float>> rows(threads, std::vector<float>(ds.dim()));
  std::vector<char> ok(threads, 1);
  const auto work = [&](unsigned t) {
    if (!opt.order.empty()) {
      const std::size_t n = ds.size(), d = ds.dim();
      for (std::size_t i = n * t / threads; i < n * (t + 1) / threads && ok[t]; ++i)
        ok[t] = detail::row_ok<P>(ds.row(i, rows[t].data()), d, ds.label(i), opt);
    }
    ok[t] = ok[t] && detail::pack_rows<P>(ds, opt, s.layout, s.words.data(), s.rows * t / threads,
                                          s.rows * (t + 1) / threads, patterns[t], rows[t]);
  };
  if (threads <= 1) {
    work(0);
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
  } // joins; work cannot throw
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) {
    detail::scan_values<P>(ds, opt); // throws the first bad value in row order, as the message promises
    throw Error("packing: a value the precision cannot hold (internal: the scan found none)");
  }
  return s;
}

//! Packs a Dataset (its matrix rows, no copy): pack() of data::DatasetRows.
template <PrecisionPolicy P>
[[nodiscard]] PackedStream pack(const data::Dataset& ds, const PackOptions& opt = {}) {
  return pack<P>(data::DatasetRows(ds), opt);
}

} // namespace zipml::stream

#endif
