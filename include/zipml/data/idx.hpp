// zipml — reader for the IDX files of MNIST and Fashion-MNIST (gzip or plain).
//
// IDX is a big-endian header (magic, then one 32-bit size per dimension) followed by raw
// unsigned bytes. Pixels are kept as raw 0..255 values: scaling is a separate, explicit step
// (scaling.hpp) so that train and test sets can share the training set's ranges.
#ifndef ZIPML_DATA_IDX_HPP
#define ZIPML_DATA_IDX_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "zipml/data/dataset.hpp"
#include "zipml/data/gzfile.hpp"
#include "zipml/error.hpp"
#include "zipml/memory.hpp"

namespace zipml::data {

//! Magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;

//! Whether `path` starts with an IDX magic number (two zero bytes, a type code 0x08..0x0E,
//! one to four dimensions), read through gzip: how --format auto tells IDX from LIBSVM, whose
//! text cannot start with a zero byte.
[[nodiscard]] inline bool has_idx_magic(const std::filesystem::path& path) {
  const auto head = read_file_head(path, 4);
  if (head.size() < 4 || head[0] != 0 || head[1] != 0) return false;
  const bool type = head[2] == 0x08 || head[2] == 0x09 || (head[2] >= 0x0B && head[2] <= 0x0E);
  return type && head[3] >= 1 && head[3] <= 4;
}

namespace detail {

inline std::uint32_t read_be32(const std::vector<unsigned char>& bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}

inline std::string hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x00000000";
  for (int i = 9; i >= 2; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return s;
}

//! Header of one IDX file, checked against the bytes that follow it.
struct IdxHeader {
  std::uint32_t count = 0;
  std::size_t item_size = 1; //!< bytes per item: rows * cols for images, 1 for labels
  std::uint32_t rows = 1, cols = 1;
};

inline IdxHeader parse_idx_header(const std::vector<unsigned char>& bytes, const std::string& name,
                                  std::uint32_t magic, const char* kind) {
  const std::size_t header_size = magic == kIdxImagesMagic ? 16 : 8;
  if (bytes.size() < 4) {
    throw Error("'" + name + "' is not an IDX " + kind + " file: it has only " +
                std::to_string(bytes.size()) + " bytes, too short for the magic number");
  }
  const std::uint32_t found = read_be32(bytes, 0);
  if (found != magic) {
    throw Error("'" + name + "' is not an IDX " + kind + " file: magic number " + hex32(found) +
                ", expected " + hex32(magic));
  }
  if (bytes.size() < header_size) {
    throw Error("'" + name + "' is truncated: the IDX " + kind + " header needs " +
                std::to_string(header_size) + " bytes, the file has " +
                std::to_string(bytes.size()));
  }
  IdxHeader h;
  h.count = read_be32(bytes, 4);
  if (magic == kIdxImagesMagic) {
    h.rows = read_be32(bytes, 8);
    h.cols = read_be32(bytes, 12);
    if (h.rows == 0 || h.cols == 0) {
      throw Error("'" + name + "': images of " + std::to_string(h.rows) + "x" +
                  std::to_string(h.cols) + " pixels have no features");
    }
    // rows * cols fits in 64 bits; count * item_size may not (a corrupt header), so the check
    // below compares by division.
    h.item_size = std::size_t{h.rows} * std::size_t{h.cols};
  }
  if (h.count == 0) throw Error("'" + name + "' holds zero " + kind + "s: no samples to read");
  const std::size_t available = bytes.size() - header_size;
  if (available / h.item_size < h.count) {
    throw Error("'" + name + "' is truncated: the header says " + std::to_string(h.count) + " " +
                kind + "s of " + std::to_string(h.item_size) + " bytes each, but only " +
                std::to_string(available) + " bytes of data follow the header");
  }
  if (available != std::size_t{h.count} * h.item_size) {
    throw Error("'" + name + "' has " +
                std::to_string(available - std::size_t{h.count} * h.item_size) +
                " bytes after the " + std::to_string(h.count) + " " + kind +
                "s its header describes: wrong header or not an IDX file");
  }
  return h;
}

} // namespace detail

//! Where reading an IDX pair spent its time (zipml-train --profile), added to by each read.
struct ReadTimes {
  double inflate_seconds = 0.0; //!< reading and gunzipping the files
  double parse_seconds = 0.0;   //!< checking the headers, bytes to float features
};

//! Images and labels of an IDX pair, as a Dataset with d = rows * cols + 1 (bias first).
//! `limit` > 0 keeps only the first `limit` samples. Throws Error naming the file and the bad
//! value for a wrong magic number, truncated data, zero samples, images and labels that
//! disagree on the count, and corrupt gzip.
[[nodiscard]] inline Dataset read_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                                      std::size_t limit = 0, ReadTimes* times = nullptr) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const std::string images_name = images.string();
  const std::string labels_name = labels.string();

  // Labels first: the file is small, so a mismatched pair fails before the big decompression.
  const std::vector<unsigned char> label_bytes = read_file_bytes(labels);
  const detail::IdxHeader lh =
      detail::parse_idx_header(label_bytes, labels_name, kIdxLabelsMagic, "label");
  const std::vector<unsigned char> image_bytes = read_file_bytes(images);
  const auto t1 = clock::now();
  const detail::IdxHeader ih =
      detail::parse_idx_header(image_bytes, images_name, kIdxImagesMagic, "image");
  if (ih.count != lh.count) {
    throw Error("IDX count mismatch: '" + images_name + "' has " + std::to_string(ih.count) +
                " images but '" + labels_name + "' has " + std::to_string(lh.count) + " labels");
  }

  std::size_t n = ih.count;
  if (limit > 0 && limit < n) n = limit;
  const std::size_t pixels = ih.item_size;
  const std::size_t d = pixels + 1;

  Dataset ds;
  ds.source = images_name;
  ds.features = xt::xtensor<float, 2>::from_shape({n, d});
  advise_huge_pages(ds.features.data(), n * d * sizeof(float));
  ds.labels = xt::xtensor<float, 1>::from_shape({n});
  float* out = ds.features.data();
  const unsigned char* in = image_bytes.data() + 16;
  for (std::size_t i = 0; i < n; ++i) {
    *out++ = 1.0F;
    for (std::size_t j = 0; j < pixels; ++j) *out++ = static_cast<float>(*in++);
  }
  const unsigned char* lab = label_bytes.data() + 8;
  for (std::size_t i = 0; i < n; ++i) ds.labels(i) = static_cast<float>(lab[i]);
  if (times != nullptr) {
    times->inflate_seconds += std::chrono::duration<double>(t1 - t0).count();
    times->parse_seconds += std::chrono::duration<double>(clock::now() - t1).count();
  }
  return ds;
}

} // namespace zipml::data

#endif
