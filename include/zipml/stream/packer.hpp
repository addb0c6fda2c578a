// zipml — packing a data set into the stream (data set -> 64-bit words).
#ifndef ZIPML_STREAM_PACKER_HPP
#define ZIPML_STREAM_PACKER_HPP

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "zipml/concepts.hpp"
#include "zipml/arithmetic/engine.hpp"
#include "zipml/data/dataset.hpp"
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

[[noreturn]] inline void bad_value(const data::Dataset& ds, std::size_t row, std::size_t col, float v,
                                   const std::string& why) {
  std::ostringstream os;
  os.precision(9);
  os << (ds.source.empty() ? std::string("data set") : ds.source) << ": row " << row + 1;
  if (col == std::numeric_limits<std::size_t>::max())
    os << ", label";
  else
    os << ", feature " << col;
  os << ": value " << v << ' ' << why;
  throw Error(os.str());
}

template <PrecisionPolicy P>
void validate_for_packing(const data::Dataset& ds, const PackOptions& opt) {
  const bool mm = opt.range == data::Range::MinusOneOne;
  if (ds.empty()) throw Error((ds.source.empty() ? std::string("data set") : ds.source) + ": no samples to pack");
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
  const float lo = mm ? -1.0f : 0.0f;
  const std::size_t n = ds.size(), d = ds.dim();
  const float* f = ds.features.data();
  for (std::size_t i = 0; i < n; ++i) {
    const float b = ds.labels(i);
    if (!std::isfinite(b)) bad_value(ds, i, std::numeric_limits<std::size_t>::max(), b, "is not finite");
    for (std::size_t j = 0; j < d; ++j) {
      const float a = f[i * d + j];
      if (!std::isfinite(a)) bad_value(ds, i, j, a, "is not finite");
      if constexpr (P::bits == 32) {
        if (opt.engine_range && !engine::float_feature_ok(a))
          bad_value(ds, i, j, a,
                    "is outside [-2, 2 - 2^-17), which the engine's 18-bit features hold: scale the features");
      } else {
        if (a < lo || a > 1.0f)
          bad_value(ds, i, j, a,
                    std::string("is outside the quantizer's range ") + (mm ? "[-1, 1]" : "[0, 1]") +
                        ": scale the features (or pick the other range)");
      }
    }
  }
}

template <PrecisionPolicy P>
void pack_rows(const data::Dataset& ds, const PackOptions& opt, const Layout& layout, Word* out,
               std::size_t begin, std::size_t end) {
  const std::size_t d = ds.dim(), row_words = layout.row_words();
  const float* f = ds.features.data();
  for (std::size_t pos = begin; pos < end; ++pos) {
    const std::size_t src = opt.order.empty() ? pos : opt.order[pos];
    const float* a = f + src * d;
    Word* w = out + pos * row_words;
    std::fill(w, w + row_words, Word{0});
    if constexpr (P::bits == 32) {
      for (std::size_t j = 0; j < d; ++j)
        w[j / 2] |= static_cast<Word>(std::bit_cast<std::uint32_t>(a[j])) << (32 * (j % 2));
    } else {
      constexpr unsigned q = P::bits;
      const bool mm = layout.minus_one_one;
      const float scale = std::ldexp(1.0f, quant::fraction_bits(q, mm));
      const auto lo = static_cast<float>(quant::min_level(q, mm)), hi = static_cast<float>(quant::max_level(q, mm));
      constexpr unsigned per_word = 64 / q;
      for (std::size_t copy = 0; copy < layout.copies(); ++copy) {
        // A row's random numbers depend on (seed, epoch, copy, source row) only.
        SplitMix64 rng(opt.seed, opt.epoch, copy, src);
        Word* cw = w + copy * layout.feature_words();
        for (std::size_t j = 0; j < d; ++j) {
          const float level = std::clamp(P::rounding::round(a[j] * scale, rng), lo, hi);
          cw[j / per_word] |= quant::to_pattern(static_cast<std::int32_t>(level), q) << (q * (j % per_word));
        }
      }
    }
    w[row_words - 1] = std::bit_cast<std::uint32_t>(ds.labels(src));
  }
}

} // namespace detail

//! The layout `pack<P>` produces for a data set of dimension d.
template <PrecisionPolicy P>
[[nodiscard]] constexpr Layout layout_for(std::size_t dim, const PackOptions& opt) noexcept {
  return Layout{P::bits, static_cast<std::uint32_t>(dim), opt.range == data::Range::MinusOneOne,
                P::bits != 32 && opt.double_sampled};
}

//! Packs every row (or the rows `opt.order` names, in that order) into stream words.
//! Throws zipml::Error naming the row, feature and value of anything the precision cannot hold.
template <PrecisionPolicy P>
[[nodiscard]] PackedStream pack(const data::Dataset& ds, const PackOptions& opt = {}) {
  detail::validate_for_packing<P>(ds, opt);
  PackedStream s;
  s.layout = layout_for<P>(ds.dim(), opt);
  s.rows = opt.order.empty() ? ds.size() : opt.order.size();
  s.words.resize(s.rows * s.layout.row_words());
  unsigned threads = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, s.rows / 1024)));
  if (threads <= 1) {
    detail::pack_rows<P>(ds, opt, s.layout, s.words.data(), 0, s.rows);
    return s;
  }
  std::vector<std::jthread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    const std::size_t b = s.rows * t / threads, e = s.rows * (t + 1) / threads;
    pool.emplace_back([&, b, e] { detail::pack_rows<P>(ds, opt, s.layout, s.words.data(), b, e); });
  }
  pool.clear(); // joins; pack_rows cannot throw after validation
  return s;
}

} // namespace zipml::stream

#endif
