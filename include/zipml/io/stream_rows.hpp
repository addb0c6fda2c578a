// zipml — some rows of a packed stream file, mapped on their own: what one rank of a
// data-parallel job reads (distributed/load.hpp), so that no rank maps or reads the whole file.
//
// read_stream_head reads the header (and the stored data CRC) without the data;
// load_stream_rows maps rows [first, last) only, checks them (the row checks of
// check_stream_data) and computes the CRC-32 of their bytes, which the ranks combine into the
// whole data region's (crc32_combine) to check the file as load_stream would.
#ifndef ZIPML_IO_STREAM_ROWS_HPP
#define ZIPML_IO_STREAM_ROWS_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "zipml/error.hpp"
#include "zipml/io/binary.hpp"
#include "zipml/io/stream_file.hpp"

namespace zipml::io {

//! A packed stream file's header, read without its data.
struct StreamHead {
  StreamFileInfo info;         //!< parsed and validated (data_crc: the stored data CRC)
  std::uint64_t file_size = 0; //!< bytes
};

//! Rows [first, last) of a packed stream file.
struct StreamRows {
  StreamFileInfo info;          //!< the whole file's header (info.rows: all of its rows)
  stream::PackedStream stream;  //!< the rows [first, last), viewing their own mapping
  std::uint64_t first = 0, last = 0;
  std::uint32_t crc = 0;        //!< CRC-32 of these rows' bytes (Verify::Checksum), else 0
  //! The first row that breaks a row check (Verify::Checksum): reported only once the ranks
  //! know the file's checksum holds, so that damage reads as damage.
  std::optional<std::string> bad_row;
};

namespace detail {

inline void pread_all(int fd, unsigned char* out, std::size_t n, std::uint64_t at, const std::string& cannot) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, out + got, n - got, static_cast<off_t>(at + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      throw Error(cannot + ": read failed: " + std::strerror(err));
    }
    if (r == 0) throw Error(cannot + ": the file ended while it was read (was it truncated?)");
    got += static_cast<std::size_t>(r);
  }
}

} // namespace detail

//! The header of the packed stream file `path`, parsed and validated as load_stream does, and
//! the stored CRC of its data; no data byte is read. Throws Error naming `path`.
[[nodiscard]] inline StreamHead read_stream_head(const std::filesystem::path& path) {
  const std::string name = path.string();
  const std::string cannot = "cannot load the packed stream '" + name + "'";
  const detail::OpenFile file(path, cannot);
  StreamHead head;
  head.file_size = file.size;
  // The data offset (bytes 20..27) says how much header there is; a file too short for it,
  // or an offset past its end, is refused by parse_stream_header from the first bytes.
  std::vector<unsigned char> bytes(static_cast<std::size_t>(std::min<std::uint64_t>(file.size, kStreamMinHeader)));
  detail::pread_all(file.fd, bytes.data(), bytes.size(), 0, cannot);
  if (bytes.size() >= detail::kStreamOffDataOffset + 8) {
    const std::uint64_t offset = detail::load_le64(bytes.data() + detail::kStreamOffDataOffset);
    if (offset > bytes.size() && offset <= file.size) {
      bytes.resize(static_cast<std::size_t>(offset));
      detail::pread_all(file.fd, bytes.data(), bytes.size(), 0, cannot);
    }
  }
  head.info = parse_stream_header(bytes, name, file.size);
  std::array<unsigned char, 4> crc{};
  detail::pread_all(file.fd, crc.data(), crc.size(), file.size - crc.size(), cannot);
  head.info.data_crc = detail::load_le32(crc.data());
  return head;
}

//! Rows [first, last) of the file `head` was read from (first <= last <= rows): maps only
//! their pages, and with Verify::Checksum computes their CRC and runs the row checks.
[[nodiscard]] inline StreamRows load_stream_rows(const std::filesystem::path& path, const StreamHead& head,
                                                 std::uint64_t first, std::uint64_t last,
                                                 Verify verify = Verify::Checksum) {
  const std::string name = path.string();
  const std::string cannot = "cannot load the packed stream '" + name + "'";
  const StreamFileInfo& f = head.info;
  if (f.storage == StreamStorage::Planes)
    throw Error(cannot + ": it holds bit planes, and ranks load their shares of a file of rows only (not built "
                "for bit planes yet): train the schedule in one process, or give each rank the data set");
  if (first > last || last > f.rows)
    throw Error(cannot + ": rows " + std::to_string(first) + ".." + std::to_string(last) + " asked of a file of " +
                std::to_string(f.rows) + " rows");
  const detail::OpenFile file(path, cannot);
  if (file.size != head.file_size)
    throw Error(cannot + ": its size changed from " + std::to_string(head.file_size) + " to " +
                std::to_string(file.size) + " bytes while it was read");
  StreamRows out;
  out.info = f;
  out.first = first;
  out.last = last;
  out.stream.layout = f.layout;
  out.stream.rows = static_cast<std::size_t>(last - first);
  out.stream.first_row = static_cast<std::size_t>(first);
  const std::uint64_t row_words = f.layout.row_words(), row_bytes = row_words * sizeof(stream::Word);
  const std::uint64_t begin = f.data_offset + first * row_bytes, end = f.data_offset + last * row_bytes;
  if (begin == end) return out;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t map_at = begin / page * page;
  const auto length = static_cast<std::size_t>(end - map_at);
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.fd, static_cast<off_t>(map_at));
  if (base == MAP_FAILED) {
    const int err = errno;
    throw Error(cannot + ": mmap of rows " + std::to_string(first) + ".." + std::to_string(last) + " (" +
                std::to_string(length) + " bytes) failed: " + std::strerror(err));
  }
  auto region = std::make_shared<stream::MappedRegion>(base, length);
  (void)::madvise(base, length, MADV_SEQUENTIAL);
  (void)::madvise(base, length, MADV_WILLNEED);
  unsigned char* bytes = static_cast<unsigned char*>(base) + (begin - map_at);
  const auto count = static_cast<std::size_t>(last - first) * static_cast<std::size_t>(row_words);
  if (verify == Verify::Checksum) {
    const auto word_at = [&](std::uint64_t k) {
      return detail::load_le64(bytes + (k - first * row_words) * sizeof(stream::Word));
    };
    const std::uint64_t per_piece = std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / row_bytes);
    for (std::uint64_t r = first; r < last; r += per_piece) {
      const std::uint64_t stop = std::min(last, r + per_piece);
      out.crc = detail::crc32_of(std::span<const unsigned char>(bytes + (r - first) * row_bytes,
                                                                static_cast<std::size_t>((stop - r) * row_bytes)),
                                 out.crc);
      if (!out.bad_row) {
        try {
          detail::check_rows(f, word_at, r, stop, "'" + name + "'");
        } catch (const Error& e) {
          out.bad_row = e.what();
        }
      }
    }
  }
  if constexpr (std::endian::native == std::endian::little) {
    out.stream.words = stream::WordStore::mapped(std::move(region), reinterpret_cast<stream::Word*>(bytes), count);
  } else {
    std::vector<stream::Word> words(count);
    for (std::size_t i = 0; i < count; ++i) words[i] = detail::load_le64(bytes + i * sizeof(stream::Word));
    out.stream.words = std::move(words);
  }
  return out;
}

} // namespace zipml::io

#endif
