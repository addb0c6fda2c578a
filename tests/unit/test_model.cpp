// Unit tests of the losses: float slopes against finite differences of the loss, hand-checked
// loss values, the engine's integer slopes against the float ones, the engine sigmoid, and
// the concepts.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/concepts.hpp"
#include "zipml/model/l2svm.hpp"
#include "zipml/model/least_squares.hpp"
#include "zipml/model/logistic.hpp"
#include "zipml/precision/float32.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/random.hpp"

#include <xsimd/xsimd.hpp>

using zipml::L2Svm;
using zipml::LeastSquares;
using zipml::Logistic;
using zipml::SplitMix64;
namespace engine = zipml::engine;

namespace {

constexpr double kTwo23 = 8388608.0;

double sigmoid_ref(double t) { return 1.0 / (1.0 + std::exp(-t)); }

//! The engine's sigmoid written from docs/ENGINE.md §5 with knots computed here.
std::int64_t sigmoid_spec(std::int32_t dot) {
  static const auto knots = [] {
    std::array<std::int64_t, 17> y{};
    for (int k = 0; k < 17; ++k) y[static_cast<std::size_t>(k)] = std::llround(sigmoid_ref(k / 2.0) * kTwo23);
    return y;
  }();
  const std::int64_t t = dot < 0 ? -static_cast<std::int64_t>(dot) : dot;
  std::int64_t s;
  if (t >= (std::int64_t{8} << 23)) {
    s = knots[16];
  } else {
    const auto k = static_cast<std::size_t>(t >> 22);
    const std::int64_t r = t & ((std::int64_t{1} << 22) - 1);
    const std::int64_t v = (knots[k + 1] - knots[k]) * r;
    s = knots[k] + ((v + (std::int64_t{1} << 21)) >> 22);
  }
  return dot < 0 ? (std::int64_t{1} << 23) - s : s;
}

//! Central difference of a model's loss w.r.t. the dot product.
template <class M>
double fd_slope(const M& m, double dot, double label, double h = 1e-4) {
  return (m.loss(dot + h, label) - m.loss(dot - h, label)) / (2.0 * h);
}

} // namespace

TEST_CASE("model: concepts and constants") {
  static_assert(zipml::ModelPolicy<LeastSquares>);
  static_assert(zipml::ModelPolicy<zipml::L2Svm>);
  static_assert(zipml::ModelPolicy<Logistic>);
  static_assert(!zipml::ModelPolicy<int>);
  static_assert(!zipml::ModelPolicy<zipml::Float32>);
  static_assert(zipml::PrecisionPolicy<zipml::Float32>);
  static_assert(zipml::PrecisionPolicy<zipml::Quantized<2, zipml::Stochastic>>);
  static_assert(!zipml::PrecisionPolicy<int>);
  static_assert(!zipml::PrecisionPolicy<L2Svm>);
  static_assert(!LeastSquares::is_classifier);
  static_assert(L2Svm::is_classifier);
  static_assert(Logistic::is_classifier);
  static_assert(LeastSquares::loss_mode == zipml::stream::LossMode::LeastSquares);
  static_assert(L2Svm::loss_mode == zipml::stream::LossMode::L2Svm);
  static_assert(Logistic::loss_mode == zipml::stream::LossMode::Logistic);
  CHECK(LeastSquares::name == "least-squares");
  CHECK(L2Svm::name == "l2svm");
  CHECK(Logistic::name == "logistic");
  // Costs pick the class.
  const L2Svm svm{1.0f, 1.5f};
  CHECK(svm.cost(1.0f) == 1.0f);
  CHECK(svm.cost(-1.0f) == 1.5f);
  const Logistic lr{2.0f, 0.5f};
  CHECK(lr.cost(1.0f) == 2.0f);
  CHECK(lr.cost(-1.0f) == 0.5f);
  CHECK(LeastSquares{}.cost(-1.0f) == 1.0f);
  CHECK(LeastSquares{}.cost(3.0f) == 1.0f);
}

