// zipml — saved models: a trained LinearModel with everything needed to use it again.
//
// A model file is binary, little-endian, and checked end to end: a magic, a format version,
// the file's own size, the dimensions, the training metadata (loss, precision, rounding,
// arithmetic, options, class costs, feature and label scaling), the weights as float32, and a
// CRC-32 of everything before it. Saving is atomic (a temporary file, fsync, rename); loading
// validates every byte before it allocates anything, so a truncated, corrupt or hostile file
// is refused with a zipml::Error naming it, never a crash or a huge allocation. The field
// writer and reader, the CRC-32 and the atomic write are io/binary.hpp's.
//
// Layout of format version 1 (offsets in bytes; u8/u32/u64 little-endian unsigned, f32 IEEE
// binary32 little-endian):
//
//    0  8  magic 89 5a 4d 4c 0d 0a 1a 0a  ("\x89ZML\r\n\x1a\n")
//    8  4  u32 format version (1)
//   12  8  u64 size of the whole file, checksum included
//   20  4  u32 lanes K                    24  4  u32 features d (bias included)
//   28  4  u32 lane classes (K or 0)      32  4  u32 all classes
//   36  4  u32 scaler columns (d or 0)    40  1  u8 flags: 1 classification, 2 feature
//                                                  scaler, 4 label scaler
//   41     4 strings, each u8 length + bytes: model, precision, rounding, arithmetic
//          options: f32 step, u64 epochs, u8 step_decay, u32 decay_interval, u64 minibatch,
//                   f32 l2, u64 seed, u8 arithmetic, u8 order, u8 range, u8 double_sampling,
//                   u8 requantize, u8 has positive_label, f32 positive_label, u32 threads
//          f32 cost_pos, f32 cost_neg
//          feature scaler (flag 2): u8 range, u8 axis, f32 min[columns], f32 max[columns]
//          label scaler (flag 4): f32 min, f32 max, u8 range
//          f32 lane_classes[], f32 all_classes[], f32 weights[K * d] (lane after lane)
//   end-4  4  u32 CRC-32 (zlib crc32) of every byte before it
#ifndef ZIPML_IO_MODEL_FILE_HPP
#define ZIPML_IO_MODEL_FILE_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xtensor/xtensor.hpp>

#include "zipml/backend.hpp"
#include "zipml/data/dataset.hpp"
#include "zipml/data/scaling.hpp"
#include "zipml/error.hpp"
#include "zipml/io/binary.hpp"
#include "zipml/linear_model.hpp"
#include "zipml/options.hpp"

