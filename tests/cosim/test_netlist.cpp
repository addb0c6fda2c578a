// zipml — Yosys's reading of the RTL, simulated: the post-synthesis netlists (rtl/meson.build:
// Yosys elaboration, proc, flatten, coarse optimizations, written back as Verilog) train
// bit-exact against the CPU engine arithmetic. Where Yosys and Verilator disagree about what
// the SystemVerilog means, this fails (it caught Yosys 0.23 dropping a multiplier that a
// parameter-dependent function branch held).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "cosim_common.hpp"

#include "Vnetlist_f32.h"
#include "Vnetlist_q1.h"
#include "Vnetlist_q2.h"
#include "Vnetlist_q4.h"
#include "Vnetlist_q8.h"
#include "Vnetlist_q8_lanes.h"

using namespace zipml;
using namespace cosim;

namespace {

//! Packs `ds` for the precision P (stochastic rounding and double sampling for Q-bit when asked).
template <class P>
stream::PackedStream pack_for(const data::Dataset& ds, data::Range range, bool double_sampled, std::uint64_t seed) {
  stream::PackOptions o;
  o.range = range;
  o.seed = seed;
  if constexpr (P::bits != 32) {
    if (double_sampled) {
      o.double_sampled = true;
      return stream::pack<Quantized<P::bits, Stochastic>>(ds, o);
    }
  }
  return stream::pack<P>(ds, o);
}

//! Least squares (with decay, mini-batches, lambda), L2-SVM and logistic (binarized by the
//! configuration), both ranges and double sampling, on the netlist of one precision.
template <class Netlist, class P>
void netlist_jobs(const std::string& name) {
  verilator::SimEngineOf<Netlist, P::bits> e({}, verilator::StreamStalls{0.1, 0.2, 3});
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    SplitMix64 rng(seed, 99);
    const auto range = (P::bits != 1 && seed % 2 == 0) ? data::Range::MinusOneOne : data::Range::ZeroOne;
    const unsigned loss = static_cast<unsigned>(seed % 3);
    const std::size_t d = 1 + rng.below(70), n = 2 + rng.below(20);
    auto ds = synthetic(n, d, range, loss == 0 ? 0 : 2, seed);
    if (loss != 0)
      for (std::size_t i = 0; i < 2; ++i) ds.labels(i) = static_cast<float>(i); // both classes
    const auto s = pack_for<P>(ds, range, P::bits != 32 && seed % 4 == 1, seed);
    auto c = config_for(s, std::ldexp(1.0f, -3 - static_cast<int>(rng.below(4))), 3);
    if (rng.below(3) == 0) c.lambda_shift = 3 + static_cast<std::uint32_t>(rng.below(8));
    if (rng.below(3) == 0) c.minibatch_mask = static_cast<std::uint16_t>((1u << rng.below(3)) - 1);
    if (rng.below(3) == 0) c.step_decay = true;
    const std::string what = name + " netlist, job " + std::to_string(seed);
    e.reset();
    if (loss == 0) {
      train_config<LeastSquares>(e, s, c, 3, what);
    } else {
      c.step_cost_neg = c.step * 1.5f;
      c.step_cost_pos = c.step;
      c.binarize = true;
      c.binarize_label = 1.0f;
      c.logistic = loss == 2;
      if (loss == 1) train_config<L2Svm>(e, s, c, 3, what);
      else train_config<Logistic>(e, s, c, 3, what);
    }
  }
}

} // namespace

TEST_CASE("Yosys netlist, float32") { netlist_jobs<Vnetlist_f32, Float32>("float32"); }
TEST_CASE("Yosys netlist, 8-bit") { netlist_jobs<Vnetlist_q8, Quantized<8>>("q8"); }
TEST_CASE("Yosys netlist, 4-bit") { netlist_jobs<Vnetlist_q4, Quantized<4>>("q4"); }
TEST_CASE("Yosys netlist, 2-bit") { netlist_jobs<Vnetlist_q2, Quantized<2>>("q2"); }
TEST_CASE("Yosys netlist, 1-bit") { netlist_jobs<Vnetlist_q1, Quantized<1>>("q1"); }

TEST_CASE("Yosys netlist, 8-bit, three lanes (MAX_DIM 256): lane labels and the multi-lane write-back") {
  verilator::SimEngineOf<Vnetlist_q8_lanes, 8, 3> engine({}, verilator::StreamStalls{0.1, 0.2, 4});
  verilator::SimEngine& e = engine;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto ds = synthetic(16, 20 + seed * 17, data::Range::ZeroOne, 3, seed);
    const auto s = pack_for<Quantized<8>>(ds, data::Range::ZeroOne, seed % 2 == 0, seed);
    auto c = config_for(s, 0x1p-5f, 2);
    c.step_cost_neg = 0x1.8p-5f;
    c.step_cost_pos = 0x1p-5f;
    c.logistic = seed == 3;
    // K = 3, and K = 2 (the third lane idle and not written back)
    const std::vector<float> labels = seed == 4 ? std::vector<float>{2.0f, 0.0f} : std::vector<float>{0.0f, 1.0f, 2.0f};
    e.reset();
    const auto words = stream::config_words(c, labels, 3);
    const auto ex = e.exchange(words, 1, kBudget);
    CHECK(data_of(ex.beats) == to_vec(stream::config_echo(stream::lanes_config(c, labels))));
    std::vector<std::vector<std::vector<std::int32_t>>> ref;
    for (float l : labels) {
      auto lc = c;
      lc.binarize = true;
      lc.binarize_label = l;
      ref.push_back(c.logistic ? cpu_epochs<Logistic>(lc, s, 2) : cpu_epochs<L2Svm>(lc, s, 2));
    }
    std::vector<std::uint64_t> data(s.words.begin(), s.words.end());
    data.push_back(stream::command::kTheEnd);
    const std::size_t padded = s.layout.padded_dim();
    for (std::size_t ep = 0; ep < 2; ++ep) {
      const auto out = e.exchange(data, 1, kBudget + 64 * data.size());
      REQUIRE(out.beats.size() == labels.size() * padded);
      for (std::size_t l = 0; l < labels.size(); ++l)
        for (std::size_t j = 0; j < s.layout.dim; ++j)
          if (static_cast<std::int32_t>(out.beats[l * padded + j].data) != ref[l][ep][j])
            FAIL("lanes netlist, job " << seed << ": epoch " << ep + 1 << " lane " << l << " feature " << j);
    }
  }
}
