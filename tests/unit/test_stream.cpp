// Unit tests of zipml::stream: configuration words, the row layout, packing and reading back.
//
// Expected words are computed in this file from the wire format (docs/STREAM.md and
// ../shared/reference/zipml-pynq-stream.md): never from the code under test.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "zipml/data/dataset.hpp"
#include "zipml/error.hpp"
#include "zipml/precision/float32.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/precision/rounding.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"
#include "zipml/stream/packer.hpp"
#include "zipml/stream/reader.hpp"

using zipml::Error;
using zipml::Float32;
using zipml::Nearest;
using zipml::Quantized;
using zipml::SplitMix64;
using zipml::Stochastic;
using zipml::data::Dataset;
using zipml::data::Range;
using namespace zipml::stream;

namespace {

constexpr Word kMagic1 = 0x39e904330f1a0df2ULL;
constexpr Word kMagic2 = 0xb209505f9f560afeULL;
constexpr Word kMagic3 = 0x891ebbfdb9d5f766ULL;
constexpr Word kMagic4 = 0xc049cea2e9f6957dULL;
constexpr Word kMagic5 = 0xfe9134a9b660b182ULL;
constexpr Word kSendConfig = 0xabcaabcaabcaabcaULL;
constexpr Word kTheEnd = 0xabcdabcdabcdabcdULL;
constexpr Word kLoopback = 0xababababababababULL;
constexpr Word kUnloopback = 0xbabababababababaULL;

std::uint32_t fbits(float f) { return std::bit_cast<std::uint32_t>(f); }

//! A data set from row-major features and labels.
Dataset make_ds(std::size_t n, std::size_t d, const std::vector<float>& f, const std::vector<float>& b,
                std::string source = "") {
  Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) ds.features(i, j) = f[i * d + j];
    ds.labels(i) = b[i];
  }
  ds.source = std::move(source);
  return ds;
}

//! A finite float with random bits.
float random_finite(SplitMix64& rng) {
  for (;;) {
    const auto u = static_cast<std::uint32_t>(rng());
    const float f = std::bit_cast<float>(u);
    if (std::isfinite(f)) return f;
  }
}

//! Round half to even, written out (a * 2^F is exact in double).
double round_half_even(double x) {
  const double fl = std::floor(x);
  const double frac = x - fl;
  if (frac > 0.5) return fl + 1.0;
  if (frac < 0.5) return fl;
  return std::fmod(fl, 2.0) == 0.0 ? fl : fl + 1.0;
}

int frac_bits(unsigned q, bool mm) { return mm ? static_cast<int>(q) - 2 : static_cast<int>(q) - 1; }

//! A random feature in the range with plenty of exact levels and exact ties.
float random_feature(SplitMix64& rng, unsigned q, bool mm) {
  const float lo = mm ? -1.0f : 0.0f;
  const unsigned kind = static_cast<unsigned>(rng.below(4));
  if (q == 32 || kind == 0) return lo + (1.0f - lo) * rng.uniform();
  const int f = frac_bits(q, mm);
  const int levels = 1 << (q - (mm ? 2 : 1)); // max level
  const int lmin = mm ? -levels : 0;
  const int level = lmin + static_cast<int>(rng.below(static_cast<std::uint64_t>(levels - lmin + 1)));
  if (kind == 1 || level == levels) return std::ldexp(static_cast<float>(level), -f);
  if (kind == 2) return std::ldexp(static_cast<float>(level) + 0.5f, -f); // a tie
  return (rng() & 1u) ? 1.0f : lo;
}

std::string message_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no zipml::Error thrown>";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

} // namespace

// ---------------------------------------------------------------------------------------------
// Commands and configuration words
// ---------------------------------------------------------------------------------------------

TEST_CASE("stream: command constants and is_command") {
  CHECK(command::kMagic1 == kMagic1);
  CHECK(command::kMagic2 == kMagic2);
  CHECK(command::kMagic3 == kMagic3);
  CHECK(command::kMagic4 == kMagic4);
  CHECK(command::kMagic5 == kMagic5);
  CHECK(command::kSendConfig == kSendConfig);
  CHECK(command::kTheEnd == kTheEnd);
  CHECK(command::kLoopback == kLoopback);
  CHECK(command::kUnloopback == kUnloopback);
  for (Word w : {kMagic1, kMagic2, kMagic3, kMagic4, kMagic5, kSendConfig, kTheEnd, kLoopback, kUnloopback}) {
    CAPTURE(w);
    CHECK(is_command(w));
    CHECK_FALSE(is_command(w + 1));
    CHECK_FALSE(is_command(w - 1));
    CHECK_FALSE(is_command(w ^ (Word{1} << 63)));
  }
  CHECK_FALSE(is_command(0));
  CHECK_FALSE(is_command(~Word{0}));
  CHECK_FALSE(is_command(0x3f800000ULL)); // a label word
  const std::uint64_t seed = 7;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  int commands = 0;
  for (int i = 0; i < 10000; ++i) commands += is_command(rng()) ? 1 : 0;
  CHECK(commands == 0);
}

