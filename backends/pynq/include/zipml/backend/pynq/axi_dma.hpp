// zipml — Xilinx AXI DMA v7.1 in simple (direct register) mode, as PG021 describes it.
//
// Init: soft reset (DMACR.Reset, which resets both channels, done when the bit reads 0), then
// RS = 1 on both channels until DMASR.Halted = 0. A transfer: the buffer's address, then the
// length register last (a non-zero length starts it), then DMASR is polled until Idle (or
// IOC_Irq) with a timeout; DMAIntErr/DMASlvErr/DMADecErr halt the channel and become a
// zipml::Error with the channel's registers. Lengths are limited by the length register's
// width (23 bits in zipml's design): callers split longer transfers (max_transfer()).
// Works on any RegisterWindow: the board's, or the simulated board's model of the DMA.
#ifndef ZIPML_BACKEND_PYNQ_AXI_DMA_HPP
#define ZIPML_BACKEND_PYNQ_AXI_DMA_HPP

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "zipml/backend/pynq/board.hpp"
#include "zipml/error.hpp"

namespace zipml::pynq {

//! PG021 register map and bits (direct register mode).
namespace dma {
inline constexpr std::size_t kMm2s = 0x00; //!< MM2S block (memory to stream)
inline constexpr std::size_t kS2mm = 0x30; //!< S2MM block (stream to memory), same layout
inline constexpr std::size_t kCr = 0x00;   //!< DMACR
inline constexpr std::size_t kSr = 0x04;   //!< DMASR
inline constexpr std::size_t kAddr = 0x18; //!< MM2S_SA / S2MM_DA
inline constexpr std::size_t kAddrMsb = 0x1C;
inline constexpr std::size_t kLength = 0x28; //!< MM2S_LENGTH / S2MM_LENGTH

inline constexpr std::uint32_t kCrRunStop = 1u << 0;
inline constexpr std::uint32_t kCrReset = 1u << 2;
inline constexpr std::uint32_t kCrIocIrqEn = 1u << 12;
inline constexpr std::uint32_t kCrErrIrqEn = 1u << 14;

inline constexpr std::uint32_t kSrHalted = 1u << 0;
inline constexpr std::uint32_t kSrIdle = 1u << 1;
inline constexpr std::uint32_t kSrSgIncluded = 1u << 3;
inline constexpr std::uint32_t kSrIntErr = 1u << 4;
inline constexpr std::uint32_t kSrSlvErr = 1u << 5;
inline constexpr std::uint32_t kSrDecErr = 1u << 6;
inline constexpr std::uint32_t kSrErrors = kSrIntErr | kSrSlvErr | kSrDecErr;
inline constexpr std::uint32_t kSrIocIrq = 1u << 12;
inline constexpr std::uint32_t kSrDlyIrq = 1u << 13;
inline constexpr std::uint32_t kSrErrIrq = 1u << 14;
inline constexpr std::uint32_t kSrIrqs = kSrIocIrq | kSrDlyIrq | kSrErrIrq;
} // namespace dma

enum class Channel { Mm2s, S2mm };

[[nodiscard]] constexpr std::size_t block(Channel c) noexcept { return c == Channel::Mm2s ? dma::kMm2s : dma::kS2mm; }

[[nodiscard]] inline std::string channel_name(Channel c) {
  return c == Channel::Mm2s ? "MM2S (memory to engine)" : "S2MM (engine to memory)";
}

[[nodiscard]] inline std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

//! The error bits of a DMASR value, in words (PG021's names first).
[[nodiscard]] inline std::string describe_errors(std::uint32_t sr) {
  std::string out;
  auto add = [&](std::string_view s) { out += (out.empty() ? "" : "; ") + std::string(s); };
  if (sr & dma::kSrIntErr) add("DMAIntErr (internal error: a zero length, or a stream packet longer than the buffer)");
  if (sr & dma::kSrSlvErr) add("DMASlvErr (the memory answered SLVERR: the buffer is not reachable through the HP port)");
  if (sr & dma::kSrDecErr) add("DMADecErr (decode error: no memory at the buffer's physical address)");
  return out;
}

//! Orders the CPU's buffer writes before the register write that starts the DMA (which is
//! outside the CPU's inner-shareable domain: a full-system barrier on ARM).
inline void memory_barrier() noexcept {
#if defined(__arm__) || defined(__aarch64__)
  __asm__ volatile("dsb sy" ::: "memory");
#else
  __sync_synchronize();
#endif
}

//! The largest transfer a length register of `bits` bits takes, in whole 64-bit words.
[[nodiscard]] constexpr std::size_t max_transfer(unsigned bits = kDmaLengthBits) noexcept {
  return ((std::size_t{1} << bits) - 1) & ~std::size_t{7};
}

//! Drives one AXI DMA through its registers.
class AxiDma {
 public:
  AxiDma(RegisterWindow& regs, Board& board, std::chrono::nanoseconds timeout)
      : regs_(regs), board_(board), timeout_(timeout) {}

