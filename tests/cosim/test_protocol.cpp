// zipml — the RTL engine's stream protocol: echo, refusals, loopback, framing (command
// constants inside rows are data), malformed streams (never hang; reset recovers), d > 4096.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

#include "Vsgd_engine_q8_big.h"
#include "Vsgd_engine_q8_tiny.h"

using namespace zipml;
using namespace cosim;
namespace cmd = zipml::stream::command;
using verilator::OutBeat;

namespace {

stream::PackedStream small_q8(std::uint64_t seed, std::size_t rows = 20, std::size_t d = 13) {
  return stream::pack<Quantized<8>>(cosim::synthetic(rows, d, data::Range::ZeroOne, 0, seed));
}

} // namespace

TEST_CASE("SEND_CONFIG: the nine-word echo, tlast on the ninth") {
  auto e = verilator::make_engine(8);
  e->reset();
  stream::Config c;
  c.dim = 100;
  c.samples = 7;
  c.epochs = 12;
  c.step = 0x1.8p-7f;
  c.precision = stream::PrecisionCode::Q8;
  CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
  // SEND_CONFIG armed the engine for 12 passes: the next words are pass data. Reset.
  e->reset();
  // every flag and field set
  c.lambda_shift = 9;
  c.minibatch_mask = 0xabcd;
  c.step_decay = true;
  c.binarize = true;
  c.double_sampled = true;
  c.logistic = true;
  c.decay_interval = 0xa5;
  c.step_cost_neg = 0x1p-9f;
  c.step_cost_pos = 0x1.4p-9f;
  c.binarize_label = 3.0f;
  c.minus_one_one = true;
  c.epochs = 0xffffffffu;
  c.samples = 0x7fffffffu;
  CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
  // the precision may be left unstated (original hosts); epochs 0 arms nothing
  e->reset();
  c.precision = stream::PrecisionCode::Unstated;
  c.epochs = 0;
  CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
  // SEND_CONFIG alone re-sends the echo
  const std::uint64_t send[] = {cmd::kSendConfig};
  const auto ex = e->exchange(send, 1, kBudget);
  CHECK(data_of(ex.beats) == to_vec(stream::config_echo(c)));
}

TEST_CASE("refused configurations: the echo's precision field says so; THE_END answers an error word") {
  auto check_refused = [](unsigned bits, stream::Config c, unsigned field) {
    auto e = verilator::make_engine(bits);
    e->reset();
    auto expect = stream::config_echo(c);
    expect[1] = (expect[1] & ~(7u << 21)) | (field << 21);
    CHECK(echo(*e, c) == to_vec(expect));
    // data is dropped, THE_END answers one word
    const std::uint64_t words[] = {0x1234, 0x5678, cmd::kTheEnd};
    const auto ex = e->exchange(words, 1, kBudget);
    REQUIRE_FALSE(ex.timed_out);
    REQUIRE(ex.beats.size() == 1);
    CHECK(ex.beats[0].data == verilator::kErrorNotConfigured);
    CHECK(ex.beats[0].last);
  };
  stream::Config c;
  c.dim = 10;
  c.samples = 4;
  c.step = 0x1p-5f;
  SUBCASE("another precision: the engine echoes its own") {
    c.precision = stream::PrecisionCode::Q4;
    check_refused(8, c, 5);
    c.precision = stream::PrecisionCode::Float32;
    check_refused(1, c, 2);
  }
  SUBCASE("1-bit samples in [-1, 1]") {
    c.precision = stream::PrecisionCode::Q1;
    c.minus_one_one = true;
    check_refused(1, c, 7);
  }
  SUBCASE("d = 0 and d > MAX_DIM") {
    c.precision = stream::PrecisionCode::Q8;
    c.dim = 0;
    check_refused(8, c, 7);
    c.dim = static_cast<std::uint32_t>(verilator::kMaxDim + 1);
    check_refused(8, c, 7);
  }
  SUBCASE("double sampling of float32 samples") {
    c.precision = stream::PrecisionCode::Float32;
    c.double_sampled = true;
    check_refused(32, c, 7);
  }
  SUBCASE("step factors outside [2^-39, 2^8) or negative") {
    c.precision = stream::PrecisionCode::Q8;
    c.step = 0x1p-45f;
    check_refused(8, c, 7);
    c.step = 0x1p-5f;
    c.step_cost_neg = -0x1p-5f; // a classifier
    c.step_cost_pos = 0x1p-5f;
    check_refused(8, c, 7);
  }
}

