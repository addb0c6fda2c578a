// zipml — a SIMULATED PYNQ board: what the driver sees of a Zynq, modelled in C++.
//
// Not a board: the tests' and `zipml-train --board sim`'s stand-in for one. It implements the
// same interfaces as the real board (pynq/board.hpp), so the driver under test is the code
// that runs on the board:
//
//  * the AXI DMA's registers at kDmaBase, modelled after PG021 (simple mode): soft reset
//    (both channels, the Reset bit reads 1 for a few cycles), RS / Halted, a transfer starts
//    when a non-zero length is written to a running channel (no effect while halted), Idle and
//    IOC_Irq on completion (IOC write-1-to-clear), S2MM_LENGTH = bytes received after tlast;
//    DMADecErr for addresses outside the simulated memory, DMAIntErr for unaligned addresses
//    and for a packet longer than the S2MM length (PG021: undefined; zipml's choice), any
//    error injected by a test; an error halts the channel and clears RS until a soft reset;
//  * the AXI GPIO at kGpioBase: GPIO_DATA bit 0 drives the engine's rst_n (reset value 0);
//  * simulated physical memory (DDR at kMemoryBase) from which DMA buffers are allocated;
//  * a clock: 100 MHz, advanced only when the driver pauses, so time is simulated time.
//
// Bytes move between the memory and the engine one stream beat per cycle (64-bit in, 32-bit
// out). The engine behind the streams is a StreamEngine: the Verilated RTL engine
// (sim/verilated.hpp) or ReferenceEngine below, the CPU engine arithmetic behind the same
// stream protocol (for tests without Verilator, e.g. cross-built ones under qemu).
#ifndef ZIPML_BACKEND_PYNQ_SIM_BOARD_HPP
#define ZIPML_BACKEND_PYNQ_SIM_BOARD_HPP

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "zipml/backend.hpp"
#include "zipml/backend/cpu.hpp"
#include "zipml/backend/engine_protocol.hpp"
#include "zipml/backend/pynq/axi_dma.hpp"
#include "zipml/backend/pynq/board.hpp"
#include "zipml/error.hpp"
#include "zipml/model/l2svm.hpp"
#include "zipml/model/least_squares.hpp"
#include "zipml/model/logistic.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"

namespace zipml::pynq::sim {

//! The PL end of the DMA's two streams, clocked by the simulated board.
class StreamEngine {
 public:
  struct In {
    bool rst_n = false;
    bool s_valid = false;
    std::uint64_t s_data = 0;
    bool s_last = false;
    bool m_ready = false;
  };
  struct Out {
    bool s_ready = false;
    bool m_valid = false;
    std::uint32_t m_data = 0;
    bool m_last = false;
  };
  virtual ~StreamEngine() = default;
  //! One clock cycle: the outputs before the edge (a beat moves when valid and ready are
  //! both high), then the edge.
  virtual Out cycle(const In& in) = 0;
  //! 32 or Q: the precision the engine is built for.
  [[nodiscard]] virtual unsigned bits() const = 0;
};

//! The stream protocol of docs/RTL.md in C++ with the CPU backend's engine arithmetic: the
//! same answers as the RTL engine, without its timing, for an engine of `lanes` model lanes
//! (LANE_LABEL, ENGINE_INFO and the K-model write-back as sgd_engine with LANES = lanes).
//! Simplified: configurations are refused only for d, the precision, K > lanes, 1-bit [-1, 1]
//! and float32 double sampling (not for step factors).
class ReferenceEngine final : public StreamEngine {
 public:
  explicit ReferenceEngine(unsigned bits, std::size_t max_dim = kMaxDim, std::size_t lanes = 1)
      : bits_(bits), max_dim_(max_dim), lanes_(std::clamp<std::size_t>(lanes, 1, stream::kMaxLanes)),
        lane_labels_(lanes_, 0.0f) {}

