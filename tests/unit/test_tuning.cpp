// zipml/tuning/: the defaults chosen from the data (step, scaling, order, stopping), the
// classifier's refusal of regression labels, and Sgd's tol stop.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "zipml/zipml.hpp"

using namespace zipml;

namespace {

//! n rows of d - 1 features from `value(i, j)`, bias in column 0, labels from `label(i)`.
template <class V, class L>
data::Dataset make(std::size_t n, std::size_t d, V value, L label) {
  data::Dataset ds;
  ds.source = "made.libsvm";
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = value(i, j);
    ds.labels(i) = label(i);
  }
  return ds;
}

//! Two classes separated by feature 1 (noisy), features uniform in [0, 1]: seeded.
data::Dataset two_blobs(std::size_t n, std::uint64_t seed) {
  SplitMix64 rng(seed);
  return make(
      n, 4, [&](std::size_t, std::size_t) { return rng.uniform(); },
      [](std::size_t i) { return static_cast<float>(i % 2); });
}

} // namespace

TEST_SUITE("step") {
  TEST_CASE("1/16 of 1/L as a power of two: the original's 2^-12 on Fashion-MNIST's norms") {
    Options o;
    L2Svm svm;
    svm.cost_neg = 1.5f;
    // Fashion-MNIST, rows scaled to [0, 1], bias included: E||x||^2 = 162.9.
    CHECK(tuning::step_for(162.9, svm, o).step == 0x1p-12f);
    // The logistic loss curves a quarter as much: four times the step.
    Logistic lr;
    lr.cost_neg = 1.5f;
    CHECK(tuning::step_for(162.9, lr, o).step == 0x1p-10f);
    CHECK(tuning::step_for(4.0, LeastSquares{}, o).step == 0x1p-6f);
    // Mini-batches sum their gradients: the step shrinks with the batch.
    o.minibatch = 8;
    CHECK(tuning::step_for(4.0, LeastSquares{}, o).step == 0x1p-9f);
  }

  TEST_CASE("the engine's range holds at both ends") {
    Options o;
    L2Svm svm;
    svm.cost_pos = 4.0f;
    const float tiny = tuning::step_for(1e30, svm, o).step;
    CHECK(tiny == 0x1p-34f);
    CHECK(engine::step_factor_ok(tiny));
    o.minibatch = 1;
    const auto huge = tuning::step_for(1.0, svm, o); // 1/16 -> 2^-4 x 4 is far inside
    CHECK(engine::step_factor_ok(huge.step * 4.0f));
    svm.cost_neg = 1e-12f; // step x cost_neg must stay >= 2^-34: clamped up
    CHECK(tuning::step_for(1e30, svm, o).step * svm.cost_neg >= 0x1p-34f * 0.999f);
  }

  TEST_CASE("stochastic rounding adds its variance to the norm, nearest does not") {
    // One feature of 0.3 in [0, 1]: q1 levels are 0 and 1, so stochastic rounding adds
    // 0.3 x 0.7 = 0.21; q4 (levels 1/8 apart): (0.3 - 0.25) x (0.375 - 0.3) = 0.00375.
    const auto ds = make(3, 2, [](std::size_t, std::size_t) { return 0.3f; }, [](std::size_t i) { return float(i % 2); });
    const double plain = 1.0 + 0.09;
    CHECK(tuning::mean_sq_norm<Float32>(ds, data::Range::ZeroOne) == doctest::Approx(plain).epsilon(1e-6));
    CHECK(tuning::mean_sq_norm<Quantized<1>>(ds, data::Range::ZeroOne) == doctest::Approx(plain).epsilon(1e-6));
    CHECK(tuning::mean_sq_norm<Quantized<1, Stochastic>>(ds, data::Range::ZeroOne) ==
          doctest::Approx(plain + 0.21).epsilon(1e-6));
    CHECK(tuning::mean_sq_norm<Quantized<4, Stochastic>>(ds, data::Range::ZeroOne) ==
          doctest::Approx(plain + 0.05 * 0.075).epsilon(1e-5));
    CHECK_FALSE(tuning::norm_depends_on_precision<Quantized<4, Nearest>>);
    CHECK(tuning::norm_depends_on_precision<Quantized<4, Stochastic>>);
  }
}

