// zipml — the real board: a Zynq running Linux (a PYNQ image).
//
// * Registers: UIO (/dev/uioN whose map0 starts at the address) when there is one, else
//   /dev/mem (root), as PYNQ's MMIO does: O_RDWR | O_SYNC, MAP_SHARED, page-aligned.
// * DMA memory, the first allocator found: u-dma-buf (/dev/udmabufN, physical address and
//   cache sync through /sys/class/u-dma-buf/udmabufN/), PYNQ 2.x's libcma (/dev/xlnk; the
//   shared library is loaded with dlopen), XRT buffer objects (PYNQ 2.7/3.x: zocl's
//   /dev/dri/renderD*; libxrt_core.so with dlopen). A static build has only u-dma-buf.
// * Bitstreams: fpga_manager (.bit -> .bin in /lib/firmware, flags, firmware). zipml records
//   what it loaded in /run/zipml-pynq-bitstream and refuses to touch the registers of a design
//   it did not load: reading an address no slave decodes can hang the board.
//
// Every path is under LinuxOptions::root ("" on a board), so tests can point the code at a
// fake /dev and /sys made of plain files. Every failure is a zipml::Error naming the device,
// the permission or the package; everything taken is given back by destructors.
#ifndef ZIPML_BACKEND_PYNQ_LINUX_HPP
#define ZIPML_BACKEND_PYNQ_LINUX_HPP

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#if !defined(ZIPML_PYNQ_NO_DLOPEN)
#include <dlfcn.h>
#endif

#include "zipml/backend/pynq/axi_dma.hpp"
#include "zipml/backend/pynq/bitstream.hpp"
#include "zipml/backend/pynq/board.hpp"
#include "zipml/error.hpp"

namespace zipml::pynq {

//! Where the real board's files are, and which allocator to use.
struct LinuxOptions {
  std::string root;            //!< prefix of every path ("" on a board; a folder in tests)
  std::string bitstream;       //!< non-empty: load this .bit (or .bin) through fpga_manager first
  std::string allocator = "auto"; //!< auto, udmabuf, cma or xrt
};

namespace linux_io {

[[nodiscard]] inline std::string errno_text(int e) { return std::strerror(e); }

//! Why opening `path` failed, with what to do about it.
[[nodiscard]] inline std::string open_failure(const std::string& path, int e, const std::string& missing_hint) {
  if (e == ENOENT) return path + " does not exist" + (missing_hint.empty() ? "" : ": " + missing_hint);
  if (e == EACCES || e == EPERM)
    return "cannot open " + path + ": permission denied (run zipml-train as root, e.g. with sudo, as PYNQ does)";
  return "cannot open " + path + ": " + errno_text(e);
}

//! A file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  Fd(const std::string& path, int flags, const std::string& missing_hint = {}) : fd_(::open(path.c_str(), flags | O_CLOEXEC)) {
    if (fd_ < 0) throw Error(open_failure(path, errno, missing_hint));
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

//! An mmap, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Fd& fd, std::size_t size, off_t offset, const std::string& what) : size_(size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), offset);
    if (p == MAP_FAILED) {
      const int e = errno;
      throw Error("cannot map " + std::to_string(size) + " bytes of " + what + ": " + errno_text(e) +
                  (e == EPERM || e == EACCES ? " (run as root)" : ""));
    }
    ptr_ = static_cast<std::byte*>(p);
  }
  Mapping(Mapping&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~Mapping() { reset(); }
  [[nodiscard]] std::byte* data() const noexcept { return ptr_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  void reset() noexcept {
    if (ptr_ != nullptr) ::munmap(ptr_, size_);
    ptr_ = nullptr;
  }
  std::byte* ptr_ = nullptr;
  std::size_t size_ = 0;
};

[[nodiscard]] inline bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

//! The first line of a sysfs (or any text) file, without the newline.
[[nodiscard]] inline std::string read_line(const std::string& path, const std::string& missing_hint = {}) {
  Fd fd(path, O_RDONLY, missing_hint);
  char buf[256];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n < 0) throw Error("cannot read " + path + ": " + errno_text(errno));
  std::string s(buf, static_cast<std::size_t>(n));
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

//! Writes `text` to an existing file (sysfs attributes); throws with the reason.
inline void write_text(const std::string& path, const std::string& text, const std::string& missing_hint = {}) {
  Fd fd(path, O_WRONLY, missing_hint);
  const ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size()))
    throw Error("cannot write '" + text + "' to " + path + ": " + (n < 0 ? errno_text(errno) : "short write"));
}

