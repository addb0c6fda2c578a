// zipml — a packed stream file loaded by a process group: each rank maps only its share of
// the rows, and the ranks check the whole file together.
#ifndef ZIPML_DISTRIBUTED_LOAD_HPP
#define ZIPML_DISTRIBUTED_LOAD_HPP

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#ifndef ZIPML_NO_ZLIB
#include <zlib.h>
#endif

#include "zipml/distributed/collective.hpp"
#include "zipml/distributed/shard.hpp"
#include "zipml/io/binary.hpp"
#include "zipml/io/stream_rows.hpp"

namespace zipml::distributed {

//! Rank group.rank()'s share (shard_of) of the packed stream file `path`, which every rank
//! opens at the same path (a copy on each machine is fine; the same bytes are checked):
//! 1. every rank reads the header; the ranks compare theirs (rows, dimension, size, stored
//!    data CRC) with rank 0's: a different copy is a GroupError naming the rank;
//! 2. each rank maps its rows only and, with Verify::Checksum, computes their CRC-32 and runs
//!    the row checks; the CRCs combined in rank order (zlib's crc32_combine) must be the
//!    file's stored one (a GroupError otherwise, on every rank);
//! 3. a rank whose rows break a row check throws that Error (its own).
//! A rank whose file or header cannot be read makes every rank throw a GroupError (agree).
[[nodiscard]] inline io::StreamRows load_stream_shard(const std::filesystem::path& path, Collective& group,
                                                      io::Verify verify = io::Verify::Checksum) {
  const std::string q = "'" + path.string() + "'";
  io::StreamHead head;
  agree(group, [&] { head = io::read_stream_head(path); }); // a rank without the file: every rank stops here
  const int p = group.size(), me = group.rank();
  const auto& f = head.info;
  constexpr int kFields = 4;
  std::vector<std::int64_t> heads(static_cast<std::size_t>(kFields * p), 0);
  const std::int64_t mine[kFields] = {static_cast<std::int64_t>(f.rows), static_cast<std::int64_t>(f.layout.dim),
                                      static_cast<std::int64_t>(head.file_size), static_cast<std::int64_t>(f.data_crc)};
  for (int k = 0; k < kFields; ++k) heads[static_cast<std::size_t>(kFields * me + k)] = mine[k];
  group.sum(heads);
  for (int r = 1; r < p; ++r)
    for (int k = 0; k < kFields; ++k)
      if (heads[static_cast<std::size_t>(kFields * r + k)] != heads[static_cast<std::size_t>(k)]) {
        const auto at = [&](int rank, int field) { return std::to_string(heads[static_cast<std::size_t>(kFields * rank + field)]); };
        throw GroupError(q + ": rank " + std::to_string(r) + "'s file is not rank 0's: " + at(r, 0) + " rows, d = " +
                         at(r, 1) + ", " + at(r, 2) + " bytes, data CRC " + at(r, 3) + " against " + at(0, 0) +
                         " rows, d = " + at(0, 1) + ", " + at(0, 2) + " bytes, data CRC " + at(0, 3),
                         group.is_root());
      }
  const Shard sh = shard_of(static_cast<std::size_t>(f.rows), me, p);
  io::StreamRows rows = io::load_stream_rows(path, head, sh.first, sh.last, verify);
  if (verify == io::Verify::Checksum) {
    std::vector<std::int64_t> crcs(static_cast<std::size_t>(p), 0);
    crcs[static_cast<std::size_t>(me)] = rows.crc;
    group.sum(crcs);
    std::uint32_t crc = static_cast<std::uint32_t>(crcs[0]);
    if (p > 1) {
#ifndef ZIPML_NO_ZLIB
      const std::uint64_t row_bytes = f.layout.row_words() * sizeof(stream::Word);
      uLong c = crc;
      for (int r = 1; r < p; ++r) {
        const Shard s = shard_of(static_cast<std::size_t>(f.rows), r, p);
        c = crc32_combine64(c, static_cast<uLong>(crcs[static_cast<std::size_t>(r)]),
                            static_cast<z_off64_t>(s.size() * row_bytes));
      }
      crc = static_cast<std::uint32_t>(c);
#else
      throw GroupError(q + ": checking a packed stream file shared by several ranks needs zlib (crc32_combine), "
                           "which this build lacks: load it with Verify::SizeOnly",
                       group.is_root());
#endif
    }
    if (crc != f.data_crc)
      throw GroupError(q + " is corrupt: data checksum mismatch (stored " + io::detail::hex32(f.data_crc) +
                       ", computed " + io::detail::hex32(crc) + " by " + std::to_string(p) + " rank" +
                       (p > 1 ? "s" : "") + " over the " + std::to_string(f.data_bytes()) + " data bytes at offset " +
                       std::to_string(f.data_offset) + ")",
                       group.is_root());
    if (rows.bad_row) throw Error(*rows.bad_row);
  }
  return rows;
}

} // namespace zipml::distributed

#endif
