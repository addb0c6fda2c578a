// zipml — the PYNQ backend: trains on zipml's RTL engine in a Zynq's FPGA, through an AXI DMA.
//
// The board (pynq/board.hpp: register windows, a DMA buffer, a clock) is the real one
// (pynq/linux.hpp) by default, or any other Board, such as the simulated board of sim/ that
// the tests use: the driver below is the same code either way. Per job it does what the
// original ZipML-PYNQ host does, with the checks of zipml/backend/engine_protocol.hpp:
//
//   epoch 1:  GPIO 0 then 1 (engine reset); ENGINE_INFO, whose three words say the engine's
//             LANES, precision and MAX_DIM; the configuration words (one LANE_LABEL per class
//             on a multi-lane engine) through MM2S while S2MM waits for the nine-word echo,
//             which must equal stream::config_echo
//   each epoch: S2MM armed for the models; the packed words and THE_END through MM2S, in
//             transfers of at most 2^23 - 8 bytes from two halves of the buffer (one is filled
//             while the DMA reads the other); then K models of ceil(d/V)·V Q9.23 words
//
// K classes on an engine of L < K lanes train in ceil(K / L) groups of lanes, one after
// another, each group all its epochs over the same stream (the engine keeps the model and
// cannot load one, so groups cannot take turns within an epoch): epoch 1 runs every group's
// passes and keeps each epoch's models, later epochs hand them out. The lanes are independent,
// so the K models, every epoch's figures and a --tol stop are those of one K-lane engine; the
// cost is the epochs after such a stop, which ran anyway.
//
// Any failure throws zipml::Error and closes the board: the DMA is reset, registers unmapped
// and the buffer freed, so nothing stays mapped; the next job opens it again.
#ifndef ZIPML_BACKEND_PYNQ_HPP
#define ZIPML_BACKEND_PYNQ_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zipml/backend.hpp"
#include "zipml/backend/engine_protocol.hpp"
#include "zipml/backend/pynq/axi_dma.hpp"
#include "zipml/backend/pynq/board.hpp"
#include "zipml/backend/pynq/linux.hpp"
#include "zipml/concepts.hpp"
#include "zipml/error.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"

namespace zipml {

namespace pynq {

//! How the driver uses the board.
struct Options {
  //! Longest wait for one DMA transfer (the original host waits 5 s).
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  //! DMA buffer wanted (the allocator may give less, but at least kMinBuffer).
  std::size_t buffer_bytes = std::size_t{16} << 20;
  //! The real board's files, bitstream and allocator (ignored with another board factory).
  LinuxOptions real_board;
};

//! Smallest DMA buffer the driver works with: the answer area and two 4 KiB halves.
inline constexpr std::size_t kMinBuffer = 64 * 1024 + 2 * 4096;

//! Opens a board; the default opens the real one.
using BoardFactory = std::function<std::unique_ptr<Board>()>;

//! An open board: its registers, the DMA buffer and the DMA driver. Destroyed in reverse order
//! of construction, so a failure half way gives back exactly what was taken.
struct Connection {
  std::unique_ptr<Board> board;
  std::unique_ptr<RegisterWindow> dma_regs, gpio_regs;
  std::unique_ptr<DmaBuffer> buffer;
  std::unique_ptr<AxiDma> dma;

  Connection(BoardFactory& factory, const Options& o) {
    board = factory();
    board->check_bitstream();
    dma_regs = board->map(kDmaBase, kDmaSpan, "the AXI DMA");
    gpio_regs = board->map(kGpioBase, kGpioSpan, "the AXI GPIO");
    buffer = board->allocate(kMinBuffer, std::max(o.buffer_bytes, kMinBuffer));
    if (buffer->bytes().size() < kMinBuffer || buffer->physical() % 4096 != 0)
      throw Error(board->name() + ": the DMA buffer (" + buffer->describe() + ") is smaller than " +
                  std::to_string(kMinBuffer) + " bytes or not page-aligned");
    dma = std::make_unique<AxiDma>(*dma_regs, *board, o.timeout);
    dma->reset();
    dma->start();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    // The DMA must not touch the buffer after it is freed: stop it first (best effort).
    try {
      if (dma) dma->reset();
    } catch (...) {
    }
  }

