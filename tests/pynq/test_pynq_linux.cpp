// The real board's Linux code (backends/pynq/include/zipml/backend/pynq/linux.hpp) against fake
// /dev, /sys, /lib/firmware and /run trees made of plain files: what each missing piece says,
// the .bit -> .bin conversion and fpga_manager's protocol, u-dma-buf's sysfs, /dev/mem and UIO
// mappings, and that a failure leaves nothing mapped. Also: the Vivado flow's addresses equal
// the driver's constants. Needs no board and no Verilator (runs under qemu too).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "pynq_common.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "zipml/backend/pynq/bitstream.hpp"
#include "zipml/backend/pynq/linux.hpp"

using namespace pynq_test;
namespace fs = std::filesystem;
using zipml::pynq::LinuxOptions;

namespace {

//! A fresh fake root, removed at the end of the test.
struct FakeRoot {
  fs::path dir;
  FakeRoot() {
    dir = fs::temp_directory_path() / ("zipml-pynq-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~FakeRoot() { fs::remove_all(dir); }
  static int& counter() {
    static int n = 0;
    return n;
  }
  [[nodiscard]] std::string root() const { return dir.string(); }
  void file(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir / rel.substr(1)).parent_path());
    std::ofstream(dir / rel.substr(1)) << text;
  }
  void sized(const std::string& rel, std::uintmax_t bytes) const {
    file(rel, "");
    fs::resize_file(dir / rel.substr(1), bytes);
  }
  [[nodiscard]] std::string read(const std::string& rel) const {
    std::ifstream in(dir / rel.substr(1), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  //! fpga_manager with the given state, and (loaded) zipml's record of a bitstream.
  void fpga(const std::string& state, bool loaded) const {
    file("/sys/class/fpga_manager/fpga0/state", state + "\n");
    file("/sys/class/fpga_manager/fpga0/flags", "");
    file("/sys/class/fpga_manager/fpga0/firmware", "");
    if (loaded) file("/run/zipml-pynq-bitstream", "/home/xilinx/zipml_q8.bit\n");
  }
  void udmabuf(std::size_t bytes, const std::string& phys) const {
    sized("/dev/udmabuf0", bytes);
    const std::string s = "/sys/class/u-dma-buf/udmabuf0/";
    file(s + "phys_addr", phys + "\n");
    file(s + "size", std::to_string(bytes) + "\n");
    for (const char* f : {"sync_offset", "sync_size", "sync_direction", "sync_for_device", "sync_for_cpu"}) file(s + f, "");
  }
  LinuxOptions options() const {
    LinuxOptions o;
    o.root = root();
    return o;
  }
};

//! Mappings of files under `dir` in this process.
int mappings_of(const std::string& dir) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) n += line.find(dir) != std::string::npos;
  return n;
}

//! A small .bit image: header fields a..d, then the data.
std::vector<std::byte> make_bit(const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b = {0x00, 0x09, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x00, 0x00, 0x01};
  auto field = [&](char key, const std::string& s) {
    b.push_back(static_cast<std::uint8_t>(key));
    const std::size_t n = s.size() + 1;
    b.push_back(static_cast<std::uint8_t>(n >> 8));
    b.push_back(static_cast<std::uint8_t>(n));
    b.insert(b.end(), s.begin(), s.end());
    b.push_back(0);
  };
  field('a', "zipml_zynq_top;UserID=0XFFFFFFFF");
  field('b', "7z020clg400");
  field('c', "2024/01/01");
  field('d', "12:00:00");
  b.push_back('e');
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(data.size() >> s));
  b.insert(b.end(), data.begin(), data.end());
  std::vector<std::byte> out(b.size());
  std::memcpy(out.data(), b.data(), b.size());
  return out;
}

} // namespace

TEST_CASE("no fpga_manager: the one-line message says this is no PYNQ board") {
  FakeRoot r;
  Pynq p(pynq::Options{.real_board = r.options()});
  const auto msg = failure([&] { p.open(); });
  CHECK(msg == "no PYNQ board here: " + r.root() +
                   "/sys/class/fpga_manager/fpga0 does not exist (not a Zynq board, or a kernel without FPGA manager; "
                   "PYNQ images have it since v2.3); --board sim trains on the simulated board");
  CHECK(msg.find('\n') == std::string::npos);
}

