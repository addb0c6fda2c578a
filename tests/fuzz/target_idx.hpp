// zipml fuzzing — the IDX reader (zipml/data/idx.hpp) and the gzip layer under it.
//
// The input is written to temporary files twice over: as an images file (next to a valid
// labels file whose count agrees with the input's header) and as a labels file (next to a valid
// 1x1 images file), each plain and gzip-compressed through zlib. A plain file that happens to
// start with the gzip magic goes through zlib's inflate, so damaged gzip streams are fuzzed too.
// Checks: nothing but zipml::Error escapes; a plain file and its gzip copy read the same; what
// is read is exactly the bytes of the file (bias 1, pixels, labels).
#ifndef ZIPML_TESTS_FUZZ_TARGET_IDX_HPP
#define ZIPML_TESTS_FUZZ_TARGET_IDX_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "zipml/data/idx.hpp"
#include "zipml/error.hpp"

namespace zipml::fuzz {

namespace idx_detail {

struct Outcome {
  std::optional<data::Dataset> ds;
  std::string error;
};

inline Outcome read(const std::filesystem::path& images, const std::filesystem::path& labels, std::size_t limit) {
  Outcome o;
  try {
    o.ds = data::read_idx(images, labels, limit);
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

inline void put_be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

inline bool same_data(const data::Dataset& a, const data::Dataset& b) {
  return a.features.shape() == b.features.shape() && a.labels.shape() == b.labels.shape() &&
         std::equal(a.features.begin(), a.features.end(), b.features.begin()) &&
         std::equal(a.labels.begin(), a.labels.end(), b.labels.begin());
}

//! `s` with every occurrence of `from` replaced by `to` (file names in messages).
inline std::string replaced(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

//! Reads the pair plain and gzip-compressed and checks they agree; returns the plain outcome.
inline Outcome read_both(const std::uint8_t* images, std::size_t images_size, const std::uint8_t* labels,
                         std::size_t labels_size, std::size_t limit, bool compare) {
  const auto& tmp = temp_dir();
  const auto pi = tmp.file("images-idx3-ubyte"), pl = tmp.file("labels-idx1-ubyte");
  const auto gi = tmp.file("images-idx3-ubyte.gz"), gl = tmp.file("labels-idx1-ubyte.gz");
  write_plain(pi, images, images_size);
  write_plain(pl, labels, labels_size);
  Outcome plain = read(pi, pl, limit);
  write_gzip(gi, images, images_size);
  write_gzip(gl, labels, labels_size);
  const Outcome gz = read(gi, gl, limit);
  if (compare) {
    ZIPML_FUZZ_CHECK(plain.ds.has_value() == gz.ds.has_value());
    if (plain.ds) {
      ZIPML_FUZZ_CHECK(same_data(*plain.ds, *gz.ds));
    } else {
      ZIPML_FUZZ_CHECK(replaced(replaced(gz.error, gi.string(), pi.string()), gl.string(), pl.string()) == plain.error);
    }
  }
  return plain;
}

} // namespace idx_detail

inline int idx(const std::uint8_t* data, std::size_t size) {
  using namespace idx_detail;
  const std::size_t limit = size % 3; // 0 (all), 1 or 2 samples
  // gzip of a gzip file decodes once, the plain copy twice: only then may they differ.
  const bool compare = !(size >= 2 && data[0] == 0x1f && data[1] == 0x8b);
  // The input's own count, when the header has one: the companion file agrees with it so that
  // the reader gets past the count check. Kept small: the companion's size is ours to choose.
  std::uint32_t count = size >= 8 ? be32(data + 4) : 1;
  if (count == 0 || count > 4096) count = 1;

  // 1. The input as images, with `count` valid labels.
  std::vector<std::uint8_t> labels;
  put_be32(labels, data::kIdxLabelsMagic);
  put_be32(labels, count);
  for (std::uint32_t i = 0; i < count; ++i) labels.push_back(static_cast<std::uint8_t>(i % 10));
  Outcome o = read_both(data, size, labels.data(), labels.size(), limit, compare);
  // (an input that is itself gzip decodes to other bytes: then only "no other exception" holds)
  if (o.ds && compare) {
    // Success means the header was self-consistent: check the samples against the bytes.
    const data::Dataset& ds = *o.ds;
    ZIPML_FUZZ_CHECK(size >= 16);
    const std::size_t n = be32(data + 4), rows = be32(data + 8), cols = be32(data + 12);
    ZIPML_FUZZ_CHECK(n == count);
    ZIPML_FUZZ_CHECK(ds.size() == (limit > 0 ? std::min<std::size_t>(n, limit) : n));
    ZIPML_FUZZ_CHECK(ds.dim() == rows * cols + 1);
    ZIPML_FUZZ_CHECK(size == 16 + n * rows * cols);
    for (std::size_t i = 0; i < ds.size(); ++i) {
      ZIPML_FUZZ_CHECK(ds.features(i, 0) == 1.0f);
      ZIPML_FUZZ_CHECK(ds.labels(i) == static_cast<float>(i % 10));
      for (std::size_t j = 1; j < ds.dim(); ++j)
        ZIPML_FUZZ_CHECK(ds.features(i, j) == static_cast<float>(data[16 + i * (ds.dim() - 1) + j - 1]));
    }
  }

  // 2. The input as labels, with `count` valid 1x1 images (pixel = index).
  std::vector<std::uint8_t> images;
  put_be32(images, data::kIdxImagesMagic);
  put_be32(images, count);
  put_be32(images, 1);
  put_be32(images, 1);
  for (std::uint32_t i = 0; i < count; ++i) images.push_back(static_cast<std::uint8_t>(i));
  o = read_both(images.data(), images.size(), data, size, limit, compare);
  if (o.ds && compare) {
    const data::Dataset& ds = *o.ds;
    ZIPML_FUZZ_CHECK(size == 8 + std::size_t{count});
    ZIPML_FUZZ_CHECK(ds.dim() == 2);
    ZIPML_FUZZ_CHECK(ds.size() == (limit > 0 ? std::min<std::size_t>(count, limit) : count));
    for (std::size_t i = 0; i < ds.size(); ++i) {
      ZIPML_FUZZ_CHECK(ds.labels(i) == static_cast<float>(data[8 + i]));
      ZIPML_FUZZ_CHECK(ds.features(i, 1) == static_cast<float>(static_cast<std::uint8_t>(i)));
    }
  }
  return 0;
}

} // namespace zipml::fuzz

#endif
