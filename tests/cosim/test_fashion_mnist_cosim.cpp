// zipml — a Fashion-MNIST subset on the RTL engine against the CPU engine arithmetic, bit for
// bit: ten one-vs-rest lanes (one simulated engine each), every precision. Suite `slow`.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

using namespace zipml;

namespace {

const data::Dataset& subset() {
  static const data::Dataset ds = [] {
    auto t = data::load_fashion_mnist(ZIPML_FASHION_MNIST_DIR, 3000, 1);
    data::scale_features(t.train, data::Range::ZeroOne, data::Axis::Rows);
    return t.train;
  }();
  return ds;
}

Options options() {
  Options o; // the original's MNIST settings, fewer epochs
  o.arithmetic = Arithmetic::Engine;
  o.epochs = 3;
  return o;
}

} // namespace

TEST_CASE("Fashion-MNIST subset, L2-SVM one-vs-rest: RTL == CPU engine arithmetic") {
  const L2Svm svm{1.0f, 1.5f};
  SUBCASE("float32") { cosim::compare<L2Svm, Float32>("fmnist float32", subset(), options(), svm); }
  SUBCASE("q8") { cosim::compare<L2Svm, Quantized<8>>("fmnist q8", subset(), options(), svm); }
  SUBCASE("q4") { cosim::compare<L2Svm, Quantized<4>>("fmnist q4", subset(), options(), svm); }
  SUBCASE("q2") { cosim::compare<L2Svm, Quantized<2>>("fmnist q2", subset(), options(), svm); }
  SUBCASE("q1") { cosim::compare<L2Svm, Quantized<1>>("fmnist q1", subset(), options(), svm); }
  SUBCASE("q4 stochastic, double sampling") {
    auto o = options();
    o.double_sampling = true;
    cosim::compare<L2Svm, Quantized<4, Stochastic>>("fmnist q4 ds", subset(), o, svm);
  }
}