TEST_CASE("model: loss values at hand-checked points") {
  const LeastSquares ls;
  CHECK(ls.loss(3.0, 1.0) == 2.0);
  CHECK(ls.loss(-0.5, 0.5) == 0.5);
  CHECK(ls.loss(0.25, 0.25) == 0.0);
  CHECK(ls.slope(3.0f, 1.0f) == 2.0f);
  CHECK(ls.slope(-0.5f, 0.5f) == -1.0f);

  const L2Svm svm{1.0f, 1.5f};
  CHECK(svm.loss(0.0, 1.0) == 0.5);
  CHECK(svm.loss(0.0, -1.0) == 0.75);
  CHECK(svm.loss(0.5, -1.0) == doctest::Approx(0.5 * 1.5 * 2.25));
  CHECK(svm.loss(-1.0, 1.0) == 2.0);
  CHECK(svm.loss(2.0, 1.0) == 0.0);
  CHECK(svm.loss(1.0, 1.0) == 0.0);
  CHECK(svm.loss(-1.0, -1.0) == 0.0);
  CHECK(svm.loss(-3.0, -1.0) == 0.0);
  CHECK(svm.slope(0.5f, 1.0f) == -0.5f);
  CHECK(svm.slope(1.0f, 1.0f) == 0.0f);   // on the margin: not violated
  CHECK(svm.slope(-1.0f, -1.0f) == 0.0f);
  CHECK(svm.slope(-0.75f, -1.0f) == 0.25f);
  CHECK(svm.slope(2.0f, -1.0f) == 3.0f);

  const Logistic lr{1.0f, 1.5f};
  const double ln2 = std::log(2.0);
  CHECK(lr.loss(0.0, 1.0) == doctest::Approx(ln2).epsilon(1e-14));
  CHECK(lr.loss(0.0, -1.0) == doctest::Approx(1.5 * ln2).epsilon(1e-14));
  CHECK(lr.loss(2.0, 1.0) == doctest::Approx(std::log(1.0 + std::exp(-2.0))).epsilon(1e-14));
  CHECK(lr.loss(2.0, -1.0) == doctest::Approx(1.5 * std::log(1.0 + std::exp(2.0))).epsilon(1e-14));
  // Stable for large margins: no overflow to infinity.
  CHECK(lr.loss(-800.0, 1.0) == doctest::Approx(800.0).epsilon(1e-14));
  CHECK(lr.loss(800.0, -1.0) == doctest::Approx(1200.0).epsilon(1e-14));
  CHECK(lr.loss(800.0, 1.0) >= 0.0);
  CHECK(lr.loss(800.0, 1.0) < 1e-300);
  CHECK(lr.slope(0.0f, 1.0f) == -0.5f);
  CHECK(lr.slope(0.0f, -1.0f) == 0.5f);
  CHECK(lr.slope(100.0f, 1.0f) == 0.0f);
  CHECK(lr.slope(-100.0f, -1.0f) == 0.0f);
}

TEST_CASE("model: cost x slope is the derivative of the loss") {
  const std::uint64_t seed = 31337;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  const LeastSquares ls;
  const L2Svm svm{1.0f, 1.5f};
  const Logistic lr{1.0f, 1.5f};
  int svm_points = 0;
  for (int t = 0; t < 20000; ++t) {
    CAPTURE(t);
    const float dot = 12.0f * rng.uniform() - 6.0f;
    const float b = (rng() & 1u) ? 1.0f : -1.0f;
    const float real_b = 8.0f * rng.uniform() - 4.0f;
    CAPTURE(dot);
    CAPTURE(b);
    {
      const double fd = fd_slope(ls, dot, b);
      CHECK(std::abs(ls.cost(b) * ls.slope(dot, b) - fd) < 1e-6 * (1.0 + std::abs(fd)));
      const double fdr = fd_slope(ls, dot, real_b);
      CHECK(std::abs(ls.cost(real_b) * ls.slope(dot, real_b) - fdr) < 1e-6 * (1.0 + std::abs(fdr)));
    }
    if (std::abs(static_cast<double>(b) * dot - 1.0) > 1e-3) { // away from the kink
      ++svm_points;
      const double fd = fd_slope(svm, dot, b);
      CHECK(std::abs(svm.cost(b) * svm.slope(dot, b) - fd) < 1e-6 * (1.0 + std::abs(fd)));
    }
    {
      const double fd = fd_slope(lr, dot, b);
      CHECK(std::abs(lr.cost(b) * lr.slope(dot, b) - fd) < 1e-6 + 1e-5 * std::abs(fd));
    }
  }
  CHECK(svm_points > 19000);
}

//! Checks that `batched` (a SIMD batch of T at a time) gives `scalar`'s bits for every value of
//! a list of edge cases (margins b dot == 1, signed zeros, NaN, infinities, a denormal) and
//! random dots in [-3, 3], for both labels.
template <class T, class Batched, class Scalar>
void check_batched_is_scalar(std::uint64_t seed, Batched batched, Scalar scalar) {
  using B = xsimd::batch<T>;
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr std::size_t w = B::size;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  std::vector<T> dots = {T(1), T(-1), T(0), -T(0), std::nextafter(1.0f, 0.0f), std::nextafter(1.0f, 2.0f),
                         std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                         -std::numeric_limits<T>::infinity(), T(1e-40f)};
  while (dots.size() % w != 0 || dots.size() < 4096) dots.push_back(static_cast<float>(6.0 * rng.uniform() - 3.0));
  for (T b : {T(1), T(-1)})
    for (std::size_t i = 0; i < dots.size(); i += w) {
      alignas(64) T got[w];
      batched(B::load_unaligned(dots.data() + i), B(b)).store_aligned(got);
      for (std::size_t k = 0; k < w; ++k) {
        const T want = scalar(dots[i + k], b);
        CAPTURE(dots[i + k]);
        CAPTURE(b);
        CHECK(std::bit_cast<Bits>(got[k]) == std::bit_cast<Bits>(want));
      }
    }
}