TEST_CASE("the Verilator backend reports refusals and d > MAX_DIM clearly") {
  const auto s = small_q8(1);
  TrainJob job;
  job.config = config_for(s);
  job.data = &s;
  job.arithmetic = Arithmetic::Engine;
  ModelState st;
  st.reset(Arithmetic::Engine, 1, s.layout.dim);
  Verilator v;
  job.config.precision = stream::PrecisionCode::Q4; // the stream says 4-bit, the data is 8-bit
  CHECK_THROWS_WITH_AS(v.run_epoch(LeastSquares{}, job, 0, st),
                       doctest::Contains("built for 8-bit samples and refused a 4-bit stream"), Error);
  // too wide for the engine: refused on the host before anything is sent
  const auto wide = stream::pack<Quantized<8>>(cosim::synthetic(2, verilator::kMaxDim + 1, data::Range::ZeroOne, 0, 2));
  job.config = config_for(wide);
  job.data = &wide;
  st.reset(Arithmetic::Engine, 1, wide.layout.dim);
  CHECK_THROWS_WITH_AS(v.run_epoch(LeastSquares{}, job, 0, st), doctest::Contains("exceeds the engine's MAX_DIM"), Error);
  Options o;
  o.arithmetic = Arithmetic::Engine;
  Sgd<LeastSquares, Quantized<8>, Verilator> sgd(o);
  CHECK_THROWS_AS(sgd.fit(cosim::synthetic(2, verilator::kMaxDim + 1, data::Range::ZeroOne, 0, 2)), Error);
}

TEST_CASE("LOOPBACK echoes the low halves (each word a one-word packet) until UNLOOPBACK") {
  auto e = verilator::make_engine(4);
  e->reset();
  const std::uint64_t words[] = {cmd::kLoopback, 0x1111222233334444ULL, cmd::kTheEnd, cmd::kMagic1, cmd::kSendConfig,
                                 cmd::kLoopback, 0xffffffff00000000ULL, cmd::kUnloopback};
  const auto ex = e->exchange(words, 6, kBudget);
  REQUIRE_FALSE(ex.timed_out);
  const std::vector<std::uint32_t> expect = {0x33334444u, 0xabcdabcdu, 0x0f1a0df2u, 0xabcaabcau, 0xababababu, 0u};
  CHECK(data_of(ex.beats) == expect);
  for (auto& b : ex.beats) CHECK(b.last);
  // back to commands: the engine still configures and trains
  const auto s = stream::pack<Quantized<4>>(cosim::synthetic(16, 20, data::Range::ZeroOne, 0, 3));
  train_and_compare(*e, s, 2, "after loopback");
}

TEST_CASE("command constants inside a pass are data") {
  const stream::Word magics[] = {cmd::kMagic1, cmd::kMagic2, cmd::kMagic3, cmd::kMagic4, cmd::kMagic5,
                                 cmd::kSendConfig, cmd::kTheEnd, cmd::kLoopback, cmd::kUnloopback};
  auto build = [&](unsigned bits, std::size_t d, std::uint64_t seed) {
    // a real packed stream, then command constants written over words at every row position
    stream::PackedStream s = bits == 32 ? stream::pack<Float32>(cosim::synthetic(30, d, data::Range::ZeroOne, 0, seed))
                                        : stream::pack<Quantized<8>>(cosim::synthetic(30, d, data::Range::ZeroOne, 0, seed));
    SplitMix64 rng(seed, 9);
    for (std::size_t i = 0; i < s.words.size(); ++i)
      if (rng.below(3) == 0) s.words[i] = magics[rng.below(9)];
    s.words[0] = cmd::kMagic1;               // the very first word of the pass
    s.words[s.words.size() - 1] = cmd::kTheEnd; // the last row's label word
    return s;
  };
  SUBCASE("8-bit rows") {
    auto e = verilator::make_engine(8);
    e->reset();
    train_and_compare(*e, build(8, 16, 11), 3, "q8 with command words", 0x1p-12f);
  }
  SUBCASE("float32 rows") {
    auto e = verilator::make_engine(32);
    e->reset();
    train_and_compare(*e, build(32, 4, 12), 3, "float32 with command words", 0x1p-12f);
  }
}

