// Sgd<Model, Precision, Cpu>: convergence per model and precision, one-pass one-vs-rest,
// options and errors.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "zipml/zipml.hpp"

using namespace zipml;

namespace {

//! Features uniform in [0, 1] (bias in column 0); `classes` > 0: label = the class whose
//! random prototype weight vector scores highest; 0: regression label = a . w.
data::Dataset synthetic(std::size_t n, std::size_t d, std::size_t classes, std::uint64_t seed) {
  SplitMix64 rng(seed);
  data::Dataset ds;
  ds.source = "synthetic(seed=" + std::to_string(seed) + ")";
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  const std::size_t k = classes ? classes : 1;
  std::vector<float> w(k * d);
  for (auto& v : w) v = 2.0f * rng.uniform() - 1.0f;
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = rng.uniform();
    std::size_t best = 0;
    float best_score = -1e30f;
    for (std::size_t c = 0; c < k; ++c) {
      float s = 0.0f;
      for (std::size_t j = 1; j < d; ++j) s += w[c * d + j] * (ds.features(i, j) - 0.5f);
      if (s > best_score) best_score = s, best = c;
    }
    ds.labels(i) = classes ? static_cast<float>(best) : best_score;
  }
  return ds;
}

template <class Model, class Precision>
double train_score(const data::Dataset& ds, Arithmetic a, std::size_t epochs, float step) {
  Options o;
  o.arithmetic = a;
  o.epochs = epochs;
  o.step = step;
  o.seed = 11;
  Sgd<Model, Precision, Cpu> sgd(o);
  sgd.fit(ds);
  return sgd.score(ds);
}

//! The small multi-class jobs below: this arithmetic, step 1/64, on `threads` threads.
Options small_job(Arithmetic a, std::size_t epochs, unsigned threads) {
  Options o;
  o.arithmetic = a;
  o.epochs = epochs;
  o.step = 1.0f / 64;
  o.threads = threads;
  return o;
}

} // namespace

TEST_CASE_TEMPLATE("classifiers converge on separable data at every precision", P, Float32, Quantized<8>,
                   Quantized<4>, Quantized<2, Stochastic>, Quantized<1>) {
  const std::uint64_t seed = 3;
  INFO("seed=", seed, " precision=", P::name);
  const auto ds = synthetic(3000, 9, 2, seed);
  for (Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(to_string(a));
    const double min_acc = P::bits == 1 ? 0.75 : 0.9;
    CHECK(train_score<L2Svm, P>(ds, a, 10, 1.0f / 32) >= min_acc);
    CHECK(train_score<Logistic, P>(ds, a, 10, 1.0f / 8) >= min_acc);
  }
}

TEST_CASE_TEMPLATE("least squares fits a linear target at every precision", P, Float32, Quantized<8>,
                   Quantized<4, Stochastic>, Quantized<2, Stochastic>) {
  const std::uint64_t seed = 5;
  INFO("seed=", seed, " precision=", P::name);
  const auto ds = synthetic(4000, 7, 0, seed);
  double var = 0.0, mean = 0.0;
  for (float y : ds.labels) mean += y;
  mean /= static_cast<double>(ds.size());
  for (float y : ds.labels) var += (y - mean) * (y - mean);
  const double sd = std::sqrt(var / static_cast<double>(ds.size()));
  for (Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(to_string(a));
    const double rmse = train_score<LeastSquares, P>(ds, a, 20, 1.0f / 32);
    CAPTURE(rmse);
    CAPTURE(sd);
    CHECK(rmse < (P::bits >= 4 ? 0.15 : 0.35) * sd);
  }
}

TEST_CASE("one pass over K lanes gives the same models as K binary runs") {
  const std::uint64_t seed = 9;
  INFO("seed=", seed);
  // On one thread, K = 4: one block of lanes, ordered in registers with AVX-512; 12: two
  // blocks; 20: the lanes ordered by the bit-mask loop and the steps computed per lane.
  for (std::size_t k : {4, 12, 20}) {
    CAPTURE(k);
    const auto ds = synthetic(600, 13, k, seed);
    for (Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
      CAPTURE(to_string(a));
      const Options o = small_job(a, 3, 1);
      Sgd<L2Svm, Quantized<4>, Cpu> all(o, L2Svm{1.0f, 1.5f}, Cpu{1});
      all.fit(ds);
      REQUIRE(all.classes().size() == k);
      for (std::size_t c = 0; c < k; ++c) {
        Options oc = o;
        oc.positive_label = static_cast<float>(c);
        Sgd<L2Svm, Quantized<4>, Cpu> one(oc, L2Svm{1.0f, 1.5f}, Cpu{1});
        one.fit(ds);
        for (std::size_t j = 0; j < ds.dim(); ++j) {
          CAPTURE(c);
          CAPTURE(j);
          CHECK(one.weights()(0, j) == all.weights()(c, j));
        }
      }
    }
  }
}