TEST_CASE("a board with no bitstream, or one zipml did not load, is refused") {
  FakeRoot r;
  r.fpga("unknown", false);
  Pynq p(pynq::Options{.real_board = r.options()});
  CHECK(failure([&] { p.open(); }).find("the FPGA is not programmed (" + r.root() +
                                        "/sys/class/fpga_manager/fpga0/state reads 'unknown'): load a zipml bitstream "
                                        "with --bitstream FILE.bit") == 0);
  r.fpga("operating", false);
  CHECK(failure([&] { p.open(); }).find("the FPGA holds a design zipml did not load (no " + r.root() +
                                        "/run/zipml-pynq-bitstream)") == 0);
  CHECK(mappings_of(r.root()) == 0);
}

TEST_CASE(".bit to .bin: header fields, byte-swapped words") {
  const auto bit = make_bit({1, 2, 3, 4, 5, 6, 7, 8});
  const auto f = pynq::parse_bit(bit, "x.bit");
  CHECK(f.design == "zipml_zynq_top;UserID=0XFFFFFFFF");
  CHECK(f.part == "7z020clg400");
  REQUIRE(f.bin.size() == 8);
  CHECK(std::to_integer<int>(f.bin[0]) == 4);
  CHECK(std::to_integer<int>(f.bin[3]) == 1);
  CHECK(std::to_integer<int>(f.bin[4]) == 8);
  auto cut = bit;
  cut.resize(cut.size() - 3);
  CHECK(failure([&] { (void)pynq::parse_bit(cut, "x.bit"); }).find("'x.bit' is not a Xilinx .bit file: the data field says 8 bytes but 5 follow") == 0);
  std::vector<std::byte> junk(40, std::byte{0x41});
  CHECK(failure([&] { (void)pynq::parse_bit(junk, "j.bit"); }).find("'j.bit' is not a Xilinx .bit file") == 0);
}

TEST_CASE("loading a bitstream through fpga_manager: /lib/firmware, flags, firmware, record") {
  FakeRoot r;
  r.fpga("operating", false);
  const auto bit = make_bit({0xaa, 0xbb, 0xcc, 0xdd});
  {
    std::ofstream(r.dir / "zipml_q8.bit", std::ios::binary).write(reinterpret_cast<const char*>(bit.data()), static_cast<std::streamsize>(bit.size()));
  }
  pynq::FpgaManager m(r.options());
  m.load((r.dir / "zipml_q8.bit").string());
  CHECK(r.read("/lib/firmware/zipml_q8.bin") == std::string("\xdd\xcc\xbb\xaa"));
  CHECK(r.read("/sys/class/fpga_manager/fpga0/flags") == "0");
  CHECK(r.read("/sys/class/fpga_manager/fpga0/firmware") == "zipml_q8.bin");
  CHECK(r.read("/run/zipml-pynq-bitstream") == (r.dir / "zipml_q8.bit").string() + "\n");
  CHECK_NOTHROW(m.check());
  CHECK(failure([&] { m.load((r.dir / "missing.bit").string()); }).find("cannot read the bitstream") == 0);
  CHECK(failure([&] { m.load((r.dir / "zipml_q8.bit").string() + ".txt"); }).find("cannot read the bitstream") == 0);
}

TEST_CASE("no /dev/udmabuf (nor xlnk, nor zocl): the message names what was looked for") {
  FakeRoot r;
  const auto msg = failure([&] { (void)pynq::allocate_dma(r.options(), 4096, 4096); });
  CHECK(msg.find("no DMA buffer allocator found: looked for u-dma-buf (" + r.root() + "/dev/udmabuf0..7") == 0);
  CHECK(msg.find("/dev/xlnk with libcma.so") != std::string::npos);
  CHECK(msg.find("/dev/dri/renderD128 with libxrt_core.so") != std::string::npos);
  auto o = r.options();
  o.allocator = "udmabuf";
  CHECK(failure([&] { (void)pynq::allocate_dma(o, 4096, 4096); }).find("no u-dma-buf device: looked for") == 0);
  o.allocator = "gpu";
  CHECK(failure([&] { (void)pynq::allocate_dma(o, 4096, 4096); }) == "unknown DMA allocator 'gpu': choose auto, udmabuf, cma or xrt");
}

