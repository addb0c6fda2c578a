// zipml — fast reader for LIBSVM / svmlight text files (gzip or plain).
//
// Format, one sample a line:   <label> <index>:<value> <index>:<value> ...   [# comment]
// The file is read into memory once and parsed in place with std::from_chars (no iostreams, no
// locale): one pass collects (row, index, value) triples, a second fills the dense matrix once
// the number of features is known. That keeps 50,000 x 90 well under a second.
#ifndef ZIPML_DATA_LIBSVM_HPP
#define ZIPML_DATA_LIBSVM_HPP

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <unistd.h>

#include <xtensor/xtensor.hpp>

#include "zipml/data/dataset.hpp"
#include "zipml/data/gzfile.hpp"
#include "zipml/error.hpp"

namespace zipml::data {

//! How feature indices are numbered. LIBSVM's tools write 1-based indices; scikit-learn's
//! dump_svmlight_file writes 0-based ones by default. Auto picks 0-based iff an index 0 occurs.
enum class IndexBase { Auto, One, Zero };

struct LibsvmOptions {
  std::size_t limit = 0; //!< > 0: read only the first `limit` samples
  std::size_t num_features = 0; //!< 0: infer from the largest index (bias not counted)
  IndexBase index_base = IndexBase::Auto;
  //! Largest dense data set to build, in bytes; 0: half of this machine's memory. A file of a
  //! few bytes with one huge index would otherwise ask for gigabytes of zeros.
  std::size_t max_bytes = 0;
};

namespace detail {
//! Half the physical memory (or 4 GiB where the system does not say).
inline std::size_t default_max_bytes() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::size_t{4} << 30;
  return static_cast<std::size_t>(pages) / 2 * static_cast<std::size_t>(page);
}
} // namespace detail

namespace detail {

//! Parser state for one file; errors carry file, 1-based line and the offending token.
class LibsvmParser {
 public:
  LibsvmParser(std::string_view text, std::string name, const LibsvmOptions& opt)
      : text_(text), name_(std::move(name)), opt_(opt) {}

  Dataset run() {
    parse_all();
    if (labels_.empty()) {
      throw Error("'" + name_ + "' holds no samples (only blank or comment lines)");
    }
    const bool zero_based = opt_.index_base == IndexBase::Zero ||
                            (opt_.index_base == IndexBase::Auto && saw_zero_line_ != 0);
    if (opt_.index_base == IndexBase::One && saw_zero_line_ != 0) {
      fail(saw_zero_line_, "index 0 in '" + saw_zero_token_ +
                               "' is not a positive integer (indices are 1-based here)");
    }
    const std::size_t shift = zero_based ? 1 : 0; // column = index + shift
    std::size_t num_features = opt_.num_features;
    if (num_features == 0) {
      num_features = entries_.empty() ? 0 : static_cast<std::size_t>(max_index_) + shift;
    } else {
      // Largest accepted index: num_features (1-based) or num_features - 1 (0-based).
      const std::uint64_t cap = num_features - shift;
      if (max_index_ > cap) {
        // Report the first line that broke the cap, not the line of the overall maximum.
        const auto [line, token] = first_above(cap);
        fail(line, "feature index in '" + token + "' exceeds the number of features " +
                       std::to_string(num_features) + (zero_based ? " (0-based indices)" : ""));
      }
    }
    return fill(num_features, shift);
  }

 private:
  struct Entry {
    std::uint32_t col; // raw index from the file; the base shift is applied in fill()
    float value;
  };

  [[noreturn]] void fail(std::size_t line, const std::string& what) const {
    throw Error(name_ + ":" + std::to_string(line) + ": " + what);
  }

  //! The token as an error message shows it: at most 48 bytes, control bytes as '?' (a binary
  //! file passed by mistake should not garble the terminal).
  static std::string clip(std::string_view token) {
    constexpr std::size_t kMax = 48;
    std::string out(token.substr(0, kMax));
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    if (token.size() > kMax) out += "...";
    return out;
  }

  static bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
  }

