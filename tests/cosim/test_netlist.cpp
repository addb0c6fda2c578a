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
