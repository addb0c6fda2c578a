// Unit tests of the precisions: level mapping, nearest and stochastic rounding, and double
// sampling's removal of the least-squares bias.
//
// Statistical tolerances are derived from the variance of a Bernoulli rounding step (or from
// the empirical standard error); every random test has a fixed seed, printed on failure.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zipml/zipml.hpp"

using zipml::Float32;
using zipml::Nearest;
using zipml::Quantized;
using zipml::SplitMix64;
using zipml::Stochastic;
using zipml::data::Dataset;
using zipml::data::Range;
namespace quant = zipml::quant;
namespace stream = zipml::stream;

namespace {

Dataset make_ds(std::size_t n, std::size_t d, const std::vector<float>& f, const std::vector<float>& b) {
  Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) ds.features(i, j) = f[i * d + j];
    ds.labels(i) = b[i];
  }
  return ds;
}

//! A data set of n identical rows (bias, values...): each row gets its own random numbers.
Dataset repeated_rows(std::size_t n, const std::vector<float>& row, float label) {
  const std::size_t d = row.size();
  Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) ds.features(i, j) = row[j];
    ds.labels(i) = label;
  }
  return ds;
}

} // namespace

TEST_CASE("precision: policies satisfy the concept") {
  static_assert(zipml::PrecisionPolicy<Float32>);
  static_assert(zipml::PrecisionPolicy<Quantized<1>>);
  static_assert(zipml::PrecisionPolicy<Quantized<2, Stochastic>>);
  static_assert(zipml::PrecisionPolicy<Quantized<4, Nearest>>);
  static_assert(zipml::PrecisionPolicy<Quantized<8, Stochastic>>);
  static_assert(!zipml::PrecisionPolicy<int>);
  static_assert(!zipml::PrecisionPolicy<Nearest>);
  static_assert(zipml::RoundingPolicy<Nearest>);
  static_assert(zipml::RoundingPolicy<Stochastic>);
  static_assert(!zipml::RoundingPolicy<Float32>);
  static_assert(Quantized<4>::bits == 4);
  static_assert(Float32::bits == 32);
  static_assert(!Nearest::stochastic && Stochastic::stochastic);
  CHECK(Quantized<1>::name == "q1");
  CHECK(Quantized<2>::name == "q2");
  CHECK(Quantized<4>::name == "q4");
  CHECK(Quantized<8>::name == "q8");
  CHECK(Float32::name == "float32");
}

TEST_CASE("precision: level mapping of every Q and range") {
  for (unsigned q : {1u, 2u, 4u, 8u}) {
    for (bool mm : {false, true}) {
      if (q == 1 && mm) continue; // refused by the packer (every level would round to 0)
      CAPTURE(q);
      CAPTURE(mm);
      const int f = mm ? static_cast<int>(q) - 2 : static_cast<int>(q) - 1;
      CHECK(quant::fraction_bits(q, mm) == f);
      const std::int32_t lo = mm ? -(1 << (q - 2)) : 0;
      const std::int32_t hi = mm ? (1 << (q - 2)) : (1 << (q - 1));
      CHECK(quant::min_level(q, mm) == lo);
      CHECK(quant::max_level(q, mm) == hi);
      // The levels cover exactly [-1, 1] or [0, 1].
      CHECK(std::ldexp(static_cast<double>(hi), -f) == 1.0);
      CHECK(std::ldexp(static_cast<double>(lo), -f) == (mm ? -1.0 : 0.0));
      for (std::int32_t level = lo; level <= hi; ++level) {
        CAPTURE(level);
        const std::uint64_t pat = quant::to_pattern(level, q);
        CHECK(pat < (std::uint64_t{1} << q));
        // Unsigned in [0, 1] mode, two's complement in [-1, 1] mode.
        const std::uint64_t expect = level >= 0 ? static_cast<std::uint64_t>(level)
                                                : (std::uint64_t{1} << q) - static_cast<std::uint64_t>(-level);
        CHECK(pat == expect);
        CHECK(quant::from_pattern(pat, q, mm) == level);
        // Bits above the pattern are ignored.
        CHECK(quant::from_pattern(pat | (~std::uint64_t{0} << q), q, mm) == level);
      }
    }
  }
  // Specific patterns.
  CHECK(quant::to_pattern(128, 8) == 0x80u);
  CHECK(quant::from_pattern(0x80, 8, false) == 128);
  CHECK(quant::from_pattern(0x80, 8, true) == -128);
  CHECK(quant::to_pattern(-1, 2) == 0b11u);
  CHECK(quant::from_pattern(0b11, 2, true) == -1);
  CHECK(quant::from_pattern(0b11, 2, false) == 3);
  CHECK(quant::to_pattern(-4, 4) == 0xcu);
  CHECK(quant::from_pattern(0xc, 4, true) == -4);
  CHECK(quant::to_pattern(1, 1) == 1u);
  CHECK(quant::from_pattern(1, 1, false) == 1);
  CHECK(quant::fraction_bits(1, true) == -1);
}