  Out cycle(const In& in) override {
    Out o;
    if (!in.rst_n) {
      reset();
      return o;
    }
    o.s_ready = out_.size() < 16;
    o.m_valid = !out_.empty();
    if (o.m_valid) {
      o.m_data = out_.front().first;
      o.m_last = out_.front().second;
    }
    if (o.m_valid && in.m_ready) out_.pop_front();
    if (o.s_ready && in.s_valid) take(in.s_data);
    return o;
  }
  [[nodiscard]] unsigned bits() const override { return bits_; }

 private:
  void reset() {
    out_.clear();
    config_ = {};
    valid_ = false;
    dead_ = false;
    loopback_ = false;
    payload_for_ = 0;
    in_pass_ = false;
    pass_next_ = false;
    model_.clear();
    passes_ = passes_since_config_ = 0;
    lanes_in_use_ = 0;
    std::fill(lane_labels_.begin(), lane_labels_.end(), 0.0f);
  }

  //! Lanes that train and answer: K after LANE_LABEL words, else every lane (the original's way).
  [[nodiscard]] std::size_t active_lanes() const noexcept { return lanes_in_use_ > 0 ? lanes_in_use_ : lanes_; }

  void answer(std::span<const std::uint32_t> words) {
    for (std::size_t i = 0; i < words.size(); ++i) out_.emplace_back(words[i], i + 1 == words.size());
  }

  [[nodiscard]] stream::Layout layout() const {
    stream::Layout l;
    l.bits = bits_;
    l.dim = config_.dim;
    l.double_sampled = config_.double_sampled;
    l.minus_one_one = config_.minus_one_one;
    return l;
  }

  void take(std::uint64_t w) {
    using namespace stream::command;
    if (dead_) return;
    if (payload_for_ != 0) {
      if (payload_for_ == kLaneLabel) {
        const auto l = stream::decode_lane_payload(w);
        if (l.lane < lanes_) lane_labels_[l.lane] = l.label; // labels of lanes it lacks are dropped
        lanes_in_use_ = l.lanes;
      } else {
        stream::apply_payload(config_, payload_for_, w);
      }
      payload_for_ = 0;
      return;
    }
    if (loopback_) {
      if (w == kUnloopback) {
        loopback_ = false;
      } else {
        const std::uint32_t lo = static_cast<std::uint32_t>(w);
        answer({&lo, 1});
      }
      return;
    }
    if (in_pass_) {
      if (pass_.size() < config_.samples * layout().row_words())
        pass_.push_back(w);
      else
        end_of_pass(w);
      return;
    }
    if (!pass_next_) {
      if (w == kMagic1 || w == kMagic2 || w == kMagic3 || w == kMagic4 || w == kMagic5 || w == kLaneLabel) {
        payload_for_ = w;
        if (w == kMagic1) {
          model_.assign(lanes_ * layout().padded_dim(), 0);
          passes_ = 0;
        }
        return;
      }
      if (w == kEngineInfo) {
        const auto info = stream::info_words({static_cast<unsigned>(lanes_), static_cast<unsigned>(lanes_in_use_),
                                              stream::precision_code(bits_), static_cast<std::uint32_t>(max_dim_)});
        answer(info);
        return;
      }
      if (w == kSendConfig) {
        send_config();
        return;
      }
      if (w == kLoopback) {
        loopback_ = true;
        return;
      }
      if (w == kTheEnd) {
        if (!valid_) {
          const std::uint32_t e = protocol::kErrorNotConfigured;
          answer({&e, 1});
        } else {
          answer_model();
        }
        return;
      }
      if (!valid_) return; // a refused engine drops data words
    }
    // the first word of a pass
    in_pass_ = true;
    pass_next_ = false;
    pass_.clear();
    if (config_.samples == 0) {
      end_of_pass(w);
      return;
    }
    pass_.push_back(w);
  }

  //! The word after a pass's last row: THE_END, or a framing error (the engine then drops
  //! everything until reset).
  void end_of_pass(std::uint64_t w) {
    if (w == stream::command::kTheEnd) {
      run_pass();
      return;
    }
    in_pass_ = false;
    const std::uint32_t e = protocol::kErrorFraming;
    answer({&e, 1});
    dead_ = true;
  }