TEST_CASE("model: the L2-SVM's batched slopes are its scalar slopes, bit for bit") {
  // The CPU backend's fused pass takes a sample's lanes through slopes(); the steps must be
  // those of slope().
  const L2Svm svm{1.0f, 1.5f};
  check_batched_is_scalar<float>(
      0x5101E5, [&](auto dot, auto b) { return svm.slopes(dot, b); }, [&](float dot, float b) { return svm.slope(dot, b); });
}

TEST_CASE("model: the L2-SVM's batched losses are its scalar losses, bit for bit") {
  // The fused pass sums the pass loss of a sample's lanes through losses(): the sums, and so
  // the stop rule's decisions, must be those of adding loss() lane by lane.
  const L2Svm svm{1.0f, 1.5f};
  check_batched_is_scalar<double>(
      0x1055E5, [&](auto dot, auto b) { return svm.losses(dot, b); }, [&](double dot, double b) { return svm.loss(dot, b); });
}

TEST_CASE("model: engine slopes agree with the float slopes") {
  const std::uint64_t seed = 4242;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  const LeastSquares ls;
  const L2Svm svm{1.0f, 1.5f};
  const Logistic lr{1.0f, 1.5f};
  for (int t = 0; t < 200000; ++t) {
    // Dot products in (-2, 2) so that dot - b is exact in float32 (at most 25 significant bits
    // with a 2^-23 grid and |dot - b| < 3 ... checked with a one-unit tolerance).
    const auto dq = static_cast<std::int32_t>(static_cast<std::int64_t>(rng.below(std::uint64_t{1} << 25)) - (1 << 24));
    const std::int32_t bq = (rng() & 1u) ? engine::kOne : -engine::kOne;
    const float dot = static_cast<float>(std::ldexp(static_cast<double>(dq), -23));
    const float b = bq > 0 ? 1.0f : -1.0f;
    CAPTURE(dq);
    CAPTURE(bq);
    CHECK(std::abs(static_cast<double>(LeastSquares::engine_slope(dq, bq)) - ls.slope(dot, b) * kTwo23) <= 1.0);
    CHECK(std::abs(static_cast<double>(L2Svm::engine_slope(dq, bq)) - svm.slope(dot, b) * kTwo23) <= 1.0);
    CHECK(std::abs(static_cast<double>(Logistic::engine_slope(dq, bq)) - lr.slope(dot, b) * kTwo23) <=
          0.0031 * kTwo23 + 1.0);
    // Exact values from the spec's table (docs/ENGINE.md §5).
    CHECK(LeastSquares::engine_slope(dq, bq) == static_cast<std::int64_t>(dq) - bq);
    const bool violated = bq > 0 ? dq < (1 << 23) : dq > -(1 << 23);
    CHECK(L2Svm::engine_slope(dq, bq) == (violated ? static_cast<std::int64_t>(dq) - bq : 0));
    CHECK(Logistic::engine_slope(dq, bq) == sigmoid_spec(dq) - (bq > 0 ? (1 << 23) : 0));
    // Regression labels for least squares.
    const auto rq = static_cast<std::int32_t>(static_cast<std::int64_t>(rng.below(std::uint64_t{1} << 25)) - (1 << 24));
    const float rb = static_cast<float>(std::ldexp(static_cast<double>(rq), -23));
    CHECK(std::abs(static_cast<double>(LeastSquares::engine_slope(dq, rq)) - ls.slope(dot, rb) * kTwo23) <= 1.0);
  }
  // The extremes of the 32-bit dot product: the 34-bit slope does not wrap.
  constexpr std::int32_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  CHECK(LeastSquares::engine_slope(lo, hi) == -(std::int64_t{1} << 32) + 1);
  CHECK(LeastSquares::engine_slope(hi, lo) == (std::int64_t{1} << 32) - 1);
  CHECK(L2Svm::engine_slope(lo, engine::kOne) == static_cast<std::int64_t>(lo) - engine::kOne);
  CHECK(L2Svm::engine_slope(hi, -engine::kOne) == static_cast<std::int64_t>(hi) + engine::kOne);
  CHECK(Logistic::engine_slope(lo, engine::kOne) == 8388608 - 8385795 - 8388608);
  CHECK(Logistic::engine_slope(hi, -engine::kOne) == 8385795);
}