TEST_CASE("precision: Nearest rounds half to even") {
  SplitMix64 rng(1);
  CHECK(Nearest::round(0.5f, rng) == 0.0f);
  CHECK(Nearest::round(1.5f, rng) == 2.0f);
  CHECK(Nearest::round(2.5f, rng) == 2.0f);
  CHECK(Nearest::round(3.5f, rng) == 4.0f);
  CHECK(Nearest::round(-0.5f, rng) == 0.0f);
  CHECK(Nearest::round(-1.5f, rng) == -2.0f);
  CHECK(Nearest::round(-2.5f, rng) == -2.0f);
  CHECK(Nearest::round(2.4999998f, rng) == 2.0f);
  CHECK(Nearest::round(2.5000002f, rng) == 3.0f);
  CHECK(Nearest::round(7.0f, rng) == 7.0f);
  // Nearest does not consume random numbers.
  SplitMix64 fresh(1);
  CHECK(rng() == fresh());

  SUBCASE("through the packer: Q=4 [0,1], F=3") {
    // a * 8 = 0.5, 1.5, 2.5, 3.5, 7.5 -> 0, 2, 2, 4, 8
    const auto ds = make_ds(1, 5, {0.0625f, 0.1875f, 0.3125f, 0.4375f, 0.9375f}, {0});
    const auto s = zipml::stream::pack<Quantized<4>>(ds);
    std::int32_t lv[5];
    stream::decode_fixed(s.features(0), s.layout, lv);
    CHECK(lv[0] == 0);
    CHECK(lv[1] == 2);
    CHECK(lv[2] == 2);
    CHECK(lv[3] == 4);
    CHECK(lv[4] == 8);
  }
  SUBCASE("through the packer: Q=4 [-1,1], F=2") {
    // a * 4 = -0.5, -1.5, -2.5, 0.5 -> 0, -2, -2, 0
    stream::PackOptions o;
    o.range = Range::MinusOneOne;
    const auto ds = make_ds(1, 4, {-0.125f, -0.375f, -0.625f, 0.125f}, {0});
    const auto s = zipml::stream::pack<Quantized<4>>(ds, o);
    std::int32_t lv[4];
    stream::decode_fixed(s.features(0), s.layout, lv);
    CHECK(lv[0] == 0);
    CHECK(lv[1] == -2);
    CHECK(lv[2] == -2);
    CHECK(lv[3] == 0);
  }
}

TEST_CASE("precision: Stochastic rounding, direct") {
  const std::uint64_t seed = 12345;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  // Integers stay put; other values go to a neighbour.
  for (float v : {0.0f, 3.0f, -2.0f, 64.0f}) CHECK(Stochastic::round(v, rng) == v);
  const float vals[] = {0.3f, 2.75f, -1.25f, -0.01f};
  for (float v : vals) {
    CAPTURE(v);
    const double p = static_cast<double>(v) - std::floor(static_cast<double>(v));
    const int n = 100000;
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
      const float r = Stochastic::round(v, rng);
      REQUIRE((r == std::floor(v) || r == std::floor(v) + 1.0f));
      sum += r;
    }
    const double sigma = std::sqrt(p * (1.0 - p));
    CHECK(std::abs(sum / n - v) < 5.0 * sigma / std::sqrt(static_cast<double>(n)));
  }
}

