// zipml — reader for the IDX files of MNIST and Fashion-MNIST (gzip or plain).
//
// IDX is a big-endian header (magic, then one 32-bit size per dimension) followed by raw
// unsigned bytes. Pixels are kept as raw 0..255 values: scaling is a separate, explicit step
// (scaling.hpp) so that train and test sets can share the training set's ranges.
#ifndef ZIPML_DATA_IDX_HPP
#define ZIPML_DATA_IDX_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "zipml/data/dataset.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/data/scaling.hpp"
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

//! The images and labels of an IDX pair as they are in the files: one byte per pixel. Rows
//! come out as floats on demand (a RowSource: rows.hpp), scaled by row if asked, exactly as a
//! Dataset scaled by MinMaxScaler with Axis::Rows holds them; so training can pack straight
//! from the bytes without building the float matrix (four times the bytes).
class IdxImages {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  [[nodiscard]] std::size_t dim() const noexcept { return pixels_ + 1; }
  [[nodiscard]] std::string name() const { return name_; }
  [[nodiscard]] float label(std::size_t i) const noexcept { return labels_[i]; }
  [[nodiscard]] const std::vector<float>& labels() const noexcept { return labels_; }
  //! Scale each row to `range` as it is read (MinMaxScaler, Axis::Rows), or not at all.
  void scale_rows(std::optional<Range> range) noexcept { rows_range_ = range; }
  [[nodiscard]] std::optional<Range> rows_scaled_to() const noexcept { return rows_range_; }

  //! Row i into buf (dim() floats): the bias, then the pixels, scaled if asked.
  [[nodiscard]] const float* row(std::size_t i, float* buf) const noexcept {
    const unsigned char* px = bytes_.data() + kImagesHeader + i * pixels_;
    buf[0] = 1.0F;
    for (std::size_t j = 0; j < pixels_; ++j) buf[j + 1] = static_cast<float>(px[j]);
    if (rows_range_) {
      // min/max of the bytes: the same values as of their floats, and it vectorizes
      unsigned char lo = px[0], hi = px[0];
      for (std::size_t j = 1; j < pixels_; ++j) {
        lo = std::min(lo, px[j]);
        hi = std::max(hi, px[j]);
      }
      detail::scale_span(buf + 1, pixels_, lo, hi, *rows_range_);
    }
    return buf;
  }

  //! The rows as a Dataset (what read_idx returns, scaled if scale_rows asked).
  [[nodiscard]] Dataset to_dataset() const {
    Dataset ds;
    ds.source = name_;
    ds.features = xt::xtensor<float, 2>::from_shape({n_, dim()});
    advise_huge_pages(ds.features.data(), n_ * dim() * sizeof(float));
    ds.labels = xt::xtensor<float, 1>::from_shape({n_});
    for (std::size_t i = 0; i < n_; ++i) {
      (void)row(i, ds.features.data() + i * dim());
      ds.labels(i) = labels_[i];
    }
    return ds;
  }

  //! Images and labels of an IDX pair; `limit` > 0 keeps the first `limit` samples. Throws
  //! Error naming the file and the bad value for a wrong magic number, truncated data, zero
  //! samples, images and labels that disagree on the count, and corrupt gzip.
  [[nodiscard]] static IdxImages read(const std::filesystem::path& images, const std::filesystem::path& labels,
                                      std::size_t limit = 0, ReadTimes* times = nullptr) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const std::string images_name = images.string();
    const std::string labels_name = labels.string();
    // Labels first: the file is small, so a mismatched pair fails before the big decompression.
    const std::vector<unsigned char> label_bytes = read_file_bytes(labels);
    const detail::IdxHeader lh = detail::parse_idx_header(label_bytes, labels_name, kIdxLabelsMagic, "label");
    IdxImages out;
    out.bytes_ = read_file_bytes(images);
    const auto t1 = clock::now();
    const detail::IdxHeader ih = detail::parse_idx_header(out.bytes_, images_name, kIdxImagesMagic, "image");
    if (ih.count != lh.count) {
      throw Error("IDX count mismatch: '" + images_name + "' has " + std::to_string(ih.count) + " images but '" +
                  labels_name + "' has " + std::to_string(lh.count) + " labels");
    }
    out.n_ = limit > 0 && limit < ih.count ? limit : ih.count;
    out.pixels_ = ih.item_size;
    out.name_ = images_name;
    out.labels_.resize(out.n_);
    for (std::size_t i = 0; i < out.n_; ++i) out.labels_[i] = static_cast<float>(label_bytes[8 + i]);
    if (times != nullptr) {
      times->inflate_seconds += std::chrono::duration<double>(t1 - t0).count();
      times->parse_seconds += std::chrono::duration<double>(clock::now() - t1).count();
    }
    return out;
  }

 private:
  static constexpr std::size_t kImagesHeader = 16;
  std::vector<unsigned char> bytes_; //!< the whole images file, header included
  std::vector<float> labels_;
  std::size_t n_ = 0, pixels_ = 0;
  std::string name_;
  std::optional<Range> rows_range_;
};

static_assert(RowSource<IdxImages>);

//! Images and labels of an IDX pair, as a Dataset with d = rows * cols + 1 (bias first).
//! `limit` > 0 keeps only the first `limit` samples. Throws Error as IdxImages::read.
[[nodiscard]] inline Dataset read_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                                      std::size_t limit = 0, ReadTimes* times = nullptr) {
  const IdxImages raw = IdxImages::read(images, labels, limit, times);
  const auto t0 = std::chrono::steady_clock::now();
  Dataset ds = raw.to_dataset();
  if (times != nullptr) times->parse_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ds;
}

} // namespace zipml::data

#endif