namespace zipml::io {

//! A trained model and how it was made: what save_model writes and load_model returns.
struct ModelFile {
  std::string model;      //!< "l2svm" | "logistic" | "least-squares"
  std::string precision;  //!< "float32" | "q8" | "q4" | "q2" | "q1"
  std::string rounding;   //!< "nearest" | "stochastic" | "none" (float32)
  std::string arithmetic; //!< "float" | "engine"; equals to_string(options.arithmetic)
  Options options;        //!< the training options used
  float cost_pos = 1.0f, cost_neg = 1.0f;
  std::optional<data::MinMaxScaler> scaler;      //!< feature scaling fitted on the training set
  std::optional<data::LabelScaler> label_scaler; //!< regression label scaling
  LinearModel weights;                           //!< the trained model
};

//! The format version this build writes and reads.
inline constexpr std::uint32_t kModelFormatVersion = 1;
//! The first eight bytes of every model file. 0x89 and CR LF / ^Z / LF catch 7-bit and
//! text-mode transfers, as PNG's signature does.
inline constexpr std::array<unsigned char, 8> kModelMagic = {0x89, 'Z', 'M', 'L', '\r', '\n', 0x1a, '\n'};
//! Bytes before the strings (magic .. flags).
inline constexpr std::size_t kModelFixedHeader = 41;

namespace detail {

inline constexpr std::array<std::string_view, 3> kModelNames = {"l2svm", "logistic", "least-squares"};
inline constexpr std::array<std::string_view, 5> kPrecisionNames = {"float32", "q8", "q4", "q2", "q1"};
inline constexpr std::array<std::string_view, 3> kRoundingNames = {"nearest", "stochastic", "none"};
inline constexpr std::array<std::string_view, 2> kArithmeticNames = {"float", "engine"};

// Flags byte.
inline constexpr std::uint8_t kFlagClassification = 1, kFlagScaler = 2, kFlagLabelScaler = 4;

// Bytes of the fixed-size blocks after the strings.
inline constexpr std::size_t kOptionsBytes = 4 + 8 + 1 + 4 + 8 + 4 + 8 + 1 + 1 + 1 + 1 + 1 + 1 + 4 + 4; // 51
inline constexpr std::size_t kCostsBytes = 8;
inline constexpr std::size_t kLabelScalerBytes = 9;
inline constexpr std::size_t kChecksumBytes = 4;

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

template <std::size_t N>
std::string list_of(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out.append(i + 1 == N ? " or " : ", ");
    out.append(1, '\'').append(names[i]).append(1, '\''); // appends: no GCC 12 -Wrestrict false positive
  }
  return out;
}

inline std::string show(float v) { return data::detail::format_value(v); }

//! Every rule a model file obeys; save_model checks it before writing and load_model after
//! reading, so a file that saves always loads. `what` starts every message.
inline void check_model(const ModelFile& m, const std::string& what) {
  auto bad = [&](const std::string& msg) { throw Error(what + ": " + msg); };
  if (!one_of(m.model, kModelNames))
    bad("unknown model '" + printable(m.model) + "' (expected " + list_of(kModelNames) + ")");
  if (!one_of(m.precision, kPrecisionNames))
    bad("unknown precision '" + printable(m.precision) + "' (expected " + list_of(kPrecisionNames) + ")");
  if (!one_of(m.rounding, kRoundingNames))
    bad("unknown rounding '" + printable(m.rounding) + "' (expected " + list_of(kRoundingNames) + ")");
  if (!one_of(m.arithmetic, kArithmeticNames))
    bad("unknown arithmetic '" + printable(m.arithmetic) + "' (expected " + list_of(kArithmeticNames) + ")");
  if ((m.precision == "float32") != (m.rounding == "none"))
    bad("precision '" + m.precision + "' with rounding '" + m.rounding +
        "': float32 has rounding 'none', the quantized precisions 'nearest' or 'stochastic'");
  if (m.arithmetic != to_string(m.options.arithmetic))
    bad("arithmetic '" + m.arithmetic + "' but the options say '" + std::string(to_string(m.options.arithmetic)) + "'");

  const Options& o = m.options;
  if (!(o.step > 0.0f) || !std::isfinite(o.step)) bad("option step " + show(o.step) + " is not a positive number");
  if (!(o.l2 >= 0.0f) || !std::isfinite(o.l2)) bad("option l2 " + show(o.l2) + " is not a number >= 0");
  if (o.decay_interval == 0 || o.decay_interval > 255)
    bad("option decay_interval " + std::to_string(o.decay_interval) + " is outside 1..255");
  if (o.minibatch == 0 || o.minibatch > 65536 || !std::has_single_bit(o.minibatch))
    bad("option minibatch " + std::to_string(o.minibatch) + " is not a power of two from 1 to 65536");
  if (o.positive_label && !std::isfinite(*o.positive_label))
    bad("option positive_label " + show(*o.positive_label) + " is not finite");
  if (!(m.cost_pos > 0.0f) || !std::isfinite(m.cost_pos) || !(m.cost_neg > 0.0f) || !std::isfinite(m.cost_neg))
    bad("class costs " + show(m.cost_pos) + " / " + show(m.cost_neg) + " are not positive finite numbers");

  const LinearModel& w = m.weights;
  if (w.empty()) bad("the model has no weights (train it first)");
  const std::size_t k = w.lanes(), d = w.dim();
  if (k > std::numeric_limits<std::uint32_t>::max() || d > std::numeric_limits<std::uint32_t>::max())
    bad(std::to_string(k) + " x " + std::to_string(d) + " weights do not fit the format's 32-bit dimensions");
  const bool classifier_model = m.model != "least-squares";
  if (classifier_model && !w.is_classification())
    bad("model '" + m.model + "' is a classifier but the weights are a regression model");
  if (!classifier_model && w.is_classification() != o.positive_label.has_value())
    bad(w.is_classification() ? "a least-squares classifier needs options.positive_label"
                              : "options.positive_label is set but the weights are a regression model");
  if (w.is_classification()) {
    const auto& lc = w.lane_classes();
    const auto& all = w.all_classes();
    if (lc.size() != k)
      bad(std::to_string(k) + " lanes but " + std::to_string(lc.size()) + " lane classes");
    if (!finite_all(lc) || !finite_all(all)) bad("a class label is not finite");
    if (all.size() > std::numeric_limits<std::uint32_t>::max()) bad("too many classes");
    for (std::size_t i = 1; i < all.size(); ++i)
      if (!(all[i - 1] < all[i])) bad("the classes are not sorted and distinct");
    if (!all.empty())
      for (float c : lc)
        if (!std::binary_search(all.begin(), all.end(), c))
          bad("lane class " + show(c) + " is not one of the model's classes");
    if (o.positive_label && (k != 1 || lc.front() != *o.positive_label))
      bad("options.positive_label is " + show(*o.positive_label) + " but the model has " + std::to_string(k) +
          " lanes for class " + show(lc.front()));
  } else {
    if (k != 1) bad("a regression model has one lane, this one has " + std::to_string(k));
    if (!w.lane_classes().empty() || !w.all_classes().empty()) bad("a regression model has no classes");
  }
  const float* p = w.weights().data();
  for (std::size_t i = 0; i < k * d; ++i)
    if (!std::isfinite(p[i]))
      bad("weight " + std::to_string(i % d) + " of lane " + std::to_string(i / d) + " is " + show(p[i]) +
          ", not a finite number");

  if (m.scaler) {
    const auto& s = *m.scaler;
    if (!s.fitted()) bad("the feature scaler is not fitted");
    // Re-run the scaler's own checks (finite ranges, min <= max, empty for rows).
    (void)data::MinMaxScaler::from_state(s.range(), s.axis(), s.min(), s.max(), what + ": feature scaler");
    if (s.axis() == data::Axis::Columns && s.min().size() != d)
      bad("the feature scaler was fit on " + std::to_string(s.min().size()) + " columns, the model has " +
          std::to_string(d));
  }
  if (m.label_scaler) {
    const auto& l = *m.label_scaler;
    if (w.is_classification()) bad("a classifier has no label scaler");
    if (!std::isfinite(l.min) || !std::isfinite(l.max) || !(l.min <= l.max))
      bad("label scaler range [" + show(l.min) + ", " + show(l.max) + "] is not a finite interval");
    if (l.range != data::Range::ZeroOne && l.range != data::Range::MinusOneOne) bad("label scaler has an unknown range");
  }
}

inline std::vector<unsigned char> serialize(const ModelFile& m) {
  const LinearModel& w = m.weights;
  Writer out;
  for (unsigned char c : kModelMagic) out.u8(c);
  out.u32(kModelFormatVersion);
  const std::size_t size_at = out.size();
  out.u64(0); // patched below
  const bool columns = m.scaler && m.scaler->axis() == data::Axis::Columns;
  out.u32(static_cast<std::uint32_t>(w.lanes()));
  out.u32(static_cast<std::uint32_t>(w.dim()));
  out.u32(static_cast<std::uint32_t>(w.is_classification() ? w.lane_classes().size() : 0));
  out.u32(static_cast<std::uint32_t>(w.is_classification() ? w.all_classes().size() : 0));
  out.u32(static_cast<std::uint32_t>(columns ? m.scaler->min().size() : 0));
  out.u8(static_cast<std::uint8_t>((w.is_classification() ? kFlagClassification : 0) | (m.scaler ? kFlagScaler : 0) |
                                   (m.label_scaler ? kFlagLabelScaler : 0)));
  out.str(m.model);
  out.str(m.precision);
  out.str(m.rounding);
  out.str(m.arithmetic);
  const Options& o = m.options;
  out.f32(o.step);
  out.u64(o.epochs);
  out.u8(o.step_decay ? 1 : 0);
  out.u32(o.decay_interval);
  out.u64(o.minibatch);
  out.f32(o.l2);
  out.u64(o.seed);
  out.u8(static_cast<std::uint8_t>(o.arithmetic));
  out.u8(static_cast<std::uint8_t>(o.order));
  out.u8(static_cast<std::uint8_t>(o.range));
  out.u8(o.double_sampling ? 1 : 0);
  out.u8(o.requantize ? 1 : 0);
  out.u8(o.positive_label ? 1 : 0);
  out.f32(o.positive_label.value_or(0.0f));
  out.u32(o.threads);
  out.f32(m.cost_pos);
  out.f32(m.cost_neg);
  if (m.scaler) {
    out.u8(static_cast<std::uint8_t>(m.scaler->range()));
    out.u8(static_cast<std::uint8_t>(m.scaler->axis()));
    out.floats(m.scaler->min());
    out.floats(m.scaler->max());
  }
  if (m.label_scaler) {
    out.f32(m.label_scaler->min);
    out.f32(m.label_scaler->max);
    out.u8(static_cast<std::uint8_t>(m.label_scaler->range));
  }
  if (w.is_classification()) {
    out.floats(w.lane_classes());
    out.floats(w.all_classes());
  }
  out.floats(std::span<const float>(w.weights().data(), w.weights().size()));
  out.put_u64_at(size_at, out.size() + kChecksumBytes);
  out.u32(crc32_of(out.bytes()));
  return std::move(out.bytes());
}

} // namespace detail