TEST_CASE("model: the L2-SVM margin test at exactly dot = +-1") {
  constexpr std::int32_t one = 1 << 23;
  // B > 0: violated iff dot < 2^23.
  CHECK(L2Svm::engine_slope(one, one) == 0);
  CHECK(L2Svm::engine_slope(one - 1, one) == -1);
  CHECK(L2Svm::engine_slope(one + 1, one) == 0);
  CHECK(L2Svm::engine_slope(-one, one) == -2 * std::int64_t{one});
  // B <= 0: violated iff dot > -2^23.
  CHECK(L2Svm::engine_slope(-one, -one) == 0);
  CHECK(L2Svm::engine_slope(-one + 1, -one) == 1);
  CHECK(L2Svm::engine_slope(-one - 1, -one) == 0);
  CHECK(L2Svm::engine_slope(one, -one) == 2 * std::int64_t{one});
  CHECK(L2Svm::engine_slope(0, 0) == 0);          // B = 0 counts as negative: 0 > -1, violated, 0 - 0
  CHECK(L2Svm::engine_slope(5, 0) == 5);
  CHECK(L2Svm::engine_slope(-one, 0) == 0);
  // The float slope agrees on the margin.
  const L2Svm svm;
  CHECK(svm.slope(1.0f, 1.0f) == 0.0f);
  CHECK(svm.slope(-1.0f, -1.0f) == 0.0f);
  CHECK(svm.slope(std::nextafter(1.0f, 0.0f), 1.0f) < 0.0f);
  CHECK(svm.slope(std::nextafter(-1.0f, 0.0f), -1.0f) > 0.0f);
}

TEST_CASE("model: the engine sigmoid") {
  SUBCASE("knot table") {
    for (std::size_t k = 0; k < 17; ++k) {
      CAPTURE(k);
      CHECK(engine::kSigmoidKnots[k] == std::llround(sigmoid_ref(static_cast<double>(k) / 2.0) * kTwo23));
      // On a knot the chord is exact.
      const auto t = static_cast<std::int32_t>(k << 22);
      CHECK(engine::sigmoid(t) == engine::kSigmoidKnots[k]);
    }
  }
  SUBCASE("accuracy and symmetry on [-12, 12]") {
    double worst = 0.0;
    std::int32_t prev = engine::sigmoid(-12 * (1 << 23));
    for (std::int64_t t = -12 * (std::int64_t{1} << 23); t <= 12 * (std::int64_t{1} << 23); t += 509) {
      const auto ti = static_cast<std::int32_t>(t);
      const std::int32_t s = engine::sigmoid(ti);
      CAPTURE(ti);
      const double err = std::abs(s / kTwo23 - sigmoid_ref(static_cast<double>(t) / kTwo23));
      worst = std::max(worst, err);
      CHECK(err < 0.0031);
      CHECK(engine::sigmoid(-ti) == (1 << 23) - s);
      CHECK(s == sigmoid_spec(ti));
      CHECK(s >= prev); // monotone
      prev = s;
    }
    MESSAGE("worst sigmoid error on [-12, 12]: ", worst);
    CHECK(worst > 0.002); // the chords really are coarse (the test would notice a float sigmoid)
  }
  SUBCASE("around the knots and the ends") {
    for (std::int64_t k = 0; k <= 16; ++k)
      for (std::int64_t off : {-2, -1, 1, 2}) {
        const std::int64_t t = (k << 22) + off;
        if (t < 0) continue;
        const auto ti = static_cast<std::int32_t>(t);
        CAPTURE(ti);
        CHECK(engine::sigmoid(ti) == sigmoid_spec(ti));
        CHECK(engine::sigmoid(-ti) == sigmoid_spec(-ti));
      }
    CHECK(engine::sigmoid(0) == 4194304);
    CHECK(engine::sigmoid(8 << 23) == 8385795);
    CHECK(engine::sigmoid((8 << 23) - 1) == 8385795); // the last chord ends on Y_16
    CHECK(engine::sigmoid(std::numeric_limits<std::int32_t>::max()) == 8385795);
    CHECK(engine::sigmoid(std::numeric_limits<std::int32_t>::min()) == 8388608 - 8385795);
    CHECK(engine::sigmoid(-(8 << 23)) == 8388608 - 8385795);
    // Half way between knots 0 and 1 (t = 1/4): Y0 + round((Y1 - Y0) / 2).
    CHECK(engine::sigmoid(1 << 21) == 4194304 + (5221567 - 4194304 + 1) / 2);
  }
}
