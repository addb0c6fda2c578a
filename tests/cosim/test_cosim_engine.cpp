// zipml — the RTL engine (Verilator backend) against the CPU engine arithmetic, bit for bit:
// every loss x every precision, after every epoch (docs/ENGINE.md is the contract).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

using namespace zipml;
using cosim::compare;
using cosim::synthetic;

namespace {

constexpr std::size_t kRows = 48;
constexpr std::size_t kDim = 13; // not a multiple of any V: the last word has padding

template <class Model, class Precision>
void every_range(const std::string& what, unsigned classes, Options o, Model m, std::uint64_t seed) {
  o.range = data::Range::ZeroOne;
  compare<Model, Precision>(what + " [0,1]", synthetic(kRows, kDim, o.range, classes, seed), o, m);
  if constexpr (Precision::bits != 1) {
    o.range = data::Range::MinusOneOne;
    compare<Model, Precision>(what + " [-1,1]", synthetic(kRows, kDim, o.range, classes, seed + 1), o, m);
  }
}

template <class Model>
void every_precision(unsigned classes, Options o, Model m, std::uint64_t seed) {
  SUBCASE("float32") { every_range<Model, Float32>("float32", classes, o, m, seed); }
  SUBCASE("q1") { every_range<Model, Quantized<1>>("q1", classes, o, m, seed); }
  SUBCASE("q2") { every_range<Model, Quantized<2>>("q2", classes, o, m, seed); }
  SUBCASE("q4") { every_range<Model, Quantized<4>>("q4", classes, o, m, seed); }
  SUBCASE("q8") { every_range<Model, Quantized<8>>("q8", classes, o, m, seed); }
  SUBCASE("stochastic + double sampling") {
    Options s = o;
    s.double_sampling = true;
    s.requantize = true;
    every_range<Model, Quantized<1, Stochastic>>("q1 ds", classes, s, m, seed);
    every_range<Model, Quantized<2, Stochastic>>("q2 ds", classes, s, m, seed);
    every_range<Model, Quantized<4, Stochastic>>("q4 ds", classes, s, m, seed);
    every_range<Model, Quantized<8, Stochastic>>("q8 ds", classes, s, m, seed);
    s.double_sampling = false;
    every_range<Model, Quantized<4, Stochastic>>("q4 stochastic", classes, s, m, seed);
  }
}

Options base(float step) {
  Options o;
  o.arithmetic = Arithmetic::Engine;
  o.epochs = 4;
  o.step = step;
  return o;
}

} // namespace

TEST_CASE("cosim: least squares, every precision") { every_precision<LeastSquares>(0, base(0x1p-4f), {}, 100); }

TEST_CASE("cosim: L2-SVM (C+ = 1, C- = 1.5), every precision") {
  every_precision<L2Svm>(2, base(0x1p-5f), L2Svm{1.0f, 1.5f}, 200);
}

TEST_CASE("cosim: logistic, every precision") { every_precision<Logistic>(2, base(0x1p-3f), {}, 300); }

TEST_CASE("cosim: regularization, mini-batches, step decay, shuffling") {
  const auto ds = synthetic(kRows, kDim, data::Range::ZeroOne, 0, 400);
  SUBCASE("l2 (lambda shift)") {
    Options o = base(0x1p-4f);
    o.l2 = 0.05f;
    compare<LeastSquares, Quantized<8>>("l2", ds, o);
    compare<LeastSquares, Float32>("l2 float", ds, o);
  }
  SUBCASE("mini-batch 4 and 16") {
    Options o = base(0x1p-5f);
    o.minibatch = 4;
    compare<LeastSquares, Quantized<4>>("minibatch 4", ds, o);
    o.minibatch = 16;
    compare<LeastSquares, Float32>("minibatch 16", ds, o);
    const auto cls = synthetic(kRows, kDim, data::Range::ZeroOne, 2, 401);
    o.minibatch = 2;
    compare<L2Svm, Quantized<8>>("svm minibatch 2", cls, o, L2Svm{1.0f, 1.5f});
  }
  SUBCASE("step decay every epoch and every 2 epochs") {
    Options o = base(0x1p-3f);
    o.step_decay = true;
    o.epochs = 5;
    compare<LeastSquares, Quantized<8>>("decay 1", ds, o);
    o.decay_interval = 2;
    compare<LeastSquares, Quantized<2>>("decay 2", ds, o);
  }
  SUBCASE("shuffled every epoch") {
    Options o = base(0x1p-4f);
    o.order = Order::ShuffleEachEpoch;
    compare<LeastSquares, Quantized<8>>("shuffle", ds, o);
  }
}

TEST_CASE("cosim: one-vs-rest, three lanes (one engine each)") {
  const auto ds = synthetic(kRows, kDim, data::Range::ZeroOne, 3, 500);
  Options o = base(0x1p-5f);
  compare<L2Svm, Quantized<4>>("svm 3 classes", ds, o, L2Svm{1.0f, 1.5f});
  compare<Logistic, Float32>("logistic 3 classes", ds, o);
}

