// What several tests share: a temporary folder of their own, a small classification data set.
#ifndef ZIPML_TESTS_UNIT_SUPPORT_HPP
#define ZIPML_TESTS_UNIT_SUPPORT_HPP

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

#include "zipml/data/dataset.hpp"
#include "zipml/options.hpp"
#include "zipml/random.hpp"

// ZIPML_TEST_ASAN: built with AddressSanitizer (gcc or clang), whose runtime owns the allocator
// and the address space, so allocation probes and address-space limits do not apply.
#if defined(__SANITIZE_ADDRESS__)
#define ZIPML_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZIPML_TEST_ASAN 1
#endif
#endif

namespace zipml::test {

//! A fresh folder under the system's temp folder, removed at the end of the test (made
//! writable first, for tests that take the permission away).
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> k{0};
    path = std::filesystem::temp_directory_path() /
           ("zipml-unit-test-" + std::to_string(::getpid()) + "-" + std::to_string(k++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path, ec);
  }
  //! Writes `text` to the file `name` in the folder and returns its path.
  [[nodiscard]] std::filesystem::path file(const std::string& name, std::string_view text) const {
    const std::filesystem::path p = path / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

//! Three classes of noisy blobs, the same rows for the same seed: class c raises the features
//! j with j % 3 == c by `lift` (the rest is uniform in [0, 1 - lift]); column 0 is the bias.
inline data::Dataset blobs(std::size_t n, std::size_t d, std::uint64_t seed, float lift = 0.5f) {
  SplitMix64 rng(seed);
  data::Dataset ds;
  ds.source = "blobs(seed=" + std::to_string(seed) + ")";
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = rng.below(3);
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = (1.0f - lift) * rng.uniform() + (j % 3 == c ? lift : 0.0f);
    ds.labels(i) = static_cast<float>(c);
  }
  return ds;
}

//! Options of a small data-parallel job: shuffled once, this arithmetic and averaging.
inline Options averaging_job(Arithmetic a, Averaging avg, std::size_t epochs, float step, std::size_t every) {
  Options o;
  o.arithmetic = a;
  o.epochs = epochs;
  o.step = step;
  o.order = Order::Shuffle;
  o.averaging = avg;
  o.average_samples = every;
  return o;
}

} // namespace zipml::test

#endif
