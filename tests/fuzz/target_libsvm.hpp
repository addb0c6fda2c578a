// zipml fuzzing — the LIBSVM/svmlight reader (zipml/data/libsvm.hpp).
//
// The input is written as a text file, plain and gzip-compressed through zlib, and read with
// the default options; then once more (plain) with options chosen from the input's size (a
// sample limit, a fixed number of features, each index base). Checks: nothing but zipml::Error
// escapes; plain and gzip read the same; a data set that is read has at least one sample, the
// bias 1.0 in column 0, and only finite features and labels.
#ifndef ZIPML_TESTS_FUZZ_TARGET_LIBSVM_HPP
#define ZIPML_TESTS_FUZZ_TARGET_LIBSVM_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_common.hpp"
#include "zipml/data/libsvm.hpp"
#include "zipml/error.hpp"

namespace zipml::fuzz {

namespace libsvm_detail {

struct Outcome {
  std::optional<data::Dataset> ds;
  std::string error;
};

inline Outcome read(const std::filesystem::path& p, data::LibsvmOptions opt) {
  // A fuzzer's memory limit, not the machine's: the reader must refuse rather than allocate.
  if (opt.max_bytes == 0) opt.max_bytes = std::size_t{64} << 20;
  Outcome o;
  try {
    o.ds = data::read_libsvm(p, opt);
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

inline void check_dataset(const data::Dataset& ds, const data::LibsvmOptions& opt) {
  ZIPML_FUZZ_CHECK(ds.size() >= 1);
  ZIPML_FUZZ_CHECK(ds.dim() >= 1);
  ZIPML_FUZZ_CHECK(ds.labels.size() == ds.size());
  if (opt.limit > 0) ZIPML_FUZZ_CHECK(ds.size() <= opt.limit);
  if (opt.num_features > 0) ZIPML_FUZZ_CHECK(ds.dim() == opt.num_features + 1);
  for (std::size_t i = 0; i < ds.size(); ++i) {
    ZIPML_FUZZ_CHECK(ds.features(i, 0) == 1.0f);
    ZIPML_FUZZ_CHECK(std::isfinite(ds.labels(i)));
    for (std::size_t j = 1; j < ds.dim(); ++j) ZIPML_FUZZ_CHECK(std::isfinite(ds.features(i, j)));
  }
}

} // namespace libsvm_detail

inline int libsvm(const std::uint8_t* data, std::size_t size) {
  using namespace libsvm_detail;
  const auto& tmp = temp_dir();
  const auto plain = tmp.file("data.libsvm"), gz = tmp.file("data.libsvm.gz");
  write_plain(plain, data, size);
  const Outcome a = read(plain, {});
  if (a.ds) check_dataset(*a.ds, {});

  // A plain file that starts with the gzip magic is inflated; its gzip copy is not.
  if (!(size >= 2 && data[0] == 0x1f && data[1] == 0x8b)) {
    write_gzip(gz, data, size);
    Outcome b = read(gz, {});
    ZIPML_FUZZ_CHECK(a.ds.has_value() == b.ds.has_value());
    if (a.ds) {
      ZIPML_FUZZ_CHECK(a.ds->features.shape() == b.ds->features.shape());
      ZIPML_FUZZ_CHECK(std::equal(a.ds->features.begin(), a.ds->features.end(), b.ds->features.begin()));
      ZIPML_FUZZ_CHECK(std::equal(a.ds->labels.begin(), a.ds->labels.end(), b.ds->labels.begin()));
    } else {
      // Same message but for the file name.
      const std::string g = gz.string(), p = plain.string();
      for (std::size_t at = b.error.find(g); at != std::string::npos; at = b.error.find(g, at + p.size()))
        b.error.replace(at, g.size(), p);
      ZIPML_FUZZ_CHECK(a.error == b.error);
    }
  }

  data::LibsvmOptions opt;
  opt.limit = size % 4;
  opt.num_features = (size / 4) % 9;
  opt.index_base = static_cast<data::IndexBase>((size / 36) % 3);
  const Outcome c = read(plain, opt);
  if (c.ds) check_dataset(*c.ds, opt);
  return 0;
}

} // namespace zipml::fuzz

#endif
