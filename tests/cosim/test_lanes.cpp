// zipml — K model lanes on one engine: the LANE_LABEL and ENGINE_INFO commands, the
// multi-lane write-back, and one-vs-rest on one engine bit-exact with the CPU engine arithmetic
// (which equals K binary runs), for the engines Verilated with verilator::kLanes lanes.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

using namespace zipml;
using namespace cosim;
namespace cmd = zipml::stream::command;

namespace {

constexpr std::size_t kRows = 40;
constexpr std::size_t kDim = 13;

//! An L2-SVM (or logistic) configuration for packed data, binarized by the lane labels.
stream::Config classifier(const stream::PackedStream& s, std::uint32_t epochs, bool logistic = false) {
  auto c = config_for(s, 0x1p-5f, epochs);
  c.step_cost_neg = 0x1.8p-5f;
  c.step_cost_pos = 0x1p-5f;
  c.logistic = logistic;
  return c;
}

stream::PackedStream packed(unsigned bits, const data::Dataset& ds, data::Range range = data::Range::ZeroOne) {
  stream::PackOptions o;
  o.range = range;
  switch (bits) {
    case 32: return stream::pack<Float32>(ds, o);
    case 8: return stream::pack<Quantized<8>>(ds, o);
    case 4: return stream::pack<Quantized<4>>(ds, o);
    case 2: return stream::pack<Quantized<2>>(ds, o);
    default: return stream::pack<Quantized<1>>(ds, o);
  }
}

std::vector<float> labels_0_to(std::size_t k) {
  std::vector<float> l;
  for (std::size_t i = 0; i < k; ++i) l.push_back(static_cast<float>(i));
  return l;
}

//! `epochs` epochs of one job on the CPU and on the Verilator backend (run_epoch directly),
//! the K x d model words compared after each; returns the backend's engine count. The CPU
//! takes its loss from the model policy, so M must match the configuration.
template <class M = L2Svm>
std::size_t cpu_vs_rtl(const stream::PackedStream& s, const stream::Config& c, const std::vector<float>& labels,
                       std::size_t epochs, const std::string& what, bool per_lane = false,
                       verilator::StreamStalls stalls = {}) {
  TrainJob job;
  job.config = c;
  job.lane_labels = labels;
  job.data = &s;
  job.arithmetic = Arithmetic::Engine;
  ModelState a, b;
  a.reset(Arithmetic::Engine, job.lanes(), s.layout.dim);
  b.reset(Arithmetic::Engine, job.lanes(), s.layout.dim);
  Cpu cpu;
  Verilator rtl({}, stalls);
  rtl.one_engine_per_lane = per_lane;
  bool moved = false;
  for (std::size_t e = 0; e < epochs; ++e) {
    cpu.run_epoch(M{}, job, e, a);
    rtl.run_epoch(M{}, job, e, b);
    for (std::size_t i = 0; i < a.fixed.size(); ++i) {
      if (a.fixed[i] != b.fixed[i])
        FAIL(what << ": epoch " << e + 1 << ", lane " << i / s.layout.dim << ", feature " << i % s.layout.dim
                  << ": cpu " << a.fixed[i] << ", rtl " << b.fixed[i]);
      moved = moved || b.fixed[i] != 0;
    }
  }
  CHECK_MESSAGE(moved, what << ": the models never left zero");
  return rtl.engines();
}

//! ENGINE_INFO on a freshly reset (or command-mode) engine.
stream::EngineInfo info_of(verilator::SimEngine& e) {
  const std::uint64_t ask[] = {cmd::kEngineInfo};
  const auto ex = e.exchange(ask, 1, kBudget);
  REQUIRE_FALSE(ex.timed_out);
  REQUIRE(ex.beats.size() == 3);
  CHECK_FALSE(ex.beats[0].last);
  CHECK_FALSE(ex.beats[1].last);
  CHECK(ex.beats[2].last);
  const auto info = stream::decode_engine_info(data_of(ex.beats));
  REQUIRE(info.has_value());
  return *info;
}

} // namespace