  //! The engine's active-low reset through GPIO channel 1 bit 0: 0, then 1.
  void reset_engine() {
    gpio_regs->write(0x4, 0); // GPIO_TRI: channel 1 drives
    gpio_regs->write(0x0, 0);
    board->pause(std::chrono::microseconds(10));
    gpio_regs->write(0x0, 1);
    board->pause(std::chrono::microseconds(10));
  }
};

} // namespace pynq

//! Runs passes on the RTL engine of a PYNQ board (Arithmetic::Engine only).
class Pynq {
 public:
  static constexpr std::string_view name = "pynq";
  //! The model lives in the engine between epochs, which cannot load one: a process group
  //! can average only after the last epoch (Averaging::End).
  static constexpr bool keeps_model = true;
  static constexpr bool supports(Arithmetic a) noexcept { return a == Arithmetic::Engine; }
  //! The largest MAX_DIM of zipml's bitstreams (features including the bias); the loaded
  //! one's own, which ENGINE_INFO gives, is checked when a job starts.
  static std::size_t max_dim(Arithmetic) noexcept { return pynq::kMaxDim; }

  //! The real board, opened at the first epoch (or by open()).
  Pynq() : Pynq(pynq::Options{}) {}
  explicit Pynq(pynq::Options o)
      : Pynq([linux_options = o.real_board] { return std::make_unique<pynq::LinuxBoard>(linux_options); }, o) {}
  //! Another board, e.g. the simulated one (sim/).
  explicit Pynq(pynq::BoardFactory factory, pynq::Options o = {}) : factory_(std::move(factory)), options_(std::move(o)) {}

  Pynq(Pynq&&) = default;
  Pynq& operator=(Pynq&&) = default;

  //! Opens the board now (checks the bitstream, maps the registers, allocates the buffer);
  //! throws zipml::Error saying what is missing. run_epoch opens it when needed.
  void open() {
    if (!conn_) conn_ = std::make_unique<pynq::Connection>(factory_, options_);
  }
  //! Gives the board back (DMA reset, registers unmapped, buffer freed).
  void close() noexcept {
    conn_.reset();
    session_.invalidate();
  }
  [[nodiscard]] bool is_open() const noexcept { return conn_ != nullptr; }
  //! What the DMA buffer is ("u-dma-buf /dev/udmabuf0 (physical 0x...)"); empty when closed.
  [[nodiscard]] std::string buffer_description() const { return conn_ ? conn_->buffer->describe() : std::string{}; }

  template <ModelPolicy M>
  void run_epoch(const M& /*model*/, const TrainJob& job, std::size_t epoch, ModelState& state) {
    protocol::check_job(job, state, pynq::kMaxDim, "pynq backend");
    try {
      open();
      if (session_.needs_configure(job, epoch, state, "pynq backend")) start(job);
      if (groups_.size() == 1) {
        pass(job, groups_.front(), "epoch " + std::to_string(epoch + 1), state.fixed);
      } else {
        if (epoch >= recorded_.size())
          throw Error("pynq backend: epoch " + std::to_string(epoch + 1) + " of a job configured for " +
                      std::to_string(recorded_.size()) + " epochs");
        state.fixed = recorded_[epoch];
      }
      session_.pass_done();
    } catch (...) {
      close();
      throw;
    }
  }

  //! The loaded engine's ENGINE_INFO, as read when the current job started (lanes 0 before).
  [[nodiscard]] const stream::EngineInfo& engine_info() const noexcept { return info_; }
  //! Passes over the stream per epoch of the current job: ceil(K / the engine's lanes).
  [[nodiscard]] std::size_t passes_per_epoch() const noexcept { return groups_.size(); }

 private:
  struct Answer {
    std::vector<std::uint32_t> words;
    bool ends_with_last = false; //!< the transfer ended before the buffer was full: at tlast
  };
  //! Lanes [first, first + count) of the job, trained together on the engine.
  struct Group {
    std::size_t first = 0, count = 1;
    [[nodiscard]] std::string what() const {
      return count == 1 ? "lane " + std::to_string(first)
                        : "lanes " + std::to_string(first) + ".." + std::to_string(first + count - 1);
    }
  };