TEST_CASE("stream: payload bits of each configuration field") {
  SUBCASE("defaults") {
    const Config c{};
    const auto p = payloads(c);
    CHECK(p[0] == 32u);                                   // lambda shift 32 = off, no flags
    CHECK(p[1] == 0xbf800000bf800000ULL);                 // -1.0f in both halves
    CHECK(p[2] == 0u);
    CHECK(p[3] == 0u);
    CHECK(p[4] == 0u);
    CHECK(c.loss_mode() == LossMode::LeastSquares);
  }
  SUBCASE("MAGIC1 flags, one at a time") {
    Config c{};
    c.lambda_shift = 0;
    CHECK(payloads(c)[0] == 0u);
    c.lambda_shift = 0xdeadbeefu;
    CHECK(payloads(c)[0] == 0xdeadbeefULL);
    c.lambda_shift = 0;
    c.minibatch_mask = 0xabcd;
    CHECK(payloads(c)[0] == 0xabcdULL << 32);
    c.minibatch_mask = 0;
    c.step_decay = true;
    CHECK(payloads(c)[0] == Word{1} << 48);
    c.step_decay = false;
    c.binarize = true;
    CHECK(payloads(c)[0] == Word{1} << 49);
    c.binarize = false;
    c.double_sampled = true;
    CHECK(payloads(c)[0] == Word{1} << 50);
    c.double_sampled = false;
    c.logistic = true;
    CHECK(payloads(c)[0] == Word{1} << 51);
    c.logistic = false;
    c.decay_interval = 0xff;
    CHECK(payloads(c)[0] == Word{0xff} << 52);
    c.decay_interval = 0x81;
    CHECK(payloads(c)[0] == Word{0x81} << 52);
  }
  SUBCASE("MAGIC2..MAGIC5") {
    Config c{};
    c.step_cost_neg = 0.25f;  // 0x3e800000
    c.step_cost_pos = -3.0f;  // 0xc0400000
    c.binarize_label = 7.0f;  // 0x40e00000
    c.dim = 785;
    c.samples = 60000;
    c.epochs = 0x12345678u;
    c.step = 0x1p-12f;        // 0x39800000
    const auto p = payloads(c);
    CHECK(p[1] == 0xc04000003e800000ULL);
    CHECK(p[2] == ((Word{785} << 32) | 0x40e00000ULL));
    CHECK(p[3] == ((Word{0x12345678u} << 32) | 60000u));
    CHECK(p[4] == 0x39800000ULL);
    c.minus_one_one = true;
    CHECK(payloads(c)[4] == (0x39800000ULL | (Word{1} << 32)));
    c.minus_one_one = false;
    const std::pair<PrecisionCode, Word> codes[] = {{PrecisionCode::Unstated, 0}, {PrecisionCode::Float32, 1},
                                                    {PrecisionCode::Q1, 2},       {PrecisionCode::Q2, 3},
                                                    {PrecisionCode::Q4, 4},       {PrecisionCode::Q8, 5}};
    for (const auto& entry : codes) {
      const Word v = entry.second;
      c.precision = entry.first;
      CAPTURE(v);
      CHECK(payloads(c)[4] == (0x39800000ULL | (v << 33)));
    }
  }
  SUBCASE("precision codes") {
    CHECK(precision_code(32) == PrecisionCode::Float32);
    CHECK(precision_code(1) == PrecisionCode::Q1);
    CHECK(precision_code(2) == PrecisionCode::Q2);
    CHECK(precision_code(4) == PrecisionCode::Q4);
    CHECK(precision_code(8) == PrecisionCode::Q8);
    CHECK(precision_code(3) == PrecisionCode::Unstated);
    CHECK(precision_code(16) == PrecisionCode::Unstated);
    for (unsigned b : {1u, 2u, 4u, 8u, 32u}) CHECK(precision_bits(precision_code(b)) == b);
    CHECK(precision_bits(PrecisionCode::Unstated) == 0);
  }
}