TEST_CASE("lane words: payload layout and the configuration block") {
  const stream::LaneLabel l{7, 10, 3.0f};
  const auto p = stream::lane_payload(l);
  CHECK(p == (0x40400000ULL | (7ULL << 32) | (10ULL << 40)));
  CHECK(stream::decode_lane_payload(p) == l);
  CHECK(stream::is_command(cmd::kLaneLabel));
  CHECK(stream::is_command(cmd::kEngineInfo));
  stream::Config c;
  c.dim = 5;
  const std::vector<float> labels = {4.0f, 2.0f, 9.0f};
  // a single-lane engine gets the original's block, binarized against the one label
  const std::vector<float> one = {4.0f};
  const auto w1 = stream::config_words(c, one, 1);
  const auto orig = stream::config_words(stream::lanes_config(c, one));
  CHECK(std::vector<stream::Word>(orig.begin(), orig.end()) == w1);
  CHECK(stream::lanes_config(c, one).binarize);
  // a multi-lane engine: the five commands, K LANE_LABEL words, SEND_CONFIG
  const auto w = stream::config_words(c, labels, 10);
  REQUIRE(w.size() == 10 + 2 * 3 + 1);
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(w[10 + 2 * k] == cmd::kLaneLabel);
    CHECK(stream::decode_lane_payload(w[11 + 2 * k]) ==
          stream::LaneLabel{static_cast<std::uint8_t>(k), 3, labels[k]});
  }
  CHECK(w.back() == cmd::kSendConfig);
  // no labels on a multi-lane engine: one lane (K = 1) with the configuration's own label
  const auto r = stream::config_words(c, {}, 10);
  REQUIRE(r.size() == 13);
  CHECK(stream::decode_lane_payload(r[11]) == stream::LaneLabel{0, 1, c.binarize_label});
  CHECK(stream::lane_limit_error(10, 10).empty());
  CHECK(stream::lane_limit_error(11, 10) ==
        "11 model lanes (classes) requested, but the engine has 10 lanes: split the classes across passes or engines");
  CHECK_FALSE(stream::lane_limit_error(2, 1).empty());
}

TEST_CASE("ENGINE_INFO: LANES, K in use, precision and MAX_DIM; the echo is unchanged") {
  for (unsigned bits : {32u, 8u, 4u}) {
    CAPTURE(bits);
    auto e = verilator::make_engine(bits, {}, {}, true);
    e->reset();
    auto info = info_of(*e);
    CHECK(info == stream::EngineInfo{static_cast<unsigned>(verilator::kLanes), 0, stream::precision_code(bits),
                                     static_cast<std::uint32_t>(verilator::kMaxDim)});
    CHECK(stream::info_words(info) == std::array<std::uint32_t, 3>{
                                          0x5a495031u,
                                          static_cast<std::uint32_t>(verilator::kLanes) |
                                              (static_cast<std::uint32_t>(stream::precision_code(bits)) << 16),
                                          static_cast<std::uint32_t>(verilator::kMaxDim)});
    // three lanes configured (epochs 0: the engine stays in command mode)
    const auto s = packed(bits, synthetic(kRows, kDim, data::Range::ZeroOne, 3, 1));
    auto c = classifier(s, 0);
    const std::vector<float> labels = {0.0f, 1.0f, 2.0f};
    const auto words = stream::config_words(c, labels, e->lanes());
    const auto ex = e->exchange(words, 1, kBudget);
    CHECK(data_of(ex.beats) == to_vec(stream::config_echo(stream::lanes_config(c, labels))));
    info = info_of(*e);
    CHECK(info.lanes_in_use == 3);
  }
  for (unsigned bits : {8u, 1u}) {
    auto e = verilator::make_engine(bits);
    e->reset();
    const auto info = info_of(*e);
    CHECK(info.lanes == 1);
    CHECK(info.precision == stream::precision_code(bits));
  }
}

TEST_CASE("no LANE_LABEL: every lane binarizes against the MAGIC3 label, all LANES models in one packet") {
  // what the original host sends: the engine behaves as LANES copies of a single-lane engine
  auto e = verilator::make_engine(8, {}, verilator::StreamStalls{0.2, 0.3, 5}, true);
  e->reset();
  const auto s = packed(8, synthetic(kRows, kDim, data::Range::ZeroOne, 3, 2));
  auto c = classifier(s, 2);
  c.binarize = true;
  c.binarize_label = 1.0f;
  CHECK(echo(*e, c) == to_vec(stream::config_echo(c)));
  const auto ref = cpu_epochs<L2Svm>(c, s, 2);
  std::vector<std::uint64_t> words(s.words.begin(), s.words.end());
  words.push_back(cmd::kTheEnd);
  const std::size_t padded = s.layout.padded_dim();
  for (std::size_t ep = 0; ep < 2; ++ep) {
    const auto ex = e->exchange(words, 1, kBudget + 64 * words.size());
    REQUIRE_FALSE(ex.timed_out);
    REQUIRE(ex.beats.size() == verilator::kLanes * padded);
    for (std::size_t i = 0; i + 1 < ex.beats.size(); ++i) CHECK_FALSE(ex.beats[i].last);
    CHECK(ex.beats.back().last);
    for (std::size_t l = 0; l < verilator::kLanes; ++l)
      for (std::size_t j = 0; j < s.layout.dim; ++j)
        CHECK(static_cast<std::int32_t>(ex.beats[l * padded + j].data) == ref[ep][j]);
  }
}

