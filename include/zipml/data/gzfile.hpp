// zipml — read a whole file into memory, gzip or plain, without the caller caring which.
//
// Every reader in zipml::data parses from memory: one read of the file, then a tight loop over
// bytes, is far faster than token-by-token stream extraction. zlib's gzread passes plain files
// through unchanged, so "data.libsvm" and "data.libsvm.gz" take the same path.
//
// With libdeflate (ZIPML_HAVE_LIBDEFLATE) a gzip file is read whole and inflated in one call,
// 2-3x faster than zlib's streaming inflate; a file it refuses is read once more through zlib
// for zlib's precise message (truncated, bad check, bad header), so errors read the same.
//
// Built with ZIPML_NO_ZLIB (Meson -Dzlib=disabled; the ARM board builds, whose cross toolchain
// has no ARM zlib), plain files are read as they are and a gzip file is refused with a message
// that says so: no silent garbage from compressed bytes.
#ifndef ZIPML_DATA_GZFILE_HPP
#define ZIPML_DATA_GZFILE_HPP

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <span>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fstream>
#ifndef ZIPML_NO_ZLIB
#include <zlib.h>
#endif
#ifdef ZIPML_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "zipml/error.hpp"
#include "zipml/memory.hpp"

namespace zipml::data {

namespace detail {

//! Refuses a missing file, a folder, or a path that cannot be looked at, naming it.
inline void check_readable(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  // stat fails for more than a missing file: a symbolic link loop, a name too long, a folder
  // on the way that may not be searched. Those are not "not found".
  if (ec && status.type() != std::filesystem::file_type::not_found)
    throw Error("cannot read '" + name + "': " + ec.message());
  if (!std::filesystem::exists(status)) throw Error("cannot read '" + name + "': file not found");
  if (std::filesystem::is_directory(status))
    throw Error("cannot read '" + name + "': it is a directory, not a file");
}

//! The bytes of `path` as they are on disk.
template <class Buffer>
void read_raw(const std::filesystem::path& path, Buffer& out) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + name + "': " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw Error("cannot read '" + name + "': cannot tell its size");
  out.resize(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(out.data()), size))
    throw Error("cannot read '" + name + "': " + std::strerror(errno));
}

#if defined(ZIPML_NO_ZLIB) && !defined(ZIPML_HAVE_LIBDEFLATE)

//! Without zlib: the plain bytes of `path`; a gzip file (magic 1f 8b) is refused.
template <class Buffer>
void read_into(const std::filesystem::path& path, Buffer& out) {
  check_readable(path);
  read_raw(path, out);
  if (out.size() >= 2 && static_cast<unsigned char>(out[0]) == 0x1f && static_cast<unsigned char>(out[1]) == 0x8b)
    throw Error("cannot read '" + path.string() + "': it is gzip-compressed, and this zipml was built without zlib "
                "(-Dzlib=disabled, as the ARM board builds are): gunzip it first");
}

#endif

#ifndef ZIPML_NO_ZLIB

//! Closes the gzFile on every path out, including exceptions; reports nothing (see read_into).
struct GzCloser {
  gzFile file = nullptr;
  GzCloser() = default;
  GzCloser(const GzCloser&) = delete;
  GzCloser& operator=(const GzCloser&) = delete;
  ~GzCloser() {
    if (file != nullptr) gzclose_r(file);
  }
};

//! zlib's message for the last error on `file`; it already starts with the path.
inline std::string gz_message(gzFile file) {
  int errnum = Z_OK;
  const char* msg = gzerror(file, &errnum);
  return (msg != nullptr && *msg != '\0') ? std::string(msg) : std::string("unknown zlib error");
}

//! Reads all of `path` into `out` (a vector of bytes or a string). Grows the buffer
//! geometrically, starting from the on-disk size, so a plain file is read with one gzread
//! and a compressed one with a handful.
template <class Buffer>
void read_into_zlib(const std::filesystem::path& path, Buffer& out) {
  const std::string name = path.string();
  check_readable(path);

  GzCloser guard;
  errno = 0;
  guard.file = gzopen(name.c_str(), "rb");
  if (guard.file == nullptr) {
    const int err = errno;
    throw Error("cannot open '" + name + "': " +
                (err != 0 ? std::string(std::strerror(err)) : std::string("out of memory")));
  }
  gzbuffer(guard.file, 1u << 18); // larger than zlib's 8 KiB default: fewer read() calls

  std::error_code ec;
  const auto disk_size = std::filesystem::file_size(path, ec);
  std::size_t capacity = ec ? std::size_t{1} << 16 : std::max<std::size_t>(disk_size + 1, 4096);
  std::size_t used = 0;
  out.resize(capacity);
  for (;;) {
    if (used == capacity) {
      capacity *= 2;
      out.resize(capacity);
    }
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(capacity - used, INT_MAX));
    const int got = gzread(guard.file, out.data() + used, chunk);
    if (got < 0) {
      throw Error("cannot read '" + name + "': corrupt gzip data (zlib: " + gz_message(guard.file) +
                  ")");
    }
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
  }
  // gzread hands back the bytes before a truncation and returns 0, leaving Z_BUF_ERROR set:
  // a cut-off download must not pass for a short file.
  int errnum = Z_OK;
  gzerror(guard.file, &errnum);
  if (errnum != Z_OK) {
    throw Error("cannot read '" + name +
                "': truncated or corrupt gzip data (zlib: " + gz_message(guard.file) + ")");
  }
  const int closed = gzclose_r(guard.file);
  guard.file = nullptr;
  if (closed != Z_OK) {
    throw Error("cannot read '" + name + "': truncated or corrupt gzip data (zlib error " +
                std::to_string(closed) + ")");
  }
  out.resize(used);
}

