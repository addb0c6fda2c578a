// What zipml-train and zipml-predict share: reading data files, guarding the files they write,
// writing text atomically, finding programs on PATH, and knowing whether stdout is a terminal.
#ifndef ZIPML_EXAMPLES_CLI_COMMON_HPP
#define ZIPML_EXAMPLES_CLI_COMMON_HPP

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <fmt/core.h>

#include "zipml/io/model_file.hpp"
#include "zipml/zipml.hpp"

#ifndef ZIPML_VERSION
#define ZIPML_VERSION "unknown"
#endif

namespace zipml::cli {

namespace fs = std::filesystem;

//! Whether `file` is read as IDX: --format idx, or --format auto and the file starts with an
//! IDX magic number (its name says nothing: a LIBSVM file may be called my_idx.svm).
inline bool is_idx_input(const std::string& file, const std::string& format) {
  return format == "idx" || (format == "auto" && data::has_idx_magic(file));
}

//! `text` as a count >= 1 for `option`, or Error "OPTION must be WHAT, got TEXT" (so "-1" is
//! not read as 18446744073709551615).
inline std::size_t parse_count(const std::string& text, std::string_view option, std::string_view what) {
  std::size_t v = 0;
  const auto* end = text.data() + text.size();
  const auto res = std::from_chars(text.data(), end, v);
  if (text.empty() || res.ec != std::errc{} || res.ptr != end || v == 0)
    throw Error(fmt::format("{} must be {}, got {}", option, what, text));
  return v;
}

//! `text` as a positive finite float for `option`, or Error as parse_count.
inline float parse_positive(const std::string& text, std::string_view option, std::string_view what) {
  float v = 0;
  const auto* end = text.data() + text.size();
  const auto res = std::from_chars(text.data(), end, v);
  if (text.empty() || res.ec != std::errc{} || res.ptr != end || !(v > 0.0f) || !std::isfinite(v))
    throw Error(fmt::format("{} must be {}, got {}", option, what, text));
  return v;
}

//! IDX images and their labels as bytes (data::IdxImages); `labels_option` names the option
//! that gives the labels file, for the error when it is missing.
inline data::IdxImages read_idx_images(const std::string& file, const std::string& labels, std::size_t limit,
                                       std::string_view labels_option, data::ReadTimes* times = nullptr) {
  if (labels.empty()) throw Error(fmt::format("IDX images {} need {} FILE (the IDX labels)", file, labels_option));
  return data::IdxImages::read(file, labels, limit, times);
}

//! A data file as the programs take it: IDX images (with their labels file) or LIBSVM.
//! `num_features` > 0 fixes the LIBSVM width (a test set read to the training set's width).
//! `labels_option` names the option that gives IDX labels, for the error message.
inline data::Dataset read_data(const std::string& file, const std::string& labels, const std::string& format,
                               std::size_t limit, std::size_t num_features, std::string_view labels_option) {
  if (is_idx_input(file, format)) return read_idx_images(file, labels, limit, labels_option).to_dataset();
  return data::read_libsvm(file, {.limit = limit, .num_features = num_features});
}

//! A step for people: "2^-12" for a power of two, else the number.
inline std::string show_step(float step) {
  int e = 0;
  if (std::frexp(step, &e) == 0.5f) return fmt::format("2^{}", e - 1);
  return fmt::format("{}", step);
}

//! The four files of Debian's dataset-fashion-mnist in `dir`.
inline std::vector<fs::path> fashion_mnist_files(const fs::path& dir) {
  return {dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz", dir / "t10k-images-idx3-ubyte.gz",
          dir / "t10k-labels-idx1-ubyte.gz"};
}

//! Whether `a` and `b` name the same file: the same inode when both exist, else the same
//! normalized absolute path.
inline bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    const bool eq = fs::equivalent(a, b, ec);
    return !ec && eq;
  }
  return fs::weakly_canonical(fs::absolute(a), ec) == fs::weakly_canonical(fs::absolute(b), ec);
}

//! A file a program was asked to write, with the option that named it.
struct Output {
  std::string option; //!< "--save", "--summary", ...
  fs::path path;
};

//! Checks, before any work is done, that every output can be written without harm: it must not
//! be one of the input data files, an existing directory, or in a directory that does not
//! exist, and no two outputs may be the same file. Throws Error naming the option and file.
inline void check_outputs(const std::vector<Output>& outputs, const std::vector<fs::path>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Output& o = outputs[i];
    if (o.path.empty()) throw Error(o.option + ": the file name is empty");
    for (const auto& in : inputs)
      if (!in.empty() && same_file(o.path, in))
        throw Error(fmt::format("{} {} would overwrite the input data file {}: choose another name", o.option,
                                o.path.string(), in.string()));
    std::error_code ec;
    if (fs::is_directory(o.path, ec))
      throw Error(fmt::format("{} {}: is a directory; give a file name", o.option, o.path.string()));
    // Written by renaming a temporary over it: that would replace a device node (/dev/null,
    // /dev/stdout) or a FIFO itself, not write into it.
    if (fs::exists(o.path, ec) && !fs::is_regular_file(o.path, ec))
      throw Error(fmt::format("{} {}: is not a regular file (a device, FIFO or socket); give a file name", o.option,
                              o.path.string()));
    const fs::path dir = o.path.has_parent_path() ? o.path.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec))
      throw Error(fmt::format("{} {}: the directory {} does not exist", o.option, o.path.string(), dir.string()));
    for (std::size_t j = 0; j < i; ++j)
      if (same_file(o.path, outputs[j].path))
        throw Error(fmt::format("{} and {} both name {}: give them different files", outputs[j].option, o.option,
                                o.path.string()));
  }
}

//! A temporary name beside `path` (same directory, so a rename is atomic).
inline fs::path temporary_beside(const fs::path& path) {
  return path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
}

//! Writes `content` to `path` atomically (zipml::io::write_file_atomically: temporary, fsync,
//! rename), so readers see the old file or the whole new one. Throws Error naming `path`.
inline void write_file_atomically(const fs::path& path, std::string_view content) {
  io::write_file_atomically(
      path, std::span(reinterpret_cast<const unsigned char*>(content.data()), content.size()),
      "cannot write '" + path.string() + "'");
}

//! The full path of `program` on PATH, if it is there and executable.
inline std::optional<fs::path> find_in_path(std::string_view program) {
  const char* env = std::getenv("PATH");
  std::string_view path = env != nullptr ? env : "";
  while (!path.empty()) {
    const std::size_t colon = path.find(':');
    const std::string_view dir = path.substr(0, colon);
    const fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / program;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

inline bool stdout_is_terminal() { return ::isatty(::fileno(stdout)) == 1; }

//! `path` for one of several precisions: "model.zml" becomes "model.q4.zml". With a single
//! precision the path is used as given.
inline fs::path for_precision(const fs::path& path, const std::string& precision, std::size_t precisions) {
  if (precisions <= 1) return path;
  return path.parent_path() / (path.stem().string() + "." + precision + path.extension().string());
}

} // namespace zipml::cli

#endif