  void send_config() {
    auto echo = stream::config_echo(config_);
    const auto own = static_cast<std::uint32_t>(stream::precision_code(bits_));
    const auto code = static_cast<std::uint32_t>(config_.precision);
    valid_ = true;
    std::uint32_t field = code;
    if (code != 0 && code != own) {
      field = own;
      valid_ = false;
    } else if (config_.dim == 0 || config_.dim > max_dim_ || (bits_ == 1 && config_.minus_one_one) ||
               (bits_ == 32 && config_.double_sampled) || lanes_in_use_ > lanes_) {
      field = protocol::kPrecisionRefused;
      valid_ = false;
    }
    echo[1] = (echo[1] & ~(7u << 21)) | (field << 21);
    answer(echo);
    if (model_.size() != lanes_ * layout().padded_dim()) model_.resize(lanes_ * layout().padded_dim(), 0);
    passes_since_config_ = 0;
    pass_next_ = valid_ && config_.epochs > 0;
  }

  void run_pass() {
    in_pass_ = false;
    stream::PackedStream data;
    data.layout = layout();
    data.rows = config_.samples;
    data.words = std::move(pass_);
    pass_.clear();
    // The lanes are independent: each is the single-lane engine binarizing against its label
    // (lane mode) or the MAGIC3 one.
    const std::size_t k = active_lanes(), padded = layout().padded_dim();
    for (std::size_t lane = 0; lane < k; ++lane) {
      TrainJob job;
      job.config = config_;
      if (lanes_in_use_ > 0) job.config.binarize_label = lane_labels_[lane];
      job.data = &data;
      job.arithmetic = Arithmetic::Engine;
      ModelState state;
      state.reset(Arithmetic::Engine, 1, config_.dim);
      const auto at = model_.begin() + static_cast<std::ptrdiff_t>(lane * padded);
      std::copy_n(at, config_.dim, state.fixed.begin());
      Cpu cpu;
      switch (config_.loss_mode()) {
        case stream::LossMode::LeastSquares: cpu.run_epoch(LeastSquares{}, job, passes_, state); break;
        case stream::LossMode::L2Svm: cpu.run_epoch(L2Svm{}, job, passes_, state); break;
        case stream::LossMode::Logistic: cpu.run_epoch(Logistic{}, job, passes_, state); break;
      }
      std::copy_n(state.fixed.begin(), config_.dim, at);
    }
    ++passes_;
    ++passes_since_config_;
    answer_model();
    pass_next_ = passes_since_config_ < config_.epochs;
  }

  void answer_model() {
    std::vector<std::uint32_t> w(active_lanes() * layout().padded_dim());
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::uint32_t>(model_[i]);
    answer(w);
  }

  unsigned bits_;
  std::size_t max_dim_, lanes_;
  std::vector<float> lane_labels_;
  std::size_t lanes_in_use_ = 0;
  std::deque<std::pair<std::uint32_t, bool>> out_;
  stream::Config config_;
  bool valid_ = false, dead_ = false, loopback_ = false, in_pass_ = false, pass_next_ = false;
  std::uint64_t payload_for_ = 0;
  std::vector<std::uint64_t> pass_;
  std::vector<std::int32_t> model_;
  std::size_t passes_ = 0, passes_since_config_ = 0;
};

//! Where the simulated DDR starts (inside the Zynq-7000's DDR range, as a CMA buffer would).
inline constexpr std::uint64_t kMemoryBase = 0x1800'0000;

//! The simulated hardware: memory, DMA, GPIO, engine, clock. Shared by the SimBoard handles
//! the driver opens and the test that inspects it afterwards.
class Hardware {
 public:
  struct Settings {
    bool programmed = true;                          //!< a zipml bitstream is loaded
    std::size_t memory_bytes = std::size_t{4} << 20; //!< simulated DDR for DMA buffers
  };

  explicit Hardware(std::unique_ptr<StreamEngine> engine) : Hardware(std::move(engine), Settings{}) {}
  Hardware(std::unique_ptr<StreamEngine> engine, Settings s)
      : engine_(std::move(engine)), settings_(s), memory_(s.memory_bytes) {
    for (auto& c : ch_) power_on(c);
  }

