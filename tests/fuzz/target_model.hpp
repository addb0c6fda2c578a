// zipml fuzzing — the saved-model loader (zipml/io/model_file.hpp).
//
// The input is parsed twice: as it is (magic, version, size and checksum checks), and "fixed
// up" — the magic, version 1, the true size and a valid CRC-32 written over it — so that
// mutations reach the field checks behind the checksum, which random bytes would otherwise
// never pass. Some fixed-up inputs go through load_model from a temporary file. Checks:
// nothing but zipml::Error escapes; a model that loads saves to bytes that load again to the
// same bytes; its LinearModel and scaler work on a data set of its width.
#ifndef ZIPML_TESTS_FUZZ_TARGET_MODEL_HPP
#define ZIPML_TESTS_FUZZ_TARGET_MODEL_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "zipml/error.hpp"
#include "zipml/io/model_file.hpp"

namespace zipml::fuzz {

namespace model_detail {

inline std::optional<io::ModelFile> parse(std::span<const unsigned char> bytes) {
  try {
    return io::parse_model(bytes, "fuzz.zml");
  } catch (const Error&) {
    return std::nullopt;
  }
}

//! What a model that loaded must satisfy.
inline void check_loaded(const io::ModelFile& m) {
  const auto again = io::serialize_model(m); // must not throw: what loads, saves
  const auto m2 = io::parse_model(again, "again.zml");
  ZIPML_FUZZ_CHECK(io::serialize_model(m2) == again);
  const std::size_t d = m.weights.dim();
  ZIPML_FUZZ_CHECK(d >= 1 && m.weights.lanes() >= 1);
  if (d > 4096) return; // a usable but wide model: one row would still be fine, keep it fast
  data::Dataset ds;
  ds.features = xt::zeros<float>({std::size_t{2}, d});
  ds.labels = xt::zeros<float>({std::size_t{2}});
  for (std::size_t j = 0; j < d; ++j) ds.features(1, j) = static_cast<float>(j % 7) - 3.0f;
  ds.features(0, 0) = ds.features(1, 0) = 1.0f;
  if (m.scaler) m.scaler->apply(ds);
  const auto pred = m.weights.predict(ds);
  ZIPML_FUZZ_CHECK(pred.size() == 2);
  (void)m.weights.score(ds);
  if (m.label_scaler) (void)m.label_scaler->from_scaled(pred(0));
}

} // namespace model_detail

inline int model(const std::uint8_t* data, std::size_t size) {
  using namespace model_detail;
  if (auto m = parse({data, size})) check_loaded(*m);

  if (size < io::kModelFixedHeader + 4) return 0;
  std::vector<unsigned char> b(data, data + size);
  std::memcpy(b.data(), io::kModelMagic.data(), io::kModelMagic.size());
  for (int i = 0; i < 4; ++i) b[8 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(io::kModelFormatVersion >> (8 * i));
  for (int i = 0; i < 8; ++i) b[12 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(std::uint64_t{size} >> (8 * i));
  const std::uint32_t crc = io::detail::crc32_of(std::span<const unsigned char>(b).first(size - 4));
  for (int i = 0; i < 4; ++i) b[size - 4 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(crc >> (8 * i));
  const auto m = parse(b);
  if (m) check_loaded(*m);
  if (size % 8 == 0) {
    // The file path of load_model: the same verdict as parsing the bytes.
    const auto p = temp_dir().file("fuzz.zml");
    write_plain(p, b.data(), b.size());
    bool loaded = false;
    try {
      (void)io::load_model(p);
      loaded = true;
    } catch (const Error&) {
    }
    ZIPML_FUZZ_CHECK(loaded == m.has_value());
  }
  return 0;
}

} // namespace zipml::fuzz

#endif