//! The model encoded in `bytes` (a whole model file); `name` is the file name used in every
//! message. Validates the magic, version, size, checksum and every field before allocating
//! anything larger than the input; throws Error otherwise.
[[nodiscard]] inline ModelFile parse_model(std::span<const unsigned char> bytes, const std::string& name) {
  using namespace detail;
  const std::size_t n = bytes.size();
  const std::string q = "'" + name + "'";
  const std::size_t magic_seen = std::min(n, kModelMagic.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(magic_seen), kModelMagic.begin()))
    throw Error(q + " is not a zipml model file (its first bytes are not the model file magic)");
  auto too_short = [&] {
    return Error(q + " is truncated: a model file has at least " + std::to_string(kModelFixedHeader) +
                 " bytes of header, the file has " + std::to_string(n));
  };
  if (n < kModelMagic.size() + 4) throw too_short();
  Reader in(bytes, name, "model file");
  for (std::size_t i = 0; i < kModelMagic.size(); ++i) (void)in.u8();
  const std::uint32_t version = in.u32();
  if (version != kModelFormatVersion)
    throw Error(q + ": model file format version " + std::to_string(version) +
                " is not supported; this build of zipml reads version " + std::to_string(kModelFormatVersion) +
                (version > kModelFormatVersion ? " (the file was written by a newer zipml)" : ""));
  if (n < kModelFixedHeader) throw too_short();
  const std::uint64_t declared = in.u64();
  if (n < declared)
    throw Error(q + " is truncated: expected " + std::to_string(declared) + " bytes, the file has " + std::to_string(n));
  if (n > declared)
    throw Error(q + " has " + std::to_string(n - declared) + " bytes after the end of the model (expected " +
                std::to_string(declared) + " bytes, the file has " + std::to_string(n) +
                "): corrupt, or not a zipml model file");
  const std::uint32_t stored = static_cast<std::uint32_t>(bytes[n - 4]) | (static_cast<std::uint32_t>(bytes[n - 3]) << 8) |
                               (static_cast<std::uint32_t>(bytes[n - 2]) << 16) |
                               (static_cast<std::uint32_t>(bytes[n - 1]) << 24);
  const std::uint32_t computed = crc32_of(bytes.first(n - kChecksumBytes));
  if (stored != computed)
    throw Error(q + " is corrupt: checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) +
                " over " + std::to_string(n - kChecksumBytes) + " bytes)");

  // From here the bytes are the ones that were written, unless they were forged with a valid
  // checksum: every field is still checked.
  const std::uint32_t k = in.u32(), d = in.u32(), n_lane = in.u32(), n_all = in.u32(), n_cols = in.u32();
  const std::uint8_t flags = in.u8();
  auto corrupt = [&](const std::string& what) -> Error { return Error(q + ": corrupt model file: " + what); };
  if (flags & ~(kFlagClassification | kFlagScaler | kFlagLabelScaler))
    throw corrupt("unknown flags " + hex32(flags));
  const bool classification = flags & kFlagClassification;
  if (k == 0 || d == 0) throw corrupt(std::to_string(k) + " lanes x " + std::to_string(d) + " features is empty");
  if (!classification && (n_lane != 0 || n_all != 0))
    throw corrupt("a regression model with " + std::to_string(n_lane) + " lane classes and " +
                  std::to_string(n_all) + " classes");
  if (classification && n_lane != k)
    throw corrupt(std::to_string(k) + " lanes but " + std::to_string(n_lane) + " lane classes");
  if (!(flags & kFlagScaler) && n_cols != 0)
    throw corrupt(std::to_string(n_cols) + " scaler columns without a feature scaler");

  std::string model = in.str(), precision = in.str(), rounding = in.str(), arithmetic = in.str();
  // Everything after the strings has a size fixed by the header: it must match the file exactly.
  // Every step is overflow-checked: a forged header must not wrap around to the file's size.
  std::optional<std::uint64_t> expect = mul_add(k, d, 0);
  if (expect) expect = mul_add(1, *expect, std::uint64_t{n_lane} + n_all);
  if (expect) expect = mul_add(*expect, 4, 0);
  if (expect) expect = mul_add(n_cols, 8, *expect);
  if (expect)
    expect = mul_add(1, *expect,
                     in.offset() + kOptionsBytes + kCostsBytes + ((flags & kFlagScaler) ? 2 : 0) +
                         ((flags & kFlagLabelScaler) ? kLabelScalerBytes : 0) + kChecksumBytes);
  if (!expect || *expect != n)
    throw Error(q + ": inconsistent dimensions: " + std::to_string(k) + " lanes x " + std::to_string(d) +
                " features, " + std::to_string(n_lane) + " lane classes, " + std::to_string(n_all) + " classes and " +
                std::to_string(n_cols) + " scaler columns need " + (expect ? std::to_string(*expect) : "more than 2^64") +
                " bytes, the file has " + std::to_string(n));

  ModelFile m;
  m.model = std::move(model);
  m.precision = std::move(precision);
  m.rounding = std::move(rounding);
  m.arithmetic = std::move(arithmetic);
  Options& o = m.options;
  o.step = in.f32();
  o.epochs = static_cast<std::size_t>(in.u64());
  o.step_decay = in.flag("option step_decay");
  o.decay_interval = in.u32();
  const std::uint64_t minibatch = in.u64();
  if (minibatch > std::numeric_limits<std::size_t>::max()) throw corrupt("option minibatch is too large");
  o.minibatch = static_cast<std::size_t>(minibatch);
  o.l2 = in.f32();
  o.seed = in.u64();
  const std::uint8_t arith = in.u8(), order = in.u8(), range = in.u8();
  if (arith > 1) throw corrupt("option arithmetic " + std::to_string(arith) + " is neither float (0) nor engine (1)");
  if (order > 2) throw corrupt("option order " + std::to_string(order) + " is not 0..2");
  if (range > 1) throw corrupt("option range " + std::to_string(range) + " is not 0..1");
  o.arithmetic = static_cast<Arithmetic>(arith);
  o.order = static_cast<Order>(order);
  o.range = static_cast<data::Range>(range);
  o.double_sampling = in.flag("option double_sampling");
  o.requantize = in.flag("option requantize");
  const bool has_positive = in.flag("option positive_label present");
  const float positive = in.f32();
  if (has_positive) o.positive_label = positive;
  o.threads = in.u32();
  m.cost_pos = in.f32();
  m.cost_neg = in.f32();
  if (flags & kFlagScaler) {
    const std::uint8_t srange = in.u8(), saxis = in.u8();
    if (srange > 1) throw corrupt("feature scaler range " + std::to_string(srange) + " is not 0..1");
    if (saxis > 1) throw corrupt("feature scaler axis " + std::to_string(saxis) + " is not 0..1");
    const auto axis = static_cast<data::Axis>(saxis);
    if (axis == data::Axis::Columns && n_cols != d)
      throw corrupt("the column scaler has " + std::to_string(n_cols) + " columns, the model " + std::to_string(d));
    auto lo = in.floats(n_cols);
    auto hi = in.floats(n_cols);
    m.scaler = data::MinMaxScaler::from_state(static_cast<data::Range>(srange), axis, std::move(lo), std::move(hi),
                                              q + ": feature scaler");
  }
  if (flags & kFlagLabelScaler) {
    data::LabelScaler l;
    l.min = in.f32();
    l.max = in.f32();
    const std::uint8_t lrange = in.u8();
    if (lrange > 1) throw corrupt("label scaler range " + std::to_string(lrange) + " is not 0..1");
    l.range = static_cast<data::Range>(lrange);
    m.label_scaler = l;
  }
  std::vector<float> lane_classes = in.floats(n_lane);
  std::vector<float> all_classes = in.floats(n_all);
  xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({std::size_t{k}, std::size_t{d}});
  float* out = w.data();
  for (std::size_t i = 0; i < std::size_t{k} * d; ++i) out[i] = in.f32();
  if (in.remaining() != kChecksumBytes) throw corrupt("the fields do not end at the checksum");
  m.weights = LinearModel(std::move(w), classification, std::move(lane_classes), std::move(all_classes));
  check_model(m, q);
  return m;
}

