// Fashion-MNIST, 10 classes, 10 epochs, the engine arithmetic (the RTL's fixed point): the
// accuracy the issue asks for at every precision. The float arithmetic is checked by the
// main-job test (zipml-train itself).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "zipml/zipml.hpp"

using namespace zipml;

namespace {

const data::TrainTest& fashion() {
  static const data::TrainTest tt = [] {
    auto t = data::load_fashion_mnist(ZIPML_FASHION_MNIST_DIR);
    data::scale_features(t.train, data::Range::ZeroOne, data::Axis::Rows);
    data::scale_features(t.test, data::Range::ZeroOne, data::Axis::Rows);
    return t;
  }();
  return tt;
}

template <class P>
double test_accuracy() {
  Options o; // the original's settings: step 2^-12, 10 epochs, file order
  o.arithmetic = Arithmetic::Engine;
  Sgd<L2Svm, P, Cpu> sgd(o, L2Svm{1.0f, 1.5f});
  const auto h = sgd.fit(fashion().train, fashion().test);
  MESSAGE(P::name, " (", P::rounding::name, "): test accuracy ", *h.epochs.back().test_metric);
  return *h.epochs.back().test_metric;
}

} // namespace

TEST_CASE("engine arithmetic reaches the issue's accuracy on Fashion-MNIST") {
  CHECK(test_accuracy<Float32>() >= 0.82);
  CHECK(test_accuracy<Quantized<8>>() >= 0.82);
  CHECK(test_accuracy<Quantized<4>>() >= 0.81);
  CHECK(test_accuracy<Quantized<2>>() >= 0.79);
  CHECK(test_accuracy<Quantized<1>>() >= 0.75);
}
