// zipml — the randomized stream tester: random mixtures of valid jobs, random (often invalid)
// configurations, loopback, truncated passes and garbage, on every engine, with random input
// gaps and output back-pressure and a cycle watchdog on every exchange.
//
// What must hold (docs/RTL.md, "Never hangs"; issue: reliability):
//  * the engine never stops taking input for more than a bounded number of cycles, whatever it
//    is sent (every exchange below has a cycle budget; running out of it is a failure);
//  * valid traffic loses and duplicates nothing: a valid job's model words equal the CPU engine
//    arithmetic's after every epoch, and loopback answers every word exactly once, in order;
//  * a malformed configuration is refused in the echo (its precision field says why), exactly
//    as a C++ model of the engine's checks predicts;
//  * after anything at all, a reset recovers: the next valid job is bit-exact again.
// Every failure names the seed and the action; rerun one seed with ZIPML_STREAM_SEED=n.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

#include <bit>
#include <cmath>
#include <cstdlib>

using namespace zipml;
using namespace cosim;
namespace cmd = zipml::stream::command;
using zipml::stream::Word;

namespace {

// ---- a C++ model of the engine's configuration checks (rtl/stream_decoder.sv) ----

//! 0 (either sign), or 2^-39 <= g < 2^8: the step factors the engine's shifter can use.
bool engine_step_ok(float g) {
  const auto b = std::bit_cast<std::uint32_t>(g);
  const unsigned exponent = (b >> 23) & 0xffu;
  return (b & 0x7fffffffu) == 0 || ((b >> 31) == 0 && exponent >= 88 && exponent <= 134);
}

//! The precision field the echo carries for `c` on an engine of `bits` and `max_dim`.
unsigned expected_precision_field(const stream::Config& c, unsigned bits, std::size_t max_dim) {
  const auto own = static_cast<unsigned>(stream::precision_code(bits));
  if (c.precision != stream::PrecisionCode::Unstated && static_cast<unsigned>(c.precision) != own) return own;
  const bool steps_ok = c.loss_mode() == stream::LossMode::LeastSquares
                            ? engine_step_ok(c.step)
                            : engine_step_ok(c.step_cost_neg) && engine_step_ok(c.step_cost_pos);
  const bool bad = c.dim == 0 || c.dim > max_dim || (bits == 1 && c.minus_one_one) || (bits == 32 && c.double_sampled) ||
                   !steps_ok;
  return bad ? verilator::kPrecisionRefused : static_cast<unsigned>(c.precision);
}

std::array<std::uint32_t, 9> expected_echo(const stream::Config& c, unsigned bits, std::size_t max_dim) {
  auto e = stream::config_echo(c);
  e[1] = (e[1] & ~(7u << 21)) | (expected_precision_field(c, bits, max_dim) << 21);
  return e;
}

// ---- random pieces ----

const Word kCommands[] = {cmd::kMagic1, cmd::kMagic2, cmd::kMagic3,  cmd::kMagic4,    cmd::kMagic5,
                          cmd::kSendConfig, cmd::kTheEnd, cmd::kLoopback, cmd::kUnloopback};

//! A step factor the engine takes: 0, or in [2^-39, 2^8), often at the edges.
float valid_step(SplitMix64& rng) {
  switch (rng.below(6)) {
    case 0: return 0.0f;
    case 1: return 0x1p-39f;                        // the smallest
    case 2: return std::nextafter(0x1p8f, 0.0f);    // the largest
    default: return std::ldexp(1.0f + rng.uniform(), -39 + static_cast<int>(rng.below(47)));
  }
}

//! A step factor the engine refuses: negative, too small or large, NaN, infinite, denormal.
float invalid_step(SplitMix64& rng) {
  switch (rng.below(7)) {
    case 0: return -std::ldexp(1.0f, -static_cast<int>(rng.below(20)));
    case 1: return std::nextafter(0x1p-39f, 0.0f);  // just below 2^-39
    case 2: return std::ldexp(1.0f + rng.uniform(), 8 + static_cast<int>(rng.below(100)));
    case 3: return 0x1p8f;                          // just too large
    case 4: return std::nanf("");
    case 5: return INFINITY;
    default: return std::bit_cast<float>(static_cast<std::uint32_t>(1 + rng.below(0x7fffff))); // denormal
  }
}

//! A configuration for an engine of `bits`: every field random within what the engine takes,
//! then none, one or two of the faults the engine must refuse.
stream::Config random_config(SplitMix64& rng, unsigned bits) {
  stream::Config c;
  c.lambda_shift = rng.below(2) ? 32 : static_cast<std::uint32_t>(rng());
  c.minibatch_mask = rng.below(3) == 0 ? static_cast<std::uint16_t>(rng()) : 0;
  c.step_decay = rng.below(2) == 0;
  c.binarize = rng.below(2) == 0;
  c.double_sampled = bits != 32 && rng.below(4) == 0;
  c.logistic = rng.below(4) == 0;
  c.decay_interval = static_cast<std::uint8_t>(rng.below(256));
  const bool least_squares = rng.below(3) == 0;
  c.step = least_squares || rng.below(2) ? valid_step(rng) : invalid_step(rng); // unused by classifiers
  if (least_squares) {
    c.step_cost_neg = c.step_cost_pos = std::bit_cast<float>(stream::kLeastSquaresMarker);
  } else {
    c.step_cost_neg = valid_step(rng);
    c.step_cost_pos = valid_step(rng);
  }
  c.binarize_label = static_cast<float>(rng.below(10));
  c.dim = static_cast<std::uint32_t>(1 + rng.below(verilator::kMaxDim));
  if (rng.below(4) == 0) c.dim = rng.below(2) ? 1 : static_cast<std::uint32_t>(verilator::kMaxDim);
  c.samples = static_cast<std::uint32_t>(rng.below(1000));
  c.epochs = static_cast<std::uint32_t>(rng.below(4));
  c.minus_one_one = bits != 1 && rng.below(3) == 0;
  c.precision = rng.below(3) ? stream::precision_code(bits) : stream::PrecisionCode::Unstated;
  for (std::uint64_t faults = rng.below(3); faults > 0; --faults) {
    switch (rng.below(8)) {
      case 0: c.dim = 0; break;
      case 1: c.dim = static_cast<std::uint32_t>(verilator::kMaxDim + 1 + rng.below(3) * rng.below(1u << 31)); break;
      case 2: c.minus_one_one = true; break;         // refused by the 1-bit engine only
      case 3: c.double_sampled = true; break;        // refused by the float32 engine only
      case 4:
        if (least_squares) c.step = invalid_step(rng);
        else c.step_cost_neg = invalid_step(rng);
        break;
      case 5:
        if (!least_squares) c.step_cost_pos = invalid_step(rng);
        break;
      case 6: c.precision = static_cast<stream::PrecisionCode>(1 + rng.below(7)); break; // 6, 7: no such code
      default: c.step_cost_neg = std::bit_cast<float>(stream::kLeastSquaresMarker); break; // one marker: a classifier
    }
  }
  return c;
}

//! A random valid least-squares job for an engine of `bits`: data, its packed stream, a config.
struct Job {
  stream::PackedStream packed;
  stream::Config config;
};

Job random_job(SplitMix64& rng, unsigned bits, std::uint64_t seed) {
  const auto range = (bits != 1 && rng.below(2)) ? data::Range::MinusOneOne : data::Range::ZeroOne;
  const std::size_t n = 1 + rng.below(12), d = 1 + rng.below(120);
  const auto ds = synthetic(n, d, range, 0, seed);
  stream::PackOptions po;
  po.range = range;
  Job j;
  switch (bits) {
    case 32: j.packed = stream::pack<Float32>(ds, po); break;
    case 1: j.packed = stream::pack<Quantized<1>>(ds, po); break;
    case 2: j.packed = stream::pack<Quantized<2>>(ds, po); break;
    case 4: j.packed = stream::pack<Quantized<4>>(ds, po); break;
    default: j.packed = stream::pack<Quantized<8>>(ds, po); break;
  }
  j.config = config_for(j.packed, std::ldexp(1.0f, -3 - static_cast<int>(rng.below(5))),
                        1 + static_cast<std::uint32_t>(rng.below(2)));
  if (rng.below(3) == 0) j.config.lambda_shift = 4 + static_cast<std::uint32_t>(rng.below(8));
  return j;
}

//! Random words: data, command constants, halves of commands, payloads of a valid config.
std::vector<Word> garbage(SplitMix64& rng, const Job& j, std::size_t count) {
  std::vector<Word> w;
  const auto p = stream::payloads(j.config);
  for (std::size_t i = 0; i < count; ++i) {
    switch (rng.below(6)) {
      case 0: w.push_back(kCommands[rng.below(9)]); break;
      case 1: w.push_back(p[rng.below(5)]); break;
      case 2: w.push_back(j.packed.words[rng.below(j.packed.words.size())]); break;
      case 3: w.push_back(kCommands[rng.below(9)] & 0xffffffffu); break;
      default: w.push_back(rng()); break;
    }
  }
  return w;
}

// ---- the tester ----

//! An engine that is always ready again after this many cycles per word it is sent (the
//! longest thing one word can start: zeroing the memories, or a drain and the model's
//! write-back under back-pressure), plus slack. A hang shows up as a spent budget.
std::uint64_t budget_for(std::size_t words) { return 20000 + 30000 * static_cast<std::uint64_t>(words); }

class Tester {
 public:
  Tester(unsigned bits, std::uint64_t seed)
      : bits_(bits), seed_(seed), rng_(seed, 0x57e4),
        engine_(verilator::make_engine(bits, {}, verilator::StreamStalls{0.25, 0.35, seed})) {
    engine_->reset();
  }

