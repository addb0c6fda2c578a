// zipml — Xilinx .bit files: the header fields, and the .bin that Linux's fpga_manager loads.
//
// A .bit starts with a length-prefixed magic, then fields 'a' (design;options), 'b' (part),
// 'c' (date), 'd' (time), each a big-endian 16-bit length and a NUL-terminated string, and
// 'e': a big-endian 32-bit length and the configuration data. fpga_manager wants that data
// with every 32-bit word byte-swapped (the .bin form).
#ifndef ZIPML_BACKEND_PYNQ_BITSTREAM_HPP
#define ZIPML_BACKEND_PYNQ_BITSTREAM_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "zipml/error.hpp"

namespace zipml::pynq {

struct BitFile {
  std::string design, part, date, time;
  std::vector<std::byte> bin; //!< the configuration data, 32-bit words byte-swapped
};

//! Parses a .bit image; `name` is the file name for messages.
[[nodiscard]] inline BitFile parse_bit(std::span<const std::byte> bit, const std::string& name) {
  std::size_t pos = 0;
  auto fail = [&](const std::string& why) -> Error {
    return Error("'" + name + "' is not a Xilinx .bit file: " + why + " (at byte " + std::to_string(pos) + ")");
  };
  auto need = [&](std::size_t n) {
    if (bit.size() - pos < n) throw fail("it ends inside its header");
  };
  auto u8 = [&] { need(1); return static_cast<unsigned>(bit[pos++]); };
  auto u16 = [&] { const unsigned hi = u8(); return (hi << 8) | u8(); };
  auto u32 = [&] { const std::uint32_t hi = u16(); return (hi << 16) | u16(); };
  auto text = [&](std::size_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(bit.data() + pos), n);
    pos += n;
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
  };
  const unsigned magic_len = u16();
  if (magic_len != 9) throw fail("the first field is " + std::to_string(magic_len) + " bytes long, not 9");
  need(9);
  pos += 9;
  if (u16() != 1) throw fail("no field key length 1 after the magic");
  BitFile f;
  while (true) {
    const unsigned key = u8();
    if (key == 'e') {
      const std::uint32_t n = u32();
      if (bit.size() - pos < n)
        throw fail("the data field says " + std::to_string(n) + " bytes but " + std::to_string(bit.size() - pos) +
                   " follow");
      if (n == 0 || n % 4 != 0) throw fail("the data field has " + std::to_string(n) + " bytes, not a multiple of 4");
      f.bin.resize(n);
      for (std::size_t i = 0; i < n; i += 4)
        for (std::size_t j = 0; j < 4; ++j) f.bin[i + j] = bit[pos + i + 3 - j];
      return f;
    }
    if (key < 'a' || key > 'd') throw fail("unknown field key " + std::to_string(key));
    const std::string value = text(u16());
    (key == 'a' ? f.design : key == 'b' ? f.part : key == 'c' ? f.date : f.time) = value;
  }
}

} // namespace zipml::pynq

#endif