TEST_CASE("K > LANES is refused: the echo's precision field is 7 and THE_END answers an error word") {
  const auto s = packed(4, synthetic(kRows, kDim, data::Range::ZeroOne, 3, 3));
  const auto c = classifier(s, 1);
  auto refused = [&](verilator::SimEngine& e, std::uint8_t k) {
    e.reset();
    auto words = stream::config_words(c, {}, 1); // the block without lane words ...
    words.pop_back();
    for (std::uint8_t l = 0; l < k; ++l) {       // ... then K lane words, K > LANES
      words.push_back(cmd::kLaneLabel);
      words.push_back(stream::lane_payload({l, k, static_cast<float>(l)}));
    }
    words.push_back(cmd::kSendConfig);
    auto ex = e.exchange(words, 1, kBudget);
    auto expect = stream::config_echo(c);
    expect[1] = (expect[1] & ~(7u << 21)) | (7u << 21);
    CHECK(data_of(ex.beats) == to_vec(expect));
    const std::uint64_t end[] = {cmd::kTheEnd};
    ex = e.exchange(end, 1, kBudget);
    REQUIRE(ex.beats.size() == 1);
    CHECK(ex.beats[0].data == verilator::kErrorNotConfigured);
  };
  auto multi = verilator::make_engine(4, {}, {}, true);
  refused(*multi, static_cast<std::uint8_t>(verilator::kLanes + 1));
  auto single = verilator::make_engine(4);
  refused(*single, 2);
  // K = 1 on a single-lane engine is a valid (if redundant) lane label
  single->reset();
  const std::vector<float> one = {2.0f};
  auto words = stream::config_words(c, one, 1);
  words.pop_back();
  words.push_back(cmd::kLaneLabel);
  words.push_back(stream::lane_payload({0, 1, 2.0f}));
  words.push_back(cmd::kSendConfig);
  const auto lc = stream::lanes_config(c, one);
  const auto ex = single->exchange(words, 1, kBudget);
  CHECK(data_of(ex.beats) == to_vec(stream::config_echo(lc)));
  const auto ref = cpu_epochs<L2Svm>(lc, s, 1);
  CHECK(rtl_epoch(*single, s) == ref[0]);
}

TEST_CASE("one-vs-rest on one engine: bit-exact with the CPU, and with one engine per lane") {
  for (unsigned bits : {32u, 8u, 4u}) {
    CAPTURE(bits);
    const std::string name = bits == 32 ? "float32" : "q" + std::to_string(bits);
    const auto s = packed(bits, synthetic(kRows, kDim, data::Range::ZeroOne, 10, 10 + bits));
    const auto labels = labels_0_to(10);
    CHECK(cpu_vs_rtl(s, classifier(s, 3), labels, 3, name + " K=10") == 1);
    CHECK(cpu_vs_rtl(s, classifier(s, 3), labels, 3, name + " K=10, one engine per lane", true) == 10);
    // fewer lanes than LANES: lanes 3..9 idle, three models written back
    const std::vector<float> three = {7.0f, 0.0f, 4.0f};
    CHECK(cpu_vs_rtl<Logistic>(s, classifier(s, 2, true), three, 2, name + " K=3 logistic") == 1);
    // more than LANES: split evenly over two engines
    const auto twelve = labels_0_to(12);
    CHECK(cpu_vs_rtl(s, classifier(s, 2), twelve, 2, name + " K=12") == 2);
  }
}

TEST_CASE("one-vs-rest on one engine: options, [-1, 1], stalls, long rows") {
  const verilator::StreamStalls stalls{0.25, 0.4, 9};
  const auto labels = labels_0_to(10);
  SUBCASE("[-1, 1], mini-batches, step decay, regularization, stalls") {
    for (unsigned bits : {32u, 8u, 4u}) {
      CAPTURE(bits);
      const auto s = packed(bits, synthetic(kRows, kDim, data::Range::MinusOneOne, 10, 20 + bits),
                            data::Range::MinusOneOne);
      auto c = classifier(s, 3);
      c.minibatch_mask = 3;
      c.step_decay = true;
      c.lambda_shift = 6;
      CHECK(cpu_vs_rtl(s, c, labels, 3, "options", false, stalls) == 1);
    }
  }
  SUBCASE("long rows (several model lines per row)") {
    const auto s = packed(32, synthetic(12, 301, data::Range::ZeroOne, 10, 30));
    auto c = classifier(s, 2);
    c.step_cost_neg = 0x1.8p-9f;
    c.step_cost_pos = 0x1p-9f;
    CHECK(cpu_vs_rtl(s, c, labels, 2, "float32 d=301") == 1);
  }
}

TEST_CASE("Sgd with the Verilator backend: ten classes, every loss that binarizes") {
  Options o;
  o.arithmetic = Arithmetic::Engine;
  o.epochs = 3;
  o.step = 0x1p-5f;
  const auto ds = synthetic(kRows, kDim, data::Range::ZeroOne, 10, 40);
  compare<L2Svm, Float32>("sgd svm float32", ds, o, L2Svm{1.0f, 1.5f});
  compare<Logistic, Quantized<8>>("sgd logistic q8", ds, o);
  o.double_sampling = true;
  o.requantize = true;
  compare<L2Svm, Quantized<4, Stochastic>>("sgd svm q4 ds", ds, o, L2Svm{1.0f, 1.5f});
}
