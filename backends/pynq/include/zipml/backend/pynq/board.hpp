// zipml — what the PYNQ driver needs from a board, as three small interfaces.
//
// The driver (axi_dma.hpp, pynq.hpp) sees a board only through these: 32-bit register windows
// at physical addresses, one physically contiguous DMA buffer, and a clock. linux.hpp
// implements them on a real Zynq (/dev/mem or UIO, u-dma-buf / libcma / XRT, fpga_manager);
// sim/ implements them with a model of the AXI DMA, the AXI GPIO and simulated memory in
// front of the engine. The driver code is the same in both.
#ifndef ZIPML_BACKEND_PYNQ_BOARD_HPP
#define ZIPML_BACKEND_PYNQ_BOARD_HPP

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace zipml::pynq {

// ---- The block design (scripts/vivado/zipml_bd.tcl; a test checks that the two agree) ----
//! AXI DMA v7.1, simple mode: MM2S 64-bit into the engine, S2MM 32-bit out of it.
inline constexpr std::uint64_t kDmaBase = 0x4040'0000;
inline constexpr std::size_t kDmaSpan = 0x1'0000;
//! AXI GPIO: channel 1 bit 0 is the engine's active-low reset.
inline constexpr std::uint64_t kGpioBase = 0x4120'0000;
inline constexpr std::size_t kGpioSpan = 0x1'0000;
//! Width of the DMA's buffer-length registers (c_sg_length_width): at most 2^23 - 1 bytes.
inline constexpr unsigned kDmaLengthBits = 23;
//! The largest MAX_DIM a zipml engine has (rtl/meson.build's engines; a bitstream's own,
//! which its ENGINE_INFO answers, may be smaller).
inline constexpr std::size_t kMaxDim = 4096;
//! What scripts/vivado/build.tcl builds for one precision: the largest LANES that Yosys fits
//! on the xc7z020 with MAX_DIM = 1024 (docs/RTL.md "K model lanes").
struct BitstreamBuild {
  unsigned bits;       //!< 32 (float32) or Q
  std::size_t lanes;   //!< LANES
  std::size_t max_dim; //!< MAX_DIM
};
inline constexpr std::array<BitstreamBuild, 5> kBitstreams = {
    {{32, 35, 1024}, {8, 10, 1024}, {4, 6, 1024}, {2, 2, 1024}, {1, 2, 1024}}};
//! The PL clock the design is built for (FCLK_CLK0).
inline constexpr double kClockHz = 100e6;

//! 32-bit registers at a physical address (an AXI-Lite slave).
class RegisterWindow {
 public:
  virtual ~RegisterWindow() = default;
  [[nodiscard]] virtual std::uint32_t read(std::size_t offset) = 0;
  virtual void write(std::size_t offset, std::uint32_t value) = 0;
  [[nodiscard]] virtual std::uint64_t base() const noexcept = 0;
};

//! Physically contiguous memory the DMA can read and write.
class DmaBuffer {
 public:
  virtual ~DmaBuffer() = default;
  //! The CPU's view.
  [[nodiscard]] virtual std::span<std::byte> bytes() noexcept = 0;
  //! The address the DMA uses for bytes()[0].
  [[nodiscard]] virtual std::uint64_t physical() const noexcept = 0;
  //! After the CPU wrote [offset, offset + size), before the DMA reads it (cache flush).
  virtual void to_device(std::size_t offset, std::size_t size) = 0;
  //! After the DMA wrote [offset, offset + size), before the CPU reads it (invalidate).
  virtual void to_cpu(std::size_t offset, std::size_t size) = 0;
  //! Where it came from, for messages ("u-dma-buf /dev/udmabuf0").
  [[nodiscard]] virtual std::string describe() const = 0;
};

//! A board: the PL's registers, DMA memory, time.
class Board {
 public:
  virtual ~Board() = default;
  //! "PYNQ board" or "simulated board", for messages.
  [[nodiscard]] virtual std::string name() const = 0;
  //! Throws zipml::Error unless the FPGA holds a zipml design (touching the registers of
  //! another design, or of an unprogrammed PL, can hang the bus).
  virtual void check_bitstream() = 0;
  //! Maps `size` bytes of registers at physical `base`; `what` names them in messages.
  [[nodiscard]] virtual std::unique_ptr<RegisterWindow> map(std::uint64_t base, std::size_t size,
                                                            const std::string& what) = 0;
  //! A DMA buffer of at least `min_bytes`, and up to `want_bytes` when the allocator has them.
  [[nodiscard]] virtual std::unique_ptr<DmaBuffer> allocate(std::size_t min_bytes, std::size_t want_bytes) = 0;
  //! Monotonic time: wall clock on a board, simulated clock cycles on the simulated one.
  [[nodiscard]] virtual std::chrono::nanoseconds now() = 0;
  //! Lets `d` pass (between polls; the reset pulse).
  virtual void pause(std::chrono::nanoseconds d) = 0;
};

} // namespace zipml::pynq

#endif