  //! Epoch 1 of a job: what the engine is, how the lanes split over it, and (more classes than
  //! lanes) every group's epochs.
  void start(const TrainJob& job) {
    groups_.clear();
    recorded_.clear();
    conn_->reset_engine();
    info_ = query_info();
    const unsigned bits = job.data->layout.bits;
    if (info_.precision != stream::precision_code(bits))
      throw Error("pynq backend: the engine is built for " +
                  protocol::precision_name(static_cast<unsigned>(info_.precision)) + " samples and refused a " +
                  protocol::precision_name(static_cast<unsigned>(stream::precision_code(bits))) +
                  " stream (load the bitstream of that precision)");
    if (info_.max_dim < job.data->layout.dim)
      throw Error("pynq backend: dimension " + std::to_string(job.data->layout.dim) +
                  " (with bias) exceeds the loaded engine's MAX_DIM of " + std::to_string(info_.max_dim));
    if (info_.lanes == 0) throw Error("pynq backend: the engine's ENGINE_INFO says it has 0 lanes");
    // as few passes as possible, the lanes spread evenly over them
    const std::size_t k = job.lanes(), n = (k + info_.lanes - 1) / info_.lanes;
    for (std::size_t g = 0, first = 0; g < n; ++g) {
      const std::size_t count = k / n + (g < k % n ? 1 : 0);
      groups_.push_back({first, count});
      first += count;
    }
    if (n == 1) {
      configure(job, groups_.front());
      session_.configured(job);
      return;
    }
    if (!job.same_data_each_epoch)
      throw Error("pynq backend: " + std::to_string(k) + " classes on an engine of " + std::to_string(info_.lanes) +
                  (info_.lanes == 1 ? " lane" : " lanes") + " train in " + std::to_string(n) +
                  " groups one after another, each over the same stream, but this job shuffles or re-quantizes "
                  "the data every epoch: shuffle once, keep one quantization, or use a bitstream with " +
                  std::to_string(k) + " lanes");
    const std::size_t epochs = job.config.epochs, d = job.data->layout.dim;
    recorded_.assign(epochs, std::vector<std::int32_t>(k * d, 0));
    for (std::size_t g = 0; g < n; ++g) {
      if (g > 0) conn_->reset_engine();
      configure(job, groups_[g]);
      std::vector<std::int32_t> words(k * d, 0);
      for (std::size_t e = 0; e < epochs; ++e) {
        pass(job, groups_[g], "epoch " + std::to_string(e + 1) + ", " + groups_[g].what(), words);
        const auto from = words.begin() + static_cast<std::ptrdiff_t>(groups_[g].first * d);
        std::copy(from, from + static_cast<std::ptrdiff_t>(groups_[g].count * d),
                  recorded_[e].begin() + static_cast<std::ptrdiff_t>(groups_[g].first * d));
      }
    }
    session_.configured(job);
  }

  //! ENGINE_INFO: three words (signature, lanes and precision, MAX_DIM), tlast on the third.
  stream::EngineInfo query_info() {
    const std::uint64_t ask[] = {stream::command::kEngineInfo};
    const auto answer = exchange(ask, {}, 3 * 4, "ENGINE_INFO");
    const auto info = stream::decode_engine_info(answer.words);
    if (!info || !answer.ends_with_last)
      throw Error("pynq backend: the engine answered ENGINE_INFO with " + std::to_string(answer.words.size()) +
                  (answer.words.size() == 1 ? " word" : " words") +
                  ", not the three starting with 0x5a495031 that zipml's engines send: is a zipml bitstream loaded?");
    return *info;
  }

  void configure(const TrainJob& job, const Group& g) {
    const std::span<const float> labels =
        job.lane_labels.empty() ? std::span<const float>{} : std::span<const float>(job.lane_labels).subspan(g.first, g.count);
    if (const auto why = stream::lane_limit_error(labels.size(), info_.lanes); !why.empty())
      throw Error("pynq backend: " + why);
    const stream::Config c = stream::lanes_config(job.config, labels);
    const auto words = stream::config_words(job.config, labels, info_.lanes);
    const std::string what = groups_.size() == 1 ? "the configuration" : "the configuration of " + g.what();
    const auto answer = exchange(words, {}, 9 * 4, what);
    const auto why = protocol::echo_mismatch(c, answer.words, answer.ends_with_last, job.data->layout.bits, info_.max_dim);
    if (!why.empty()) throw Error("pynq backend: " + why);
  }

