// zipml — simulated cycles per epoch of the RTL engine, per precision (not a test).
//
//   build/tests/cosim/engine_cycles [rows [lanes [d,d,...]]]
//
// For each precision and a few dimensions (default 8, 64, 785, 4096): stream words per epoch
// (data + THE_END), simulated clock cycles per epoch (from the first data word to the last
// model word out), their ratio, and how many simulated cycles per second Verilator runs on
// this machine. With lanes K > 1: K one-vs-rest L2-SVM lanes (the write-back carries K
// models), on one engine where a multi-lane engine exists (the `engines` column says).
#define DOCTEST_CONFIG_DISABLE // cosim_common.hpp is shared with the tests
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cosim_common.hpp"

using namespace zipml;

namespace {

template <class P>
void measure(std::size_t rows, std::size_t d, std::size_t lanes) {
  const auto ds = cosim::synthetic(rows, d, data::Range::ZeroOne, lanes > 1 ? static_cast<unsigned>(lanes) : 0, 1);
  const auto packed = stream::pack<P>(ds);
  TrainJob job;
  job.config.dim = static_cast<std::uint32_t>(d);
  job.config.samples = static_cast<std::uint32_t>(packed.rows);
  job.config.epochs = 2;
  job.config.step = 0x1p-10f;
  if (lanes > 1) { // an L2-SVM, one lane per class
    job.config.step_cost_neg = 0x1.8p-10f;
    job.config.step_cost_pos = 0x1p-10f;
    for (std::size_t k = 0; k < lanes; ++k) job.lane_labels.push_back(static_cast<float>(k));
  }
  job.config.precision = stream::precision_code(P::bits);
  job.data = &packed;
  job.arithmetic = Arithmetic::Engine;
  ModelState state;
  state.reset(Arithmetic::Engine, job.lanes(), d);
  Verilator engine;
  engine.run_epoch(L2Svm{}, job, 0, state); // configuration + a first epoch
  const auto t0 = std::chrono::steady_clock::now();
  engine.run_epoch(L2Svm{}, job, 1, state);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cycles = static_cast<double>(engine.last_epoch_cycles());
  const double words = static_cast<double>(packed.words.size() + 1);
  std::printf("%-8s %6zu %6zu %5zu %7zu %10.0f %10.0f %8.3f %12.3g\n", std::string(P::name).c_str(), d, rows, lanes,
              engine.engines(), words, cycles, cycles / words, cycles / s * static_cast<double>(engine.engines()));
}

template <class P>
void precision(std::size_t rows, std::size_t lanes, const std::vector<std::size_t>& dims) {
  for (std::size_t d : dims) measure<P>(rows, d, lanes);
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 500;
  const std::size_t lanes = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1;
  std::vector<std::size_t> dims = {8, 64, 785, 4096};
  if (argc > 3) {
    dims.clear();
    for (const char* p = argv[3]; *p != '\0';) {
      char* end = nullptr;
      const std::size_t d = std::strtoul(p, &end, 10);
      if (end == p || d == 0) return std::fprintf(stderr, "engine_cycles: bad dimension list %s\n", argv[3]), 2;
      dims.push_back(d);
      p = *end == ',' ? end + 1 : end;
    }
  }
  if (rows == 0 || lanes == 0 || dims.empty()) {
    std::fprintf(stderr, "usage: engine_cycles [rows [lanes [d,d,...]]]\n");
    return 2;
  }
  std::printf("%-8s %6s %6s %5s %7s %10s %10s %8s %12s\n", "samples", "d", "rows", "lanes", "engines", "words",
              "cycles", "cyc/word", "sim cyc/s");
  precision<Float32>(rows, lanes, dims);
  precision<Quantized<8>>(rows, lanes, dims);
  precision<Quantized<4>>(rows, lanes, dims);
  precision<Quantized<2>>(rows, lanes, dims);
  precision<Quantized<1>>(rows, lanes, dims);
  return 0;
}