  //! A float spelled in full by `s`. LIBSVM writers emit "+1", which from_chars refuses, so a
  //! single leading '+' is skipped. Underflow (1e-50) rounds to zero like strtof; overflow sets
  //! `out_of_range`.
  static bool parse_float(std::string_view s, float& out, bool& out_of_range) noexcept {
    out_of_range = false;
    if (!s.empty() && s.front() == '+') {
      s.remove_prefix(1);
      if (!s.empty() && (s.front() == '+' || s.front() == '-')) return false;
    }
    const char* const end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, out);
    if (ptr != end) return false;
    if (ec == std::errc()) return true;
    if (ec != std::errc::result_out_of_range) return false;
    double wide = 0;
    const auto [wptr, wec] = std::from_chars(s.data(), end, wide);
    if (wec == std::errc() && wptr == end &&
        std::fabs(wide) <= static_cast<double>(std::numeric_limits<float>::max())) {
      out = static_cast<float>(wide); // a float underflow: zero or subnormal
      return true;
    }
    const std::size_t e = s.find_first_of("eE");
    if (e != std::string_view::npos && e + 1 < s.size() && s[e + 1] == '-') {
      out = 0.0F; // below even double's range
      return true;
    }
    out_of_range = true;
    return false;
  }

  void parse_label(std::string_view token, std::size_t line) {
    if (token.find(',') != std::string_view::npos) {
      fail(line,
           "multi-label line (label '" + clip(token) + "'): zipml reads one label per sample");
    }
    if (token.find(':') != std::string_view::npos) {
      fail(line, "the line starts with the feature '" + clip(token) + "': the label is missing");
    }
    float y = 0;
    bool out_of_range = false;
    if (!parse_float(token, y, out_of_range)) {
      fail(line, out_of_range ? "label '" + clip(token) + "' is out of the range of float"
                              : "label '" + clip(token) + "' is not a number");
    }
    if (!std::isfinite(y)) fail(line, "label '" + clip(token) + "' is not finite");
    labels_.push_back(y);
  }

  //! `colon`: offset of the first ':' in `token` (npos if none), found by the tokenizer's scan.
  void parse_feature(std::string_view token, std::size_t colon, std::size_t line) {
    if (colon == std::string_view::npos) {
      fail(line, "malformed feature '" + clip(token) + "': expected index:value");
    }
    const std::string_view idx = token.substr(0, colon);
    const std::string_view val = token.substr(colon + 1);
    if (idx == "qid") return; // svmlight ranking groups: irrelevant for classification
    if (val.empty()) fail(line, "malformed feature '" + clip(token) + "': the value is missing");

    std::uint64_t index = 0;
    const auto [iptr, iec] = std::from_chars(idx.data(), idx.data() + idx.size(), index);
    if (idx.empty() || iec != std::errc() || iptr != idx.data() + idx.size()) {
      fail(line, "feature index in '" + clip(token) + "' is not a positive integer");
    }
    if (index > kMaxIndex) {
      fail(line, "feature index in '" + clip(token) + "' is too large (the limit is " +
                     std::to_string(kMaxIndex) + ")");
    }
    // LIBSVM's tools and scikit-learn's reader refuse a line whose indices go down; a file
    // that only zipml reads is a file another tool will reject. An equal index is left to the
    // duplicate check in fill().
    if (line_has_index_ && index < line_last_index_) {
      fail(line, "feature indices must be in ascending order: " + std::to_string(index) + " after " +
                     std::to_string(line_last_index_) + " in '" + clip(token) + "'");
    }
    line_has_index_ = true;
    line_last_index_ = index;
    float value = 0;
    bool out_of_range = false;
    if (!parse_float(val, value, out_of_range)) {
      fail(line, out_of_range
                     ? "value in '" + clip(token) + "' is out of the range of float"
                     : "malformed feature '" + clip(token) + "': the value is not a number");
    }
    if (!std::isfinite(value)) fail(line, "value in '" + clip(token) + "' is not finite");

    if (index == 0 && saw_zero_line_ == 0) {
      saw_zero_line_ = line;
      saw_zero_token_ = clip(token);
    }
    if (index > max_index_ || max_index_line_ == 0) {
      max_index_ = index;
      max_index_line_ = line;
    }
    entries_.push_back({static_cast<std::uint32_t>(index), value});
  }

  void parse_all() {
    const char* p = text_.data();
    const char* const end = p + text_.size();
    std::size_t line = 0;
    // Dense-ish files spend about ten bytes per index:value pair; this saves most regrowth.
    entries_.reserve(text_.size() / 10);
    while (p < end) {
      ++line;
      const char* eol =
          static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (eol == nullptr) eol = end;
      const char* stop =
          static_cast<const char*>(std::memchr(p, '#', static_cast<std::size_t>(eol - p)));
      if (stop == nullptr) stop = eol;
      const char* q = p;
      p = eol + (eol < end ? 1 : 0);

      bool first = true;
      while (true) {
        while (q < stop && is_space(*q)) ++q;
        if (q == stop) break;
        const char* t = q;
        const char* colon = nullptr;
        for (; q < stop && !is_space(*q); ++q) {
          if (*q == ':' && colon == nullptr) colon = q;
        }
        const std::string_view token(t, static_cast<std::size_t>(q - t));
        if (first) {
          if (opt_.limit > 0 && labels_.size() == opt_.limit) return;
          parse_label(token, line);
          line_has_index_ = false;
          row_end_.push_back(0);
          row_line_.push_back(line);
          first = false;
        } else {
          parse_feature(
              token,
              colon == nullptr ? std::string_view::npos : static_cast<std::size_t>(colon - t),
              line);
        }
      }
      if (!first) row_end_.back() = entries_.size();
    }
  }

  //! First (line, token) whose index is above `cap`; only called on the error path.
  std::pair<std::size_t, std::string> first_above(std::uint64_t cap) const {
    std::size_t begin = 0;
    for (std::size_t r = 0; r < row_end_.size(); ++r) {
      for (std::size_t k = begin; k < row_end_[r]; ++k) {
        if (entries_[k].col > cap) {
          std::string token = std::to_string(entries_[k].col) + ":";
          char buf[32];
          const auto res = std::to_chars(buf, buf + sizeof buf, entries_[k].value);
          token.append(buf, res.ptr);
          return {row_line_[r], token};
        }
      }
      begin = row_end_[r];
    }
    return {max_index_line_, std::to_string(max_index_)};
  }

  Dataset fill(std::size_t num_features, std::size_t shift) const {
    const std::size_t n = labels_.size();
    const std::size_t d = num_features + 1;
    const std::size_t limit = opt_.max_bytes ? opt_.max_bytes : default_max_bytes();
    // The dense features plus the per-column duplicate check below, computed without overflow.
    const bool too_big = d > (std::numeric_limits<std::size_t>::max() / sizeof(float) - 2) / (n + 2) ||
                         (n + 2) * d * sizeof(float) > limit;
    if (too_big) {
      throw Error("'" + name_ + "': a dense " + std::to_string(n) + " x " + std::to_string(d) +
                  " data set needs more than " + std::to_string(limit >> 20) +
                  " MiB; the largest feature index is " + std::to_string(max_index_) + " (line " +
                  std::to_string(max_index_line_) + "): check it, or set num_features / max_bytes");
    }
    Dataset ds;
    ds.source = name_;
    try {
      ds.features = xt::xtensor<float, 2>::from_shape({n, d});
      ds.labels = xt::xtensor<float, 1>::from_shape({n});
    } catch (const std::bad_alloc&) {
      // Usually one stray huge index, which makes every dense row that wide.
      throw Error("'" + name_ + "': not enough memory for a dense " + std::to_string(n) + " x " +
                  std::to_string(d) + " matrix; the largest feature index is " +
                  std::to_string(max_index_) + " (line " + std::to_string(max_index_line_) +
                  "): check it, or set num_features");
    }
    // Last row that wrote each column: catches "3:1 3:2" without clearing a mask per row.
    std::vector<std::size_t> written;
    try {
      written.assign(d, 0);
    } catch (const std::bad_alloc&) {
      throw Error("'" + name_ + "': not enough memory for " + std::to_string(d) + " columns; the largest feature index is " +
                  std::to_string(max_index_) + " (line " + std::to_string(max_index_line_) +
                  "): check it, or set num_features");
    }
    std::copy(labels_.begin(), labels_.end(), ds.labels.begin());
    float* const base = ds.features.data();
    std::fill(base, base + n * d, 0.0F);
    std::size_t begin = 0;
    for (std::size_t r = 0; r < n; ++r) {
      float* row = base + r * d;
      row[0] = 1.0F;
      const std::size_t stamp = r + 1;
      for (std::size_t k = begin; k < row_end_[r]; ++k) {
        const std::size_t col = entries_[k].col + shift;
        if (written[col] == stamp) {
          fail(row_line_[r],
               "feature index " + std::to_string(entries_[k].col) + " appears twice on the line");
        }
        written[col] = stamp;
        row[col] = entries_[k].value;
      }
      begin = row_end_[r];
    }
    return ds;
  }

  // Indices are stored in 32 bits; a larger one is a corrupt file, not a real feature.
  static constexpr std::uint64_t kMaxIndex = std::numeric_limits<std::uint32_t>::max() - 1;

  std::string_view text_;
  std::string name_;
  LibsvmOptions opt_;
  std::vector<float> labels_;
  std::vector<std::size_t> row_end_; // entries_[row_end_[r-1], row_end_[r]) belong to row r
  std::vector<std::size_t> row_line_; // 1-based line of each row, for errors found in fill()
  std::vector<Entry> entries_;
  std::uint64_t max_index_ = 0;
  std::size_t max_index_line_ = 0; // 0: no feature seen yet
  std::size_t saw_zero_line_ = 0; // first line with index 0, 0 if none
  bool line_has_index_ = false; // a feature index seen on the current line
  std::uint64_t line_last_index_ = 0; // the last of them, for the ascending-order check
  std::string saw_zero_token_;
};

} // namespace detail

//! Reads a LIBSVM/svmlight file (gzip or plain) into a dense Dataset of N x (num_features + 1),
//! bias in column 0 and 1-based index i in column i (0-based index i in column i + 1).
//! Throws Error "file:line: ..." naming the offending token for malformed input.
[[nodiscard]] inline Dataset read_libsvm(const std::filesystem::path& path,
                                         const LibsvmOptions& options = {}) {
  const std::string text = read_file_text(path);
  return detail::LibsvmParser(text, path.string(), options).run();
}

} // namespace zipml::data

#endif