  // ---- faults a test can inject ----
  //! The next transfer on `c` fails with `error_bit` (dma::kSrIntErr, kSrSlvErr or kSrDecErr).
  void fail_next(Channel c, std::uint32_t error_bit) { ch_[idx(c)].inject = error_bit; }
  //! The engine never takes a word (as a PL whose stream clock is stopped).
  bool stall_input = false;

  // ---- what a test can inspect ----
  [[nodiscard]] int live_windows() const noexcept { return windows_; }
  [[nodiscard]] int live_buffers() const noexcept { return buffers_; }
  [[nodiscard]] std::uint64_t cycles() const noexcept { return cycles_; }
  [[nodiscard]] bool programmed() const noexcept { return settings_.programmed; }
  [[nodiscard]] std::uint32_t gpio() const noexcept { return gpio_data_; }
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return memory_.size(); }
  [[nodiscard]] std::span<std::byte> memory() noexcept { return memory_; }
  //! Transfers started on `c`, and the largest length among them.
  [[nodiscard]] std::size_t transfers(Channel c) const noexcept { return started_[idx(c)]; }
  [[nodiscard]] std::uint32_t largest_length(Channel c) const noexcept { return largest_[idx(c)]; }

  // ---- the DMA and GPIO registers ----
  std::uint32_t read_dma(std::size_t off) {
    const bool s2mm = off >= dma::kS2mm;
    const auto& c = ch_[s2mm ? 1 : 0];
    switch (off - (s2mm ? dma::kS2mm : dma::kMm2s)) {
      case dma::kCr: return c.cr | (resetting_ > 0 ? dma::kCrReset : 0u);
      case dma::kSr: return c.sr;
      case dma::kAddr: return c.addr;
      case dma::kAddrMsb: return c.addr_msb;
      case dma::kLength: return c.length;
      default: return 0;
    }
  }

  void write_dma(std::size_t off, std::uint32_t v) {
    const bool s2mm = off >= dma::kS2mm;
    auto& c = ch_[s2mm ? 1 : 0];
    switch (off - (s2mm ? dma::kS2mm : dma::kMm2s)) {
      case dma::kCr:
        if (v & dma::kCrReset) {
          resetting_ = 8; // "resetting one channel resets the whole AXI DMA"
          for (auto& x : ch_) x.busy = false;
          return;
        }
        c.cr = (v & ~dma::kCrReset) | 0x2u; // bit 1 is reserved and reads 1
        if (v & dma::kCrRunStop) {
          if (!(c.sr & dma::kSrErrors)) c.sr &= ~dma::kSrHalted; // after an error only a reset restarts
        } else {
          c.sr |= dma::kSrHalted;
          c.busy = false;
        }
        return;
      case dma::kSr: c.sr &= ~(v & dma::kSrIrqs); return; // write 1 to clear
      case dma::kAddr: c.addr = v; return;
      case dma::kAddrMsb: c.addr_msb = v; return;
      case dma::kLength: start(c, s2mm, v & ((1u << kDmaLengthBits) - 1)); return;
      default: return;
    }
  }

  std::uint32_t read_gpio(std::size_t off) const { return off == 0 ? gpio_data_ : off == 4 ? gpio_tri_ : 0u; }
  void write_gpio(std::size_t off, std::uint32_t v) {
    if (off == 0) gpio_data_ = v;
    if (off == 4) gpio_tri_ = v;
  }