TEST_CASE("precision: Stochastic rounding through the packer is unbiased, with the Bernoulli variance") {
  const std::uint64_t seed = 0x5eed;
  CAPTURE(seed);
  const std::size_t n = 200000;
  const std::vector<float> row = {1.0f, 0.3f, 0.77f, -0.4f};
  const auto ds = repeated_rows(n, row, 0.0f);
  auto run = [&](auto precision_tag) {
    using P = decltype(precision_tag);
    constexpr unsigned q = P::bits;
    CAPTURE(q);
    stream::PackOptions o;
    o.range = Range::MinusOneOne;
    o.seed = seed;
    const auto s = zipml::stream::pack<P>(ds, o);
    const int fb = static_cast<int>(q) - 2;
    std::vector<double> sum(row.size(), 0.0), sum2(row.size(), 0.0);
    std::vector<float> v(s.layout.padded_dim()); // sized from the layout the decoder writes
    for (std::size_t i = 0; i < n; ++i) {
      stream::decode_values(s.features(i), s.layout, v.data());
      for (std::size_t j = 0; j < row.size(); ++j) {
        sum[j] += v[j];
        sum2[j] += static_cast<double>(v[j]) * v[j];
      }
    }
    for (std::size_t j = 0; j < row.size(); ++j) {
      const double a = row[j];
      CAPTURE(a);
      const double scaled = std::ldexp(a, fb);
      const double p = scaled - std::floor(scaled);
      // One Bernoulli(p) step of size 2^-F: variance p (1 - p) / 4^F.
      const double var = p * (1.0 - p) / std::ldexp(1.0, 2 * fb);
      const double mean = sum[j] / static_cast<double>(n);
      const double emp_var = sum2[j] / static_cast<double>(n) - mean * mean;
      CAPTURE(mean);
      CAPTURE(emp_var);
      CAPTURE(var);
      if (p == 0.0) {
        CHECK(mean == a);
        CHECK(emp_var == 0.0);
        continue;
      }
      CHECK(std::abs(mean - a) < 5.0 * std::sqrt(var / static_cast<double>(n)));
      CHECK(std::abs(emp_var - var) < 0.1 * var);
    }
  };
  run(Quantized<2, Stochastic>{});
  run(Quantized<4, Stochastic>{});
  run(Quantized<8, Stochastic>{});

  SUBCASE("[0, 1] mode, Q = 1 too") {
    const std::vector<float> r01 = {1.0f, 0.3f, 0.77f, 0.05f};
    const auto ds01 = repeated_rows(n, r01, 0.0f);
    stream::PackOptions o;
    o.seed = seed + 1;
    const auto s = zipml::stream::pack<Quantized<1, Stochastic>>(ds01, o);
    std::vector<double> sum(r01.size(), 0.0);
    std::vector<float> v(s.layout.padded_dim());
    for (std::size_t i = 0; i < n; ++i) {
      stream::decode_values(s.features(i), s.layout, v.data());
      for (std::size_t j = 0; j < r01.size(); ++j) sum[j] += v[j];
    }
    for (std::size_t j = 1; j < r01.size(); ++j) {
      const double p = r01[j]; // F = 0: p is the value itself
      CAPTURE(p);
      CHECK(std::abs(sum[j] / static_cast<double>(n) - p) < 5.0 * std::sqrt(p * (1 - p) / static_cast<double>(n)));
    }
    CHECK(sum[0] == static_cast<double>(n));
  }
}