TEST_CASE("stream: Config -> payloads -> apply_payload round trip (random configs)") {
  const std::uint64_t seed = 0x5eed0001;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  for (int t = 0; t < 2000; ++t) {
    CAPTURE(t);
    Config c;
    c.lambda_shift = static_cast<std::uint32_t>(rng());
    c.minibatch_mask = static_cast<std::uint16_t>(rng());
    c.step_decay = rng() & 1u;
    c.binarize = rng() & 1u;
    c.double_sampled = rng() & 1u;
    c.logistic = rng() & 1u;
    c.decay_interval = static_cast<std::uint8_t>(rng());
    c.step_cost_neg = random_finite(rng);
    c.step_cost_pos = random_finite(rng);
    if (rng.below(4) == 0) c.step_cost_neg = c.step_cost_pos = std::bit_cast<float>(0xbf800000u);
    c.binarize_label = random_finite(rng);
    c.dim = static_cast<std::uint32_t>(rng());
    c.samples = static_cast<std::uint32_t>(rng());
    c.epochs = static_cast<std::uint32_t>(rng());
    c.step = random_finite(rng);
    c.minus_one_one = rng() & 1u;
    c.precision = static_cast<PrecisionCode>(rng.below(6));
    if (t == 0) { // every flag on
      c.step_decay = c.binarize = c.double_sampled = c.logistic = c.minus_one_one = true;
      c.minibatch_mask = 0xffff;
      c.decay_interval = 0xff;
      c.precision = PrecisionCode::Q8;
    }

    const auto p = payloads(c);
    // The word layout, field by field, from the format description.
    CHECK((p[0] & 0xffffffffu) == c.lambda_shift);
    CHECK(((p[0] >> 32) & 0xffffu) == c.minibatch_mask);
    CHECK(((p[0] >> 48) & 1u) == static_cast<Word>(c.step_decay));
    CHECK(((p[0] >> 49) & 1u) == static_cast<Word>(c.binarize));
    CHECK(((p[0] >> 50) & 1u) == static_cast<Word>(c.double_sampled));
    CHECK(((p[0] >> 51) & 1u) == static_cast<Word>(c.logistic));
    CHECK(((p[0] >> 52) & 0xffu) == c.decay_interval);
    CHECK((p[0] >> 60) == 0u);
    CHECK(p[1] == (static_cast<Word>(fbits(c.step_cost_pos)) << 32 | fbits(c.step_cost_neg)));
    CHECK(p[2] == (static_cast<Word>(c.dim) << 32 | fbits(c.binarize_label)));
    CHECK(p[3] == (static_cast<Word>(c.epochs) << 32 | c.samples));
    CHECK((p[4] & 0xffffffffu) == fbits(c.step));
    CHECK(((p[4] >> 32) & 1u) == static_cast<Word>(c.minus_one_one));
    CHECK(((p[4] >> 33) & 7u) == static_cast<Word>(c.precision));
    CHECK((p[4] >> 36) == 0u);

    // Decoding into a config that starts with different values restores every field.
    Config back;
    back.lambda_shift = ~c.lambda_shift;
    back.minibatch_mask = static_cast<std::uint16_t>(~c.minibatch_mask);
    back.step_decay = !c.step_decay;
    back.binarize = !c.binarize;
    back.double_sampled = !c.double_sampled;
    back.logistic = !c.logistic;
    back.decay_interval = static_cast<std::uint8_t>(~c.decay_interval);
    back.minus_one_one = !c.minus_one_one;
    back.dim = ~c.dim;
    back.samples = ~c.samples;
    back.epochs = ~c.epochs;
    const Word magics[] = {kMagic1, kMagic2, kMagic3, kMagic4, kMagic5};
    for (int k = 0; k < 5; ++k) apply_payload(back, magics[k], p[static_cast<std::size_t>(k)]);
    CHECK(back.lambda_shift == c.lambda_shift);
    CHECK(back.minibatch_mask == c.minibatch_mask);
    CHECK(back.step_decay == c.step_decay);
    CHECK(back.binarize == c.binarize);
    CHECK(back.double_sampled == c.double_sampled);
    CHECK(back.logistic == c.logistic);
    CHECK(back.decay_interval == c.decay_interval);
    CHECK(fbits(back.step_cost_neg) == fbits(c.step_cost_neg));
    CHECK(fbits(back.step_cost_pos) == fbits(c.step_cost_pos));
    CHECK(fbits(back.binarize_label) == fbits(c.binarize_label));
    CHECK(back.dim == c.dim);
    CHECK(back.samples == c.samples);
    CHECK(back.epochs == c.epochs);
    CHECK(fbits(back.step) == fbits(c.step));
    CHECK(back.minus_one_one == c.minus_one_one);
    CHECK(back.precision == c.precision);
    CHECK(back == c);

    // A payload after a non-configuration command changes nothing.
    Config same = c;
    for (Word cmd : {kSendConfig, kTheEnd, kLoopback, kUnloopback, Word{0}}) apply_payload(same, cmd, rng());
    CHECK(same == c);
  }
}

TEST_CASE("stream: config_words order and config_echo") {
  Config c;
  c.lambda_shift = 9;
  c.minibatch_mask = 0x00f0;
  c.step_decay = true;
  c.binarize = true;
  c.double_sampled = false;
  c.logistic = true;
  c.decay_interval = 3;
  c.step_cost_neg = 0.375f;
  c.step_cost_pos = 0.25f;
  c.binarize_label = 4.0f;
  c.dim = 785;
  c.samples = 1000;
  c.epochs = 12;
  c.step = 0.25f;
  c.minus_one_one = true;
  c.precision = PrecisionCode::Q4;

  const auto w = config_words(c);
  REQUIRE(w.size() == 11);
  const Word p1 = 9u | (Word{0xf0} << 32) | (Word{1} << 48) | (Word{1} << 49) | (Word{1} << 51) | (Word{3} << 52);
  const Word p2 = (Word{0x3e800000} << 32) | 0x3ec00000u;
  const Word p3 = (Word{785} << 32) | 0x40800000u;
  const Word p4 = (Word{12} << 32) | 1000u;
  const Word p5 = 0x3e800000u | (Word{1} << 32) | (Word{4} << 33);
  const std::array<Word, 11> expected = {kMagic1, p1, kMagic2, p2, kMagic3, p3, kMagic4, p4, kMagic5, p5, kSendConfig};
  for (std::size_t i = 0; i < 11; ++i) {
    CAPTURE(i);
    CHECK(w[i] == expected[i]);
  }
  // Payload words must not be mistaken for commands here.
  for (std::size_t i = 1; i < 10; i += 2) CHECK_FALSE(is_command(w[i]));

  SUBCASE("echo") {
    const auto e = config_echo(c);
    REQUIRE(e.size() == 9);
    CHECK(e[0] == 9u);
    CHECK(e[1] == (0xf0u | (1u << 16) | (1u << 17) | (1u << 19) | (1u << 20) | (4u << 21) | (3u << 24)));
    CHECK(e[2] == 0x3ec00000u);
    CHECK(e[3] == 0x3e800000u);
    CHECK(e[4] == 0x40800000u);
    CHECK(e[5] == 785u);
    CHECK(e[6] == 1000u);
    CHECK(e[7] == 12u);
    CHECK(e[8] == 0x3e800000u);
  }
  SUBCASE("echo flag bits, one at a time") {
    Config z{};
    CHECK(config_echo(z)[1] == 0u);
    CHECK(config_echo(z)[0] == 32u);
    Config a = z;
    a.minibatch_mask = 0xffff;
    CHECK(config_echo(a)[1] == 0xffffu);
    a = z;
    a.step_decay = true;
    CHECK(config_echo(a)[1] == 1u << 16);
    a = z;
    a.binarize = true;
    CHECK(config_echo(a)[1] == 1u << 17);
    a = z;
    a.double_sampled = true;
    CHECK(config_echo(a)[1] == 1u << 18);
    a = z;
    a.logistic = true;
    CHECK(config_echo(a)[1] == 1u << 19);
    a = z;
    a.minus_one_one = true;
    CHECK(config_echo(a)[1] == 1u << 20);
    a = z;
    a.precision = PrecisionCode::Q8; // 5
    CHECK(config_echo(a)[1] == 5u << 21);
    a.precision = PrecisionCode::Float32; // 1
    CHECK(config_echo(a)[1] == 1u << 21);
    a = z;
    a.decay_interval = 0xff;
    CHECK(config_echo(a)[1] == 0xffu << 24);
    CHECK(config_echo(a)[2] == 0xbf800000u);
    CHECK(config_echo(a)[3] == 0xbf800000u);
  }
}