  //! One pass of the stream and THE_END; group g's models into `fixed` (lanes x d words).
  void pass(const TrainJob& job, const Group& g, const std::string& what, std::vector<std::int32_t>& fixed) {
    const std::size_t padded = job.data->layout.padded_dim(), d = job.data->layout.dim;
    const std::uint64_t end[] = {stream::command::kTheEnd};
    const auto answer = exchange(job.data->words, end, g.count * padded * 4, what + ": the pass and THE_END");
    const auto why = protocol::model_mismatch(answer.words, answer.ends_with_last, g.count * padded);
    if (!why.empty()) throw Error("pynq backend (" + what + "): " + why);
    // lane l of the group: words l*padded .. l*padded + d - 1 of the packet
    for (std::size_t l = 0; l < g.count; ++l)
      for (std::size_t j = 0; j < d; ++j)
        fixed[(g.first + l) * d + j] = static_cast<std::int32_t>(answer.words[l * padded + j]);
  }

  //! Sends `body` then `tail` through MM2S while S2MM takes the engine's answer (at most
  //! `answer_bytes` expected, more room given so that a longer answer is seen as such).
  Answer exchange(std::span<const std::uint64_t> body, std::span<const std::uint64_t> tail, std::size_t answer_bytes,
                  const std::string& what) {
    auto& buf = *conn_->buffer;
    auto& dma = *conn_->dma;
    const auto bytes = buf.bytes();
    // [answer area | half 0 | half 1]; the answer area is whole pages.
    const std::size_t rx = std::min((answer_bytes + 64 + 4095) / 4096 * 4096, pynq::max_transfer() & ~std::size_t{4095});
    if (bytes.size() < rx + 2 * 4096)
      throw Error("pynq backend: the DMA buffer (" + buf.describe() + ", " + std::to_string(bytes.size()) +
                  " bytes) cannot hold a " + std::to_string(answer_bytes) + "-byte answer and two 4 KiB halves");
    const std::size_t half = std::min((bytes.size() - rx) / 2 / 4096 * 4096, pynq::max_transfer() & ~std::size_t{4095});
    const std::size_t per_half = half / 8;
    buf.to_device(0, rx); // no dirty line of the answer area may be written back over the DMA's data
    dma.begin(pynq::Channel::S2mm, buf.physical(), rx);
    const std::size_t total = body.size() + tail.size();
    std::size_t pos = 0, slot = 0;
    bool pending = false;
    while (pos < total) {
      const std::size_t n = std::min(per_half, total - pos);
      const std::size_t off = rx + slot * half;
      auto* dst = reinterpret_cast<std::uint64_t*>(bytes.data() + off);
      // words [pos, pos + n) of body ++ tail
      const std::size_t from_body = pos < body.size() ? std::min(n, body.size() - pos) : 0;
      if (from_body) std::memcpy(dst, body.data() + pos, from_body * 8);
      if (n > from_body) std::memcpy(dst + from_body, tail.data() + (pos + from_body - body.size()), (n - from_body) * 8);
      buf.to_device(off, n * 8);
      if (pending) dma.wait(pynq::Channel::Mm2s, what);
      dma.begin(pynq::Channel::Mm2s, buf.physical() + off, n * 8);
      pending = true;
      pos += n;
      slot ^= 1;
    }
    if (pending) dma.wait(pynq::Channel::Mm2s, what);
    const std::size_t got = dma.wait(pynq::Channel::S2mm, what + " (waiting for the engine's answer)");
    pynq::memory_barrier(); // the answer is read after the DMA said it is complete
    if (got > rx || got % 4 != 0)
      throw Error("pynq backend: the DMA reports " + std::to_string(got) + " bytes received into a " + std::to_string(rx) +
                  "-byte area (" + what + ")");
    buf.to_cpu(0, got);
    Answer a;
    a.words.resize(got / 4);
    std::memcpy(a.words.data(), bytes.data(), got);
    a.ends_with_last = got < rx;
    return a;
  }

  pynq::BoardFactory factory_;
  pynq::Options options_;
  std::unique_ptr<pynq::Connection> conn_;
  protocol::Session session_;
  stream::EngineInfo info_{0, 0, stream::PrecisionCode::Unstated, 0};
  std::vector<Group> groups_;
  std::vector<std::vector<std::int32_t>> recorded_; //!< per epoch, K x d (more classes than lanes)
};

static_assert(Backend<Pynq>);

} // namespace zipml

#endif