TEST_CASE("precision: double sampling removes the least-squares bias") {
  const std::uint64_t seed = 2024;
  CAPTURE(seed);
  constexpr std::size_t d = 4, rows = 3;
  // Q = 2, [0, 1]: values 0, 1/2, 1. Every non-bias feature has variance >= 0.06.
  const std::vector<float> f = {1.0f, 0.25f, 0.8f, 0.7f,   //
                                1.0f, 0.75f, 0.3f, 0.2f,   //
                                1.0f, 0.7f,  0.25f, 0.8f};
  const std::vector<float> b = {0.5f, -0.25f, 1.0f};
  const std::array<double, d> x = {0.2, 1.5, -1.25, 2.0};
  const auto ds = make_ds(rows, d, f, b);
  using P = Quantized<2, Stochastic>;
  const std::size_t m = 60000;
  // Running sums per row and component, for both estimators.
  std::vector<double> s_ds(rows * d, 0.0), q_ds(rows * d, 0.0), s_ss(rows * d, 0.0), q_ss(rows * d, 0.0);
  stream::PackOptions o;
  o.double_sampled = true;
  o.seed = seed;
  o.threads = 1;
  std::vector<float> c0(ds.dim()), c1(ds.dim());
  for (std::size_t e = 0; e < m; ++e) {
    o.epoch = e;
    const auto s = zipml::stream::pack<P>(ds, o);
    for (std::size_t i = 0; i < rows; ++i) {
      stream::decode_values(s.features(i, 0), s.layout, c0.data());
      stream::decode_values(s.features(i, 1), s.layout, c1.data());
      double dot_ds = 0.0, dot_ss = 0.0;
      for (std::size_t j = 0; j < d; ++j) {
        dot_ds += c0[j] * x[j]; // copy 1 (the dot product's)
        dot_ss += c0[j] * x[j];
      }
      for (std::size_t j = 0; j < d; ++j) {
        const double g_ds = c1[j] * (dot_ds - b[i]); // update with copy 2
        const double g_ss = c0[j] * (dot_ss - b[i]); // same copy twice
        s_ds[i * d + j] += g_ds;
        q_ds[i * d + j] += g_ds * g_ds;
        s_ss[i * d + j] += g_ss;
        q_ss[i * d + j] += g_ss * g_ss;
      }
    }
  }
  const double md = static_cast<double>(m);
  for (std::size_t i = 0; i < rows; ++i) {
    double dot = 0.0;
    for (std::size_t j = 0; j < d; ++j) dot += f[i * d + j] * x[j];
    for (std::size_t j = 0; j < d; ++j) {
      const double a = f[i * d + j];
      const double truth = a * (dot - b[i]);
      const double scaled = 2.0 * a, p = scaled - std::floor(scaled);
      const double var = p * (1 - p) / 4.0;
      const double mean_ds = s_ds[i * d + j] / md, mean_ss = s_ss[i * d + j] / md;
      const double se_ds = std::sqrt((q_ds[i * d + j] / md - mean_ds * mean_ds) / md);
      const double se_ss = std::sqrt((q_ss[i * d + j] / md - mean_ss * mean_ss) / md);
      INFO("row ", i, " feature ", j, ": truth ", truth, ", double-sampled ", mean_ds, " (SE ", se_ds,
           "), single-sampled ", mean_ss, " (SE ", se_ss, "), expected single bias ", var * x[j]);
      CHECK(std::abs(mean_ds - truth) < 5.0 * se_ds + 1e-12);
      // Single sampling: E[Q Q^T] x - a b = (a a^T + diag(var)) x - a b.
      CHECK(std::abs(mean_ss - (truth + var * x[j])) < 5.0 * se_ss + 1e-12);
      if (j > 0) CHECK(std::abs(mean_ss - truth) > 10.0 * se_ss);
    }
  }
}

TEST_CASE("precision: end to end, double sampling gets closer to x* than single sampling") {
  const std::uint64_t seed = 77;
  CAPTURE(seed);
  constexpr std::size_t n = 4000, d = 8;
  SplitMix64 rng(seed);
  std::array<float, d> xs{};
  for (auto& v : xs) v = 2.0f * rng.uniform() - 1.0f;
  std::vector<float> f(n * d), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    f[i * d] = 1.0f;
    for (std::size_t j = 1; j < d; ++j) f[i * d + j] = rng.uniform();
    double dot = 0.0;
    for (std::size_t j = 0; j < d; ++j) dot += static_cast<double>(f[i * d + j]) * xs[j];
    b[i] = static_cast<float>(dot);
  }
  const auto ds = make_ds(n, d, f, b);
  auto train = [&](bool double_sampling) {
    zipml::Options o;
    o.step = 0x1p-6f;
    o.epochs = 30;
    o.requantize = true;
    o.double_sampling = double_sampling;
    o.seed = seed;
    zipml::Sgd<zipml::LeastSquares, Quantized<2, Stochastic>, zipml::Cpu> sgd(o);
    (void)sgd.fit(ds);
    const auto& w = sgd.weights();
    double dist = 0.0;
    for (std::size_t j = 0; j < d; ++j) dist += (w(0, j) - xs[j]) * (w(0, j) - xs[j]);
    return std::sqrt(dist);
  };
  const double single = train(false), dbl = train(true);
  MESSAGE("distance to x*: single sampling ", single, ", double sampling ", dbl);
  INFO("single ", single, " double ", dbl);
  CHECK(dbl < single);
  CHECK(dbl < 0.5 * single);
}