  void run(int actions) {
    for (int a = 0; a < actions; ++a) {
      switch (rng_.below(5)) {
        case 0: valid_job(); break;
        case 1: random_configuration(); break;
        case 2: loopback(); break;
        case 3: truncated_pass(); break;
        default: garbage_burst(); break;
      }
    }
    valid_job(); // whatever came last, the engine still trains
  }

 private:
  std::string where(const std::string& action) const {
    return std::to_string(bits_) + "-bit engine, seed " + std::to_string(seed_) + ", action " +
           std::to_string(action_) + " (" + action + ")";
  }

  verilator::Exchange exchange(const std::vector<Word>& words, std::size_t packets, const std::string& action) {
    const auto ex = engine_->exchange(words, packets, budget_for(words.size()), packets == 0 ? 200 : 0);
    if (packets == 0 && ex.sent != words.size())
      FAIL(where(action) << ": the engine stopped taking input (" << ex.sent << " of " << words.size()
                         << " words within " << budget_for(words.size()) << " cycles)");
    if (packets > 0 && ex.timed_out)
      FAIL(where(action) << ": watchdog: " << ex.packets << " of " << packets << " answers and " << ex.sent << " of "
                         << words.size() << " words within " << budget_for(words.size()) << " cycles");
    return ex;
  }

