// The PYNQ driver on the SIMULATED board with the reference engine (CPU engine arithmetic
// behind the stream protocol): the model equals the CPU backend's, transfers respect the DMA's
// 23-bit length register, and every error path (DMA errors, timeouts, no bitstream, a wrong
// engine, a stream that changes with more classes than lanes) gives its documented message and leaves nothing mapped.
// Needs no Verilator: runs in the unit suite, also cross-built under qemu.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "pynq_common.hpp"

using namespace pynq_test;
namespace sim = zipml::pynq::sim;
namespace dma = zipml::pynq::dma;

namespace {

std::shared_ptr<sim::Hardware> hardware(unsigned bits, sim::Hardware::Settings s = {}) {
  return std::make_shared<sim::Hardware>(std::make_unique<sim::ReferenceEngine>(bits), s);
}

Options binary(std::size_t epochs = 3) {
  Options o;
  o.epochs = epochs;
  o.positive_label = 1.0f;
  o.step = 0x1p-6f;
  return o;
}

template <class Model, class Precision>
void same_as_cpu(const data::Dataset& ds, Options o, pynq::Options po = {}) {
  auto hw = hardware(Precision::bits);
  const auto board = train<Model, Precision>(ds, o, on(hw, po));
  const auto cpu = train<Model, Precision, Cpu>(ds, o);
  REQUIRE(board.size() == o.epochs);
  CHECK(board == cpu);
  bool moved = false;
  for (auto w : board.back()) moved = moved || w != 0;
  CHECK(moved);
}

} // namespace

TEST_CASE("the simulated AXI DMA powers on halted, and soft reset restores that") {
  auto hw = hardware(8);
  CHECK(hw->read_dma(dma::kMm2s + dma::kCr) == 0x00010002u);
  CHECK(hw->read_dma(dma::kS2mm + dma::kSr) == dma::kSrHalted);
  hw->write_dma(dma::kMm2s + dma::kCr, dma::kCrRunStop);
  CHECK((hw->read_dma(dma::kMm2s + dma::kSr) & dma::kSrHalted) == 0);
  // a length written to a halted channel has no effect (PG021)
  hw->write_dma(dma::kS2mm + dma::kLength, 64);
  hw->advance(10);
  CHECK(hw->read_dma(dma::kS2mm + dma::kSr) == dma::kSrHalted);
  hw->write_dma(dma::kS2mm + dma::kCr, dma::kCrReset); // resets both channels
  CHECK((hw->read_dma(dma::kMm2s + dma::kCr) & dma::kCrReset) != 0);
  hw->advance(10);
  CHECK(hw->read_dma(dma::kMm2s + dma::kCr) == 0x00010002u);
  CHECK((hw->read_dma(dma::kMm2s + dma::kSr) & dma::kSrHalted) != 0);
}

TEST_CASE("Sgd on the simulated board equals the CPU engine arithmetic") {
  const auto cls = synthetic(150, 21, true, 3);
  const auto reg = synthetic(120, 9, false, 4);
  SUBCASE("l2svm q4") { same_as_cpu<L2Svm, Quantized<4, Nearest>>(cls, binary()); }
  SUBCASE("logistic float32") { same_as_cpu<Logistic, Float32>(cls, binary()); }
  SUBCASE("least squares q8, decay, mini-batches") {
    Options o;
    o.epochs = 4;
    o.step = 0x1p-4f;
    o.step_decay = true;
    o.minibatch = 4;
    same_as_cpu<LeastSquares, Quantized<8, Nearest>>(reg, o);
  }
  SUBCASE("l2svm q2 stochastic, double sampling, requantized, reshuffled") {
    Options o = binary(3);
    o.double_sampling = true;
    o.requantize = true;
    o.order = Order::ShuffleEachEpoch;
    same_as_cpu<L2Svm, Quantized<2, Stochastic>>(cls, o);
  }
  SUBCASE("q1 through the smallest buffer: many ping-pong transfers") {
    pynq::Options po;
    po.buffer_bytes = 0; // the minimum: 4 KiB halves
    same_as_cpu<L2Svm, Quantized<1, Nearest>>(synthetic(900, 200, true, 5), binary(2), po);
  }
}