//! Creates or replaces a whole file.
inline void write_file(const std::string& path, std::span<const std::byte> data, const std::string& hint) {
  Fd fd(path, O_WRONLY | O_CREAT | O_TRUNC, hint);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n <= 0) throw Error("cannot write " + path + ": " + errno_text(errno));
    done += static_cast<std::size_t>(n);
  }
}

[[nodiscard]] inline std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read the bitstream '" + path + "': " + (exists(path) ? "permission denied" : "no such file"));
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

[[nodiscard]] inline std::uint64_t parse_number(const std::string& text, const std::string& path) {
  try {
    std::size_t used = 0;
    const auto v = std::stoull(text, &used, 0); // "0x1f000000" (phys_addr) or decimal (size)
    if (used == 0) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    throw Error(path + " holds '" + text + "', not a number");
  }
}

} // namespace linux_io

// ---------------------------------------------------------------------------------------------
// Registers

//! 32-bit registers in a mapping of /dev/mem or /dev/uioN.
class MappedRegisters final : public RegisterWindow {
 public:
  MappedRegisters(linux_io::Mapping map, std::size_t offset, std::uint64_t base, std::size_t size)
      : map_(std::move(map)), offset_(offset), base_(base), size_(size) {}
  std::uint32_t read(std::size_t off) override { return *reg(off); }
  void write(std::size_t off, std::uint32_t v) override { *reg(off) = v; }
  [[nodiscard]] std::uint64_t base() const noexcept override { return base_; }

 private:
  [[nodiscard]] volatile std::uint32_t* reg(std::size_t off) const {
    if (off % 4 != 0 || off + 4 > size_) throw Error("register offset " + hex(off) + " outside the window at " + hex(base_));
    return reinterpret_cast<volatile std::uint32_t*>(map_.data() + offset_ + off);
  }
  linux_io::Mapping map_;
  std::size_t offset_;
  std::uint64_t base_;
  std::size_t size_;
};

//! Maps registers: the UIO device whose map0 starts at `base`, else /dev/mem.
[[nodiscard]] inline std::unique_ptr<RegisterWindow> map_registers(const LinuxOptions& o, std::uint64_t base,
                                                                   std::size_t size, const std::string& what) {
  using namespace linux_io;
  const std::string uio_dir = o.root + "/sys/class/uio";
  std::error_code ec;
  if (exists(uio_dir)) {
    for (const auto& e : std::filesystem::directory_iterator(uio_dir, ec)) {
      const std::string addr_file = e.path().string() + "/maps/map0/addr";
      if (!exists(addr_file)) continue;
      if (parse_number(read_line(addr_file), addr_file) != base) continue;
      const std::string dev = o.root + "/dev/" + e.path().filename().string();
      Fd fd(dev, O_RDWR | O_SYNC);
      return std::make_unique<MappedRegisters>(Mapping(fd, size, 0, what + " through " + dev), 0, base, size);
    }
  }
  const std::string devmem = o.root + "/dev/mem";
  Fd fd(devmem, O_RDWR | O_SYNC, "this kernel has no /dev/mem (CONFIG_DEVMEM) and no UIO device maps " + hex(base));
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = base & ~(page - 1);
  const std::size_t lead = static_cast<std::size_t>(base - start);
  return std::make_unique<MappedRegisters>(
      Mapping(fd, lead + size, static_cast<off_t>(start), what + " at " + hex(base) + " through " + devmem), lead, base,
      size);
}

// ---------------------------------------------------------------------------------------------
// DMA memory

