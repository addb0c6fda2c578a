// The PYNQ driver on the SIMULATED board with the Verilated RTL engine behind the simulated
// AXI DMA: Sgd<…, Pynq> gives the bit-identical model to Sgd<…, Verilator> and to the CPU
// engine arithmetic after every epoch, and gives the board back.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "pynq_common.hpp"

#include "zipml/backend/pynq/sim/verilated.hpp"
#include "zipml/backend/verilator.hpp"

using namespace pynq_test;
namespace sim = zipml::pynq::sim;

namespace {

std::shared_ptr<sim::Hardware> rtl_board(unsigned bits) {
  return std::make_shared<sim::Hardware>(sim::make_verilated_engine(bits));
}

template <class Model, class Precision>
void three_way(const data::Dataset& ds, Options o) {
  auto hw = rtl_board(Precision::bits);
  const auto board = train<Model, Precision>(ds, o, on(hw));
  const auto verilated = train<Model, Precision, Verilator>(ds, o);
  const auto cpu = train<Model, Precision, Cpu>(ds, o);
  REQUIRE(board.size() == o.epochs);
  for (std::size_t e = 0; e < o.epochs; ++e) {
    CAPTURE(e);
    CHECK(board[e] == verilated[e]);
    CHECK(board[e] == cpu[e]);
  }
  bool moved = false;
  for (auto w : board.back()) moved = moved || w != 0;
  CHECK(moved);
  require_released(*hw); // Sgd's backend is gone: the board was given back
  MESSAGE(Precision::name << ": " << hw->cycles() << " simulated cycles, "
                          << hw->transfers(pynq::Channel::Mm2s) << " MM2S transfers");
}

Options binary(std::size_t epochs) {
  Options o;
  o.epochs = epochs;
  o.positive_label = 1.0f;
  o.step = 0x1p-6f;
  return o;
}

} // namespace

TEST_CASE("Sgd on the simulated board with the RTL engine = Verilator backend = CPU engine arithmetic") {
  const auto cls = synthetic(120, 23, true, 21);
  SUBCASE("float32 l2svm") { three_way<L2Svm, Float32>(cls, binary(3)); }
  SUBCASE("q8 logistic") { three_way<Logistic, Quantized<8, Nearest>>(cls, binary(3)); }
  SUBCASE("q4 l2svm, mini-batches, decay") {
    Options o = binary(3);
    o.minibatch = 8;
    o.step_decay = true;
    three_way<L2Svm, Quantized<4, Nearest>>(cls, o);
  }
  SUBCASE("q2 stochastic, double sampling, requantized") {
    Options o = binary(2);
    o.double_sampling = true;
    o.requantize = true;
    three_way<L2Svm, Quantized<2, Stochastic>>(cls, o);
  }
  SUBCASE("q1 l2svm, long rows") { three_way<L2Svm, Quantized<1, Nearest>>(synthetic(80, 300, true, 22), binary(2)); }
  SUBCASE("q8 least squares, regularized") {
    Options o;
    o.epochs = 3;
    o.step = 0x1p-4f;
    o.l2 = 0.01f;
    three_way<LeastSquares, Quantized<8, Nearest>>(synthetic(100, 17, false, 23), o);
  }
}