//! Trains the same job on t1 and on t2 threads (lanes split between them), in both
//! arithmetics: the models must be equal, since lanes never interact.
template <class P, class M>
void check_thread_split(const data::Dataset& ds, const M& model, unsigned t1, unsigned t2, std::size_t min_lanes) {
  for (Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(to_string(a));
    Options o = small_job(a, 2, t1);
    Sgd<M, P, Cpu> one(o, model, Cpu{t1});
    one.fit(ds);
    REQUIRE(one.classes().size() >= min_lanes);
    o.threads = t2;
    Sgd<M, P, Cpu> other(o, model, Cpu{t2});
    other.fit(ds);
    CHECK(xt::all(xt::equal(one.weights(), other.weights())));
    CHECK(xt::any(xt::not_equal(one.weights(), 0.0f)));
  }
}

TEST_CASE("threads and lane splits do not change the result") {
  check_thread_split<Quantized<8, Stochastic>>(synthetic(800, 21, 5, 17), Logistic{}, 1, 3, 5);
}

TEST_CASE("more than 64 lanes: the same models on one thread as split across two") {
  // One thread orders its 65+ lanes with a pass per class, each of two threads its half of
  // them from bit masks (cpu::Lanes::arrange); the models must not depend on which.
  const std::uint64_t seed = 71;
  INFO("seed=", seed);
  check_thread_split<Quantized<4>>(synthetic(6000, 24, 70, seed), L2Svm{1.0f, 1.5f}, 1, 2, 65);
}

TEST_CASE("seeded shuffling is reproducible and changes the order") {
  const auto ds = synthetic(500, 6, 2, 23);
  auto weights = [&](Order order, std::uint64_t seed) {
    Options o;
    o.order = order;
    o.seed = seed;
    o.epochs = 2;
    o.step = 1.0f / 16;
    Sgd<L2Svm, Float32, Cpu> sgd(o);
    sgd.fit(ds);
    return xt::xtensor<float, 2>(sgd.weights());
  };
  CHECK(xt::all(xt::equal(weights(Order::Shuffle, 1), weights(Order::Shuffle, 1))));
  CHECK_FALSE(xt::all(xt::equal(weights(Order::Shuffle, 1), weights(Order::Shuffle, 2))));
  CHECK_FALSE(xt::all(xt::equal(weights(Order::Shuffle, 1), weights(Order::File, 1))));
  CHECK(xt::all(xt::equal(weights(Order::ShuffleEachEpoch, 4), weights(Order::ShuffleEachEpoch, 4))));
}

TEST_CASE("the original's settings are the defaults") {
  const Options o;
  CHECK(o.step == 0x1p-12f);
  CHECK(o.epochs == 10);
  CHECK(o.order == Order::File);
  CHECK(o.l2 == 0.0f);
  CHECK(o.minibatch == 1);
  Sgd<L2Svm, Float32, Cpu> sgd(o, L2Svm{1.0f, 1.5f});
  sgd.fit(synthetic(64, 5, 2, 1));
  const auto& c = sgd.job().config;
  CHECK(c.step_cost_pos == 0x1p-12f);
  CHECK(c.step_cost_neg == 1.5f * 0x1p-12f);
  CHECK(c.lambda_shift == 32);
  CHECK(c.binarize);
}

TEST_CASE("binary labels come back as the data set's own classes") {
  auto ds = synthetic(400, 5, 2, 29);
  for (auto& y : ds.labels) y = y == 0.0f ? 3.0f : 7.0f;
  Options o;
  o.step = 1.0f / 16;
  Sgd<L2Svm, Float32, Cpu> sgd(o);
  sgd.fit(ds);
  const auto pred = sgd.predict(ds);
  std::size_t right = 0;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    REQUIRE((pred(i) == 3.0f || pred(i) == 7.0f));
    right += pred(i) == ds.labels(i);
  }
  CHECK(static_cast<double>(right) / static_cast<double>(ds.size()) == doctest::Approx(sgd.score(ds)));
}

TEST_CASE("step decay and mini-batches reach the configuration words") {
  const auto ds = synthetic(256, 5, 2, 31);
  Options o;
  o.step_decay = true;
  o.decay_interval = 3;
  o.minibatch = 8;
  o.l2 = 1.0f / 16;
  o.step = 1.0f / 64;
  Sgd<L2Svm, Float32, Cpu> sgd(o);
  sgd.fit(ds);
  const auto& c = sgd.job().config;
  CHECK(c.step_decay);
  CHECK(c.decay_interval == 3);
  CHECK(c.minibatch_mask == 7);
  CHECK(c.lambda_shift == 10); // step x l2 = 2^-10
  CHECK(sgd.job().halvings(0) == 0);
  CHECK(sgd.job().halvings(5) == 1);
  CHECK(sgd.job().halvings(6) == 2);
}