//! u-dma-buf: /dev/udmabufN mapped cacheable; sync through its sysfs attributes.
class UdmaBuffer final : public DmaBuffer {
 public:
  UdmaBuffer(const LinuxOptions& o, const std::string& name, std::size_t min_bytes, std::size_t want_bytes)
      : dev_(o.root + "/dev/" + name) {
    using namespace linux_io;
    sys_ = o.root + "/sys/class/u-dma-buf/" + name;
    if (!exists(sys_)) sys_ = o.root + "/sys/class/udmabuf/" + name; // the module's old name
    if (!exists(sys_))
      throw Error("u-dma-buf " + dev_ + " has no sysfs folder (" + o.root + "/sys/class/u-dma-buf/" + name +
                  "): cannot learn its physical address");
    phys_ = parse_number(read_line(sys_ + "/phys_addr"), sys_ + "/phys_addr");
    const std::size_t have = parse_number(read_line(sys_ + "/size"), sys_ + "/size");
    if (have < min_bytes)
      throw Error("u-dma-buf " + dev_ + " has " + std::to_string(have) + " bytes, zipml needs at least " +
                  std::to_string(min_bytes) + ": reload it larger (insmod u-dma-buf.ko udmabuf0=33554432)");
    if (phys_ % 4096 != 0) throw Error("u-dma-buf " + dev_ + ": physical address " + hex(phys_) + " is not page-aligned");
    size_ = std::min(have, std::max(min_bytes, want_bytes));
    fd_ = Fd(dev_, O_RDWR, "load the u-dma-buf module");
    map_ = Mapping(fd_, size_, 0, dev_);
  }
  std::span<std::byte> bytes() noexcept override { return {map_.data(), size_}; }
  [[nodiscard]] std::uint64_t physical() const noexcept override { return phys_; }
  void to_device(std::size_t off, std::size_t n) override { sync(off, n, 1, "sync_for_device"); }
  void to_cpu(std::size_t off, std::size_t n) override { sync(off, n, 2, "sync_for_cpu"); }
  [[nodiscard]] std::string describe() const override { return "u-dma-buf " + dev_ + " (physical " + hex(phys_) + ")"; }

 private:
  void sync(std::size_t off, std::size_t n, int direction, const char* what) {
    using linux_io::write_text;
    write_text(sys_ + "/sync_offset", std::to_string(off));
    write_text(sys_ + "/sync_size", std::to_string(n));
    write_text(sys_ + "/sync_direction", std::to_string(direction));
    write_text(sys_ + "/" + what, "1");
  }
  std::string dev_, sys_;
  std::uint64_t phys_ = 0;
  std::size_t size_ = 0;
  linux_io::Fd fd_;
  linux_io::Mapping map_;
};

#if !defined(ZIPML_PYNQ_NO_DLOPEN)
//! A shared library opened with dlopen, closed on destruction.
class SharedLibrary {
 public:
  SharedLibrary(const std::vector<std::string>& candidates, const std::string& package) {
    std::string tried;
    for (const auto& c : candidates) {
      handle_ = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle_ != nullptr) {
        name_ = c;
        return;
      }
      tried += (tried.empty() ? "" : ", ") + c;
    }
    throw Error("cannot load " + tried + " (" + package + ")");
  }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  ~SharedLibrary() {
    if (handle_ != nullptr) ::dlclose(handle_);
  }
  template <class F>
  [[nodiscard]] F symbol(const char* name) const {
    void* p = ::dlsym(handle_, name);
    if (p == nullptr) throw Error(name_ + " has no symbol " + name + ": not the expected library version");
    return reinterpret_cast<F>(p);
  }

 private:
  void* handle_ = nullptr;
  std::string name_;
};