TEST_CASE("stream: loss_mode and decay_every") {
  Config c;
  const float marker = std::bit_cast<float>(0xbf800000u);
  c.step_cost_neg = marker;
  c.step_cost_pos = marker;
  CHECK(c.loss_mode() == LossMode::LeastSquares);
  c.logistic = true; // the marker wins
  CHECK(c.loss_mode() == LossMode::LeastSquares);
  c.logistic = false;
  c.step_cost_pos = 0.25f;
  CHECK(c.loss_mode() == LossMode::L2Svm);
  c.logistic = true;
  CHECK(c.loss_mode() == LossMode::Logistic);
  c.step_cost_pos = marker;
  c.step_cost_neg = 0.25f;
  CHECK(c.loss_mode() == LossMode::Logistic);
  c.logistic = false;
  CHECK(c.loss_mode() == LossMode::L2Svm);
  // The marker is a bit pattern: a -1.0 that is not 0xbf800000 cannot exist, but a value
  // close to it is not the marker.
  c.step_cost_neg = std::bit_cast<float>(0xbf800001u);
  c.step_cost_pos = marker;
  CHECK(c.loss_mode() == LossMode::L2Svm);
  c.step_cost_neg = marker;
  c.step_cost_pos = std::bit_cast<float>(0x3f800000u); // +1.0
  CHECK(c.loss_mode() == LossMode::L2Svm);

  Config d;
  d.decay_interval = 0;
  CHECK(d.decay_every() == 1u);
  d.decay_interval = 1;
  CHECK(d.decay_every() == 1u);
  d.decay_interval = 200;
  CHECK(d.decay_every() == 200u);
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

TEST_CASE("stream: Layout arithmetic for every precision, d = 1..200") {
  for (unsigned bits : {32u, 1u, 2u, 4u, 8u}) {
    for (bool mm : {false, true}) {
      for (bool ds : {false, true}) {
        if (bits == 32 && ds) continue; // float32 rows carry one copy
        for (std::uint32_t d = 1; d <= 200; ++d) {
          CAPTURE(bits);
          CAPTURE(mm);
          CAPTURE(ds);
          CAPTURE(d);
          const Layout l{bits, d, mm, ds};
          if (bits == 32) {
            const std::size_t fw = (d + 1) / 2;
            CHECK(l.is_float());
            CHECK(l.values_per_word() == 2u);
            CHECK(l.feature_words() == fw);
            CHECK(l.copies() == 1u);
            CHECK(l.row_words() == fw + 1);
            CHECK(l.padded_dim() == 2 * fw);
            CHECK(l.feature_fraction_bits() == 16u);
          } else {
            const std::size_t fw = (static_cast<std::size_t>(d) * bits + 63) / 64; // ceil(d Q / 64)
            CHECK_FALSE(l.is_float());
            CHECK(l.values_per_word() == 64u / bits);
            CHECK(l.feature_words() == fw);
            CHECK(l.copies() == (ds ? 2u : 1u));
            CHECK(l.row_words() == fw * (ds ? 2 : 1) + 1);
            CHECK(l.padded_dim() == fw * (64 / bits));
            CHECK(l.padded_dim() >= d);
            CHECK(l.padded_dim() < d + 64 / bits);
            CHECK(l.feature_fraction_bits() == (mm ? bits - 2 : bits - 1));
          }
        }
      }
    }
  }
  // layout_for: float32 never double samples.
  PackOptions o;
  o.double_sampled = true;
  o.range = Range::MinusOneOne;
  CHECK(layout_for<Float32>(5, o) == Layout{32, 5, true, false});
  CHECK(layout_for<Quantized<4, Stochastic>>(5, o) == Layout{4, 5, true, true});
  o.double_sampled = false;
  o.range = Range::ZeroOne;
  CHECK(layout_for<Quantized<8>>(300, o) == Layout{8, 300, false, false});
}

// ---------------------------------------------------------------------------------------------
// Packing and reading back
// ---------------------------------------------------------------------------------------------

namespace {

//! Packs random data with P (Nearest) and checks every word and both decoders against the
//! quantization written out here.
template <class P>
void check_round_trip(bool mm, std::size_t n, std::size_t d, std::uint64_t seed) {
  constexpr unsigned q = P::bits;
  INFO("Q=", q, " mm=", mm, " n=", n, " d=", d, " seed=", seed);
  SplitMix64 rng(seed);
  std::vector<float> f(n * d), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    f[i * d] = 1.0f; // bias
    for (std::size_t j = 1; j < d; ++j) f[i * d + j] = random_feature(rng, q, mm);
    b[i] = static_cast<float>(static_cast<int>(rng.below(2001)) - 1000) / 8.0f;
  }
  if (mm && n > 0 && d > 1) f[1] = -1.0f;
  const Dataset ds = make_ds(n, d, f, b, "roundtrip");
  PackOptions o;
  o.range = mm ? Range::MinusOneOne : Range::ZeroOne;
  o.threads = 1;
  const PackedStream s = zipml::stream::pack<P>(ds, o);
  REQUIRE(s.rows == n);
  const std::size_t per = q == 32 ? 2 : 64 / q;
  const std::size_t fw = (d + per - 1) / per;
  REQUIRE(s.layout.row_words() == fw + 1);
  REQUIRE(s.words.size() == n * (fw + 1));
  std::vector<float> vals(d);
  std::vector<std::int32_t> fixed(d);
  for (std::size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    std::vector<Word> expect(fw + 1, 0);
    std::vector<float> expect_vals(d);
    std::vector<std::int32_t> expect_fixed(d);
    for (std::size_t j = 0; j < d; ++j) {
      const float a = f[i * d + j];
      if (q == 32) {
        expect[j / 2] |= static_cast<Word>(fbits(a)) << (32 * (j % 2));
        expect_vals[j] = a;
        expect_fixed[j] = static_cast<std::int32_t>(std::floor(static_cast<double>(a) * 65536.0 + 0.5));
      } else {
        const int fb = frac_bits(q, mm);
        const double level = round_half_even(std::ldexp(static_cast<double>(a), fb));
        const auto lv = static_cast<std::int64_t>(level);
        const Word pattern = static_cast<Word>(lv) & ((Word{1} << q) - 1);
        expect[j / per] |= pattern << (q * (j % per));
        expect_vals[j] = static_cast<float>(std::ldexp(level, -fb));
        expect_fixed[j] = static_cast<std::int32_t>(lv);
      }
    }
    expect[fw] = fbits(b[i]);
    const auto row = s.row(i);
    for (std::size_t w = 0; w <= fw; ++w) {
      CAPTURE(w);
      CHECK(row[w] == expect[w]);
    }
    CHECK(s.label(i) == b[i]);
    CHECK(s.label_bits(i) == fbits(b[i]));
    decode_values(s.features(i), s.layout, vals.data());
    decode_fixed(s.features(i), s.layout, fixed.data());
    for (std::size_t j = 0; j < d; ++j) {
      CAPTURE(j);
      CAPTURE(f[i * d + j]);
      CHECK(fbits(vals[j]) == fbits(expect_vals[j]));
      CHECK(fixed[j] == expect_fixed[j]);
    }
  }
}

} // namespace

