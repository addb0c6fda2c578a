// bench_epoch — the CPU backend on Fashion-MNIST (10 one-vs-rest lanes, one pass per epoch),
// per precision, against this machine's roofline and against other SGD code, in one run.
//
// Prints:
//  1. the machine: single-core read bandwidth (a SIMD sum over 1 GiB, far beyond the caches)
//     and single-core multiply-add peak (independent FMA chains in registers), both measured
//     now, at the start and again at the end of the run (the larger of the two is used);
//  2. per precision, arithmetic and thread count: median seconds per epoch, samples/s,
//     packed GB/s, the multiply-adds done (dot products of every lane plus the updates that
//     happened, counted by the backend), the roofline ratio = epoch time / max(packed bytes /
//     read bandwidth, multiply-adds / FMA peak) with the single-core figures, the speed-up
//     against float32 and against a plain scalar float32 SGD loop, and the 1 -> 2 thread scaling;
//  3. whole trainings (pack + 10 epochs) with their test accuracy, next to scikit-learn's
//     SGDClassifier (squared hinge, one-vs-rest, one thread, same data and epochs) when a
//     python3 with scikit-learn is found (bench/sklearn_sgd.py).
// No assertions on time: the numbers are for people and logs (docs/PERFORMANCE.md).
//
// Usage: bench_epoch [repeats=7] [--no-sklearn]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <xsimd/xsimd.hpp>

#include "zipml/zipml.hpp"

#ifndef ZIPML_BENCH_DIR
#define ZIPML_BENCH_DIR "bench"
#endif