  //! Runs the PL for `n` clock cycles.
  void advance(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) step();
  }

  // ---- used by SimBoard ----
  void opened_window(int d) noexcept { windows_ += d; }
  std::size_t allocate(std::size_t bytes) {
    if (buffers_ > 0) throw Error("simulated board: one DMA buffer at a time");
    if (bytes > memory_.size()) bytes = memory_.size();
    ++buffers_;
    return bytes;
  }
  void freed_buffer() noexcept { --buffers_; }

 private:
  struct ChannelState {
    std::uint32_t cr = 0, sr = 0, addr = 0, addr_msb = 0, length = 0;
    bool busy = false;
    std::uint64_t ptr = 0;
    std::size_t remaining = 0, moved = 0;
    std::uint32_t inject = 0;   //!< error to raise at the next transfer
    int error_in = -1;          //!< cycles until a pending error is raised
    std::uint32_t pending = 0;  //!< that error
  };

  static std::size_t idx(Channel c) noexcept { return c == Channel::Mm2s ? 0 : 1; }

  static void power_on(ChannelState& c) {
    c = ChannelState{.cr = 0x00010002u, .sr = dma::kSrHalted, .inject = c.inject};
  }

  void start(ChannelState& c, bool s2mm, std::uint32_t len) {
    if ((c.sr & dma::kSrHalted) || len == 0 || c.busy) return; // PG021: no effect while halted
    c.length = len;
    c.busy = true;
    ++started_[s2mm ? 1 : 0];
    largest_[s2mm ? 1 : 0] = std::max(largest_[s2mm ? 1 : 0], len);
    c.ptr = (static_cast<std::uint64_t>(c.addr_msb) << 32) | c.addr;
    c.remaining = len;
    c.moved = 0;
    c.sr &= ~dma::kSrIdle;
    const std::uint64_t width = s2mm ? 4 : 8;
    std::uint32_t err = 0;
    if (c.inject) err = std::exchange(c.inject, 0u);
    else if (c.ptr % width != 0 || (!s2mm && len % 8 != 0)) err = dma::kSrIntErr;
    else if (c.ptr < kMemoryBase || c.ptr + len > kMemoryBase + memory_.size()) err = dma::kSrDecErr;
    if (err) {
      c.pending = err;
      c.error_in = 4; // the datamover answers after its first burst
    }
  }

  void fail(ChannelState& c, std::uint32_t err) {
    c.sr |= err | dma::kSrErrIrq | dma::kSrHalted;
    c.cr &= ~dma::kCrRunStop;
    c.busy = false;
    c.error_in = -1;
  }

  void complete(ChannelState& c, bool s2mm) {
    c.busy = false;
    c.sr |= dma::kSrIdle | dma::kSrIocIrq;
    if (s2mm) c.length = static_cast<std::uint32_t>(c.moved);
  }

  void step() {
    ++cycles_;
    if (resetting_ > 0 && --resetting_ == 0)
      for (auto& c : ch_) power_on(c);
    auto& mm2s = ch_[0];
    auto& s2mm = ch_[1];
    for (auto& c : ch_)
      if (c.busy && c.error_in >= 0 && c.error_in-- == 0) fail(c, c.pending);
    StreamEngine::In in;
    in.rst_n = (gpio_data_ & 1u) != 0;
    const bool offer = mm2s.busy && mm2s.error_in < 0 && !stall_input;
    if (offer) {
      std::memcpy(&in.s_data, memory_.data() + (mm2s.ptr - kMemoryBase), 8);
      in.s_valid = true;
      in.s_last = mm2s.remaining == 8;
    }
    in.m_ready = s2mm.busy && s2mm.error_in < 0;
    const auto out = engine_->cycle(in);
    if (offer && out.s_ready) {
      mm2s.ptr += 8;
      mm2s.remaining -= 8;
      mm2s.moved += 8;
      if (mm2s.remaining == 0) complete(mm2s, false);
    }
    if (in.m_ready && out.m_valid) {
      if (s2mm.remaining < 4) {
        fail(s2mm, dma::kSrIntErr); // a packet longer than the buffer
        return;
      }
      std::memcpy(memory_.data() + (s2mm.ptr - kMemoryBase), &out.m_data, 4);
      s2mm.ptr += 4;
      s2mm.remaining -= 4;
      s2mm.moved += 4;
      if (out.m_last) complete(s2mm, true);
    }
  }

  std::unique_ptr<StreamEngine> engine_;
  Settings settings_;
  std::vector<std::byte> memory_;
  std::array<ChannelState, 2> ch_{};
  int resetting_ = 0;
  std::uint32_t gpio_data_ = 0, gpio_tri_ = 0xFFFFFFFFu; // AXI GPIO reset values
  std::uint64_t cycles_ = 0;
  int windows_ = 0, buffers_ = 0;
  std::array<std::size_t, 2> started_{};
  std::array<std::uint32_t, 2> largest_{};
};

