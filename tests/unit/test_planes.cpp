// Bit-plane streams (stream/planes.hpp): one B-bit copy, any Q <= B by extraction.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "zipml/data/dataset.hpp"
#include "zipml/error.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/packer.hpp"
#include "zipml/stream/planes.hpp"
#include "zipml/stream/reader.hpp"

using zipml::Nearest;
using zipml::Quantized;
using zipml::SplitMix64;
using zipml::Stochastic;
using zipml::data::Dataset;
using zipml::data::Range;
using namespace zipml::stream;

namespace {

constexpr std::uint64_t kSeed = 20261207;

//! n rows of d features (bias 1.0 first); with `grid_q`, every feature a multiple of the
//! grid_q-bit level step (the levels of both streams coincide), else anywhere in the range.
Dataset make(std::size_t n, std::size_t d, bool mm, unsigned grid_q, std::uint64_t seed) {
  SplitMix64 rng(seed);
  Dataset ds;
  ds.features = xt::xtensor<float, 2>::from_shape({n, d});
  ds.labels = xt::xtensor<float, 1>::from_shape({n});
  const int frac = zipml::quant::fraction_bits(grid_q == 0 ? 8 : grid_q, mm);
  const std::int32_t lo = zipml::quant::min_level(grid_q == 0 ? 8 : grid_q, mm);
  const std::int32_t hi = zipml::quant::max_level(grid_q == 0 ? 8 : grid_q, mm);
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) {
      if (grid_q != 0) {
        const auto level = lo + static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(hi - lo + 1)));
        ds.features(i, j) = std::ldexp(static_cast<float>(level), -frac);
      } else {
        const float u = rng.uniform();
        ds.features(i, j) = mm ? 2.0f * u - 1.0f : u;
      }
    }
    ds.labels(i) = static_cast<float>(rng.below(3));
  }
  return ds;
}

template <unsigned Q, class R>
PackedStream pack_q(const Dataset& ds, const PackOptions& o) {
  return pack<Quantized<Q, R>>(ds, o);
}

template <class R>
void check_grid(unsigned q, bool mm, bool ds2) {
  PackOptions o;
  o.range = mm ? Range::MinusOneOne : Range::ZeroOne;
  o.seed = kSeed;
  o.double_sampled = ds2;
  const Dataset ds = make(1500, 131, mm, q, kSeed + q);
  const PlaneStream planes = pack_planes<Quantized<8, R>>(ds, o);
  const PackedStream got = extract(planes, q);
  PackedStream want;
  switch (q) {
    case 1: want = pack_q<1, R>(ds, o); break;
    case 2: want = pack_q<2, R>(ds, o); break;
    case 4: want = pack_q<4, R>(ds, o); break;
    default: want = pack_q<8, R>(ds, o); break;
  }
  CHECK(got.layout == want.layout);
  CHECK(got.rows == want.rows);
  REQUIRE(got.words.size() == want.words.size());
  std::size_t differ = 0;
  for (std::size_t w = 0; w < got.words.size(); ++w) differ += got.words[w] != want.words[w];
  CHECK(differ == 0);
}

//! Mean over rows of feature j's decoded value.
double mean_value(const PackedStream& s, std::size_t j) {
  std::vector<float> v(s.layout.dim);
  double sum = 0.0;
  for (std::size_t i = 0; i < s.rows; ++i) {
    decode_values(s.features(i), s.layout, v.data());
    sum += v[j];
  }
  return sum / static_cast<double>(s.rows);
}

} // namespace

TEST_CASE("on the Q-bit grid, the top Q planes are the ordinary Q-bit stream, word for word") {
  INFO("seed " << kSeed);
  for (unsigned q : {1u, 2u, 4u, 8u}) {
    for (bool mm : {false, true}) {
      if (q == 1 && mm) continue;
      CAPTURE(q);
      CAPTURE(mm);
      check_grid<Nearest>(q, mm, false);
      check_grid<Stochastic>(q, mm, false);
      check_grid<Stochastic>(q, mm, true);
    }
  }
}

TEST_CASE("at Q = B the stochastic planes are the ordinary B-bit stream for any data (same draws)") {
  INFO("seed " << kSeed);
  for (bool mm : {false, true}) {
    PackOptions o;
    o.range = mm ? Range::MinusOneOne : Range::ZeroOne;
    o.seed = kSeed;
    o.epoch = 3;
    o.double_sampled = true;
    const Dataset ds = make(2100, 70, mm, 0, kSeed);
    CHECK(extract(pack_planes<Quantized<8, Stochastic>>(ds, o), 8).words.to_vector() ==
          pack<Quantized<8, Stochastic>>(ds, o).words.to_vector());
    CHECK(extract(pack_planes<Quantized<4, Stochastic>>(ds, o), 4).words.to_vector() ==
          pack<Quantized<4, Stochastic>>(ds, o).words.to_vector());
    o.double_sampled = false;
    CHECK(extract(pack_planes<Quantized<8, Nearest>>(ds, o), 8).words.to_vector() ==
          pack<Quantized<8, Nearest>>(ds, o).words.to_vector());
    // a row order, as Order::Shuffle packs
    std::vector<std::uint32_t> order;
    for (std::uint32_t i = 0; i < 2100; ++i) order.push_back((i * 7919u) % 2100u);
    o.order = order;
    CHECK(extract(pack_planes<Quantized<8, Stochastic>>(ds, o), 8).words.to_vector() ==
          pack<Quantized<8, Stochastic>>(ds, o).words.to_vector());
  }
}