//! The bytes save_model writes for `m` (checked first, as save_model does).
[[nodiscard]] inline std::vector<unsigned char> serialize_model(const ModelFile& m, const std::string& what = "model") {
  detail::check_model(m, what);
  return detail::serialize(m);
}

//! Saves `m` to `path` atomically: the model is checked (a file that saves always loads),
//! written to `path + ".tmp-<pid>-<n>"`, flushed and fsynced, then renamed over `path`. On any
//! failure the temporary is removed, an existing `path` is left as it was, and Error says why.
inline void save_model(const std::filesystem::path& path, const ModelFile& m) {
  const std::string what = "cannot save the model to '" + path.string() + "'";
  write_file_atomically(path, serialize_model(m, what), what);
}

//! Loads a model saved by save_model. Throws Error naming `path` for a missing or unreadable
//! file, wrong magic, another format version, truncation (expected vs actual size), a
//! checksum mismatch, unknown names, inconsistent dimensions and NaN/inf values.
[[nodiscard]] inline ModelFile load_model(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  const std::string name = path.string();
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec && status.type() != fs::file_type::not_found) // a link loop, a name too long, ...
    throw Error("cannot load the model '" + name + "': " + ec.message());
  if (!fs::exists(status)) throw Error("cannot load the model '" + name + "': file not found");
  if (fs::is_directory(status)) throw Error("cannot load the model '" + name + "': it is a directory, not a file");
  if (!fs::is_regular_file(status)) throw Error("cannot load the model '" + name + "': not a regular file");
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error("cannot load the model '" + name + "': " + std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Error("cannot load the model '" + name + "': not a regular file");
  // The size of the file bounds every allocation; read one byte more to notice a file that grew.
  std::vector<unsigned char> bytes(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      throw Error("cannot load the model '" + name + "': read failed: " + std::strerror(err));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  if (got > static_cast<std::size_t>(st.st_size))
    throw Error("cannot load the model '" + name + "': the file grew while it was read (is it being written?)");
  bytes.resize(got);
  return parse_model(bytes, name);
}

//! A ModelFile for a trained Sgd: names from its policy types, its options, costs (models
//! with cost_pos/cost_neg) and LinearModel, and the scalers used to prepare its data.
template <class SgdT>
[[nodiscard]] ModelFile snapshot(const SgdT& trained, std::optional<data::MinMaxScaler> scaler = {},
                                 std::optional<data::LabelScaler> labels = {}) {
  using Model = typename SgdT::model_type;
  using Precision = typename SgdT::precision_type;
  ModelFile m;
  m.model = std::string(Model::name);
  m.precision = std::string(Precision::name);
  m.rounding = Precision::bits == 32 ? std::string("none") : std::string(Precision::rounding::name);
  m.options = trained.options();
  m.arithmetic = std::string(to_string(m.options.arithmetic));
  if constexpr (requires { trained.model().cost_pos; trained.model().cost_neg; }) {
    m.cost_pos = trained.model().cost_pos;
    m.cost_neg = trained.model().cost_neg;
  }
  m.scaler = std::move(scaler);
  m.label_scaler = labels;
  m.weights = trained.linear_model();
  if (m.weights.empty()) throw Error("snapshot: the model is not trained yet (call fit() first)");
  return m;
}

} // namespace zipml::io

#endif
