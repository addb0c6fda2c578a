// zipml — Fashion-MNIST from Debian's dataset-fashion-mnist package.
//
// The package installs the four original IDX files (gzip) in one directory; zipml reads them
// from there rather than downloading anything.
#ifndef ZIPML_DATA_FASHION_MNIST_HPP
#define ZIPML_DATA_FASHION_MNIST_HPP

#include <array>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <system_error>

#include "zipml/data/dataset.hpp"
#include "zipml/data/idx.hpp"
#include "zipml/error.hpp"

namespace zipml::data {

struct TrainTest {
  Dataset train, test;
};

//! Where dataset-fashion-mnist installs the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

//! The package's four files in `dir`: training images and labels, test images and labels.
//! Throws Error listing every missing one, with the command that installs them.
[[nodiscard]] inline std::array<std::filesystem::path, 4> fashion_mnist_files(const std::filesystem::path& dir = kFashionMnistDir) {
  const std::filesystem::path train_images = dir / "train-images-idx3-ubyte.gz";
  const std::filesystem::path train_labels = dir / "train-labels-idx1-ubyte.gz";
  const std::filesystem::path test_images = dir / "t10k-images-idx3-ubyte.gz";
  const std::filesystem::path test_labels = dir / "t10k-labels-idx1-ubyte.gz";

  std::string missing;
  for (const auto* p : {&train_images, &train_labels, &test_images, &test_labels}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*p, ec))
      missing += (missing.empty() ? "'" : ", '") + p->string() + "'";
  }
  if (!missing.empty()) {
    throw Error("Fashion-MNIST file(s) missing: " + missing +
                "; install Debian's package with: sudo apt-get install dataset-fashion-mnist" +
                (dir == std::filesystem::path(kFashionMnistDir)
                     ? std::string()
                     : " (it installs to " + std::string(kFashionMnistDir) + ")"));
  }
  return {train_images, train_labels, test_images, test_labels};
}

//! The 60,000 training and 10,000 test images (28 x 28, raw 0..255, bias first; labels 0..9).
//! A limit > 0 keeps the first samples only. Throws Error listing every missing file, with the
//! command that installs them, before reading anything.
[[nodiscard]] inline TrainTest load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDir,
                                                  std::size_t train_limit = 0, std::size_t test_limit = 0,
                                                  ReadTimes* times = nullptr) {
  const auto f = fashion_mnist_files(dir);
  return {read_idx(f[0], f[1], train_limit, times), read_idx(f[2], f[3], test_limit, times)};
}

} // namespace zipml::data

#endif