TEST_CASE("stream: pack -> decode round trip, every precision and range (Nearest)") {
  const std::size_t dims[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200};
  std::uint64_t seed = 1000;
  for (std::size_t d : dims) {
    for (bool mm : {false, true}) {
      check_round_trip<Float32>(mm, 9, d, ++seed);
      if (!mm) check_round_trip<Quantized<1>>(mm, 9, d, ++seed);
      check_round_trip<Quantized<2>>(mm, 9, d, ++seed);
      check_round_trip<Quantized<4>>(mm, 9, d, ++seed);
      check_round_trip<Quantized<8>>(mm, 9, d, ++seed);
    }
  }
}

TEST_CASE("stream: hand-computed words") {
  SUBCASE("Q=4 [0,1]: (1.0, 0.5, 0.0, 0.25) -> levels 8, 4, 0, 2 -> 0x2048") {
    const auto ds = make_ds(1, 4, {1.0f, 0.5f, 0.0f, 0.25f}, {2.0f});
    const auto s = zipml::stream::pack<Quantized<4>>(ds);
    REQUIRE(s.words.size() == 2);
    CHECK(s.words[0] == 0x2048u);
    CHECK(s.words[1] == 0x40000000u);
    std::int32_t a[4];
    decode_fixed(s.features(0), s.layout, a);
    CHECK(a[0] == 8);
    CHECK(a[1] == 4);
    CHECK(a[2] == 0);
    CHECK(a[3] == 2);
  }
  SUBCASE("Q=2 [-1,1]: (-1, 0, 1) -> 0b11, 0b00, 0b01") {
    PackOptions o;
    o.range = Range::MinusOneOne;
    const auto ds = make_ds(1, 3, {-1.0f, 0.0f, 1.0f}, {-1.0f});
    const auto s = zipml::stream::pack<Quantized<2>>(ds, o);
    REQUIRE(s.words.size() == 2);
    CHECK(s.words[0] == 0b01'00'11u);
    CHECK(s.words[1] == 0xbf800000u); // -1.0f, no sign extension above bit 31
    float v[3];
    decode_values(s.features(0), s.layout, v);
    CHECK(v[0] == -1.0f);
    CHECK(v[1] == 0.0f);
    CHECK(v[2] == 1.0f);
  }
  SUBCASE("Q=2 [-1,1]: ties round to even: 0.5 -> 0, -0.5 -> 0") {
    PackOptions o;
    o.range = Range::MinusOneOne;
    const auto ds = make_ds(1, 3, {0.5f, -0.5f, 0.51f}, {0.0f});
    const auto s = zipml::stream::pack<Quantized<2>>(ds, o);
    CHECK(s.words[0] == 0b01'00'00u);
  }
  SUBCASE("Q=8 [0,1]: 1.0 -> 0x80, and the top level reads back as +1") {
    const auto ds = make_ds(1, 2, {1.0f, 0.5f}, {0.0f});
    const auto s = zipml::stream::pack<Quantized<8>>(ds);
    CHECK(s.words[0] == 0x4080u);
    std::int32_t a[2];
    decode_fixed(s.features(0), s.layout, a);
    CHECK(a[0] == 128);
    CHECK(a[1] == 64);
    float v[2];
    decode_values(s.features(0), s.layout, v);
    CHECK(v[0] == 1.0f);
    CHECK(v[1] == 0.5f);
  }
  SUBCASE("Q=8 [-1,1]: -1 -> level -64 -> 0xc0, 1 -> 0x40") {
    PackOptions o;
    o.range = Range::MinusOneOne;
    const auto ds = make_ds(1, 3, {-1.0f, 1.0f, -0.015625f}, {0.0f});
    const auto s = zipml::stream::pack<Quantized<8>>(ds, o);
    CHECK(s.words[0] == 0xff'40'c0u); // -1/64 -> level -1 -> 0xff
  }
  SUBCASE("Q=1 [0,1]: one bit per feature, 65 features -> 2 words") {
    std::vector<float> f(65, 0.0f);
    f[0] = 1.0f;
    f[2] = 1.0f;
    f[3] = 0.75f; // -> 1
    f[4] = 0.5f;  // tie -> 0 (even)
    f[63] = 1.0f;
    f[64] = 1.0f;
    const auto ds = make_ds(1, 65, f, {1.0f});
    const auto s = zipml::stream::pack<Quantized<1>>(ds);
    REQUIRE(s.words.size() == 3);
    CHECK(s.words[0] == (0b1101ULL | (Word{1} << 63)));
    CHECK(s.words[1] == 1u);
    CHECK(s.words[2] == 0x3f800000u);
  }
  SUBCASE("float32: feature 2k in bits 31..0, padding zero, label word") {
    const auto ds = make_ds(2, 3, {1.0f, -2.5f, 0.5f, 1.0f, 0.0f, -0.0f}, {3.0f, -1.0f});
    const auto s = zipml::stream::pack<Float32>(ds);
    REQUIRE(s.words.size() == 6);
    CHECK(s.words[0] == 0xc02000003f800000ULL);
    CHECK(s.words[1] == 0x000000003f000000ULL);
    CHECK(s.words[2] == 0x0000000040400000ULL);
    CHECK(s.words[3] == 0x000000003f800000ULL);
    CHECK(s.words[4] == 0x0000000080000000ULL); // -0.0 keeps its sign bit
    CHECK(s.words[5] == 0x00000000bf800000ULL);
    std::int32_t a[3];
    decode_fixed(s.features(0), s.layout, a);
    CHECK(a[0] == 65536);
    CHECK(a[1] == -131072); // -2.5 * 2^16 saturates to the 18-bit minimum
    CHECK(a[2] == 32768);
  }
  SUBCASE("double sampling: two copies, then the label") {
    PackOptions o;
    o.double_sampled = true;
    o.seed = 3;
    // Exact levels: stochastic rounding leaves them alone, so both copies are known.
    const auto ds = make_ds(1, 17, std::vector<float>(17, 0.5f), {5.0f});
    const auto s = zipml::stream::pack<Quantized<4, Stochastic>>(ds, o);
    REQUIRE(s.layout.double_sampled);
    REQUIRE(s.words.size() == 5); // 2 words per copy, 2 copies, label
    CHECK(s.words[0] == 0x4444444444444444ULL);
    CHECK(s.words[1] == 0x4u);
    CHECK(s.words[2] == 0x4444444444444444ULL);
    CHECK(s.words[3] == 0x4u);
    CHECK(s.words[4] == 0x40a00000u);
    CHECK(s.features(0, 1).data() == s.words.data() + 2);
  }
}

