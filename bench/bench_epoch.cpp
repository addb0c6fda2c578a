// bench_epoch — seconds per epoch of the CPU backend on Fashion-MNIST, per precision, against
// this machine's roofline measured in the same run.
//
// Prints, per precision and arithmetic: median seconds per epoch (10 one-vs-rest lanes, one
// pass), samples/s, packed GB/s, the roofline ratio (epoch time over the larger of packed bytes
// / single-core read bandwidth and dot-product multiply-adds / single-core FMA peak), and the
// speed-up against float32 and against a plain scalar float32 SGD loop. No asserts on time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "zipml/zipml.hpp"

using namespace zipml;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <class F>
double median_seconds(int repeats, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = clock_type::now();
    f();
    t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

//! Single-core read bandwidth: a SIMD sum over 1 GiB (far beyond the caches).
double read_bandwidth() {
  std::vector<float> buf(std::size_t{1} << 28, 1.0f);
  volatile float sink = 0.0f;
  const double s = median_seconds(5, [&] {
    using batch = xsimd::batch<float>;
    batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
    const float* p = buf.data();
    for (std::size_t i = 0; i + 4 * batch::size <= buf.size(); i += 4 * batch::size) {
      a0 += batch::load_unaligned(p + i);
      a1 += batch::load_unaligned(p + i + batch::size);
      a2 += batch::load_unaligned(p + i + 2 * batch::size);
      a3 += batch::load_unaligned(p + i + 3 * batch::size);
    }
    sink = xsimd::hadd(a0 + a1 + a2 + a3);
  });
  return static_cast<double>(buf.size() * sizeof(float)) / s;
}

//! Single-core multiply-add peak: independent FMA chains that stay in registers.
double fma_peak() {
  using batch = xsimd::batch<float>;
  constexpr int chains = 12;
  const std::size_t iters = 50'000'000;
  volatile float sink = 0.0f;
  const double s = median_seconds(3, [&] {
    batch acc[chains];
    for (int c = 0; c < chains; ++c) acc[c] = batch(0.001f * static_cast<float>(c));
    const batch m(0.999999f), a(1e-7f);
    for (std::size_t i = 0; i < iters; ++i)
      for (int c = 0; c < chains; ++c) acc[c] = xsimd::fma(acc[c], m, a);
    batch total(0.0f);
    for (int c = 0; c < chains; ++c) total += acc[c];
    sink = xsimd::hadd(total);
  });
  return static_cast<double>(iters * chains * batch::size) / s;
}

struct Row {
  std::string name;
  double seconds = 0.0;
  std::size_t bytes = 0;
};

template <class P>
Row measure(const data::Dataset& train, Arithmetic arithmetic, unsigned threads, int repeats) {
  Options o;
  o.arithmetic = arithmetic;
  o.epochs = 1;
  o.threads = threads;
  Sgd<L2Svm, P, Cpu> sgd(o, L2Svm{1.0f, 1.5f}, Cpu{threads});
  sgd.fit(train); // packs, configures, trains one epoch (warms the caches and pages)
  TrainJob job = sgd.job();
  ModelState state = sgd.state();
  Cpu cpu{threads};
  Row r;
  r.name = std::string(P::name);
  r.bytes = sgd.packed().bytes();
  r.seconds = median_seconds(repeats, [&] { cpu.run_epoch(L2Svm{1.0f, 1.5f}, job, 1, state); });
  return r;
}

//! The plain scalar float32 SGD loop a first implementation would write: no packing, no SIMD.
double scalar_baseline(const data::Dataset& train, int repeats) {
  const std::size_t n = train.size(), d = train.dim(), k = 10;
  std::vector<float> w(k * d, 0.0f);
  const float* f = train.features.data();
  const float step = 0x1p-12f;
  return median_seconds(repeats, [&] {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < k; ++c) {
        float* x = w.data() + c * d;
        const float* a = f + i * d;
        float dot = 0.0f;
        for (std::size_t j = 0; j < d; ++j) dot += a[j] * x[j];
        const float b = train.labels(i) == static_cast<float>(c) ? 1.0f : -1.0f;
        if (b * dot < 1.0f) {
          const float g = step * (b > 0 ? 1.0f : 1.5f) * (dot - b);
          for (std::size_t j = 0; j < d; ++j) x[j] -= g * a[j];
        }
      }
  });
}

} // namespace

int main(int argc, char** argv) try {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  auto tt = data::load_fashion_mnist();
  data::scale_features(tt.train, data::Range::ZeroOne, data::Axis::Rows);
  const auto& train = tt.train;
  const double n = static_cast<double>(train.size()), d = static_cast<double>(train.dim()), k = 10.0;

  const double bw = read_bandwidth();
  const double peak = fma_peak();
  std::printf("machine: read bandwidth %.2f GB/s (1 GiB SIMD sum, one core), FMA peak %.2f GFMA/s (one core, %zu-wide)\n",
              bw / 1e9, peak / 1e9, xsimd::batch<float>::size);
  const double macs = n * k * d; // dot products; updates add up to as many again for samples inside the margin
  const double scalar = scalar_baseline(train, std::max(1, repeats / 2));
  std::printf("plain scalar float32 loop: %.3f s/epoch\n\n", scalar);
  std::printf("%-8s %-7s %-7s %10s %12s %9s %10s %10s %10s\n", "prec", "arith", "threads", "s/epoch", "samples/s",
              "GB/s", "roofline", "vs f32", "vs scalar");
  const unsigned all = std::max(1u, std::thread::hardware_concurrency());
  for (Arithmetic a : {Arithmetic::Float, Arithmetic::Engine}) {
    for (unsigned t : {1u, all}) {
      std::vector<Row> rows;
      rows.push_back(measure<Float32>(train, a, t, repeats));
      rows.push_back(measure<Quantized<8>>(train, a, t, repeats));
      rows.push_back(measure<Quantized<4>>(train, a, t, repeats));
      rows.push_back(measure<Quantized<2>>(train, a, t, repeats));
      rows.push_back(measure<Quantized<1>>(train, a, t, repeats));
      for (const auto& r : rows) {
        const double bound = std::max(static_cast<double>(r.bytes) / (bw * t), macs / (peak * t));
        std::printf("%-8s %-7s %-7u %10.4f %12.0f %9.2f %9.1fx %9.2fx %9.1fx\n", r.name.c_str(),
                    std::string(to_string(a)).c_str(), t, r.seconds, n / r.seconds,
                    static_cast<double>(r.bytes) / r.seconds / 1e9, r.seconds / bound, rows[0].seconds / r.seconds,
                    scalar / r.seconds);
      }
    }
  }
  std::printf("\nroofline = epoch time / max(packed bytes / (bandwidth x threads), dot MACs / (FMA peak x threads))\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_epoch: %s\n", e.what());
  return 1;
}