#endif // ZIPML_NO_ZLIB

#ifdef ZIPML_HAVE_LIBDEFLATE

struct Decompressor {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  Decompressor() = default;
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  ~Decompressor() {
    if (d != nullptr) libdeflate_free_decompressor(d);
  }
};

//! Inflates every gzip member of `in` into `out`; false if libdeflate refuses one (the caller
//! then asks zlib why). Each member's size is not known before it is inflated: the buffer
//! starts at the last member's ISIZE trailer (exact for one member below 4 GiB) and doubles.
template <class Buffer>
bool inflate_members(std::span<const unsigned char> in, Buffer& out) {
  Decompressor dec;
  if (dec.d == nullptr) throw Error("libdeflate: out of memory");
  const std::size_t isize = std::size_t{in[in.size() - 4]} | std::size_t{in[in.size() - 3]} << 8 |
                            std::size_t{in[in.size() - 2]} << 16 | std::size_t{in[in.size() - 1]} << 24;
  std::size_t used = 0, at = 0;
  out.reserve(std::max<std::size_t>(isize, 4096));
  advise_huge_pages(out.data(), out.capacity());
  out.resize(std::max<std::size_t>(isize, 4096));
  while (at < in.size()) {
    // As zlib's gzread: what follows a member and is not a gzip member is ignored.
    if (at > 0 && (in.size() - at < 2 || in[at] != 0x1f || in[at + 1] != 0x8b)) break;
    std::size_t in_used = 0, got = 0;
    const auto r = libdeflate_gzip_decompress_ex(dec.d, in.data() + at, in.size() - at, out.data() + used,
                                                 out.size() - used, &in_used, &got);
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
      out.resize(std::max<std::size_t>(2 * out.size(), used + 4 * (in.size() - at)));
      continue;
    }
    if (r != LIBDEFLATE_SUCCESS) return false;
    used += got;
    at += in_used;
    if (used == out.size() && at < in.size()) out.resize(2 * out.size());
  }
  out.resize(used);
  return true;
}

//! Plain files as they are; gzip (magic 1f 8b) inflated by libdeflate. A gzip file libdeflate
//! refuses goes through zlib, whose message says what is wrong (or, without zlib, a generic one).
template <class Buffer>
void read_into(const std::filesystem::path& path, Buffer& out) {
  check_readable(path);
  std::vector<unsigned char> raw;
  read_raw(path, raw);
  const bool gzip = raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
  if (!gzip) {
    out.resize(raw.size());
    if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size()); // an empty file has no data()
    return;
  }
  if (raw.size() >= 18 && inflate_members(std::span<const unsigned char>(raw), out)) return;
#ifndef ZIPML_NO_ZLIB
  read_into_zlib(path, out);
#else
  throw Error("cannot read '" + path.string() + "': truncated or corrupt gzip data (libdeflate refused it)");
#endif
}

#elif !defined(ZIPML_NO_ZLIB)

template <class Buffer>
void read_into(const std::filesystem::path& path, Buffer& out) {
  read_into_zlib(path, out);
}

#endif

} // namespace detail

//! The whole of `path` as bytes, gunzipped when it is gzip-compressed. Throws Error naming the
//! path when the file is missing, unreadable, or its gzip stream is truncated or corrupt.
[[nodiscard]] inline std::vector<unsigned char> read_file_bytes(const std::filesystem::path& path) {
  std::vector<unsigned char> out;
  detail::read_into(path, out);
  return out;
}

//! As read_file_bytes, into a string: text readers parse it in place.
[[nodiscard]] inline std::string read_file_text(const std::filesystem::path& path) {
  std::string out;
  detail::read_into(path, out);
  return out;
}

//! The first `n` bytes of `path` (gunzipped when it is gzip-compressed and zlib is there), or
//! fewer when the file is shorter; empty when it cannot be opened. For sniffing a format: the
//! reader that follows reports what is wrong with the file.
[[nodiscard]] inline std::vector<unsigned char> read_file_head(const std::filesystem::path& path, std::size_t n) {
  std::vector<unsigned char> out(n);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return {};
#ifdef ZIPML_NO_ZLIB
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
  out.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
#else
  detail::GzCloser guard;
  guard.file = gzopen(path.string().c_str(), "rb");
  if (guard.file == nullptr) return {};
  const int got = gzread(guard.file, out.data(), static_cast<unsigned>(std::min<std::size_t>(n, INT_MAX)));
  out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
#endif
  return out;
}

} // namespace zipml::data

#endif
