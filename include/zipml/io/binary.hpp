// zipml — what the binary file formats share: little-endian fields, CRC-32, atomic writes.
//
// Saved models (model_file.hpp) and packed stream files (stream_file.hpp) are little-endian
// and checked by CRC-32; both are written atomically (a temporary file beside the target,
// fsync, rename). The readers check every length against the bytes left before they allocate.
#ifndef ZIPML_IO_BINARY_HPP
#define ZIPML_IO_BINARY_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ZIPML_NO_ZLIB
#include <zlib.h>
#endif
#ifdef ZIPML_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "zipml/error.hpp"

namespace zipml::io {

namespace detail {

//! A string from a file, shown safely: at most 32 bytes, control and non-ASCII bytes as '?'.
inline std::string printable(std::string_view s) {
  std::string out(s.substr(0, 32));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  if (s.size() > 32) out += "...";
  return out;
}

inline std::string hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x00000000";
  for (int i = 9; i >= 2; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return s;
}

inline std::string hex64(std::uint64_t v) {
  return hex32(static_cast<std::uint32_t>(v >> 32)) + hex32(static_cast<std::uint32_t>(v)).substr(2);
}

// ---- CRC-32 (IEEE 802.3, reflected: zlib's crc32) -------------------------------------------
// Every function takes the CRC of the bytes before (0 to start), as zlib's crc32 does, so a
// long region can be checked in pieces: crc32_of(b, crc32_of(a)) == crc32_of(a then b).

//! From tables, eight bytes per step (slice-by-8): the builds without zlib and libdeflate
//! (ZIPML_NO_ZLIB, the ARM board programs) read and write the same files, and the board checks
//! packed stream files of tens of MB with it. test_model_file checks it against zlib's.
inline std::uint32_t crc32_portable(std::span<const unsigned char> bytes, std::uint32_t crc = 0) {
  static constexpr auto table = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
      for (std::size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
    return t;
  }();
  crc = ~crc;
  const unsigned char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; n -= 8, p += 8) {
    // Bytes composed one by one: the same on every byte order (compilers merge the loads).
    const std::uint32_t lo = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                                    std::uint32_t{p[3]} << 24);
    crc = table[7][lo & 0xFFu] ^ table[6][(lo >> 8) & 0xFFu] ^ table[5][(lo >> 16) & 0xFFu] ^ table[4][lo >> 24] ^
          table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
  }
  for (; n > 0; --n, ++p) crc = table[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

#ifndef ZIPML_NO_ZLIB
inline std::uint32_t crc32_zlib(std::span<const unsigned char> bytes, std::uint32_t crc = 0) {
  uLong c = crc;
  std::size_t at = 0;
  while (at < bytes.size()) { // zlib takes 32-bit lengths
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size() - at, 1u << 30));
    c = ::crc32(c, bytes.data() + at, chunk);
    at += chunk;
  }
  return static_cast<std::uint32_t>(c);
}
#endif

#ifdef ZIPML_HAVE_LIBDEFLATE
inline std::uint32_t crc32_libdeflate(std::span<const unsigned char> bytes, std::uint32_t crc = 0) {
  return ::libdeflate_crc32(crc, bytes.data(), bytes.size());
}
#endif

//! The fastest CRC-32 of the build: libdeflate's, else zlib's, else the tables'. All three
//! give the same value (test_stream_file checks it).
inline std::uint32_t crc32_of(std::span<const unsigned char> bytes, std::uint32_t crc = 0) {
#if defined(ZIPML_HAVE_LIBDEFLATE)
  return crc32_libdeflate(bytes, crc);
#elif !defined(ZIPML_NO_ZLIB)
  return crc32_zlib(bytes, crc);
#else
  return crc32_portable(bytes, crc);
#endif
}

// ---- little-endian fields ---------------------------------------------------------------------