//! PYNQ 2.x (<= 2.6): libcma's physically contiguous, non-cacheable CMA buffers.
class CmaBuffer final : public DmaBuffer {
 public:
  CmaBuffer(const LinuxOptions& o, std::size_t bytes)
      : lib_({o.root + "/usr/lib/libcma.so", "libcma.so"}, "PYNQ 2.x's libcma, needed with /dev/xlnk") {
    using Alloc = void* (*)(std::uint32_t, std::uint32_t);
    using Phys = unsigned long (*)(void*);
    free_ = lib_.symbol<void (*)(void*)>("cma_free");
    auto alloc = lib_.symbol<Alloc>("cma_alloc");
    auto phys = lib_.symbol<Phys>("cma_get_phy_addr");
    ptr_ = alloc(static_cast<std::uint32_t>(bytes), 0); // 0: not cacheable, so no cache maintenance
    if (ptr_ == nullptr || ptr_ == reinterpret_cast<void*>(-1)) {
      ptr_ = nullptr;
      throw Error("libcma could not allocate " + std::to_string(bytes) +
                  " contiguous bytes (the CMA pool is 128 MB on PYNQ-Z1 images; free buffers held by other programs)");
    }
    size_ = bytes;
    phys_ = phys(ptr_);
  }
  CmaBuffer(const CmaBuffer&) = delete;
  CmaBuffer& operator=(const CmaBuffer&) = delete;
  ~CmaBuffer() override {
    if (ptr_ != nullptr) free_(ptr_);
  }
  std::span<std::byte> bytes() noexcept override { return {static_cast<std::byte*>(ptr_), size_}; }
  [[nodiscard]] std::uint64_t physical() const noexcept override { return phys_; }
  void to_device(std::size_t, std::size_t) override {} // non-cacheable
  void to_cpu(std::size_t, std::size_t) override {}
  [[nodiscard]] std::string describe() const override { return "libcma buffer (physical " + hex(phys_) + ")"; }

 private:
  SharedLibrary lib_;
  void (*free_)(void*) = nullptr;
  void* ptr_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t phys_ = 0;
};

//! PYNQ 2.7 / 3.x: an XRT buffer object on zocl, through XRT's C API (libxrt_core.so).
//! Written from XRT's documented API; not run on a board here (see docs/BOARD.md).
class XrtBuffer final : public DmaBuffer {
 public:
  XrtBuffer(const LinuxOptions& o, std::size_t bytes)
      : lib_({xrt_dir(o) + "/lib/libxrt_core.so", "libxrt_core.so", "libxrt_core.so.2"},
             "XRT's libxrt_core.so, needed with zocl's /dev/dri/renderD*") {
    open_ = lib_.symbol<void* (*)(unsigned, const char*, int)>("xclOpen");
    close_ = lib_.symbol<void (*)(void*)>("xclClose");
    alloc_ = lib_.symbol<unsigned (*)(void*, std::size_t, int, unsigned)>("xclAllocBO");
    map_ = lib_.symbol<void* (*)(void*, unsigned, bool)>("xclMapBO");
    props_ = lib_.symbol<int (*)(void*, unsigned, Properties*)>("xclGetBOProperties");
    sync_ = lib_.symbol<int (*)(void*, unsigned, int, std::size_t, std::size_t)>("xclSyncBO");
    free_ = lib_.symbol<void (*)(void*, unsigned)>("xclFreeBO");
    device_ = open_(0, nullptr, 0);
    if (device_ == nullptr) throw Error("XRT: xclOpen(0) failed: no zocl device");
    bo_ = alloc_(device_, bytes, 0, 0); // device RAM, memory bank 0, not cacheable
    if (bo_ == kNoBo) {
      close_(device_);
      throw Error("XRT could not allocate " + std::to_string(bytes) +
                  " bytes: zocl needs the overlay's xclbin loaded (load the bitstream once with PYNQ's Overlay(), "
                  "or use u-dma-buf)");
    }
    Properties p{};
    ptr_ = map_(device_, bo_, true);
    if (ptr_ == nullptr || props_(device_, bo_, &p) != 0) {
      free_(device_, bo_);
      close_(device_);
      throw Error("XRT: cannot map the buffer object or read its physical address");
    }
    phys_ = p.paddr;
    size_ = bytes;
  }
  XrtBuffer(const XrtBuffer&) = delete;
  XrtBuffer& operator=(const XrtBuffer&) = delete;
  ~XrtBuffer() override {
    ::munmap(ptr_, size_);
    free_(device_, bo_);
    close_(device_);
  }
  std::span<std::byte> bytes() noexcept override { return {static_cast<std::byte*>(ptr_), size_}; }
  [[nodiscard]] std::uint64_t physical() const noexcept override { return phys_; }
  void to_device(std::size_t off, std::size_t n) override { sync(0, off, n); }
  void to_cpu(std::size_t off, std::size_t n) override { sync(1, off, n); }
  [[nodiscard]] std::string describe() const override { return "XRT buffer object (physical " + hex(phys_) + ")"; }