TEST_SUITE("stopping") {
  TEST_CASE("epoch budget: 10 for Fashion-MNIST, up to 1000 for small tables") {
    CHECK(tuning::auto_epochs(60000) == 10);
    CHECK(tuning::auto_epochs(6000) == 100);
    CHECK(tuning::auto_epochs(203) == 1000);
    CHECK(tuning::auto_epochs(10'000'000) == 10);
    CHECK(tuning::auto_epochs(0) == 10);
  }

  TEST_CASE("the plateau rule waits `patience` epochs without a tol-sized gain") {
    tuning::LossPlateau p(0.01, 3);
    CHECK_FALSE(p.stop_after(1.0));
    CHECK_FALSE(p.stop_after(0.9));   // a gain of 10 %
    CHECK_FALSE(p.stop_after(0.899)); // 0.1 %: stale 1
    CHECK_FALSE(p.stop_after(0.95));  // worse: stale 2
    CHECK_FALSE(p.stop_after(0.85));  // a real gain again: the count restarts
    CHECK_FALSE(p.stop_after(0.849));
    CHECK_FALSE(p.stop_after(0.848));
    CHECK(p.stop_after(0.847));
    tuning::LossPlateau never(0.0, 1);
    for (int i = 0; i < 10; ++i) CHECK_FALSE(never.stop_after(1.0));
    CHECK(tuning::last_relative_drop(2.0, 1.5) == doctest::Approx(0.25));
    CHECK(tuning::last_relative_drop(1.0, 1.5) == 0.0);
  }

  TEST_CASE("Sgd stops at the plateau, says so, and the same on the engine arithmetic") {
    const auto ds = two_blobs(400, 7);
    INFO("seed=7");
    for (auto a : {Arithmetic::Float, Arithmetic::Engine}) {
      Options o;
      o.arithmetic = a;
      o.step = 0x1p-6f;
      o.epochs = 500;
      o.tol = 1e-3;
      Sgd<L2Svm, Quantized<4>, Cpu> sgd(o);
      const auto h = sgd.fit(ds);
      CHECK(h.converged);
      CHECK(h.epochs.size() < 500);
      CHECK(h.epochs.size() > o.patience);
      o.tol = 0.0;
      o.epochs = 20;
      Sgd<L2Svm, Quantized<4>, Cpu> fixed(o);
      const auto hf = fixed.fit(ds);
      CHECK_FALSE(hf.converged);
      CHECK(hf.epochs.size() == 20);
    }
    Options bad;
    bad.tol = 1.5;
    Sgd<L2Svm, Float32, Cpu> sgd(bad);
    CHECK_THROWS_WITH_AS(sgd.fit(ds), doctest::Contains("tol must be in [0, 1), got 1.5"), Error);
  }
}

TEST_SUITE("scaling and order") {
  TEST_CASE("auto scaling: images by rows, tables by columns, scaled data as it is") {
    const auto wide = make(4, 3, [](std::size_t i, std::size_t j) { return float(i * j) * 100.0f; }, [](std::size_t) { return 0.0f; });
    const auto unit = make(4, 3, [](std::size_t i, std::size_t) { return float(i) / 4.0f; }, [](std::size_t) { return 0.0f; });
    const auto signed_unit = make(4, 3, [](std::size_t i, std::size_t) { return float(i) / 2.0f - 1.0f; }, [](std::size_t) { return 0.0f; });
    CHECK(tuning::choose_scaling(wide, true).axis == data::Axis::Rows);
    CHECK(tuning::choose_scaling(wide, false).axis == data::Axis::Columns);
    CHECK(tuning::choose_scaling(unit, false).axis == std::nullopt);
    CHECK(tuning::choose_scaling(unit, false).range == data::Range::ZeroOne);
    const auto s = tuning::choose_scaling(signed_unit, false);
    CHECK(s.axis == std::nullopt);
    CHECK(s.range == data::Range::MinusOneOne);
    // Asked for [0, 1]: [-1, 1] data are scaled by columns into it.
    const auto asked = tuning::choose_scaling(signed_unit, false, data::Range::ZeroOne);
    CHECK(asked.axis == data::Axis::Columns);
    CHECK(asked.range == data::Range::ZeroOne);
    CHECK(tuning::choose_scaling(unit, false, data::Range::MinusOneOne).axis == std::nullopt);
  }

  TEST_CASE("labels grouped by class (or sorted targets) are told from mixed ones") {
    auto v = [](std::size_t, std::size_t) { return 0.5f; };
    CHECK(tuning::labels_grouped(make(90, 2, v, [](std::size_t i) { return float(i / 30); }), true));
    CHECK_FALSE(tuning::labels_grouped(make(90, 2, v, [](std::size_t i) { return float(i % 3); }), true));
    SplitMix64 rng(5);
    INFO("seed=5");
    CHECK_FALSE(tuning::labels_grouped(make(500, 2, v, [&](std::size_t) { return float(rng.below(10)); }), true));
    CHECK(tuning::labels_grouped(make(100, 2, v, [](std::size_t i) { return 0.37f * float(i); }), false));
    CHECK_FALSE(tuning::labels_grouped(make(100, 2, v, [](std::size_t i) { return float((i * 37) % 100); }), false));
    CHECK_FALSE(tuning::labels_grouped(make(5, 2, v, [](std::size_t i) { return float(i / 3); }), true)); // too few to say
  }
}

TEST_SUITE("labels") {
  TEST_CASE("a classifier given a regression target says so and names the model to use") {
    auto ds = two_blobs(200, 3);
    ds.labels(41) = 2.5f;
    Sgd<L2Svm, Float32, Cpu> svm;
    CHECK_THROWS_WITH_AS(svm.fit(ds), doctest::Contains("made.libsvm: row 42: label 2.5 is not a class"), Error);
    CHECK_THROWS_WITH_AS(svm.fit(ds), doctest::Contains("--model least-squares"), Error);
    // Integers, but 200 distinct values in 200 rows: a target, not classes.
    for (std::size_t i = 0; i < ds.size(); ++i) ds.labels(i) = static_cast<float>(100 + i);
    Sgd<Logistic, Float32, Cpu> lr;
    CHECK_THROWS_WITH_AS(lr.fit(ds), doctest::Contains("200 distinct labels in 200 samples"), Error);
    // One of them against the rest is a binary question: allowed.
    Options o;
    o.positive_label = 150.0f;
    o.epochs = 1;
    Sgd<L2Svm, Float32, Cpu> binary(o);
    CHECK_NOTHROW(binary.fit(ds));
    // And 20 classes of 10 samples each are classes.
    for (std::size_t i = 0; i < ds.size(); ++i) ds.labels(i) = static_cast<float>(i % 20);
    Options one;
    one.epochs = 1;
    Sgd<L2Svm, Float32, Cpu> many(one);
    CHECK_NOTHROW(many.fit(ds));
  }
}