TEST_CASE("u-dma-buf: physical address and size from sysfs, sync through sysfs, unmapped on destruction") {
  FakeRoot r;
  r.udmabuf(1 << 20, "0x1f000000");
  {
    auto buf = pynq::allocate_dma(r.options(), 64 * 1024, 256 * 1024);
    CHECK(buf->physical() == 0x1f000000u);
    CHECK(buf->bytes().size() == 256 * 1024);
    CHECK(buf->describe() == "u-dma-buf " + r.root() + "/dev/udmabuf0 (physical 0x1f000000)");
    buf->bytes()[5] = std::byte{0x5a};
    buf->to_device(4096, 512);
    CHECK(r.read("/sys/class/u-dma-buf/udmabuf0/sync_offset") == "4096");
    CHECK(r.read("/sys/class/u-dma-buf/udmabuf0/sync_size") == "512");
    CHECK(r.read("/sys/class/u-dma-buf/udmabuf0/sync_direction") == "1");
    CHECK(r.read("/sys/class/u-dma-buf/udmabuf0/sync_for_device") == "1");
    buf->to_cpu(0, 64);
    CHECK(r.read("/sys/class/u-dma-buf/udmabuf0/sync_direction") == "2");
    CHECK(mappings_of(r.root()) == 1);
  }
  CHECK(r.read("/dev/udmabuf0")[5] == 0x5a);
  CHECK(mappings_of(r.root()) == 0);
  CHECK(failure([&] { (void)pynq::allocate_dma(r.options(), 2 << 20, 2 << 20); })
            .find("u-dma-buf " + r.root() + "/dev/udmabuf0 has 1048576 bytes, zipml needs at least 2097152") == 0);
}

TEST_CASE("registers through /dev/mem (page-aligned) and through UIO") {
  FakeRoot r;
  r.sized("/dev/mem", pynq::kGpioBase + 0x10000);
  {
    auto dma = pynq::map_registers(r.options(), pynq::kDmaBase + 0x30, 0x100, "the AXI DMA");
    dma->write(0x28, 0x12345678u);
    CHECK(dma->read(0x28) == 0x12345678u);
    CHECK(dma->base() == pynq::kDmaBase + 0x30);
    CHECK(failure([&] { (void)dma->read(0x100); }).find("register offset 0x100 outside the window") == 0);
  }
  std::uint32_t v = 0;
  std::ifstream mem(r.dir / "dev/mem", std::ios::binary);
  mem.seekg(static_cast<std::streamoff>(pynq::kDmaBase + 0x30 + 0x28));
  mem.read(reinterpret_cast<char*>(&v), 4);
  CHECK(v == 0x12345678u);
  // a UIO device whose map0 is the GPIO is preferred over /dev/mem
  r.file("/sys/class/uio/uio3/maps/map0/addr", "0x41200000\n");
  r.sized("/dev/uio3", 0x10000);
  {
    auto gpio = pynq::map_registers(r.options(), pynq::kGpioBase, 0x10000, "the AXI GPIO");
    gpio->write(0, 1);
  }
  CHECK(r.read("/dev/uio3")[0] == 1);
  CHECK(mappings_of(r.root()) == 0);
  FakeRoot empty;
  CHECK(failure([&] { (void)pynq::map_registers(empty.options(), pynq::kDmaBase, 0x10000, "the AXI DMA"); })
            .find(empty.root() + "/dev/mem does not exist") == 0);
}

TEST_CASE("a board that fails half way through opening gives back what it mapped") {
  FakeRoot r;
  r.fpga("operating", true);
  r.sized("/dev/mem", pynq::kGpioBase + 0x10000);
  Pynq p(pynq::Options{.real_board = r.options()});
  // registers map, then no allocator is found: the two windows must be unmapped again
  CHECK(failure([&] { p.open(); }).find("no DMA buffer allocator found") == 0);
  CHECK_FALSE(p.is_open());
  CHECK(mappings_of(r.root()) == 0);
}

TEST_CASE("the Vivado block design uses the driver's addresses, widths and clock") {
  std::ifstream in(std::string(ZIPML_SOURCE_DIR) + "/scripts/vivado/zipml_bd.tcl");
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  const std::string tcl = s.str();
  auto value = [&](const std::string& name) {
    std::smatch m;
    const std::regex re("set " + name + " +(\\S+)");
    REQUIRE_MESSAGE(std::regex_search(tcl, m, re), "no 'set " << name << "' in zipml_bd.tcl");
    return std::stoull(m[1].str(), nullptr, 0);
  };
  CHECK(value("dma_base") == pynq::kDmaBase);
  CHECK(value("dma_range") == pynq::kDmaSpan);
  CHECK(value("gpio_base") == pynq::kGpioBase);
  CHECK(value("gpio_range") == pynq::kGpioSpan);
  CHECK(value("dma_length_width") == pynq::kDmaLengthBits);
  for (const auto& b : pynq::kBitstreams) {
    CAPTURE(b.bits);
    CHECK(value("lanes_of\\(" + std::to_string(b.bits) + "\\)") == b.lanes);
    CHECK(value("max_dim_of\\(" + std::to_string(b.bits) + "\\)") == b.max_dim);
    CHECK(b.max_dim <= pynq::kMaxDim);
  }
  CHECK(value("fclk0_mhz") * 1'000'000 == static_cast<unsigned long long>(pynq::kClockHz));
}