 private:
  struct Properties { // xclBOProperties
    std::uint32_t handle, flags;
    std::uint64_t size, paddr;
    int reserved;
  };
  static constexpr unsigned kNoBo = 0xFFFFFFFFu;
  static std::string xrt_dir(const LinuxOptions& o) {
    const char* env = std::getenv("XILINX_XRT");
    return o.root + (env != nullptr ? env : "/usr");
  }
  void sync(int dir, std::size_t off, std::size_t n) {
    if (sync_(device_, bo_, dir, n, off) != 0) throw Error("XRT: xclSyncBO failed");
  }
  SharedLibrary lib_;
  void* (*open_)(unsigned, const char*, int) = nullptr;
  void (*close_)(void*) = nullptr;
  unsigned (*alloc_)(void*, std::size_t, int, unsigned) = nullptr;
  void* (*map_)(void*, unsigned, bool) = nullptr;
  int (*props_)(void*, unsigned, Properties*) = nullptr;
  int (*sync_)(void*, unsigned, int, std::size_t, std::size_t) = nullptr;
  void (*free_)(void*, unsigned) = nullptr;
  void* device_ = nullptr;
  unsigned bo_ = kNoBo;
  void* ptr_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t phys_ = 0;
};
#endif

//! The first u-dma-buf device (/dev/udmabuf0..7), or "".
[[nodiscard]] inline std::string find_udmabuf(const LinuxOptions& o) {
  for (int i = 0; i < 8; ++i)
    if (linux_io::exists(o.root + "/dev/udmabuf" + std::to_string(i))) return "udmabuf" + std::to_string(i);
  return {};
}

[[nodiscard]] inline bool has_render_node(const LinuxOptions& o) {
  for (int i = 128; i < 136; ++i)
    if (linux_io::exists(o.root + "/dev/dri/renderD" + std::to_string(i))) return true;
  return false;
}

//! Allocates from the first allocator this board has (or the one `o.allocator` names).
[[nodiscard]] inline std::unique_ptr<DmaBuffer> allocate_dma(const LinuxOptions& o, std::size_t min_bytes,
                                                             std::size_t want_bytes) {
  const std::string& a = o.allocator;
  if (a != "auto" && a != "udmabuf" && a != "cma" && a != "xrt")
    throw Error("unknown DMA allocator '" + a + "': choose auto, udmabuf, cma or xrt");
  const std::string udmabuf = find_udmabuf(o);
  if ((a == "auto" || a == "udmabuf") && !udmabuf.empty())
    return std::make_unique<UdmaBuffer>(o, udmabuf, min_bytes, want_bytes);
  if (a == "udmabuf")
    throw Error("no u-dma-buf device: looked for " + o.root +
                "/dev/udmabuf0..7; load the module first (insmod u-dma-buf.ko udmabuf0=33554432, docs/BOARD.md)");
  const bool xlnk = linux_io::exists(o.root + "/dev/xlnk");
  const bool zocl = has_render_node(o);
#if defined(ZIPML_PYNQ_NO_DLOPEN)
  if ((a == "auto" || a == "cma") && xlnk)
    throw Error("this board has PYNQ 2.x's /dev/xlnk, but this zipml-train is statically linked and cannot load "
                "libcma.so: create a u-dma-buf (docs/BOARD.md) or use a dynamically linked build");
  if ((a == "auto" || a == "xrt") && zocl)
    throw Error("this board has XRT's zocl (/dev/dri/renderD*), but this zipml-train is statically linked and cannot "
                "load libxrt_core.so: create a u-dma-buf (docs/BOARD.md) or use a dynamically linked build");
#else
  if ((a == "auto" || a == "cma") && xlnk) return std::make_unique<CmaBuffer>(o, want_bytes);
  if ((a == "auto" || a == "xrt") && zocl) return std::make_unique<XrtBuffer>(o, want_bytes);
#endif
  throw Error("no DMA buffer allocator found: looked for u-dma-buf (" + o.root +
              "/dev/udmabuf0..7: insmod u-dma-buf.ko udmabuf0=33554432), PYNQ 2.x's xlnk (" + o.root +
              "/dev/xlnk with libcma.so) and XRT's zocl (" + o.root + "/dev/dri/renderD128 with libxrt_core.so)");
}

