// zipml — load: one million samples through the simulated engine (suites `slow` and `load`;
// scripts/sanitize.sh runs it under AddressSanitizer, whose leak check then covers the
// Verilator backend, its harness and the packing of a large stream).
//
// 250,000 synthetic rows x 4 epochs, least squares with stochastic 8-bit samples,
// re-quantized every epoch (so every epoch sends a fresh stream), and one L2-SVM lane pair
// at 4-bit: the final model words must equal the CPU engine arithmetic's after every epoch.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

using namespace zipml;

TEST_CASE("one million samples through the simulated engine: the CPU's model, epoch by epoch") {
  constexpr std::size_t kRows = 250000, kDim = 60, kEpochs = 4;
  SUBCASE("least squares, q8 stochastic, re-quantized every epoch") {
    const auto ds = cosim::synthetic(kRows, kDim, data::Range::ZeroOne, 0, 424242);
    Options o;
    o.epochs = kEpochs;
    o.step = 0x1p-9f;
    o.seed = 424242;
    o.requantize = true;
    o.order = Order::ShuffleEachEpoch;
    cosim::compare<LeastSquares, Quantized<8, Stochastic>>("load q8", ds, o);
  }
  SUBCASE("L2-SVM, two classes, q4, [-1, 1]") {
    const auto ds = cosim::synthetic(kRows, kDim, data::Range::MinusOneOne, 2, 434343);
    Options o;
    o.epochs = kEpochs;
    o.step = 0x1p-10f;
    o.range = data::Range::MinusOneOne;
    cosim::compare<L2Svm, Quantized<4>>("load q4 svm", ds, o, L2Svm{1.0f, 1.5f});
  }
}
