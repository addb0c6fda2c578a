// model_words — what a narrower model word than the engine's 32-bit Q9.23 would cost in
// accuracy, on Fashion-MNIST (10 one-vs-rest lanes, 10 epochs, the main job's settings, engine
// arithmetic), for the K-lanes question of docs/RTL.md: narrower words mean narrower model
// memories, updaters and multipliers per lane, so more lanes on the xc7z020.
//
// The CPU backend emulates the narrower word (Cpu::model_word, engine::ModelWord): every word
// a sample updates is rounded to the word's grid (half up, or stochastically as in the ZipML
// paper's end-to-end low precision) and saturated to its range. The binary point is placed
// from the 32-bit run's largest weight, with one bit of headroom. The RTL does not implement
// narrower words; this measures only the accuracy side.
//
// Prints one row per precision and word: its bits, fraction bits, rounding, the test accuracy,
// and the difference to the 32-bit engine. No assertions (docs/PERFORMANCE.md).
//
// Usage: model_words [threads=0 (all cores)]
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "zipml/zipml.hpp"

using namespace zipml;

namespace {

const L2Svm kModel{1.0f, 1.5f}; // the main job's C+ = 1, C- = 1.5

struct Result {
  double accuracy = 0.0;
  std::int32_t largest = 0; //!< the largest |word| (Q9.23) of the trained models
};

template <class P>
Result train(const data::TrainTest& tt, unsigned threads, const engine::ModelWord& word) {
  Options o;
  o.arithmetic = Arithmetic::Engine;
  o.threads = threads;
  Cpu cpu;
  cpu.threads = threads;
  cpu.model_word = word;
  Sgd<L2Svm, P, Cpu> sgd(o, kModel, cpu);
  sgd.fit(tt.train);
  Result r;
  r.accuracy = sgd.score(tt.test);
  for (const std::int32_t w : sgd.state().fixed)
    r.largest = std::max(r.largest, w == std::numeric_limits<std::int32_t>::min() ? std::numeric_limits<std::int32_t>::max() : std::abs(w));
  return r;
}

template <class P>
void sweep(const data::TrainTest& tt, unsigned threads) {
  const Result full = train<P>(tt, threads, {});
  std::printf("%-4s %5d %9d %-10s %8.4f %+8.4f   (largest |w| %.4f)\n", P::name.data(), 32, 23, "(engine)",
              full.accuracy, 0.0, full.largest * 0x1p-23);
  // Integer bits (with the sign) that hold twice the largest weight.
  const int integer_bits = 1 + std::max(0, static_cast<int>(std::bit_width(static_cast<std::uint32_t>(full.largest))) - 23 + 1);
  for (const int bits : {24, 20, 16, 14, 12, 10, 8})
    for (const bool stochastic : {false, true}) {
      engine::ModelWord w;
      w.bits = bits;
      w.fraction_bits = std::min(bits - integer_bits, engine::kModelFractionBits);
      w.stochastic = stochastic;
      if (!w.valid()) continue;
      const Result r = train<P>(tt, threads, w);
      std::printf("%-4s %5d %9d %-10s %8.4f %+8.4f\n", P::name.data(), bits, w.fraction_bits,
                  stochastic ? "stochastic" : "nearest", r.accuracy, r.accuracy - full.accuracy);
      std::fflush(stdout);
    }
}

} // namespace

int main(int argc, char** argv) try {
  const unsigned threads = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 0u;
  auto tt = data::load_fashion_mnist();
  data::scale_features(tt.train, data::Range::ZeroOne, data::Axis::Rows);
  data::scale_features(tt.test, data::Range::ZeroOne, data::Axis::Rows);
  std::printf("Fashion-MNIST, 10 one-vs-rest lanes, 10 epochs, engine arithmetic, step 2^-12, C+ 1, C- 1.5\n");
  std::printf("%-4s %5s %9s %-10s %8s %8s\n", "prec", "bits", "fraction", "rounding", "accuracy", "vs 32");
  sweep<Quantized<8>>(tt, threads);
  sweep<Quantized<4>>(tt, threads);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "model_words: %s\n", e.what());
  return 1;
}