//! Appends little-endian fields.
class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    for (int i = 0; i < 2; ++i) out_.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  void f32(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  //! u8 length + bytes; the caller has checked that s has at most 255 bytes.
  void str(std::string_view s) {
    u8(static_cast<std::uint8_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  //! u16 length + bytes; the caller has checked that s has at most 65535 bytes.
  void str16(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void floats(std::span<const float> v) {
    for (float x : v) f32(x);
  }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
  void put_u64_at(std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (8 * i));
  }
  [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
  std::vector<unsigned char>& bytes() noexcept { return out_; }

 private:
  std::vector<unsigned char> out_;
};

//! Reads little-endian fields with a bounds check on every read. Callers have already checked
//! the total size against the dimensions, so running out here means a corrupt length field.
//! `kind` names the format in messages ("'F': corrupt model file: ...").
class Reader {
 public:
  Reader(std::span<const unsigned char> bytes, const std::string& name, std::string_view kind)
      : bytes_(bytes), name_(name), kind_(kind) {}

  std::uint8_t u8() { return take(1)[0]; }
  std::uint16_t u16() {
    const auto b = take(2);
    return static_cast<std::uint16_t>(b[0] | (b[1] << 8));
  }
  std::uint32_t u32() {
    const auto b = take(4);
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | b[static_cast<std::size_t>(i)];
    return v;
  }
  std::uint64_t u64() {
    const auto b = take(8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | b[static_cast<std::size_t>(i)];
    return v;
  }
  float f32() { return std::bit_cast<float>(u32()); }
  double f64() { return std::bit_cast<double>(u64()); }
  std::string str() {
    const std::size_t n = u8();
    const auto b = take(n);
    return std::string(reinterpret_cast<const char*>(b.data()), n);
  }
  std::string str16() {
    const std::size_t n = u16();
    const auto b = take(n);
    return std::string(reinterpret_cast<const char*>(b.data()), n);
  }
  bool flag(const char* what) {
    const std::uint8_t v = u8();
    if (v > 1)
      throw Error("'" + name_ + "': corrupt " + std::string(kind_) + ": " + what + " is " + std::to_string(v) +
                  ", expected 0 or 1");
    return v == 1;
  }
  //! `count` floats, checked against the remaining bytes before anything is allocated.
  std::vector<float> floats(std::size_t count) {
    if (count > remaining() / 4) short_read(count * 4);
    std::vector<float> v(count);
    for (auto& x : v) x = f32();
    return v;
  }
  [[nodiscard]] std::size_t offset() const noexcept { return at_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - at_; }

 private:
  std::span<const unsigned char> take(std::size_t n) {
    if (n > remaining()) short_read(n);
    const auto s = bytes_.subspan(at_, n);
    at_ += n;
    return s;
  }
  [[noreturn]] void short_read(std::size_t n) const {
    throw Error("'" + name_ + "': corrupt " + std::string(kind_) + ": a field at byte " + std::to_string(at_) +
                " needs " + std::to_string(n) + " bytes, only " + std::to_string(remaining()) + " are left");
  }

  std::span<const unsigned char> bytes_;
  const std::string& name_;
  std::string_view kind_;
  std::size_t at_ = 0;
};

//! The little-endian u32 / u64 at p.
inline std::uint32_t load_le32(const unsigned char* p) noexcept {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
inline std::uint64_t load_le64(const unsigned char* p) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    return std::uint64_t{load_le32(p)} | std::uint64_t{load_le32(p + 4)} << 32;
  }
}

inline bool finite_all(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

//! Checked a * b + c for sizes read from a file; nullopt on overflow.
inline std::optional<std::uint64_t> mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  if (b != 0 && a > (std::numeric_limits<std::uint64_t>::max() - c) / b) return std::nullopt;
  return a * b + c;
}

//! Numbers the temporaries of this process (`path.tmp-<pid>-<n>`).
inline std::atomic<unsigned> temporary_counter{0};

} // namespace detail

// ---- atomic writes ----------------------------------------------------------------------------

//! A file written in pieces under a temporary name beside `path` (`path.tmp-<pid>-<n>`) and
//! renamed over `path` by commit(), after fsync; then the folder is fsynced. On a failure, or
//! when it is destroyed before commit(), the temporary is removed and `path` is untouched;
//! Error says what failed, starting with `what` ("cannot save the model to 'F'"). An existing
//! `path` that is not a regular file or a folder (a device, a FIFO, a socket, /dev/stdout) is
//! refused: the rename would replace the device node itself. `total` (the bytes that will be
//! written) only appears in messages.
class AtomicFile {
 public:
  AtomicFile(const std::filesystem::path& path, std::string what, std::uint64_t total)
      : path_(path), what_(std::move(what)), total_(total) {
    namespace fs = std::filesystem;
    const std::string name = path.string();
    if (name.empty()) throw Error(what_ + ": the path is empty");
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status))
      throw Error(what_ + ": it is not a regular file (a device, FIFO or socket); give a file name");
    // pid + a per-process counter: two threads saving the same path never share a temporary.
    tmp_ = name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(detail::temporary_counter.fetch_add(1));
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0 && errno == EEXIST) {
      // Left by a process with our pid that died mid-save: nobody alive owns it.
      ::unlink(tmp_.c_str());
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    }
    if (fd_ < 0) {
      const int err = errno;
      throw Error(what_ + ": cannot create the temporary file '" + tmp_.string() + "': " + std::strerror(err));
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (!done_) discard();
  }

  void write(std::span<const unsigned char> bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + at, bytes.size() - at);
      if (n < 0) {
        const int err = errno; // before the message's allocations
        if (err == EINTR) continue;
        fail("writing '" + tmp_.string() + "' failed after " + std::to_string(written_) + " of " +
                 std::to_string(total_) + " bytes",
             err);
      }
      if (n == 0) fail("writing '" + tmp_.string() + "' made no progress", 0);
      at += static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
    }
  }

  void commit() {
    namespace fs = std::filesystem;
    if (::fsync(fd_) != 0) {
      const int err = errno;
      fail("fsync of '" + tmp_.string() + "' failed", err);
    }
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
      const int err = errno;
      fail("closing '" + tmp_.string() + "' failed", err);
    }
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec) fail("renaming '" + tmp_.string() + "' over it failed: " + ec.message(), 0);
    done_ = true;
    // Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
    const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  void discard() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    std::error_code rm;
    std::filesystem::remove(tmp_, rm);
    done_ = true;
  }
  [[noreturn]] void fail(const std::string& step, int err) {
    discard();
    throw Error(what_ + ": " + step + (err != 0 ? ": " + std::string(std::strerror(err)) : std::string()) +
                " (nothing was written; an existing file is unchanged)");
  }

  std::filesystem::path path_, tmp_;
  std::string what_;
  std::uint64_t total_ = 0, written_ = 0;
  int fd_ = -1;
  bool done_ = false;
};

//! Writes `bytes` to `path` atomically (an AtomicFile: temporary beside it, fsync, rename,
//! fsync of the folder). On failure the temporary is removed, `path` is untouched, and Error
//! says what failed, starting with `what` ("cannot save the model to 'F'").
inline void write_file_atomically(const std::filesystem::path& path, std::span<const unsigned char> bytes,
                                  const std::string& what) {
  AtomicFile file(path, what, bytes.size());
  file.write(bytes);
  file.commit();
}

} // namespace zipml::io

#endif