TEST_CASE("a pass longer than the 23-bit length register is split") {
  // 2^23 bytes of float32 rows: at least two MM2S transfers of at most 2^23 - 8 bytes
  const auto ds = synthetic(2100, 1000, true, 6);
  sim::Hardware::Settings s;
  s.memory_bytes = std::size_t{24} << 20;
  auto hw = hardware(32, s);
  pynq::Options po;
  po.buffer_bytes = s.memory_bytes;
  const auto board = train<L2Svm, Float32>(ds, binary(1), on(hw, po));
  CHECK(board == train<L2Svm, Float32, Cpu>(ds, binary(1)));
  CHECK(pynq::max_transfer() == (std::size_t{1} << 23) - 8);
  CHECK(hw->largest_length(pynq::Channel::Mm2s) <= pynq::max_transfer());
  CHECK(hw->transfers(pynq::Channel::Mm2s) >= 3); // the configuration, then two or more for the pass
}

TEST_CASE("DMA errors name the error and the registers, and leave nothing mapped") {
  const auto ds = synthetic(40, 9, true, 7);
  struct Case {
    pynq::Channel channel;
    std::uint32_t bit;
    const char* name;
  };
  for (const Case& c : {Case{pynq::Channel::Mm2s, dma::kSrSlvErr, "DMASlvErr"},
                        Case{pynq::Channel::Mm2s, dma::kSrDecErr, "DMADecErr"},
                        Case{pynq::Channel::S2mm, dma::kSrIntErr, "DMAIntErr"},
                        Case{pynq::Channel::S2mm, dma::kSrDecErr, "DMADecErr"}}) {
    CAPTURE(c.name);
    auto hw = hardware(4);
    hw->fail_next(c.channel, c.bit);
    const auto msg = failure([&] { train<L2Svm, Quantized<4, Nearest>>(ds, binary(), on(hw)); });
    CHECK(msg.find("AXI DMA at 0x40400000: ") == 0);
    CHECK(msg.find(pynq::channel_name(c.channel) + " failed") != std::string::npos);
    CHECK(msg.find(c.name) != std::string::npos);
    CHECK(msg.find(c.channel == pynq::Channel::Mm2s ? "MM2S_DMASR=0x" : "S2MM_DMASR=0x") != std::string::npos);
    require_released(*hw);
    // the next job opens the board again and trains
    CHECK(train<L2Svm, Quantized<4, Nearest>>(ds, binary(), on(hw)) == train<L2Svm, Quantized<4, Nearest>, Cpu>(ds, binary()));
    require_released(*hw);
  }
}

TEST_CASE("an engine that stops taking data times out with the registers") {
  auto hw = hardware(8);
  hw->stall_input = true;
  pynq::Options po;
  po.timeout = std::chrono::milliseconds(2);
  const auto msg = failure([&] { train<L2Svm, Quantized<8, Nearest>>(synthetic(30, 5, true, 8), binary(), on(hw, po)); });
  CHECK(msg.find("MM2S (memory to engine): no completion within 2 ms (ENGINE_INFO;") != std::string::npos);
  CHECK(msg.find("the engine stopped taking data") != std::string::npos);
  CHECK(msg.find("S2MM_LENGTH=0x") != std::string::npos);
  require_released(*hw);
}

TEST_CASE("a board without a bitstream is refused before any register is touched") {
  sim::Hardware::Settings s;
  s.programmed = false;
  auto hw = hardware(8, s);
  Pynq p = on(hw);
  const auto msg = failure([&] { p.open(); });
  CHECK(msg.find("the FPGA is not programmed") != std::string::npos);
  CHECK(hw->cycles() == 0);
  require_released(*hw);
}

TEST_CASE("an engine of another precision refuses the stream, in words") {
  auto hw = hardware(8); // a q8 bitstream, q4 data
  const auto msg = failure([&] { train<L2Svm, Quantized<4, Nearest>>(synthetic(30, 5, true, 9), binary(), on(hw)); });
  CHECK(msg.find("pynq backend: the engine is built for 8-bit samples and refused a 4-bit stream") == 0);
  require_released(*hw);
}