  //! A reset, then the engine must be in command mode with nothing pending.
  void reset() {
    engine_->reset();
    dirty_ = false;
  }

  void valid_job() {
    ++action_;
    if (dirty_) reset();
    const Job j = random_job(rng_, bits_, rng_());
    const std::string what = where("valid job, d " + std::to_string(j.packed.layout.dim) + ", n " +
                                   std::to_string(j.packed.rows));
    const auto cw = stream::config_words(j.config);
    const auto ex = exchange(std::vector<Word>(cw.begin(), cw.end()), 1, what);
    REQUIRE_MESSAGE(data_of(ex.beats) == to_vec(stream::config_echo(j.config)), what << ": wrong echo");
    const auto ref = cpu_epochs(j.config, j.packed, j.config.epochs);
    for (std::size_t ep = 0; ep < j.config.epochs; ++ep) {
      std::vector<Word> pass(j.packed.words.begin(), j.packed.words.end());
      pass.push_back(cmd::kTheEnd);
      const auto out = exchange(pass, 1, what);
      REQUIRE_MESSAGE(out.beats.size() == j.packed.layout.padded_dim(),
                      what << ": epoch " << ep + 1 << ": " << out.beats.size() << " model words, expected "
                           << j.packed.layout.padded_dim());
      for (std::size_t f = 0; f < j.packed.layout.dim; ++f)
        if (static_cast<std::int32_t>(out.beats[f].data) != ref[ep][f])
          FAIL(what << ": epoch " << ep + 1 << " feature " << f << ": cpu " << ref[ep][f] << ", rtl "
                    << static_cast<std::int32_t>(out.beats[f].data));
    }
    // all epochs sent: the engine is back in command mode (docs/RTL.md)
  }

