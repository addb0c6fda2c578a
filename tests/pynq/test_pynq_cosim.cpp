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

using Words = std::vector<std::vector<std::int32_t>>;

//! The board's model words after every epoch equal the Verilator backend's and the CPU's.
void same_every_epoch(const Words& board, const Words& verilated, const Words& cpu, std::size_t epochs) {
  REQUIRE(board.size() == epochs);
  for (std::size_t e = 0; e < epochs; ++e) {
    CAPTURE(e);
    CHECK(board[e] == verilated[e]);
    CHECK(board[e] == cpu[e]);
  }
}

std::shared_ptr<sim::Hardware> rtl_board(unsigned bits, std::size_t lanes = verilator::kLanes) {
  return std::make_shared<sim::Hardware>(sim::make_verilated_engine(bits, lanes));
}

//! n samples of 10 classes (labels 0..9 by bands of a random score), d features.
data::Dataset ten_classes(std::size_t n, std::size_t d, std::uint64_t seed) {
  auto ds = synthetic(n, d, false, seed);
  for (std::size_t i = 0; i < n; ++i)
    ds.labels(i) = static_cast<float>(static_cast<unsigned>(std::abs(ds.labels(i)) * 4000.0f) % 10u);
  return ds;
}

//! One-vs-rest over all classes on a board whose engine has `lanes` lanes: every epoch's K
//! models equal the Verilator backend's and the CPU's, in `passes` passes per epoch.
template <class Precision>
void all_classes(const data::Dataset& ds, std::size_t lanes, Options o, std::size_t passes) {
  CAPTURE(lanes);
  auto hw = rtl_board(Precision::bits, lanes);
  o.arithmetic = Arithmetic::Engine;
  Words board;
  {
    Sgd<L2Svm, Precision, Pynq> sgd(o, L2Svm{}, on(hw));
    sgd.on_epoch([&](const EpochStats&) { board.push_back(sgd.state().fixed); });
    sgd.fit(ds);
    CHECK(sgd.backend().engine_info().lanes == lanes);
    CHECK(sgd.backend().passes_per_epoch() == passes);
    CHECK(sgd.state().lanes == 10);
  }
  const auto verilated = train<L2Svm, Precision, Verilator>(ds, o);
  const auto cpu = train<L2Svm, Precision, Cpu>(ds, o);
  same_every_epoch(board, verilated, cpu, o.epochs);
  require_released(*hw);
  MESSAGE(Precision::name << ", " << lanes << " lanes: " << passes << " passes per epoch, " << hw->cycles()
                          << " simulated cycles");
}

template <class Model, class Precision>
void three_way(const data::Dataset& ds, Options o) {
  auto hw = rtl_board(Precision::bits);
  const auto board = train<Model, Precision>(ds, o, on(hw));
  const auto verilated = train<Model, Precision, Verilator>(ds, o);
  const auto cpu = train<Model, Precision, Cpu>(ds, o);
  same_every_epoch(board, verilated, cpu, o.epochs);
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

TEST_CASE("10 classes on the simulated board's 10-lane engine: one pass per epoch at every precision") {
  const auto ds = ten_classes(150, 40, 24);
  Options o;
  o.epochs = 2;
  o.step = 0x1p-6f;
  SUBCASE("float32") { all_classes<Float32>(ds, 10, o, 1); }
  SUBCASE("q8") { all_classes<Quantized<8, Nearest>>(ds, 10, o, 1); }
  SUBCASE("q4, mini-batches") {
    o.minibatch = 4;
    all_classes<Quantized<4, Nearest>>(ds, 10, o, 1);
  }
  SUBCASE("q2 stochastic, double sampling") {
    o.double_sampling = true;
    all_classes<Quantized<2, Stochastic>>(ds, 10, o, 1);
  }
  SUBCASE("q1") { all_classes<Quantized<1, Nearest>>(ds, 10, o, 1); }
}

TEST_CASE("10 classes on a single-lane engine (the original's bitstreams): ten passes per epoch, the same models") {
  Options o;
  o.epochs = 2;
  o.step = 0x1p-6f;
  all_classes<Quantized<4, Nearest>>(ten_classes(60, 20, 25), 1, o, 10);
}