//! The driver's handle on the simulated hardware (one Board per open connection).
class SimBoard final : public Board {
 public:
  explicit SimBoard(std::shared_ptr<Hardware> hw) : hw_(std::move(hw)) {}

  [[nodiscard]] std::string name() const override { return "simulated board"; }
  void check_bitstream() override {
    if (!hw_->programmed())
      throw Error("simulated board: the FPGA is not programmed (no bitstream loaded): load a zipml bitstream "
                  "with --bitstream FILE.bit");
  }
  std::unique_ptr<RegisterWindow> map(std::uint64_t base, std::size_t size, const std::string& what) override {
    if (base == kDmaBase && size <= kDmaSpan) return std::make_unique<Window>(hw_, base, true);
    if (base == kGpioBase && size <= kGpioSpan) return std::make_unique<Window>(hw_, base, false);
    throw Error("simulated board: no slave decodes " + what + " at " + hex(base));
  }
  std::unique_ptr<DmaBuffer> allocate(std::size_t min_bytes, std::size_t want_bytes) override {
    if (min_bytes > hw_->memory_bytes())
      throw Error("simulated board: " + std::to_string(min_bytes) + " bytes of DMA memory wanted, " +
                  std::to_string(hw_->memory_bytes()) + " simulated");
    return std::make_unique<Buffer>(hw_, hw_->allocate(want_bytes));
  }
  std::chrono::nanoseconds now() override { return std::chrono::nanoseconds(hw_->cycles() * kNsPerCycle); }
  void pause(std::chrono::nanoseconds d) override {
    hw_->advance(std::max<std::uint64_t>(1, static_cast<std::uint64_t>(d.count()) / kNsPerCycle));
  }

 private:
  static constexpr std::uint64_t kNsPerCycle = 10; // 100 MHz

  class Window final : public RegisterWindow {
   public:
    Window(std::shared_ptr<Hardware> hw, std::uint64_t base, bool dma) : hw_(std::move(hw)), base_(base), dma_(dma) {
      hw_->opened_window(+1);
    }
    ~Window() override { hw_->opened_window(-1); }
    std::uint32_t read(std::size_t off) override { return dma_ ? hw_->read_dma(off) : hw_->read_gpio(off); }
    void write(std::size_t off, std::uint32_t v) override {
      if (dma_)
        hw_->write_dma(off, v);
      else
        hw_->write_gpio(off, v);
    }
    [[nodiscard]] std::uint64_t base() const noexcept override { return base_; }

   private:
    std::shared_ptr<Hardware> hw_;
    std::uint64_t base_;
    bool dma_;
  };

  class Buffer final : public DmaBuffer {
   public:
    Buffer(std::shared_ptr<Hardware> hw, std::size_t bytes) : hw_(std::move(hw)), bytes_(bytes) {}
    ~Buffer() override { hw_->freed_buffer(); }
    std::span<std::byte> bytes() noexcept override { return hw_->memory().first(bytes_); }
    [[nodiscard]] std::uint64_t physical() const noexcept override { return kMemoryBase; }
    void to_device(std::size_t, std::size_t) override {} // one memory, no caches
    void to_cpu(std::size_t, std::size_t) override {}
    [[nodiscard]] std::string describe() const override { return "simulated memory at " + hex(kMemoryBase); }

   private:
    std::shared_ptr<Hardware> hw_;
    std::size_t bytes_;
  };

  std::shared_ptr<Hardware> hw_;
};

//! A board factory for zipml::Pynq over `hw`.
[[nodiscard]] inline auto factory(std::shared_ptr<Hardware> hw) {
  return [hw] { return std::unique_ptr<Board>(std::make_unique<SimBoard>(hw)); };
}

} // namespace zipml::pynq::sim

#endif