TEST_CASE("nearest below B rounds the B-bit level to nearest, ties up") {
  const Dataset ds = make(800, 90, false, 0, kSeed);
  PackOptions o;
  const PlaneStream planes = pack_planes<Quantized<8, Nearest>>(ds, o);
  const PackedStream full = pack<Quantized<8, Nearest>>(ds, o);
  std::vector<std::int32_t> l8(90), lq(90);
  for (unsigned q : {1u, 2u, 4u}) {
    CAPTURE(q);
    const PackedStream s = extract(planes, q);
    const int shift = static_cast<int>(8 - q);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < s.rows; ++i) {
      decode_fixed(full.features(i), full.layout, l8.data());
      decode_fixed(s.features(i), s.layout, lq.data());
      for (std::size_t j = 0; j < 90; ++j) wrong += lq[j] != (l8[j] + (1 << (shift - 1))) >> shift;
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("stochastic below B: the top planes round without bias, at every Q") {
  INFO("seed " << kSeed);
  // One value per feature, the same in every row: the mean of the decoded column estimates
  // E[level] / 2^F, which must be the value (truncation would be low by about half a level).
  const std::size_t n = 40000;
  const std::vector<float> values = {0.0f, 0.3f, 0.07f, 0.5f, 0.61f, 0.99f, 1.0f, 0.2509f};
  for (bool mm : {false, true}) {
    CAPTURE(mm);
    Dataset ds;
    ds.features = xt::xtensor<float, 2>::from_shape({n, values.size() + 1});
    ds.labels = xt::zeros<float>({n});
    for (std::size_t i = 0; i < n; ++i) {
      ds.features(i, 0) = 1.0f;
      for (std::size_t j = 0; j < values.size(); ++j) ds.features(i, j + 1) = mm ? 2.0f * values[j] - 1.0f : values[j];
    }
    PackOptions o;
    o.range = mm ? Range::MinusOneOne : Range::ZeroOne;
    o.seed = kSeed;
    const PlaneStream planes = pack_planes<Quantized<8, Stochastic>>(ds, o);
    for (unsigned q : {1u, 2u, 4u}) {
      if (q == 1 && mm) continue;
      CAPTURE(q);
      const PackedStream s = extract(planes, q);
      const double step = std::ldexp(1.0, -zipml::quant::fraction_bits(q, mm)); // a level
      for (std::size_t j = 0; j < values.size(); ++j) {
        CAPTURE(values[j]);
        const double a = mm ? 2.0 * values[j] - 1.0 : values[j];
        // the decoded value is a + e, |e| < step, E[e] = 0: 5 sigma of the mean of n draws
        CHECK(std::fabs(mean_value(s, j + 1) - a) <= 5.0 * step / 2.0 / std::sqrt(static_cast<double>(n)) + 1e-7);
      }
    }
  }
}

TEST_CASE("an extraction reads Q of the B planes, and the layout's sizes") {
  const Dataset ds = make(3000, 785, false, 0, kSeed);
  const PlaneStream s = pack_planes<Quantized<8, Stochastic>>(ds, PackOptions{});
  CHECK(s.layout.plane_words() == 13);
  CHECK(s.layout.region_words(3000) % 512 == 0);
  CHECK(s.words.size() == s.layout.total_words(3000));
  const std::size_t label_bytes = s.layout.label_words(3000) * 8, plane_bytes = s.layout.region_words(3000) * 8;
  for (unsigned q : {1u, 2u, 4u, 8u}) CHECK(s.bytes_read(q) == q * plane_bytes + label_bytes);
  const PlaneStream n = pack_planes<Quantized<8, Nearest>>(ds, PackOptions{});
  CHECK(n.bytes_read(2) == 3 * plane_bytes + label_bytes); // the rounding bit
  CHECK(n.bytes_read(8) == 8 * plane_bytes + label_bytes);
  for (std::size_t i = 0; i < 3000; i += 97) CHECK(s.label(i) == ds.labels(i));
  // rows of a part carry their place in the whole stream (the dither's row index)
  const PackedStream part = extract(s, 2, 1000, 2000);
  const PackedStream whole = extract(s, 2);
  CHECK(part.first_row == 1000);
  const std::size_t rw = whole.layout.row_words();
  CHECK(std::equal(part.words.begin(), part.words.end(), whole.words.begin() + 1000 * rw));
}

TEST_CASE("what a bit-plane stream refuses, in words") {
  const Dataset ds = make(50, 10, true, 0, kSeed);
  PackOptions o;
  o.range = Range::MinusOneOne;
  const PlaneStream s = pack_planes<Quantized<4, Stochastic>>(ds, o);
  CHECK_THROWS_WITH_AS((void)extract(s, 8), doctest::Contains("4-bit levels in [-1, 1]: cannot give 8-bit samples"),
                       zipml::Error);
  CHECK_THROWS_WITH_AS((void)extract(s, 1), doctest::Contains("not 1 bit in [-1, 1]"), zipml::Error);
  CHECK_THROWS_WITH_AS((void)extract(s, 3), doctest::Contains("cannot give 3-bit"), zipml::Error);
  CHECK_THROWS_WITH_AS((void)extract(s, 2, 10, 60), doctest::Contains("rows [10, 60) of 50"), zipml::Error);
  using Q8 = Quantized<8, Nearest>;
  Dataset bad = make(50, 10, false, 0, kSeed);
  bad.features(7, 3) = std::nanf("");
  CHECK_THROWS_WITH_AS((void)pack_planes<Q8>(bad), doctest::Contains("row 8, feature 3: value nan"),
                       zipml::Error);
  bad.features(7, 3) = 1.5f;
  CHECK_THROWS_WITH_AS((void)pack_planes<Q8>(bad), doctest::Contains("outside the quantizer's range"),
                       zipml::Error);
}