TEST_CASE("the float arithmetic is refused on the host") {
  auto hw = hardware(8);
  Options f = binary();
  f.arithmetic = Arithmetic::Float;
  Sgd<L2Svm, Float32, Pynq> sgd(f, L2Svm{}, on(hw));
  CHECK(failure([&] { sgd.fit(synthetic(20, 5, true, 11)); }).find("pynq backend runs only the engine arithmetic") == 0);
  CHECK(hw->cycles() == 0);
  require_released(*hw);
}

namespace {

//! n samples of `classes` classes (labels 0..classes-1 by bands of a random score), d features.
data::Dataset many_classes(std::size_t n, std::size_t d, unsigned classes, std::uint64_t seed) {
  auto ds = synthetic(n, d, false, seed);
  for (std::size_t i = 0; i < n; ++i)
    ds.labels(i) = static_cast<float>(static_cast<unsigned>(std::abs(ds.labels(i)) * 4000.0f) % classes);
  return ds;
}

//! Sgd on a board whose engine has `lanes` lanes against the CPU's K-lane engine arithmetic:
//! every epoch's K models and figures, the passes per epoch.
template <class Precision>
History lanes_case(const data::Dataset& ds, std::size_t lanes, Options o, std::size_t passes) {
  CAPTURE(lanes);
  auto hw = std::make_shared<sim::Hardware>(std::make_unique<sim::ReferenceEngine>(Precision::bits, pynq::kMaxDim, lanes));
  o.arithmetic = Arithmetic::Engine;
  o.evaluation = Evaluation::Full; // the CPU's pass figures are not the engine's: both evaluate
  Sgd<L2Svm, Precision, Pynq> board(o, L2Svm{}, on(hw));
  Sgd<L2Svm, Precision, Cpu> cpu(o);
  std::vector<std::vector<std::int32_t>> on_board, on_cpu;
  board.on_epoch([&](const EpochStats&) { on_board.push_back(board.state().fixed); });
  cpu.on_epoch([&](const EpochStats&) { on_cpu.push_back(cpu.state().fixed); });
  const History hb = board.fit(ds), hc = cpu.fit(ds);
  CHECK(board.backend().engine_info().lanes == lanes);
  CHECK(board.backend().passes_per_epoch() == passes);
  REQUIRE(on_board.size() == on_cpu.size());
  CHECK(on_board == on_cpu);
  REQUIRE(hb.epochs.size() == hc.epochs.size());
  for (std::size_t e = 0; e < hb.epochs.size(); ++e) {
    CAPTURE(e);
    CHECK(hb.epochs[e].train_loss == hc.epochs[e].train_loss);
    CHECK(hb.epochs[e].train_metric == hc.epochs[e].train_metric);
  }
  CHECK(hb.converged == hc.converged);
  // the configuration and passes: per group one configuration and `epochs` passes, plus ENGINE_INFO
  CHECK(hw->transfers(pynq::Channel::S2mm) == 1 + passes * (1 + o.epochs));
  return hb;
}

} // namespace

TEST_CASE("K classes on an engine of L lanes: ceil(K / L) passes per epoch, the K-lane models and figures") {
  const auto ten = many_classes(200, 13, 10, 30);
  Options o;
  o.epochs = 3;
  o.step = 0x1p-6f;
  SUBCASE("10 classes, 10 lanes: one pass") { lanes_case<Quantized<8, Nearest>>(ten, 10, o, 1); }
  SUBCASE("10 classes, 6 lanes (the 4-bit bitstream): two passes of 5") { lanes_case<Quantized<4, Nearest>>(ten, 6, o, 2); }
  SUBCASE("10 classes, 1 lane: ten passes") { lanes_case<Quantized<2, Nearest>>(ten, 1, o, 10); }
  SUBCASE("3 classes, 2 lanes, float32, mini-batches and decay") {
    o.minibatch = 4;
    o.step_decay = true;
    lanes_case<Float32>(synthetic(90, 7, true, 31), 2, o, 2);
  }
  SUBCASE("a --tol stop: the same epoch as the K-lane run, later recorded epochs unused") {
    o.epochs = 30;
    o.tol = 0.05;
    o.patience = 1;
    const History h = lanes_case<Quantized<4, Nearest>>(ten, 4, o, 3);
    CHECK(h.converged);
    CHECK(h.epochs.size() < 30);
  }
}

