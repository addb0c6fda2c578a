// bench_libsvm — how fast read_libsvm parses a 50,000 x 90 file, next to the cost of merely
// reading that file into memory. No assertions: the numbers are for people and CI logs.
//
// Usage: bench_libsvm [rows] [features]
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "zipml/data/gzfile.hpp"
#include "zipml/data/libsvm.hpp"

namespace fs = std::filesystem;

namespace {

constexpr unsigned kSeed = 42;
constexpr int kRepeats = 5;

//! svm-scale-like text: labels +1/-1, values in [-1, 1] with 6 significant digits, about 5% of
//! the values zero and therefore omitted, a space before the newline.
std::string make_text(std::size_t rows, std::size_t features) {
  std::mt19937_64 rng(kSeed);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  std::bernoulli_distribution zero(0.05);
  std::string text;
  text.reserve(rows * features * 12);
  char buf[32];
  for (std::size_t i = 0; i < rows; ++i) {
    text += (rng() & 1) != 0 ? "+1" : "-1";
    for (std::size_t j = 1; j <= features; ++j) {
      if (zero(rng)) continue;
      text += ' ';
      text += std::to_string(j);
      text += ':';
      const auto res =
          std::to_chars(buf, buf + sizeof buf, value(rng), std::chars_format::general, 6);
      text.append(buf, res.ptr);
    }
    text += " \n";
  }
  return text;
}

template <class F>
double median_seconds(F&& f) {
  std::vector<double> times;
  for (int r = 0; r < kRepeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50000;
  const std::size_t features = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 90;

  const fs::path dir =
      fs::temp_directory_path() /
      ("zipml_bench_libsvm_" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir);
  const fs::path plain = dir / "bench.libsvm";
  const fs::path gz = dir / "bench.libsvm.gz";

  const std::string text = make_text(rows, features);
  std::ofstream(plain, std::ios::binary)
      .write(text.data(), static_cast<std::streamsize>(text.size()));
  {
    gzFile f = gzopen(gz.string().c_str(), "wb6");
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::printf("file: %zu rows x %zu features, %.1f MB (seed %u), %s\n", rows, features, mb, kSeed,
              plain.string().c_str());

  std::size_t sink = 0; // keeps the work observable
  const double t_read = median_seconds([&] { sink += zipml::data::read_file_text(plain).size(); });
  const double t_parse = median_seconds([&] { sink += zipml::data::read_libsvm(plain).size(); });
  const double t_gz = median_seconds([&] { sink += zipml::data::read_libsvm(gz).size(); });

  const auto report = [&](const char* what, double t) {
    std::printf("%-28s %8.4f s  %12.0f lines/s  %8.1f MB/s\n", what, t,
                static_cast<double>(rows) / t, mb / t);
  };
  std::printf("median of %d runs:\n", kRepeats);
  report("read whole file (no parse)", t_read);
  report("read_libsvm (plain)", t_parse);
  report("read_libsvm (gzip)", t_gz);
  std::printf("read_libsvm / plain read: %.1fx\n", t_parse / t_read);

  std::error_code ec;
  fs::remove_all(dir, ec);
  return sink == 0 ? 1 : 0;
}