TEST_CASE("bad options and data get clear errors") {
  const auto ds = synthetic(100, 5, 2, 37);
  auto fit_with = [&](Options o) {
    Sgd<L2Svm, Float32, Cpu> sgd(o);
    sgd.fit(ds);
  };
  Options o;
  o.step = 0.0f;
  CHECK_THROWS_WITH_AS(fit_with(o), doctest::Contains("step must be a positive number"), Error);
  o = {};
  o.minibatch = 3;
  CHECK_THROWS_WITH_AS(fit_with(o), doctest::Contains("power of two"), Error);
  o = {};
  o.arithmetic = Arithmetic::Engine;
  o.step = 1e-20f;
  CHECK_THROWS_WITH_AS(fit_with(o), doctest::Contains("outside the engine's range"), Error);
  o = {};
  o.positive_label = 42.0f;
  CHECK_THROWS_WITH_AS(fit_with(o), doctest::Contains("positive label 42"), Error);
  o = {};
  o.l2 = 1e6f;
  CHECK_THROWS_WITH_AS(fit_with(o), doctest::Contains("smaller l2"), Error);

  auto one_class = ds;
  one_class.labels.fill(1.0f);
  Sgd<L2Svm, Float32, Cpu> sgd;
  CHECK_THROWS_WITH_AS(sgd.fit(one_class), doctest::Contains("at least two classes"), Error);
  CHECK_THROWS_WITH_AS((void)sgd.predict(ds), doctest::Contains("call fit()"), Error);

  auto wrong_dim = synthetic(10, 6, 2, 1);
  CHECK_THROWS_WITH_AS(sgd.fit(ds, wrong_dim), doctest::Contains("test set has 6 features"), Error);

  data::Dataset empty;
  CHECK_THROWS_WITH_AS(sgd.fit(empty), doctest::Contains("empty"), Error);

  // A dimension the engine arithmetic cannot hold is refused before packing.
  data::Dataset wide;
  wide.source = "wide.libsvm";
  wide.features = xt::zeros<float>({std::size_t{2}, (std::size_t{1} << 15) + 1});
  wide.labels = {0.0f, 1.0f};
  Options e;
  e.arithmetic = Arithmetic::Engine;
  Sgd<L2Svm, Quantized<1>, Cpu> wide_sgd(e);
  CHECK_THROWS_WITH_AS(wide_sgd.fit(wide), doctest::Contains("exceeds the cpu backend's limit of 32768"), Error);

  // Unscaled features: the quantizer names the row, feature and value.
  auto unscaled = ds;
  unscaled.features(4, 2) = 3.5f;
  Sgd<L2Svm, Quantized<4>, Cpu> q4;
  CHECK_THROWS_WITH_AS(q4.fit(unscaled), doctest::Contains("row 5, feature 2: value 3.5"), Error);
}

TEST_CASE("divergence stops training and keeps the last good model") {
  auto ds = synthetic(300, 5, 0, 41);
  for (auto& y : ds.labels) y *= 1e30f;
  Options o;
  o.step = 100.0f;
  Sgd<LeastSquares, Float32, Cpu> sgd(o);
  CHECK_THROWS_WITH_AS(sgd.fit(ds), doctest::Contains("diverged in epoch 1"), Error);
}

TEST_CASE("regression labels the engine cannot hold are refused") {
  auto ds = synthetic(50, 4, 0, 43);
  ds.source = "years.libsvm";
  ds.labels(7) = 2001.0f;
  Options o;
  o.arithmetic = Arithmetic::Engine;
  Sgd<LeastSquares, Quantized<8>, Cpu> sgd(o);
  CHECK_THROWS_WITH_AS(sgd.fit(ds), doctest::Contains("years.libsvm: row 8: label 2001"), Error);
  o.arithmetic = Arithmetic::Float; // the float model has no such limit
  Sgd<LeastSquares, Quantized<8>, Cpu> float_sgd(o);
  CHECK_NOTHROW(float_sgd.fit(ds));
}