TEST_CASE("malformed streams never hang, and reset recovers") {
  auto e = verilator::make_engine(8);
  const auto s = small_q8(21);
  const auto c = config_for(s);
  SUBCASE("THE_END before any configuration: one error word; the engine goes on") {
    e->reset();
    const std::uint64_t words[] = {0x42, cmd::kTheEnd, 0x43, 0x44};
    const auto ex = e->exchange(words, 1, kBudget);
    REQUIRE_FALSE(ex.timed_out);
    REQUIRE(ex.beats.size() == 1);
    CHECK(ex.beats[0].data == verilator::kErrorNotConfigured);
    CHECK(ex.beats[0].last);
    train_and_compare(*e, s, 2, "after THE_END before configuration");
  }
  SUBCASE("a truncated row: THE_END is data; the next word is a framing error; reset recovers") {
    e->reset();
    CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
    std::vector<std::uint64_t> words(s.words.begin(), s.words.end() - 1);
    words.push_back(cmd::kTheEnd);
    // no answer, but every word is taken: the engine waits for the rest of the pass
    auto ex = e->exchange(words, 1, 20000);
    CHECK(ex.timed_out);
    CHECK(ex.sent == words.size());
    CHECK(ex.beats.empty());
    const std::uint64_t more[] = {0x0, cmd::kSendConfig, cmd::kTheEnd};
    ex = e->exchange(more, 1, kBudget, 2000);
    REQUIRE(ex.beats.size() == 1);
    CHECK(ex.beats[0].data == verilator::kErrorFraming);
    CHECK(ex.beats[0].last);
    // after a framing error every word is dropped (taken, never answered) until reset
    ex = e->exchange(more, 0, kBudget, 2000);
    CHECK(ex.sent == 3);
    CHECK(ex.beats.empty());
    e->reset();
    train_and_compare(*e, s, 2, "after a framing error and reset");
  }
  SUBCASE("rows missing, or a word too many") {
    e->reset();
    CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
    std::vector<std::uint64_t> words(s.words.begin(), s.words.end());
    words.push_back(0x99); // where THE_END belongs
    auto ex = e->exchange(words, 1, kBudget);
    REQUIRE(ex.beats.size() == 1);
    CHECK(ex.beats[0].data == verilator::kErrorFraming);
    e->reset();
    CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
    std::vector<std::uint64_t> half(s.words.begin(), s.words.begin() + static_cast<std::ptrdiff_t>(s.words.size() / 2));
    half.push_back(cmd::kTheEnd);
    ex = e->exchange(half, 1, 20000);
    CHECK(ex.timed_out);
    CHECK(ex.sent == half.size());
    e->reset();
    train_and_compare(*e, s, 2, "after missing rows and reset");
  }
  SUBCASE("reset in the middle of a pass") {
    e->reset();
    CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
    std::vector<std::uint64_t> half(s.words.begin(), s.words.begin() + 17);
    e->exchange(half, 0, kBudget, 5);
    e->reset();
    train_and_compare(*e, s, 2, "after a reset mid-pass");
  }
  SUBCASE("commands in any order; a missing payload takes the next word") {
    e->reset();
    const auto p = stream::payloads(c);
    const std::uint64_t words[] = {cmd::kMagic4, p[3], cmd::kMagic3, p[2], cmd::kMagic5, p[4], cmd::kMagic1, p[0],
                                   cmd::kMagic2, p[1], cmd::kSendConfig};
    auto ex = e->exchange(words, 1, kBudget);
    CHECK(data_of(ex.beats) == to_vec(stream::config_echo(c)));
    // MAGIC2 without its payload: MAGIC3 becomes the payload (the halves of the constant)
    e->reset(); // the first SEND_CONFIG armed the engine for c.epochs passes
    const std::uint64_t missing[] = {cmd::kMagic2, cmd::kMagic3, cmd::kSendConfig};
    ex = e->exchange(missing, 1, kBudget);
    REQUIRE(ex.beats.size() == 9);
    CHECK(ex.beats[2].data == static_cast<std::uint32_t>(cmd::kMagic3));
    CHECK(ex.beats[3].data == static_cast<std::uint32_t>(cmd::kMagic3 >> 32));
  }
  SUBCASE("THE_END outside a pass writes the model back unchanged") {
    e->reset();
    train_and_compare(*e, s, 1, "one epoch");
    const auto ref = cpu_epochs(c, s, 1).back();
    const std::uint64_t words[] = {cmd::kTheEnd};
    const auto ex = e->exchange(words, 1, kBudget);
    REQUIRE(ex.beats.size() == s.layout.padded_dim());
    for (std::size_t j = 0; j < ref.size(); ++j) CHECK(static_cast<std::int32_t>(ex.beats[j].data) == ref[j]);
  }
}