  //! Soft reset (both channels); checks that a simple-mode AXI DMA answers.
  void reset() {
    const std::uint32_t sr0 = regs_.read(dma::kMm2s + dma::kSr);
    if (sr0 == 0xFFFFFFFFu)
      throw Error(where() + "the registers read 0xffffffff: no AXI DMA at this address (is the zipml bitstream loaded?)");
    regs_.write(dma::kMm2s + dma::kCr, dma::kCrReset);
    const auto deadline = board_.now() + reset_timeout();
    while (((regs_.read(dma::kMm2s + dma::kCr) | regs_.read(dma::kS2mm + dma::kCr)) & dma::kCrReset) != 0) {
      if (board_.now() >= deadline)
        throw Error(where() + "the soft reset did not complete within " + ms(reset_timeout()) + " (" + registers() +
                    "): the DMA or its stream clock is stuck; reload the bitstream");
      board_.pause(kPoll);
    }
    for (Channel c : {Channel::Mm2s, Channel::S2mm}) {
      const std::uint32_t sr = regs_.read(block(c) + dma::kSr);
      if (sr & dma::kSrSgIncluded)
        throw Error(where() + "the DMA was built with scatter-gather (DMASR " + hex(sr) +
                    "); zipml drives it in simple mode: build it with c_include_sg 0 (scripts/vivado)");
      if (!(sr & dma::kSrHalted))
        throw Error(where() + channel_name(c) + " is not halted after a soft reset (" + registers() +
                    "): this is not an AXI DMA in simple mode");
    }
    busy_ = {false, false};
  }

  //! RS = 1 on both channels; waits until neither is halted.
  void start() {
    for (Channel c : {Channel::Mm2s, Channel::S2mm}) regs_.write(block(c) + dma::kCr, dma::kCrRunStop);
    const auto deadline = board_.now() + reset_timeout();
    while (((regs_.read(dma::kMm2s + dma::kSr) | regs_.read(dma::kS2mm + dma::kSr)) & dma::kSrHalted) != 0) {
      if (board_.now() >= deadline)
        throw Error(where() + "the channels did not leave the halted state within " + ms(reset_timeout()) + " (" +
                    registers() + ")");
      board_.pause(kPoll);
    }
  }

  //! Starts one transfer of `bytes` (1..max_transfer(), a multiple of 8) at physical `address`.
  //! For S2MM `bytes` is the room available; the transfer ends at the stream's tlast.
  void begin(Channel c, std::uint64_t address, std::size_t bytes) {
    const std::size_t i = index(c);
    if (busy_[i]) throw Error(where() + channel_name(c) + ": a transfer was started while another runs (driver bug)");
    if (bytes == 0 || bytes > max_transfer() || bytes % 8 != 0 || address % 8 != 0)
      throw Error(where() + channel_name(c) + ": transfer of " + std::to_string(bytes) + " bytes at " + hex(address) +
                  " (must be 8-byte aligned, 1.." + std::to_string(max_transfer()) + " bytes; driver bug)");
    const std::size_t b = block(c);
    const std::uint32_t sr = regs_.read(b + dma::kSr);
    if (sr & (dma::kSrHalted | dma::kSrErrors))
      throw Error(where() + channel_name(c) + " is " + ((sr & dma::kSrErrors) ? "in error" : "halted") +
                  " before a transfer (" + channel_registers(c) + ")" +
                  ((sr & dma::kSrErrors) ? ": " + describe_errors(sr) : std::string{}));
    regs_.write(b + dma::kSr, dma::kSrIrqs); // clear the last completion (write 1 to clear)
    regs_.write(b + dma::kAddr, static_cast<std::uint32_t>(address));
    regs_.write(b + dma::kAddrMsb, static_cast<std::uint32_t>(address >> 32));
    // The buffer's contents must reach memory before the DMA starts reading it.
    memory_barrier();
    regs_.write(b + dma::kLength, static_cast<std::uint32_t>(bytes)); // starts the transfer
    busy_[i] = true;
    last_[i] = {address, bytes};
  }