namespace {

//! Sgd's weights and per-epoch pass losses for one evaluation mode.
template <class Model, class Precision>
std::pair<xt::xtensor<float, 2>, History> fit_with(const data::Dataset& train, const data::Dataset* test, Options o,
                                                   Evaluation e, Model model = {}) {
  o.evaluation = e;
  Sgd<Model, Precision, Cpu> sgd(o, model);
  History h = sgd.fit(train, test);
  return {sgd.weights(), h};
}

//! Each sample's loss before its update, measured by running the backend on that one row at a
//! time: what the pass loss of a whole pass must add up to (float arithmetic, where a pass cut
//! into rows is the same pass).
template <class Model, class Precision>
double pass_loss_row_by_row(const data::Dataset& ds, const Options& o, const Model& model) {
  Options one = o;
  one.epochs = 1;
  Sgd<Model, Precision, Cpu> layout_of(one, model);
  (void)layout_of.fit(ds);
  const TrainJob& full = layout_of.job();
  const stream::PackedStream& packed = layout_of.packed();
  ModelState state;
  state.reset(o.arithmetic, full.lanes(), ds.dim());
  double total = 0.0;
  for (std::size_t i = 0; i < packed.rows; ++i) {
    stream::PackedStream row;
    row.layout = packed.layout;
    row.rows = 1;
    const auto words = packed.row(i);
    row.words.assign(words.begin(), words.end());
    TrainJob job = full;
    job.data = &row;
    job.config.samples = 1;
    job.pass_loss = true;
    const PassLoss l = Cpu{1}.run_epoch(model, job, 0, state);
    total += l.mean(1);
  }
  return total / static_cast<double>(packed.rows);
}

} // namespace

TEST_CASE("the pass loss is each sample's loss before its update, summed over lanes") {
  const std::uint64_t seed = 91;
  INFO("seed=", seed);
  const auto ds = synthetic(400, 19, 4, seed);
  Options o = small_job(Arithmetic::Float, 1, 1);
  o.evaluation = Evaluation::Pass;
  auto check_model = [&](const auto& model) {
    using M = std::decay_t<decltype(model)>;
    CAPTURE(M::name);
    const auto [w, h] = fit_with<M, Quantized<4>>(ds, nullptr, o, Evaluation::Pass, model);
    REQUIRE(h.evaluation == Evaluation::Pass);
    const double reference = pass_loss_row_by_row<M, Quantized<4>>(ds, o, model);
    CHECK(h.epochs[0].train_loss == doctest::Approx(reference).epsilon(1e-6));
    // The first sample meets the zero model: the pass loss starts at the initial loss and ends below it.
    CHECK(h.epochs[0].train_loss < h.initial_loss);
  };
  check_model(L2Svm{1.0f, 1.5f});
  check_model(Logistic{});
  Options r = o;
  const auto reg = synthetic(400, 9, 0, seed);
  const auto [w, h] = fit_with<LeastSquares, Float32>(reg, nullptr, r, Evaluation::Pass);
  CHECK(h.epochs[0].train_loss == doctest::Approx(pass_loss_row_by_row<LeastSquares, Float32>(reg, r, LeastSquares{})).epsilon(1e-6));
}

TEST_CASE("the evaluation mode changes the figures, never the model") {
  const std::uint64_t seed = 93;
  INFO("seed=", seed);
  const auto train = synthetic(600, 15, 3, seed), test = synthetic(200, 15, 3, seed + 1);
  for (const Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(to_string(a));
    const Options o = small_job(a, 3, 1);
    const auto [wp, hp] = fit_with<L2Svm, Quantized<8>>(train, &test, o, Evaluation::Pass);
    const auto [wt, ht] = fit_with<L2Svm, Quantized<8>>(train, &test, o, Evaluation::Test);
    const auto [wf, hf] = fit_with<L2Svm, Quantized<8>>(train, &test, o, Evaluation::Full);
    CHECK(wp == wf);
    CHECK(wt == wf);
    CHECK(hp.evaluation == Evaluation::Pass);
    CHECK(hf.evaluation == Evaluation::Full);
    CHECK(hp.initial_loss == doctest::Approx(hf.initial_loss).epsilon(1e-12)); // from the labels vs a pass
    for (std::size_t e = 0; e < 3; ++e) {
      CAPTURE(e);
      const bool last = e == 2;
      CHECK(hp.epochs[e].test_metric.has_value() == last);
      CHECK(ht.epochs[e].test_metric.has_value());
      CHECK(hf.epochs[e].train_metric.has_value());
      CHECK(!hp.epochs[e].train_metric.has_value()); // a test set is there: no training-set pass
      CHECK(hp.epochs[e].train_loss == ht.epochs[e].train_loss);
      CHECK(std::isfinite(hp.epochs[e].train_loss));
    }
    CHECK(*hp.epochs[2].test_metric == *hf.epochs[2].test_metric);
    // The pass loss of epoch e + 1 is taken with models between those of epochs e and e + 1:
    // on this separable set it lies between their full losses.
    CHECK(hp.epochs[1].train_loss <= hf.epochs[0].train_loss * 1.001);
    // Lanes split between threads report the same sums.
    const auto [w2, h2] = fit_with<L2Svm, Quantized<8>>(train, &test, small_job(a, 3, 2), Evaluation::Pass);
    CHECK(w2 == wp);
    for (std::size_t e = 0; e < 3; ++e) CHECK(h2.epochs[e].train_loss == hp.epochs[e].train_loss);
  }
  // Without a test set the last epoch reports the training metric, from a pass over the set.
  const auto [w, h] = fit_with<L2Svm, Float32>(train, nullptr, small_job(Arithmetic::Float, 2, 1), Evaluation::Pass);
  CHECK(!h.epochs[0].train_metric.has_value());
  REQUIRE(h.epochs[1].train_metric.has_value());
  CHECK(*h.epochs[1].train_metric > 0.8);
}