TEST_CASE("cosim: longer rows (several model lines per row)") {
  Options o = base(0x1p-8f);
  o.epochs = 3;
  compare<LeastSquares, Float32>("float32 d=301", synthetic(24, 301, data::Range::ZeroOne, 0, 600), o);
  compare<LeastSquares, Quantized<1>>("q1 d=301", synthetic(24, 301, data::Range::ZeroOne, 0, 601), o);
  o.double_sampling = true;
  compare<LeastSquares, Quantized<2, Stochastic>>("q2 ds d=301", synthetic(24, 301, data::Range::ZeroOne, 0, 602), o);
}

TEST_CASE("cosim: random input gaps and output back-pressure change nothing") {
  verilator::StreamStalls stalls{0.3, 0.5, 7};
  Options o = base(0x1p-4f);
  compare<LeastSquares, Quantized<8>>("stalls q8", synthetic(kRows, kDim, data::Range::ZeroOne, 0, 700), o, {}, stalls);
  o.double_sampling = true;
  compare<LeastSquares, Quantized<4, Stochastic>>("stalls q4 ds", synthetic(kRows, kDim, data::Range::ZeroOne, 0, 701),
                                                  o, {}, stalls);
  compare<L2Svm, Float32>("stalls float32", synthetic(kRows, kDim, data::Range::ZeroOne, 2, 702), base(0x1p-5f),
                          L2Svm{1.0f, 1.5f}, stalls);
}

namespace {

//! One random job: loss, precision, range, d (1..160), n (1..40), step, l2, mini-batch, decay,
//! order, double sampling, stalls, all drawn from `seed` (a failure names the seed).
//! Returns whether the model left zero (a few random jobs legitimately do not train).
bool random_job(std::uint64_t seed) {
  SplitMix64 rng(seed, 77);
  const unsigned loss = static_cast<unsigned>(rng.below(3));
  const unsigned prec = static_cast<unsigned>(rng.below(5)); // float32, q1, q2, q4, q8
  const bool stochastic = prec != 0 && rng.below(2) == 0;
  const std::size_t d = rng.below(4) == 0 ? 1 + rng.below(4) : 1 + rng.below(160);
  const std::size_t n = rng.below(4) == 0 ? 1 + rng.below(4) : 1 + rng.below(40);
  Options o = base(std::ldexp(1.0f, -3 - static_cast<int>(rng.below(6))));
  o.epochs = 2 + rng.below(2);
  o.range = (prec != 1 && rng.below(2) == 0) ? data::Range::MinusOneOne : data::Range::ZeroOne;
  if (rng.below(4) == 0) o.l2 = 0.01f * static_cast<float>(1 + rng.below(20));
  if (rng.below(4) == 0) o.minibatch = std::size_t{1} << rng.below(4);
  if (rng.below(4) == 0) {
    o.step_decay = true;
    o.decay_interval = 1 + static_cast<unsigned>(rng.below(2));
  }
  if (rng.below(4) == 0) o.order = Order::ShuffleEachEpoch;
  if (stochastic && rng.below(2) == 0) o.double_sampling = true;
  if (stochastic) o.requantize = rng.below(2) == 0;
  auto ds = synthetic(n, d, o.range, loss == 0 ? 0 : 2, seed);
  if (loss != 0) {
    if (n == 1) return true; // a classifier needs two classes
    bool both = false;
    for (std::size_t i = 1; i < n; ++i) both = both || ds.labels(i) != ds.labels(0);
    if (!both)
      for (std::size_t i = 0; i < n; ++i) ds.labels(i) = static_cast<float>(i % 2);
  }
  const std::string what = "random job " + std::to_string(seed) + " (d " + std::to_string(d) + ", n " +
                           std::to_string(n) + ")";
  // every third job with random idle input cycles and output back-pressure
  const verilator::StreamStalls stalls = seed % 3 == 0 ? verilator::StreamStalls{0.2, 0.3, seed} : verilator::StreamStalls{};
  std::vector<std::int32_t> last;
  auto run = [&]<class P>() {
    if (loss == 0) last = compare<LeastSquares, P>(what, ds, o, {}, stalls, false);
    else if (loss == 1) last = compare<L2Svm, P>(what, ds, o, L2Svm{1.0f, 1.5f}, stalls, false);
    else last = compare<Logistic, P>(what, ds, o, {}, stalls, false);
  };
  switch (prec) {
    case 0: run.template operator()<Float32>(); break;
    case 1: stochastic ? run.template operator()<Quantized<1, Stochastic>>() : run.template operator()<Quantized<1>>(); break;
    case 2: stochastic ? run.template operator()<Quantized<2, Stochastic>>() : run.template operator()<Quantized<2>>(); break;
    case 3: stochastic ? run.template operator()<Quantized<4, Stochastic>>() : run.template operator()<Quantized<4>>(); break;
    default: stochastic ? run.template operator()<Quantized<8, Stochastic>>() : run.template operator()<Quantized<8>>(); break;
  }
  for (auto w : last)
    if (w != 0) return true;
  return false;
}

} // namespace

TEST_CASE("cosim: 400 random jobs (tiny and odd d and n, every option)") {
  int trained = 0;
  for (std::uint64_t seed = 1; seed <= 400; ++seed) trained += random_job(seed) ? 1 : 0;
  CHECK_MESSAGE(trained >= 380, "only " << trained << " of 400 random jobs moved the model off zero");
}
