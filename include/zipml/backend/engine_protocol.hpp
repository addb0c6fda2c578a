// zipml — the host side of the RTL engine's stream protocol, shared by every backend that
// talks to a real or simulated sgd_engine (the PYNQ board driver; the Verilator backend can
// use the same checks).
//
// What a host does (docs/RTL.md "The stream protocol as the engine implements it"): on epoch 1
// reset the engine, send stream::config_words and check the nine-word echo against
// stream::config_echo; every epoch send the packed data words and THE_END and read the model
// back (ceil(d/V)·V Q9.23 words, tlast on the last). This header holds the checks and the
// messages; how words travel (Verilated ports, an AXI DMA) is the backend's business.
#ifndef ZIPML_BACKEND_ENGINE_PROTOCOL_HPP
#define ZIPML_BACKEND_ENGINE_PROTOCOL_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "zipml/backend.hpp"
#include "zipml/error.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"

namespace zipml::protocol {

//! One-word answers of the engine (rtl/zipml_pkg.sv); a model answer is never shorter than 2.
inline constexpr std::uint32_t kErrorNotConfigured = 0xEEEE0001u;
inline constexpr std::uint32_t kErrorFraming = 0xEEEE0002u;
//! The echo's precision field when the engine refuses a configuration for a reason other
//! than the precision (a wrong precision echoes the engine's own code instead).
inline constexpr std::uint32_t kPrecisionRefused = 7;

[[nodiscard]] inline std::string describe_answer(std::uint32_t word) {
  if (word == kErrorNotConfigured) return "THE_END without a valid configuration (error word 0xEEEE0001)";
  if (word == kErrorFraming) return "the word after the last row was not THE_END (framing error 0xEEEE0002)";
  std::ostringstream os;
  os << "an unexpected one-word answer 0x" << std::hex << word;
  return os.str();
}

[[nodiscard]] inline std::string precision_name(unsigned code) {
  switch (code) {
    case 0: return "unstated";
    case 1: return "float32";
    case 2: return "1-bit";
    case 3: return "2-bit";
    case 4: return "4-bit";
    case 5: return "8-bit";
    default: return "code " + std::to_string(code);
  }
}

//! Why an answer to SEND_CONFIG differs from the echo of `sent` (empty: it does not).
//! `got` are the answer's words, `ends_with_last` whether the last one carried tlast;
//! `engine_bits` and `max_dim` describe the engine, for the message.
[[nodiscard]] inline std::string echo_mismatch(const stream::Config& sent, std::span<const std::uint32_t> got,
                                               bool ends_with_last, unsigned engine_bits, std::size_t max_dim) {
  static constexpr std::array<std::string_view, 9> names = {
      "lambda shift", "flags", "step x cost-", "step x cost+", "binarize label", "dimension", "samples", "epochs", "step"};
  const auto expected = stream::config_echo(sent);
  std::ostringstream os;
  if (got.size() != 9) {
    os << "the engine answered SEND_CONFIG with " << got.size() << " words instead of 9";
    if (got.size() == 1) os << " (" << describe_answer(got[0]) << ")";
    return os.str();
  }
  if (!ends_with_last) return "the echo's ninth word has no tlast";
  const unsigned code = (got[1] >> 21) & 7u;
  const unsigned sent_code = static_cast<unsigned>(sent.precision);
  if (code != sent_code) {
    if (code == kPrecisionRefused) {
      os << "the " << precision_name(static_cast<unsigned>(stream::precision_code(engine_bits)))
         << " engine refused the configuration (precision field 7): it needs 1 <= d <= MAX_DIM (" << max_dim
         << "), step factors 0 or in [2^-39, 2^8), no [-1, 1] range with 1-bit samples and no double sampling "
            "with float32 samples; d = "
         << sent.dim;
      return os.str();
    }
    os << "the engine is built for " << precision_name(code) << " samples and refused a " << precision_name(sent_code)
       << " stream";
    return os.str();
  }
  for (std::size_t i = 0; i < 9; ++i) {
    if (got[i] != expected[i]) {
      os << "echo word " << i << " (" << names[i] << ") is 0x" << std::hex << got[i] << ", expected 0x" << expected[i];
      return os.str();
    }
  }
  return {};
}

//! Why an answer to THE_END is not a model of `expected` words (empty: it is one).
[[nodiscard]] inline std::string model_mismatch(std::span<const std::uint32_t> got, bool ends_with_last,
                                                std::size_t expected) {
  if (got.size() == 1) return "the engine answered THE_END with " + describe_answer(got[0]);
  if (got.size() != expected || !ends_with_last)
    return "the engine answered THE_END with " + std::to_string(got.size()) + " words, expected " +
           std::to_string(expected) + " ending with tlast";
  return {};
}

//! The host-side checks before anything is sent: data present, engine arithmetic, d within
//! the engine's MAX_DIM, configuration and state consistent with the packed data.
inline void check_job(const TrainJob& job, const ModelState& state, std::size_t max_dim, std::string_view who) {
  const std::string w(who);
  if (job.data == nullptr) throw Error(w + ": no packed data in the job");
  if (job.arithmetic != Arithmetic::Engine)
    throw Error(w + " runs only the engine arithmetic (the RTL computes it): use Arithmetic::Engine");
  const auto& layout = job.data->layout;
  const auto& c = job.config;
  if (layout.dim > max_dim)
    throw Error(w + ": dimension " + std::to_string(layout.dim) + " (with bias) exceeds the engine's MAX_DIM of " +
                std::to_string(max_dim));
  if (layout.dim == 0) throw Error(w + ": dimension 0");
  if (c.dim != layout.dim || c.samples != job.data->rows || c.double_sampled != layout.double_sampled ||
      c.minus_one_one != layout.minus_one_one)
    throw Error(w + ": the configuration (d, samples, range, double sampling) does not match the packed data");
  if (job.data->words.size() != job.data->rows * layout.row_words())
    throw Error(w + ": the packed data is not rows x row words long");
  if (state.lanes != job.lanes() || state.dim != layout.dim || state.arithmetic != Arithmetic::Engine)
    throw Error(w + ": model state does not match the job (lanes, dimension or arithmetic)");
}

//! Which job the engine was configured for and how many passes it has run: the model lives in
//! the engine, so a job starts at epoch 1 (from the zero model) and its epochs run in order.
class Session {
 public:
  //! True when `epoch` needs a fresh configuration (epoch 0); throws when the engine cannot
  //! continue this job (another job, or epochs out of order).
  [[nodiscard]] bool needs_configure(const TrainJob& job, std::size_t epoch, const ModelState& state,
                                     std::string_view who) const {
    const std::string w(who);
    if (epoch == 0 || !same_job(job)) {
      if (epoch != 0)
        throw Error(w + ": epoch " + std::to_string(epoch + 1) +
                    " of a job the engine was not configured for; the model lives in the engine, so training "
                    "must start at epoch 1");
      for (std::int32_t x : state.fixed)
        if (x != 0)
          throw Error(w + ": the engine starts from the zero model (MAGIC1 zeroes it); the model state given to "
                          "epoch 1 is not zero");
      return true;
    }
    if (epoch != passes_)
      throw Error(w + ": epochs must run in order (expected epoch " + std::to_string(passes_ + 1) + ", got " +
                  std::to_string(epoch + 1) + ")");
    return false;
  }
  void configured(const TrainJob& job) {
    config_ = job.config;
    labels_ = job.lane_labels;
    layout_ = job.data->layout;
    passes_ = 0;
    valid_ = true;
  }
  void pass_done() noexcept { ++passes_; }
  //! After a failure the engine's state is unknown: the next job starts afresh.
  void invalidate() noexcept { valid_ = false; }
  [[nodiscard]] std::size_t passes() const noexcept { return passes_; }

 private:
  [[nodiscard]] bool same_job(const TrainJob& job) const {
    return valid_ && config_ == job.config && labels_ == job.lane_labels && layout_ == job.data->layout;
  }
  stream::Config config_;
  std::vector<float> labels_;
  stream::Layout layout_;
  std::size_t passes_ = 0;
  bool valid_ = false;
};

} // namespace zipml::protocol

#endif