namespace {

//! fit(data set) and fit(its packed stream) with the same options: the same model, bit for bit.
template <class Model, class Precision>
void check_packed_fit(const data::Dataset& train, const data::Dataset& test, Options o) {
  CAPTURE(Precision::name);
  CAPTURE(to_string(o.arithmetic));
  if constexpr (Precision::rounding::stochastic) o.double_sampling = o.arithmetic == Arithmetic::Float;
  Sgd<Model, Precision, Cpu> from_data(o);
  const History hd = from_data.fit(train, &test);
  auto packed = Sgd<Model, Precision, Cpu>::pack_for(train, o);
  CHECK(packed.words == from_data.packed().words);
  Options as_packed = o;
  as_packed.order = Order::File; // the stream's order is its own
  Sgd<Model, Precision, Cpu> from_stream(as_packed);
  const History hs = from_stream.fit(std::move(packed), &test);
  CHECK(from_stream.weights() == from_data.weights());
  CHECK(from_stream.state().fixed == from_data.state().fixed);
  REQUIRE(hs.epochs.size() == hd.epochs.size());
  CHECK(hs.epochs.back().train_loss == hd.epochs.back().train_loss);
  CHECK(*hs.epochs.back().test_metric == *hd.epochs.back().test_metric);
}

} // namespace

TEST_CASE("a stream packed before trains the same model bit for bit, every precision and arithmetic") {
  const std::uint64_t seed = 97;
  INFO("seed=", seed);
  const auto train = synthetic(500, 13, 3, seed), test = synthetic(100, 13, 3, seed + 1);
  for (const Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    for (const Order order : {Order::File, Order::Shuffle}) {
      Options o = small_job(a, 2, 1);
      o.order = order;
      check_packed_fit<L2Svm, Float32>(train, test, o);
      check_packed_fit<L2Svm, Quantized<8>>(train, test, o);
      check_packed_fit<Logistic, Quantized<4>>(train, test, o);
      check_packed_fit<L2Svm, Quantized<2>>(train, test, o);
      check_packed_fit<L2Svm, Quantized<1>>(train, test, o);
      check_packed_fit<L2Svm, Quantized<4, Stochastic>>(train, test, o);
    }
  }
  // Full evaluation without the data set: the figures are taken on the stream's samples.
  Options o = small_job(Arithmetic::Float, 2, 1);
  o.evaluation = Evaluation::Full;
  Sgd<L2Svm, Quantized<8>, Cpu> sgd(o);
  const History h = sgd.fit(Sgd<L2Svm, Quantized<8>, Cpu>::pack_for(train, o));
  REQUIRE(h.epochs[1].train_metric.has_value());
  CHECK(*h.epochs[1].train_metric > 0.7);
  CHECK(h.epochs[1].train_loss < h.initial_loss);
}

namespace {

//! A data set's rows as a RowSource that copies each row into the caller's buffer, as
//! data::IdxImages does (whose rows test_data checks against the scaled Dataset, bit for bit).
struct CopiedRows {
  const data::Dataset* ds;
  std::size_t size() const { return ds->size(); }
  std::size_t dim() const { return ds->dim(); }
  std::string name() const { return "copied rows"; }
  const float* row(std::size_t i, float* buf) const {
    for (std::size_t j = 0; j < dim(); ++j) buf[j] = ds->features(i, j);
    return buf;
  }
  float label(std::size_t i) const { return ds->labels(i); }
};
static_assert(data::RowSource<CopiedRows>);

} // namespace