TEST_CASE("stream: row order permutes rows") {
  const std::size_t n = 5, d = 3;
  std::vector<float> f(n * d), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    f[i * d] = 1.0f;
    f[i * d + 1] = 0.125f * static_cast<float>(i);
    f[i * d + 2] = 0.3f + 0.1f * static_cast<float>(i);
    b[i] = static_cast<float>(i);
  }
  const auto ds = make_ds(n, d, f, b);
  const std::vector<std::uint32_t> order = {3, 0, 4, 4, 1};
  SUBCASE("float32") {
    PackOptions o;
    const auto plain = zipml::stream::pack<Float32>(ds, o);
    o.order = order;
    const auto perm = zipml::stream::pack<Float32>(ds, o);
    REQUIRE(perm.rows == order.size());
    for (std::size_t p = 0; p < order.size(); ++p) {
      CAPTURE(p);
      CHECK(perm.label(p) == static_cast<float>(order[p]));
      const auto a = perm.row(p), e = plain.row(order[p]);
      for (std::size_t w = 0; w < a.size(); ++w) CHECK(a[w] == e[w]);
    }
  }
  SUBCASE("stochastic: a row's rounding depends on the source row, not the position") {
    const std::uint64_t seed = 99;
    CAPTURE(seed);
    PackOptions o;
    o.seed = seed;
    o.double_sampled = true;
    const auto plain = zipml::stream::pack<Quantized<2, Stochastic>>(ds, o);
    o.order = order;
    const auto perm = zipml::stream::pack<Quantized<2, Stochastic>>(ds, o);
    for (std::size_t p = 0; p < order.size(); ++p) {
      CAPTURE(p);
      const auto a = perm.row(p), e = plain.row(order[p]);
      for (std::size_t w = 0; w < a.size(); ++w) CHECK(a[w] == e[w]);
    }
  }
  SUBCASE("an order naming a missing row is refused") {
    const std::vector<std::uint32_t> bad = {0, 5};
    PackOptions o;
    o.order = bad;
    CHECK_THROWS_AS((void)zipml::stream::pack<Float32>(ds, o), Error);
  }
}