// ---------------------------------------------------------------------------------------------
// Bitstreams

//! Linux's FPGA manager (fpga0) and zipml's record of what it loaded.
class FpgaManager {
 public:
  explicit FpgaManager(const LinuxOptions& o)
      : root_(o.root), dir_(o.root + "/sys/class/fpga_manager/fpga0"), marker_(o.root + "/run/zipml-pynq-bitstream") {}

  [[nodiscard]] std::string state() const {
    if (!linux_io::exists(dir_))
      throw Error("no PYNQ board here: " + dir_ +
                  " does not exist (not a Zynq board, or a kernel without FPGA manager; PYNQ images have it since "
                  "v2.3); --board sim trains on the simulated board");
    return linux_io::read_line(dir_ + "/state");
  }

  //! Loads a .bit (converted to .bin) or a .bin: /lib/firmware, flags 0 (full), firmware.
  void load(const std::string& path) {
    (void)state();
    const auto raw = linux_io::read_file(path);
    const std::filesystem::path p(path);
    std::vector<std::byte> bin;
    if (p.extension() == ".bit") {
      bin = parse_bit(raw, path).bin;
    } else if (p.extension() == ".bin") {
      bin = raw;
    } else {
      throw Error("the bitstream '" + path + "' must be a .bit or a .bin file");
    }
    const std::string name = p.stem().string() + ".bin";
    const std::string firmware_dir = root_ + "/lib/firmware";
    std::error_code ec;
    std::filesystem::create_directories(firmware_dir, ec);
    linux_io::write_file(firmware_dir + "/" + name, bin, "cannot create it in " + firmware_dir);
    // Forget the old record first: if loading fails, no zipml design is known to be there.
    ::unlink(marker_.c_str());
    linux_io::write_text(dir_ + "/flags", "0");
    linux_io::write_text(dir_ + "/firmware", name);
    const std::string s = state();
    if (s != "operating")
      throw Error("fpga_manager did not program the FPGA with " + name + " (state '" + s + "'; see dmesg)");
    std::filesystem::create_directories(std::filesystem::path(marker_).parent_path(), ec);
    const std::string record = path + "\n";
    linux_io::write_file(marker_, std::as_bytes(std::span(record.data(), record.size())),
                         "cannot record the loaded bitstream");
  }

  //! Throws unless the PL is programmed with a bitstream zipml loaded.
  void check() const {
    const std::string s = state();
    if (s != "operating")
      throw Error("the FPGA is not programmed (" + dir_ + "/state reads '" + s +
                  "'): load a zipml bitstream with --bitstream FILE.bit");
    if (!linux_io::exists(marker_))
      throw Error("the FPGA holds a design zipml did not load (no " + marker_ +
                  "): pass --bitstream FILE.bit once after boot; touching another design's registers can hang the board");
  }

 private:
  std::string root_, dir_, marker_;
};

// ---------------------------------------------------------------------------------------------

//! The real board.
class LinuxBoard final : public Board {
 public:
  explicit LinuxBoard(LinuxOptions o) : o_(std::move(o)), fpga_(o_) {}
  [[nodiscard]] std::string name() const override { return "PYNQ board"; }
  void check_bitstream() override {
    if (!o_.bitstream.empty()) fpga_.load(o_.bitstream);
    fpga_.check();
  }
  std::unique_ptr<RegisterWindow> map(std::uint64_t base, std::size_t size, const std::string& what) override {
    return map_registers(o_, base, size, what);
  }
  std::unique_ptr<DmaBuffer> allocate(std::size_t min_bytes, std::size_t want_bytes) override {
    return allocate_dma(o_, min_bytes, want_bytes);
  }
  std::chrono::nanoseconds now() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
  }
  void pause(std::chrono::nanoseconds d) override {
    // Short waits spin (a sleep lasts tens of microseconds at least); long ones sleep.
    if (d < std::chrono::microseconds(50))
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(d);
  }

 private:
  LinuxOptions o_;
  FpgaManager fpga_;
};

} // namespace zipml::pynq

#endif