TEST_CASE("a test set given as any RowSource gives the figures of the same rows as a Dataset") {
  const std::uint64_t seed = 98;
  INFO("seed=", seed);
  const auto train = synthetic(400, 13, 3, seed), test = synthetic(150, 13, 3, seed + 1);
  const CopiedRows rows{&test};
  for (const Evaluation ev : {Evaluation::Pass, Evaluation::Test}) {
    Options o = small_job(Arithmetic::Float, 3, 1);
    o.evaluation = ev;
    Sgd<L2Svm, Quantized<4>, Cpu> a(o), b(o), c(o);
    const History ha = a.fit(train, test);
    const History hb = b.fit(train, rows);
    const History hc = c.fit(Sgd<L2Svm, Quantized<4>, Cpu>::pack_for(train, o), rows);
    CHECK(b.weights() == a.weights());
    CHECK(c.weights() == a.weights());
    REQUIRE(hb.epochs.size() == ha.epochs.size());
    for (std::size_t e = 0; e < ha.epochs.size(); ++e) {
      CAPTURE(e);
      CHECK(hb.epochs[e].test_metric == ha.epochs[e].test_metric);
      CHECK(hc.epochs[e].test_metric == ha.epochs[e].test_metric);
    }
    // the decision values of both forms, bit for bit
    CHECK(a.linear_model().decision(rows, 2) == a.decision(test));
  }
  // a test set of the wrong width is named in the error
  const auto narrow = synthetic(20, 9, 3, seed + 2);
  Sgd<L2Svm, Float32, Cpu> sgd(small_job(Arithmetic::Float, 1, 1));
  CHECK_THROWS_WITH_AS(sgd.fit(train, CopiedRows{&narrow}),
                       "copied rows: test set has 9 features (with bias) but the training set has 13", Error);
}

TEST_CASE("a packed stream that does not fit the trainer is refused, saying why") {
  const auto train = synthetic(100, 7, 2, 99);
  Options o = small_job(Arithmetic::Float, 1, 1);
  using Q4 = Sgd<L2Svm, Quantized<4>, Cpu>;
  using Q8 = Sgd<L2Svm, Quantized<8>, Cpu>;
  using F32 = Sgd<L2Svm, Float32, Cpu>;
  auto q4 = [&] { return Q4::pack_for(train, o); };
  CHECK_THROWS_WITH_AS(Q8(o).fit(q4()), doctest::Contains("q4, the trainer's precision is q8"),
                       Error);
  Options mm = o;
  mm.range = data::Range::MinusOneOne;
  CHECK_THROWS_WITH_AS(Q4(mm).fit(q4()), doctest::Contains("[0, 1], the options say [-1, 1]"),
                       Error);
  Options shuffled = o;
  shuffled.order = Order::ShuffleEachEpoch;
  CHECK_THROWS_WITH_AS(Q4(shuffled).fit(q4()), doctest::Contains("order and quantization were fixed"),
                       Error);
  auto cut = q4();
  cut.words.resize(cut.words.size() - 1);
  CHECK_THROWS_WITH_AS(Q4(o).fit(std::move(cut)), doctest::Contains("words, but 100 rows"), Error);
  // float32 for the engine: features beyond its 18 bits, in a stream packed for the float arithmetic
  auto wide = train;
  wide.features(5, 3) = 3.0f;
  auto f32 = F32::pack_for(wide, o);
  Options eng = o;
  eng.arithmetic = Arithmetic::Engine;
  CHECK_THROWS_WITH_AS(F32(eng).fit(std::move(f32)), doctest::Contains("row 6, feature 3: value 3"),
                       Error);
}

TEST_CASE("a warm start continues training: one epoch after another is the two-epoch model, bit for bit") {
  const std::uint64_t seed = 131;
  INFO("seed=", seed);
  const auto train = synthetic(400, 11, 3, seed);
  for (const Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    INFO("arithmetic ", to_string(a));
    Options two = small_job(a, 2, 1), one = small_job(a, 1, 1);
    Sgd<L2Svm, Quantized<4>, Cpu> whole(two), first(one), second(one);
    whole.fit(train);
    first.fit(train);
    second.start_from(first.state());
    const History h = second.fit(train);
    CHECK(second.state().fixed == whole.state().fixed);
    CHECK(second.state().real == whole.state().real);
    // the starting loss is the warm model's, not the zero model's
    CHECK(h.initial_loss < first.fit(train).initial_loss);
    // used once: the next fit starts from zero again
    second.fit(train);
    CHECK(second.state().fixed == first.state().fixed);
    CHECK(second.state().real == first.state().real);
  }
}

TEST_CASE("a warm start that does not fit the job is refused, saying why") {
  const auto train = synthetic(200, 9, 3, 132);
  Sgd<L2Svm, Float32, Cpu> sgd(small_job(Arithmetic::Float, 1, 1));
  ModelState m;
  m.reset(Arithmetic::Engine, 3, 9);
  sgd.start_from(m);
  CHECK_THROWS_WITH_AS(sgd.fit(train), doctest::Contains("trained with the engine arithmetic"), Error);
  m.reset(Arithmetic::Float, 2, 9);
  sgd.start_from(m);
  CHECK_THROWS_WITH_AS(sgd.fit(train), doctest::Contains("2 lanes of 9 weights, this job trains 3 lanes of 9"), Error);
}