TEST_CASE("stream: stochastic packing is deterministic per (seed, epoch) and thread-independent") {
  const std::uint64_t seed = 0xabc;
  CAPTURE(seed);
  const std::size_t n = 5000, d = 11; // >= 4096 rows, so 4 packing threads really run
  SplitMix64 rng(seed);
  std::vector<float> f(n * d), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    f[i * d] = 1.0f;
    for (std::size_t j = 1; j < d; ++j) f[i * d + j] = rng.uniform();
    b[i] = rng.uniform();
  }
  const auto ds = make_ds(n, d, f, b);
  using P = Quantized<4, Stochastic>;
  PackOptions o;
  o.seed = seed;
  o.threads = 1;
  const auto a = zipml::stream::pack<P>(ds, o);
  const auto a2 = zipml::stream::pack<P>(ds, o);
  CHECK(a.words == a2.words);
  o.threads = 4;
  const auto t4 = zipml::stream::pack<P>(ds, o);
  CHECK(t4.words == a.words);
  o.threads = 3;
  CHECK(zipml::stream::pack<P>(ds, o).words == a.words);
  o.threads = 1;
  o.seed = seed + 1;
  const auto other_seed = zipml::stream::pack<P>(ds, o);
  CHECK(other_seed.words != a.words);
  o.seed = seed;
  o.epoch = 1;
  const auto other_epoch = zipml::stream::pack<P>(ds, o);
  CHECK(other_epoch.words != a.words);
  // Rows differ from each other in a large fraction of the words (not just one).
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.words.size(); ++i) differ += a.words[i] != other_epoch.words[i] ? 1 : 0;
  CHECK(differ > a.words.size() / 4);
  // Every packed level is one of the two neighbours of a * 2^F.
  std::vector<std::int32_t> lv(d);
  for (std::size_t i = 0; i < n; ++i) {
    decode_fixed(a.features(i), a.layout, lv.data());
    for (std::size_t j = 0; j < d; ++j) {
      const double s = static_cast<double>(f[i * d + j]) * 8.0;
      if (!(lv[j] == static_cast<std::int32_t>(std::floor(s)) || lv[j] == static_cast<std::int32_t>(std::ceil(s)))) {
        INFO("row ", i, " feature ", j, " a*8=", s, " level=", lv[j]);
        CHECK(false);
      }
    }
  }
  SUBCASE("double sampling: the two copies are independent, each deterministic") {
    o.double_sampled = true;
    o.threads = 1;
    const auto ds1 = zipml::stream::pack<P>(ds, o);
    o.threads = 4;
    const auto ds4 = zipml::stream::pack<P>(ds, o);
    CHECK(ds1.words == ds4.words);
    std::size_t same = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto c0 = ds1.features(i, 0), c1 = ds1.features(i, 1);
      same += std::equal(c0.begin(), c0.end(), c1.begin()) ? 1 : 0;
    }
    CHECK(same < n / 10);
  }
}

TEST_CASE("stream: packing errors name the place and the value") {
  SUBCASE("NaN feature") {
    const auto ds = make_ds(3, 4,
                            {1, 0.5f, 0.5f, 0.5f, 1, 0.5f, 0.5f, 0.5f, 1, 0.5f, 0.5f,
                             std::numeric_limits<float>::quiet_NaN()},
                            {0, 0, 0}, "train.libsvm");
    const std::string m = message_of([&] { (void)zipml::stream::pack<Quantized<4>>(ds); });
    INFO(m);
    CHECK(contains(m, "train.libsvm"));
    CHECK(contains(m, "row 3"));
    CHECK(contains(m, "feature 3"));
    CHECK(contains(m, "nan"));
    const std::string m32 = message_of([&] { (void)zipml::stream::pack<Float32>(ds); });
    CHECK(contains(m32, "row 3"));
    CHECK(contains(m32, "feature 3"));
  }
  SUBCASE("infinite feature") {
    const auto ds = make_ds(2, 3, {1, 0.5f, 0.5f, 1, std::numeric_limits<float>::infinity(), 0.0f}, {0, 0}, "x.csv");
    const std::string m = message_of([&] { (void)zipml::stream::pack<Float32>(ds); });
    INFO(m);
    CHECK(contains(m, "x.csv"));
    CHECK(contains(m, "row 2"));
    CHECK(contains(m, "feature 1"));
    CHECK(contains(m, "inf"));
  }
  SUBCASE("NaN label") {
    const auto ds = make_ds(2, 2, {1, 0.5f, 1, 0.5f}, {0.0f, std::numeric_limits<float>::quiet_NaN()}, "lab");
    const std::string m = message_of([&] { (void)zipml::stream::pack<Float32>(ds); });
    INFO(m);
    CHECK(contains(m, "lab"));
    CHECK(contains(m, "row 2"));
    CHECK(contains(m, "label"));
    CHECK(contains(m, "nan"));
  }
  SUBCASE("value outside the quantizer's range") {
    const auto ds = make_ds(2, 3, {1, 0.5f, 0.25f, 1, 1.5f, 0.0f}, {0, 0}, "scaled");
    const std::string m = message_of([&] { (void)zipml::stream::pack<Quantized<8>>(ds); });
    INFO(m);
    CHECK(contains(m, "scaled"));
    CHECK(contains(m, "row 2"));
    CHECK(contains(m, "feature 1"));
    CHECK(contains(m, "1.5"));
    CHECK(contains(m, "[0, 1]"));
    // -0.25 is fine in [-1, 1] but not in [0, 1].
    const auto neg = make_ds(1, 2, {1, -0.25f}, {0});
    CHECK_THROWS_AS((void)zipml::stream::pack<Quantized<2>>(neg), Error);
    PackOptions o;
    o.range = Range::MinusOneOne;
    CHECK_NOTHROW((void)zipml::stream::pack<Quantized<2>>(neg, o));
    const auto below = make_ds(1, 2, {1, -1.0001f}, {0}, "b");
    const std::string mb = message_of([&] { (void)zipml::stream::pack<Quantized<2>>(below, o); });
    CHECK(contains(mb, "[-1, 1]"));
    CHECK(contains(mb, "-1.0001"));
  }
  SUBCASE("1-bit with [-1, 1]") {
    const auto ds = make_ds(1, 2, {1, 0.0f}, {0});
    PackOptions o;
    o.range = Range::MinusOneOne;
    const std::string m = message_of([&] { (void)zipml::stream::pack<Quantized<1>>(ds, o); });
    INFO(m);
    CHECK(contains(m, "1-bit"));
    CHECK(contains(m, "[-1, 1]"));
  }
  SUBCASE("double sampling with Nearest") {
    const auto ds = make_ds(1, 2, {1, 0.3f}, {0});
    PackOptions o;
    o.double_sampled = true;
    const std::string m = message_of([&] { (void)zipml::stream::pack<Quantized<4, Nearest>>(ds, o); });
    INFO(m);
    CHECK(contains(m, "double sampling"));
    CHECK(contains(m, "stochastic"));
    CHECK_THROWS_AS((void)zipml::stream::pack<Float32>(ds, o), Error);
  }
  SUBCASE("empty data set") {
    Dataset ds;
    ds.features = xt::zeros<float>({std::size_t{0}, std::size_t{3}});
    ds.labels = xt::zeros<float>({std::size_t{0}});
    ds.source = "empty.libsvm";
    const std::string m = message_of([&] { (void)zipml::stream::pack<Quantized<2>>(ds); });
    INFO(m);
    CHECK(contains(m, "empty.libsvm"));
    CHECK(contains(m, "no samples"));
    ds.source.clear();
    CHECK(contains(message_of([&] { (void)zipml::stream::pack<Float32>(ds); }), "data set"));
  }
  SUBCASE("float32 with engine_range: [-2, 2 - 2^-17) accepted, anything that would saturate refused") {
    PackOptions o;
    o.engine_range = true;
    const auto ok = make_ds(1, 3, {1, -2.0f, std::nextafter(2.0f - 0x1p-17f, 0.0f)}, {0});
    CHECK_THROWS_AS((void)zipml::stream::pack<Float32>(make_ds(1, 2, {1, 2.0f - 0x1p-17f}, {0}), o), Error);
    CHECK_NOTHROW((void)zipml::stream::pack<Float32>(ok, o));
    const auto big = make_ds(2, 3, {1, 0, 0, 1, 0, 2.0f}, {0, 0}, "big");
    const std::string m = message_of([&] { (void)zipml::stream::pack<Float32>(big, o); });
    INFO(m);
    CHECK(contains(m, "big"));
    CHECK(contains(m, "row 2"));
    CHECK(contains(m, "feature 2"));
    CHECK(contains(m, "[-2, 2 - 2^-17)"));
    const auto small = make_ds(1, 2, {1, -2.5f}, {0});
    CHECK_THROWS_AS((void)zipml::stream::pack<Float32>(small, o), Error);
    // Without engine_range the float arithmetic takes any finite value.
    o.engine_range = false;
    CHECK_NOTHROW((void)zipml::stream::pack<Float32>(big, o));
    CHECK_NOTHROW((void)zipml::stream::pack<Float32>(small, o));
  }
}