TEST_CASE("groups of lanes one after another need one stream for all epochs") {
  auto hw = std::make_shared<sim::Hardware>(std::make_unique<sim::ReferenceEngine>(8, pynq::kMaxDim, 2));
  Options o;
  o.epochs = 2;
  o.order = Order::ShuffleEachEpoch;
  const auto msg = failure([&] { train<L2Svm, Quantized<8, Nearest>>(synthetic(60, 5, true, 10), o, on(hw)); });
  CHECK(msg.find("pynq backend: 3 classes on an engine of 2 lanes train in 2 groups one after another") == 0);
  CHECK(msg.find("shuffles or re-quantizes the data every epoch") != std::string::npos);
  require_released(*hw);
  o.epochs = 1; // one epoch: one stream
  CHECK(train<L2Svm, Quantized<8, Nearest>>(synthetic(60, 5, true, 10), o, on(hw)).size() == 1);
}

namespace {

//! Not a zipml engine: answers every word with one word (tlast), as no zipml engine would
//! answer ENGINE_INFO.
class EchoOneWord final : public sim::StreamEngine {
 public:
  Out cycle(const In& in) override {
    Out o;
    o.s_ready = in.rst_n && !pending_;
    o.m_valid = pending_;
    o.m_data = 0x12345678u;
    o.m_last = true;
    if (o.m_valid && in.m_ready) pending_ = false;
    if (o.s_ready && in.s_valid) pending_ = true;
    return o;
  }
  [[nodiscard]] unsigned bits() const override { return 8; }

 private:
  bool pending_ = false;
};

} // namespace

TEST_CASE("an engine that does not answer ENGINE_INFO as zipml's do is refused in words") {
  auto hw = std::make_shared<sim::Hardware>(std::make_unique<EchoOneWord>());
  const auto msg = failure([&] { train<L2Svm, Quantized<8, Nearest>>(synthetic(30, 5, true, 14), binary(), on(hw)); });
  CHECK(msg.find("pynq backend: the engine answered ENGINE_INFO with 1 word, not the three starting with "
                 "0x5a495031") == 0);
  require_released(*hw);
}

TEST_CASE("ENGINE_INFO: what the reference engine answers, and a dimension beyond its MAX_DIM") {
  auto hw = std::make_shared<sim::Hardware>(std::make_unique<sim::ReferenceEngine>(4, 64, 6));
  const auto msg = failure([&] { train<L2Svm, Quantized<4, Nearest>>(synthetic(30, 70, true, 12), binary(), on(hw)); });
  CHECK(msg == "pynq backend: dimension 70 (with bias) exceeds the loaded engine's MAX_DIM of 64");
  require_released(*hw);
  Options o = binary(1);
  o.arithmetic = Arithmetic::Engine;
  Sgd<L2Svm, Quantized<4, Nearest>, Pynq> ok(o, L2Svm{}, on(hw));
  ok.fit(synthetic(30, 20, true, 13));
  CHECK(ok.backend().engine_info() == stream::EngineInfo{6, 0, stream::precision_code(4), 64});
}

TEST_CASE("epochs out of order are refused and close the board") {
  auto hw = hardware(8);
  const auto ds = synthetic(30, 5, true, 12);
  Options o = binary();
  o.arithmetic = Arithmetic::Engine;
  Sgd<L2Svm, Quantized<8, Nearest>, Cpu> ref(o);
  ref.fit(ds);
  Pynq p = on(hw);
  ModelState state;
  state.reset(Arithmetic::Engine, 1, ds.dim());
  const TrainJob& job = ref.job();
  CHECK(failure([&] { p.run_epoch(L2Svm{}, job, 1, state); }).find("must start at epoch 1") != std::string::npos);
  CHECK_FALSE(p.is_open());
  require_released(*hw);
}