  void random_configuration() {
    ++action_;
    if (dirty_) reset();
    const auto c = random_config(rng_, bits_);
    const std::string what = where("random configuration");
    const auto words = stream::config_words(c);
    const auto ex = exchange(std::vector<Word>(words.begin(), words.end()), 1, what);
    CHECK_MESSAGE(data_of(ex.beats) == to_vec(expected_echo(c, bits_, verilator::kMaxDim)),
                  what << ": the echo does not match the engine's documented checks (d " << c.dim << ", step 0x"
                       << std::hex << std::bit_cast<std::uint32_t>(c.step) << ")");
    dirty_ = true; // an accepted configuration armed the engine for its passes
  }

  void loopback() {
    ++action_;
    if (dirty_) reset();
    const std::string what = where("loopback");
    std::vector<Word> words{cmd::kLoopback};
    const std::size_t k = 1 + rng_.below(40);
    for (std::size_t i = 0; i < k; ++i) {
      Word w = rng_.below(4) == 0 ? kCommands[rng_.below(9)] : rng_();
      if (w == cmd::kUnloopback) w ^= 1; // the one word that ends loopback
      words.push_back(w);
    }
    words.push_back(cmd::kUnloopback);
    const auto ex = exchange(words, k, what);
    REQUIRE_MESSAGE(ex.beats.size() == k, what << ": " << ex.beats.size() << " answers to " << k << " words");
    for (std::size_t i = 0; i < k; ++i) {
      CHECK_MESSAGE(ex.beats[i].data == static_cast<std::uint32_t>(words[i + 1]), what << ": answer " << i);
      CHECK_MESSAGE(ex.beats[i].last, what << ": answer " << i << " without tlast");
    }
  }

  void truncated_pass() {
    ++action_;
    if (dirty_) reset();
    const Job j = random_job(rng_, bits_, rng_());
    const std::string what = where("truncated pass");
    const auto cw = stream::config_words(j.config);
    exchange(std::vector<Word>(cw.begin(), cw.end()), 1, what);
    // The pass is L words; THE_END belongs at index L. A truncated pass sends `keep` < L words
    // and THE_END (data there), then either stays short of index L (no answer: the engine waits
    // for the rest) or reaches it with a word that is not THE_END (one framing-error word).
    const std::size_t len = j.packed.words.size();
    const std::size_t keep = rng_.below(len);
    std::vector<Word> words(j.packed.words.begin(), j.packed.words.begin() + static_cast<std::ptrdiff_t>(keep));
    words.push_back(cmd::kTheEnd);
    const bool reach_end = rng_.below(2) == 0;
    while (words.size() < (reach_end ? len + 1 : len) && (reach_end || rng_.below(4) != 0))
      words.push_back(rng_.below(3) == 0 ? cmd::kTheEnd : rng_());
    if (reach_end && words.back() == cmd::kTheEnd) words.back() = 0x5a5a; // where THE_END belongs
    const auto ex = exchange(words, 0, what);
    if (words.size() <= len) {
      CHECK_MESSAGE(ex.beats.empty(), what << ": " << ex.beats.size() << " answers to a pass that is not over");
    } else {
      REQUIRE_MESSAGE(ex.beats.size() == 1, what << ": " << ex.beats.size() << " answers, expected the framing error");
      CHECK_MESSAGE(ex.beats[0].data == verilator::kErrorFraming, what << ": answer " << ex.beats[0].data);
      CHECK_MESSAGE(ex.beats[0].last, what << ": the error word has no tlast");
    }
    dirty_ = true;
  }

