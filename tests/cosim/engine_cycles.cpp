// zipml — simulated cycles per epoch of the RTL engine, per precision (not a test).
//
//   build/tests/cosim/engine_cycles [rows]
//
// For each precision and a few dimensions: stream words per epoch (data + THE_END), simulated
// clock cycles per epoch (from the first data word to the model's last word out), their ratio,
// and how many simulated cycles per second Verilator runs on this machine.
#define DOCTEST_CONFIG_DISABLE // cosim_common.hpp is shared with the tests
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cosim_common.hpp"

using namespace zipml;

namespace {

template <class P>
void measure(std::size_t rows, std::size_t d) {
  const auto ds = cosim::synthetic(rows, d, data::Range::ZeroOne, 0, 1);
  const auto packed = stream::pack<P>(ds);
  TrainJob job;
  job.config.dim = static_cast<std::uint32_t>(d);
  job.config.samples = static_cast<std::uint32_t>(packed.rows);
  job.config.epochs = 2;
  job.config.step = 0x1p-10f;
  job.config.precision = stream::precision_code(P::bits);
  job.data = &packed;
  job.arithmetic = Arithmetic::Engine;
  ModelState state;
  state.reset(Arithmetic::Engine, 1, d);
  Verilator engine;
  engine.run_epoch(LeastSquares{}, job, 0, state); // configuration + a first epoch
  const auto t0 = std::chrono::steady_clock::now();
  engine.run_epoch(LeastSquares{}, job, 1, state);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cycles = static_cast<double>(engine.last_epoch_cycles());
  const double words = static_cast<double>(packed.words.size() + 1);
  std::printf("%-8s %6zu %6zu %10.0f %10.0f %8.3f %12.3g\n", std::string(P::name).c_str(), d, rows, words, cycles,
              cycles / words, cycles / s);
}

template <class P>
void precision(std::size_t rows) {
  for (std::size_t d : {8, 64, 785, 4096}) measure<P>(rows, d);
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 500;
  std::printf("%-8s %6s %6s %10s %10s %8s %12s\n", "samples", "d", "rows", "words", "cycles", "cyc/word",
              "sim cyc/s");
  precision<Float32>(rows);
  precision<Quantized<8>>(rows);
  precision<Quantized<4>>(rows);
  precision<Quantized<2>>(rows);
  precision<Quantized<1>>(rows);
  return 0;
}