TEST_CASE("fixed classes: a batch with only some of them trains a lane for each; a label outside is refused") {
  const std::uint64_t seed = 133;
  INFO("seed=", seed);
  auto train = synthetic(300, 9, 3, seed);
  // keep the rows of classes 0 and 1 only
  std::vector<std::size_t> keep;
  for (std::size_t i = 0; i < train.size(); ++i)
    if (train.labels(i) != 2.0f) keep.push_back(i);
  data::Dataset part;
  part.source = "two classes";
  part.features = xt::zeros<float>({keep.size(), train.dim()});
  part.labels = xt::zeros<float>({keep.size()});
  for (std::size_t r = 0; r < keep.size(); ++r) {
    for (std::size_t j = 0; j < train.dim(); ++j) part.features(r, j) = train.features(keep[r], j);
    part.labels(r) = train.labels(keep[r]);
  }
  Sgd<L2Svm, Float32, Cpu> sgd(small_job(Arithmetic::Float, 1, 1));
  sgd.set_classes({2.0f, 0.0f, 1.0f, 1.0f});
  sgd.fit(part);
  CHECK(sgd.classes() == std::vector<float>{0.0f, 1.0f, 2.0f});
  CHECK(sgd.weights().shape(0) == 3);
  sgd.set_classes({0.0f, 1.0f});
  CHECK_THROWS_WITH_AS(sgd.fit(train), doctest::Contains("is not one of the 2 classes given"), Error);
  CHECK_THROWS_AS(sgd.set_classes({0.0f, std::nanf("")}), Error);
}

namespace {

//! Features on the 2-bit grid {0, 1/2, 1}: every precision's levels hold them exactly.
data::Dataset on_grid(std::size_t n, std::size_t d, std::uint64_t seed) {
  auto ds = synthetic(n, d, 3, seed);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = std::round(2.0f * ds.features(i, j)) / 2.0f;
  return ds;
}

template <class P>
ModelState chained_epoch(const stream::PlaneStream& planes, const Options& o, const ModelState* from) {
  Sgd<L2Svm, P, Cpu> sgd(o);
  if (from != nullptr) sgd.start_from(*from);
  sgd.fit(stream::extract(planes, P::bits));
  return sgd.state();
}

bool same_state(const ModelState& a, const ModelState& b) {
  return a.lanes == b.lanes && a.dim == b.dim && a.real == b.real && a.fixed == b.fixed;
}

} // namespace

TEST_CASE("a precision schedule trains epoch by epoch on the top planes of one bit-plane copy") {
  const std::uint64_t seed = 121;
  INFO("seed=", seed);
  using S = Stochastic;
  for (const Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(a == Arithmetic::Float);
    Options o = small_job(a, 1, 1);
    o.seed = seed;
    // One precision throughout, on data its levels hold: the ordinary Q-bit run, bit for bit.
    const auto grid = on_grid(400, 13, seed);
    Options fixed2 = o;
    fixed2.epochs = 3;
    Sgd<L2Svm, Quantized<2, S>, Cpu> plain(fixed2);
    const History hp = plain.fit(grid);
    Options sched2 = fixed2;
    sched2.schedule.bits = {2};
    Sgd<L2Svm, Quantized<8, S>, Cpu> planed(sched2);
    const History hs = planed.fit(grid);
    CHECK(same_state(plain.state(), planed.state()));
    REQUIRE(hs.epochs.size() == 3);
    for (std::size_t e = 0; e < 3; ++e) {
      CHECK(hs.epochs[e].train_loss == hp.epochs[e].train_loss);
      CHECK(hs.epochs[e].precision == 2);
      CHECK(hp.epochs[e].precision == 2);
    }
    // 1, 2, 4, 8 bits: the same as four one-epoch runs on the extracted streams, each warm-started
    // from the one before (any data: the extractions are what the epochs read).
    const auto train = synthetic(600, 17, 3, seed);
    stream::PackOptions po;
    po.seed = seed;
    const auto planes = stream::pack_planes<Quantized<8, S>>(train, po);
    const ModelState m1 = chained_epoch<Quantized<1, S>>(planes, o, nullptr);
    const ModelState m2 = chained_epoch<Quantized<2, S>>(planes, o, &m1);
    const ModelState m4 = chained_epoch<Quantized<4, S>>(planes, o, &m2);
    const ModelState m8 = chained_epoch<Quantized<8, S>>(planes, o, &m4);
    Options s = o;
    s.epochs = 4;
    s.schedule.bits = {1, 2, 4, 8};
    Sgd<L2Svm, Quantized<8, S>, Cpu> from_data(s), from_planes(s);
    const History h = from_data.fit(train);
    CHECK(same_state(from_data.state(), m8));
    from_planes.fit(planes);
    CHECK(same_state(from_planes.state(), m8));
    REQUIRE(h.epochs.size() == 4);
    CHECK(h.epochs[0].precision == 1);
    CHECK(h.epochs[1].precision == 2);
    CHECK(h.epochs[2].precision == 4);
    CHECK(h.epochs[3].precision == 8);
    CHECK(h.epochs[3].train_loss < h.initial_loss);
  }
}