  void garbage_burst() {
    ++action_;
    const Job j = random_job(rng_, bits_, rng_());
    const std::string what = where("garbage");
    if (rng_.below(2)) { // sometimes after a valid configuration, so that rows are being framed
      if (dirty_) reset();
      const auto cw = stream::config_words(j.config);
      exchange(std::vector<Word>(cw.begin(), cw.end()), 1, what);
    }
    const auto words = garbage(rng_, j, 1 + rng_.below(60));
    exchange(words, 0, what); // the watchdog: every word is taken
    dirty_ = true;
  }

  unsigned bits_;
  std::uint64_t seed_;
  SplitMix64 rng_;
  std::unique_ptr<verilator::SimEngine> engine_;
  int action_ = 0;
  bool dirty_ = false;
};

void run_seeds(unsigned bits, std::uint64_t first, std::uint64_t count) {
  if (const char* one = std::getenv("ZIPML_STREAM_SEED")) {
    first = std::strtoull(one, nullptr, 10);
    count = 1;
  }
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    INFO("seed " << seed << " (rerun: ZIPML_STREAM_SEED=" << seed << ")");
    Tester(bits, seed).run(12);
  }
}

} // namespace

TEST_CASE("random configurations: the echo refuses exactly what the engine's documented checks refuse") {
  for (unsigned bits : {32u, 8u, 4u, 2u, 1u}) {
    auto e = verilator::make_engine(bits, {}, verilator::StreamStalls{0.2, 0.3, bits});
    SplitMix64 rng(bits, 0xc0f);
    int refused = 0;
    for (int i = 0; i < 300; ++i) {
      const auto c = random_config(rng, bits);
      e->reset();
      const auto words = stream::config_words(c);
      const auto ex = e->exchange(words, 1, budget_for(words.size()));
      REQUIRE_FALSE_MESSAGE(ex.timed_out, bits << "-bit engine, configuration " << i << ": no echo");
      const auto want = expected_echo(c, bits, verilator::kMaxDim);
      refused += ((want[1] >> 21) & 7u) == verilator::kPrecisionRefused ? 1 : 0;
      CHECK_MESSAGE(data_of(ex.beats) == to_vec(want),
                    bits << "-bit engine, configuration " << i << " (seed " << bits << "): d " << c.dim << ", step 0x"
                         << std::hex << std::bit_cast<std::uint32_t>(c.step) << ", costs 0x"
                         << std::bit_cast<std::uint32_t>(c.step_cost_neg) << "/0x"
                         << std::bit_cast<std::uint32_t>(c.step_cost_pos));
    }
    // both outcomes must be common, or the test proves little
    CHECK(refused > 60);
    CHECK(refused < 240);
  }
}

TEST_CASE("random streams: float32 engine") { run_seeds(32, 1000, 8); }
TEST_CASE("random streams: 8-bit engine") { run_seeds(8, 2000, 8); }
TEST_CASE("random streams: 4-bit engine") { run_seeds(4, 3000, 8); }
TEST_CASE("random streams: 2-bit engine") { run_seeds(2, 4000, 8); }
TEST_CASE("random streams: 1-bit engine") { run_seeds(1, 5000, 8); }