// A word equal to a command constant is a command wherever it appears in the input stream
// (docs/STREAM.md, ../shared/reference/zipml-pynq-stream.md), so a data word that happens to
// equal one would be taken for a command by the RTL engine and the board (MAGIC1 even zeroes
// the model). The host must never send such a word: pack() either refuses the data set with
// zipml::Error or produces no command word in the data region.
// A data word may equal a command constant: the original engine then misparsed it, ours frames
// every pass by row length and sample count (docs/STREAM.md), so the packer must keep the
// data exactly as it is rather than refuse or alter it. These are the words the RTL tests send.
TEST_CASE("stream: data words equal to command words are packed faithfully") {
  auto check_faithful = [](auto tag, const Dataset& ds, const PackOptions& o, const char* what) {
    using P = decltype(tag);
    INFO(std::string(what));
    const auto s = zipml::stream::pack<P>(ds, o);
    std::size_t commands = 0;
    for (std::size_t i = 0; i + 1 < s.words.size(); ++i) commands += is_command(s.words[i]);
    CHECK(commands == 1);
    std::vector<float> back(ds.dim());
    zipml::stream::decode_values(s.features(0), s.layout, back.data());
    for (std::size_t j = 0; j < ds.dim(); ++j) CHECK(back[j] == ds.features(0, j));
  };
  SUBCASE("Q=8 [-1,1]: features 8..15 = (-14, 13, 26, 15, 51, 4, -23, 57)/64 form MAGIC1") {
    std::vector<float> f(16, 0.0f);
    f[0] = 1.0f;
    const int levels[8] = {-14, 13, 26, 15, 51, 4, -23, 57};
    for (int k = 0; k < 8; ++k) f[static_cast<std::size_t>(8 + k)] = static_cast<float>(levels[k]) / 64.0f;
    const auto ds = make_ds(1, 16, f, {0.0f});
    PackOptions o;
    o.range = Range::MinusOneOne;
    check_faithful(Quantized<8>{}, ds, o, "q8 [-1,1]");
  }
  SUBCASE("Q=1: 64 binary features with THE_END's bit pattern (bit 0 = the bias)") {
    std::vector<float> f(64);
    for (std::size_t j = 0; j < 64; ++j) f[j] = static_cast<float>((kTheEnd >> j) & 1u);
    REQUIRE(f[0] == 1.0f);
    check_faithful(Quantized<1>{}, make_ds(1, 64, f, {1.0f}), PackOptions{}, "q1");
  }
  SUBCASE("float32: two features with THE_END's halves") {
    const float v = std::bit_cast<float>(0xabcdabcdu); // about -1.46e-12: a finite, in-range value
    check_faithful(Float32{}, make_ds(1, 4, {1.0f, 0.5f, v, v}, {1.0f}), PackOptions{}, "float32");
    PackOptions o;
    o.engine_range = true;
    check_faithful(Float32{}, make_ds(1, 4, {1.0f, 0.5f, v, v}, {1.0f}), o, "float32, engine range");
  }
}