TEST_CASE("the automatic schedule raises the precision when an epoch's loss stalls") {
  const std::uint64_t seed = 122;
  INFO("seed=", seed);
  const auto train = synthetic(800, 17, 3, seed);
  for (const double rise : {1e-9, 0.02, 0.9}) {
    CAPTURE(rise);
    Options o = small_job(Arithmetic::Float, 7, 1);
    o.schedule.automatic = true;
    o.schedule.rise = rise;
    Sgd<L2Svm, Quantized<8, Stochastic>, Cpu> sgd(o);
    const History h = sgd.fit(train);
    REQUIRE(h.epochs.size() == 7);
    CHECK(h.epochs[0].precision == 1);
    double before = h.initial_loss;
    for (std::size_t e = 0; e + 1 < h.epochs.size(); ++e) {
      const auto& st = h.epochs[e];
      const bool stalled = before - st.train_loss < rise * before;
      CHECK(h.epochs[e + 1].precision == (stalled && st.precision < 8 ? 2 * st.precision : st.precision));
      before = st.train_loss;
    }
    if (rise == 0.9) CHECK(h.epochs[3].precision == 8); // every epoch stalls by this measure
  }
  // the plateau rule stops only at the last precision
  Options o = small_job(Arithmetic::Float, 8, 1);
  o.schedule.bits = {1, 1, 1, 8};
  o.tol = 0.9;
  o.patience = 1;
  Sgd<L2Svm, Quantized<8>, Cpu> sgd(o);
  const History h = sgd.fit(train);
  CHECK(h.converged);
  CHECK(h.epochs.size() == 5);
  CHECK(h.epochs.back().precision == 8);
}

TEST_CASE("a precision schedule the samples cannot give is refused, saying why") {
  const auto train = synthetic(100, 5, 2, 123);
  Options o = small_job(Arithmetic::Float, 2, 1);
  o.schedule.bits = {1, 8};
  {
    Sgd<L2Svm, Float32, Cpu> sgd(o);
    CHECK_THROWS_WITH_AS(sgd.fit(train), doctest::Contains("bit planes of quantized levels, not float32"), Error);
  }
  {
    Sgd<L2Svm, Quantized<4>, Cpu> sgd(o);
    CHECK_THROWS_WITH_AS(sgd.fit(train), doctest::Contains("8 bits, but the samples are packed as 4-bit levels"), Error);
  }
  {
    Sgd<L2Svm, Quantized<8>, Cpu> sgd(o);
    CHECK_THROWS_WITH_AS(sgd.fit(Sgd<L2Svm, Quantized<8>, Cpu>::pack_for(train, o)),
                         doctest::Contains("a precision schedule trains on bit planes"), Error);
    Options shuffled = o;
    shuffled.order = Order::ShuffleEachEpoch;
    Sgd<L2Svm, Quantized<8>, Cpu> sgd2(shuffled);
    CHECK_THROWS_WITH_AS(sgd2.fit(train), doctest::Contains("cannot be shuffled or re-quantized every epoch"), Error);
  }
  {
    Options mm = o;
    mm.range = data::Range::MinusOneOne;
    Sgd<L2Svm, Quantized<8>, Cpu> sgd(mm);
    CHECK_THROWS_WITH_AS(sgd.fit(train), doctest::Contains("1 bit cannot represent features in [-1, 1]"), Error);
  }
  {
    Options bad = o;
    bad.schedule.bits = {1, 3};
    CHECK_THROWS_WITH_AS(check(bad), doctest::Contains("3 bits: each epoch's precision is 1, 2, 4 or 8 bits"), Error);
    bad.schedule.bits.clear();
    bad.schedule.automatic = true;
    bad.schedule.rise = 1.5;
    CHECK_THROWS_WITH_AS(check(bad), doctest::Contains("rise must be in (0, 1), got 1.5"), Error);
  }
  {
    // a bit-plane stream of other levels than the trainer's
    const auto planes = stream::pack_planes<Quantized<4, Stochastic>>(train);
    Options none = small_job(Arithmetic::Float, 1, 1);
    Sgd<L2Svm, Quantized<8, Stochastic>, Cpu> sgd(none);
    CHECK_THROWS_WITH_AS(sgd.fit(planes), doctest::Contains("its levels are 4-bit, the trainer's precision is q8"),
                         Error);
    Sgd<L2Svm, Quantized<4>, Cpu> nearest(none);
    CHECK_THROWS_WITH_AS(nearest.fit(planes), doctest::Contains("rounded stochastically"), Error);
  }
}