using namespace zipml;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t kEpochs = 10;
const L2Svm kModel{1.0f, 1.5f}; // the main job's C+ = 1, C- = 1.5

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

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
double read_bandwidth(int repeats) {
  static std::vector<float> buf(std::size_t{1} << 28, 1.0f);
  volatile float sink = 0.0f;
  const double s = median_seconds(repeats, [&] {
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
double fma_peak(int repeats) {
  using batch = xsimd::batch<float>;
  constexpr int chains = 12;
  const std::size_t iters = 20'000'000;
  volatile float sink = 0.0f;
  const double s = median_seconds(repeats, [&] {
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
  Arithmetic arithmetic = Arithmetic::Float;
  unsigned threads = 1;
  double seconds = 0.0;
  std::size_t bytes = 0;
  double macs = 0.0;
};

//! Median seconds of one pass, with the multiply-adds it did.
template <class P>
Row measure_epoch(const data::Dataset& train, Arithmetic arithmetic, unsigned threads, int repeats) {
  Options o;
  o.arithmetic = arithmetic;
  o.epochs = 1;
  o.threads = threads;
  Sgd<L2Svm, P, Cpu> sgd(o, kModel, Cpu{threads});
  sgd.fit(train); // packs, configures, trains one epoch (warms the caches and pages)
  const TrainJob job = sgd.job();
  ModelState state = sgd.state();
  PassCounters counters;
  const Cpu cpu{threads, &counters};
  Row r;
  r.name = std::string(P::name);
  r.arithmetic = arithmetic;
  r.threads = threads;
  r.bytes = sgd.packed().bytes();
  r.seconds = median_seconds(repeats, [&] { cpu.run_epoch(kModel, job, 1, state); });
  // Every lane's dot product of every sample, plus the updates that changed a model.
  const double d = static_cast<double>(train.dim());
  r.macs = (static_cast<double>(counters.lane_samples) + static_cast<double>(counters.lane_updates)) * d / repeats;
  return r;
}

//! The plain scalar float32 SGD loop a first implementation would write: no packing, no
//! intrinsics, the float features as loaded, one lane after the other for each sample.
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

struct Training {
  std::string name;
  unsigned threads = 1;
  double pack = 0.0;   //!< packing the data set, median
  double passes = 0.0; //!< kEpochs passes from the zero model, median
  double accuracy = 0.0;
  [[nodiscard]] double seconds() const noexcept { return pack + passes; }
};

//! A whole training as zipml-train runs it (file order, nearest rounding): packing plus
//! kEpochs passes from the zero model, timed without the per-epoch evaluation that fit() adds;
//! the accuracy is fit()'s model on the test set (the same passes).
template <class P>
Training measure_training(const data::Dataset& train, const data::Dataset& test, unsigned threads, int repeats) {
  Options o;
  o.epochs = kEpochs;
  o.threads = threads;
  Sgd<L2Svm, P, Cpu> sgd(o, kModel, Cpu{threads});
  sgd.fit(train);
  Training t;
  t.name = std::string(P::name);
  t.threads = threads;
  t.accuracy = sgd.score(test);
  TrainJob job = sgd.job();
  stream::PackOptions po;
  po.threads = threads;
  stream::PackedStream packed;
  t.pack = median_seconds(repeats, [&] { packed = stream::pack<P>(train, po); });
  job.data = &packed;
  const Cpu cpu{threads};
  t.passes = median_seconds(repeats, [&] {
    ModelState state;
    state.reset(Arithmetic::Float, job.lanes(), train.dim());
    for (std::size_t e = 0; e < kEpochs; ++e) cpu.run_epoch(kModel, job, e, state);
  });
  return t;
}

struct Peer {
  std::string config;
  double seconds = 0.0, train_accuracy = 0.0, test_accuracy = 0.0;
};

double json_number(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\": ");
  return at == std::string::npos ? -1.0 : std::atof(line.c_str() + at + key.size() + 4);
}

//! scikit-learn's SGDClassifier on the same scaled data (bench/sklearn_sgd.py), or nothing
//! when no python3 with scikit-learn is installed.
std::vector<Peer> sklearn_peers(const data::Dataset& train, const data::Dataset& test) {
  std::string python;
  for (const char* p : {"python3", "/usr/bin/python3"}) {
    const std::string probe = std::string(p) + " -c 'import sklearn, numpy' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      python = p;
      break;
    }
  }
  if (python.empty()) {
    std::printf("scikit-learn: not found (sudo apt-get install python3-sklearn); skipped\n");
    return {};
  }
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("zipml-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // The features without the bias column (SGDClassifier fits its own intercept).
  auto write = [&](const data::Dataset& ds, const std::string& stem) {
    std::ofstream x(dir / (stem + "_x.f32"), std::ios::binary), y(dir / (stem + "_y.f32"), std::ios::binary);
    for (std::size_t i = 0; i < ds.size(); ++i) {
      x.write(reinterpret_cast<const char*>(&ds.features(i, 1)), static_cast<std::streamsize>((ds.dim() - 1) * sizeof(float)));
      const float label = ds.labels(i);
      y.write(reinterpret_cast<const char*>(&label), sizeof(float));
    }
  };
  write(train, "train");
  write(test, "test");
  const std::string cmd = python + " " + ZIPML_BENCH_DIR + "/sklearn_sgd.py " + (dir / "train_x.f32").string() + " " +
                          (dir / "train_y.f32").string() + " " + (dir / "test_x.f32").string() + " " +
                          (dir / "test_y.f32").string() + " " + std::to_string(train.dim() - 1) + " " +
                          std::to_string(kEpochs);
  std::vector<Peer> peers;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char line[1024];
    while (std::fgets(line, sizeof line, pipe) != nullptr) {
      const std::string s(line);
      const auto at = s.find("\"config\": \"");
      if (at == std::string::npos) continue;
      Peer p;
      p.config = s.substr(at + 11, s.find('"', at + 11) - at - 11);
      p.seconds = json_number(s, "seconds");
      p.train_accuracy = json_number(s, "train_accuracy");
      p.test_accuracy = json_number(s, "test_accuracy");
      peers.push_back(p);
    }
    ::pclose(pipe);
  }
  fs::remove_all(dir);
  return peers;
}

} // namespace

int main(int argc, char** argv) try {
  int repeats = 7;
  bool sklearn = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-sklearn") == 0)
      sklearn = false;
    else
      repeats = std::max(1, std::atoi(argv[i]));
  }
  auto tt = data::load_fashion_mnist();
  data::scale_features(tt.train, data::Range::ZeroOne, data::Axis::Rows);
  data::scale_features(tt.test, data::Range::ZeroOne, data::Axis::Rows);
  const auto& train = tt.train;
  const double n = static_cast<double>(train.size());
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());

  double bw = read_bandwidth(5), peak = fma_peak(5);
  const double scalar = scalar_baseline(train, std::max(1, repeats / 2));

  std::vector<unsigned> thread_counts{1};
  if (cores > 1) thread_counts.push_back(cores);
  std::vector<Row> rows;
  for (Arithmetic a : {Arithmetic::Float, Arithmetic::Engine})
    for (unsigned t : thread_counts) {
      rows.push_back(measure_epoch<Float32>(train, a, t, repeats));
      rows.push_back(measure_epoch<Quantized<8>>(train, a, t, repeats));
      rows.push_back(measure_epoch<Quantized<4>>(train, a, t, repeats));
      rows.push_back(measure_epoch<Quantized<2>>(train, a, t, repeats));
      rows.push_back(measure_epoch<Quantized<1>>(train, a, t, repeats));
    }
  // The machine again: the larger figure of the two is what it can do (the roofline).
  const double bw2 = read_bandwidth(5), peak2 = fma_peak(5);
  std::printf("machine: read bandwidth %.2f / %.2f GB/s (1 GiB SIMD sum, one core, start / end of run), "
              "FMA peak %.1f / %.1f GFMA/s (one core, %zu-wide)\n",
              bw / 1e9, bw2 / 1e9, peak / 1e9, peak2 / 1e9, xsimd::batch<float>::size);
  bw = std::max(bw, bw2);
  peak = std::max(peak, peak2);
  std::printf("plain scalar float32 SGD loop (10 lanes, float features): %.4f s/epoch\n\n", scalar);

  std::printf("%-8s %-7s %3s %9s %10s %7s %8s %5s %9s %7s %9s %7s\n", "prec", "arith", "thr", "s/epoch", "samples/s",
              "GB/s", "GMAC", "bound", "roofline", "vs f32", "vs scalar", "1->N");
  for (const auto& r : rows) {
    const Row* f32 = nullptr;
    const Row* one = nullptr;
    for (const auto& o : rows) {
      if (o.arithmetic == r.arithmetic && o.threads == r.threads && o.name == "float32") f32 = &o;
      if (o.arithmetic == r.arithmetic && o.threads == 1 && o.name == r.name) one = &o;
    }
    const double mem = static_cast<double>(r.bytes) / bw, fma = r.macs / peak;
    std::printf("%-8s %-7s %3u %9.4f %10.0f %7.2f %8.3f %5s %8.2fx %6.2fx %8.1fx %6.2fx\n", r.name.c_str(),
                std::string(to_string(r.arithmetic)).c_str(), r.threads, r.seconds, n / r.seconds,
                static_cast<double>(r.bytes) / r.seconds / 1e9, r.macs / 1e9, mem > fma ? "mem" : "fma",
                r.seconds / std::max(mem, fma), f32->seconds / r.seconds, scalar / r.seconds, one->seconds / r.seconds);
  }
  std::printf("\nroofline = s/epoch / max(packed bytes / read bandwidth, GMAC / FMA peak), single-core figures for\n"
              "every thread count; GMAC = every lane's dot product plus the updates that changed a model.\n\n");

  std::vector<Training> trainings;
  for (unsigned t : thread_counts) {
    trainings.push_back(measure_training<Float32>(train, tt.test, t, 3));
    trainings.push_back(measure_training<Quantized<8>>(train, tt.test, t, 3));
    trainings.push_back(measure_training<Quantized<4>>(train, tt.test, t, 3));
    trainings.push_back(measure_training<Quantized<2>>(train, tt.test, t, 3));
    trainings.push_back(measure_training<Quantized<1>>(train, tt.test, t, 3));
  }
  const auto peers = sklearn ? sklearn_peers(train, tt.test) : std::vector<Peer>{};
  std::printf("whole training, %zu epochs, 10 classes (zipml: pack + passes, float arithmetic, nearest rounding;\n"
              "x = sklearn fit seconds / zipml seconds, for the whole training and for the passes alone):\n",
              kEpochs);
  std::printf("%-20s %3s %7s %7s %7s %8s", "", "thr", "pack", "passes", "total", "test acc");
  for (const auto& p : peers) std::printf("  %-22s", ("vs sklearn " + p.config).c_str());
  std::printf("\n");
  for (const auto& t : trainings) {
    std::printf("%-20s %3u %7.3f %7.3f %7.3f %8.4f", ("zipml " + t.name).c_str(), t.threads, t.pack, t.passes,
                t.seconds(), t.accuracy);
    for (const auto& p : peers) std::printf("  %8.1fx (%6.1fx)     ", p.seconds / t.seconds(), p.seconds / t.passes);
    std::printf("\n");
  }
  for (const auto& p : peers)
    std::printf("%-20s %3u %7s %7s %7.3f %8.4f   (train accuracy %.4f)\n", ("sklearn " + p.config).c_str(), 1u, "", "",
                p.seconds, p.test_accuracy, p.train_accuracy);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_epoch: %s\n", e.what());
  return 1;
}