  //! Waits for the running transfer on `c`; returns the bytes moved (S2MM: as the length
  //! register reports them). `what` says what the transfer was, for the timeout message.
  std::size_t wait(Channel c, std::string_view what) {
    const std::size_t b = block(c);
    const auto deadline = board_.now() + timeout_;
    while (true) {
      const std::uint32_t sr = regs_.read(b + dma::kSr);
      if (sr & dma::kSrErrors) {
        busy_[index(c)] = false;
        throw Error(where() + channel_name(c) + " failed (" + std::string(what) + ", " + std::to_string(last_[index(c)].bytes) +
                    " bytes at " + hex(last_[index(c)].address) + "): " + describe_errors(sr) + "; " + channel_registers(c));
      }
      if (sr & (dma::kSrIdle | dma::kSrIocIrq)) break;
      if (sr & dma::kSrHalted) {
        busy_[index(c)] = false;
        throw Error(where() + channel_name(c) + " halted during a transfer (" + std::string(what) + "; " +
                    channel_registers(c) + ")");
      }
      if (board_.now() >= deadline)
        throw Error(where() + channel_name(c) + ": no completion within " + ms(timeout_) + " (" + std::string(what) +
                    "; " + registers() + "): the engine stopped " +
                    (c == Channel::Mm2s ? "taking data" : "answering") +
                    " (is the PL clock running? is the bitstream a zipml engine of this precision?)");
      board_.pause(kPoll);
    }
    busy_[index(c)] = false;
    regs_.write(b + dma::kSr, dma::kSrIocIrq);
    return c == Channel::Mm2s ? last_[index(c)].bytes : regs_.read(b + dma::kLength);
  }

  //! Every register of both channels, for messages.
  [[nodiscard]] std::string registers() { return channel_registers(Channel::Mm2s) + ", " + channel_registers(Channel::S2mm); }

  [[nodiscard]] std::string channel_registers(Channel c) {
    const std::size_t b = block(c);
    const std::string p = c == Channel::Mm2s ? "MM2S_" : "S2MM_";
    return p + "DMACR=" + hex(regs_.read(b + dma::kCr)) + " " + p + "DMASR=" + hex(regs_.read(b + dma::kSr)) + " " + p +
           (c == Channel::Mm2s ? "SA=" : "DA=") + hex(regs_.read(b + dma::kAddr)) + " " + p +
           "LENGTH=" + hex(regs_.read(b + dma::kLength));
  }

  [[nodiscard]] std::chrono::nanoseconds timeout() const noexcept { return timeout_; }

 private:
  struct Transfer {
    std::uint64_t address = 0;
    std::size_t bytes = 0;
  };
  static constexpr std::chrono::nanoseconds kPoll{1000};

  [[nodiscard]] static std::size_t index(Channel c) noexcept { return c == Channel::Mm2s ? 0 : 1; }
  [[nodiscard]] std::string where() const { return "AXI DMA at " + hex(regs_.base()) + ": "; }
  [[nodiscard]] std::chrono::nanoseconds reset_timeout() const noexcept {
    return std::min(timeout_, std::chrono::nanoseconds{std::chrono::milliseconds(100)});
  }
  [[nodiscard]] static std::string ms(std::chrono::nanoseconds d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return us % 1000 == 0 ? std::to_string(us / 1000) + " ms" : std::to_string(us) + " us";
  }

  RegisterWindow& regs_;
  Board& board_;
  std::chrono::nanoseconds timeout_;
  std::array<bool, 2> busy_{};
  std::array<Transfer, 2> last_{};
};

} // namespace zipml::pynq

#endif