TEST_CASE("MAX_DIM 32768: d beyond 4096 trains bit-exact") {
  verilator::SimEngineOf<Vsgd_engine_q8_big, 8> e({}, {});
  e.reset();
  const auto s = stream::pack<Quantized<8>>(cosim::synthetic(6, 5000, data::Range::ZeroOne, 0, 31));
  train_and_compare(e, s, 2, "q8 d=5000", 0x1p-14f);
}

TEST_CASE("binarizing by the configuration alone (no lane labels) matches the CPU") {
  const auto ds = cosim::synthetic(30, 11, data::Range::ZeroOne, 3, 41);
  const auto s = stream::pack<Quantized<4>>(ds);
  TrainJob job;
  job.config = config_for(s, 0x1p-5f, 3);
  job.config.step_cost_neg = 0x1.8p-5f; // an L2-SVM, binarized against class 1 in the engine
  job.config.step_cost_pos = 0x1p-5f;
  job.config.binarize = true;
  job.config.binarize_label = 1.0f;
  job.data = &s;
  job.arithmetic = Arithmetic::Engine;
  ModelState a, b;
  a.reset(Arithmetic::Engine, 1, s.layout.dim);
  b.reset(Arithmetic::Engine, 1, s.layout.dim);
  Cpu cpu;
  Verilator rtl;
  for (std::size_t e = 0; e < 3; ++e) {
    cpu.run_epoch(L2Svm{}, job, e, a);
    rtl.run_epoch(L2Svm{}, job, e, b);
    INFO("epoch " << e + 1);
    CHECK(a.fixed == b.fixed);
  }
}

// One model line per row, rows back to back: the shortest rows the engine can see.
TEST_CASE("MAX_DIM 8: one model line, two-word rows back to back") {
  verilator::SimEngineOf<Vsgd_engine_q8_tiny, 8> e({}, verilator::StreamStalls{0.0, 0.0, 1});
  e.reset();
  train_and_compare(e, stream::pack<Quantized<8>>(cosim::synthetic(40, 8, data::Range::ZeroOne, 0, 51)), 3, "q8 d=8");
  e.reset();
  train_and_compare(e, stream::pack<Quantized<8>>(cosim::synthetic(40, 5, data::Range::ZeroOne, 0, 52)), 3, "q8 d=5");
  verilator::SimEngineOf<Vsgd_engine_q8_tiny, 8> s({}, verilator::StreamStalls{0.4, 0.3, 2});
  s.reset();
  train_and_compare(s, stream::pack<Quantized<8>>(cosim::synthetic(40, 8, data::Range::ZeroOne, 0, 53)), 3, "q8 d=8 stalls");
}
