// zipml — which rows a rank trains on, and the seed it quantizes them with.
#ifndef ZIPML_DISTRIBUTED_SHARD_HPP
#define ZIPML_DISTRIBUTED_SHARD_HPP

#include <cstddef>
#include <cstdint>

#include "zipml/random.hpp"

namespace zipml::distributed {

//! Rows [first, last) of a data set or stream: one rank's contiguous share.
struct Shard {
  std::size_t first = 0;
  std::size_t last = 0;
  [[nodiscard]] constexpr std::size_t size() const noexcept { return last - first; }
};

//! Rank `rank`'s share of `rows` rows split over `ranks` ranks: contiguous, in rank order,
//! sizes differing by at most one (floor(rows r / P) .. floor(rows (r + 1) / P)).
[[nodiscard]] constexpr Shard shard_of(std::size_t rows, int rank, int ranks) noexcept {
  // floor(rows r / P) without overflow: rows = q P + m, so rows r / P = q r + m r / P
  const auto p = static_cast<std::size_t>(ranks), q = rows / p, m = rows % p;
  const auto at = [&](std::size_t r) { return q * r + m * r / p; };
  return {at(static_cast<std::size_t>(rank)), at(static_cast<std::size_t>(rank) + 1)};
}

//! The seed rank `rank` uses for what it draws on its own (stochastic rounding of the rows it
//! packs, its shuffles of them): rank 0 keeps `seed`, so a one-rank job is the single-process
//! run bit for bit; the others get distinct mixes of it. Each draw is keyed by the global row
//! as well, so no two ranks ever share one.
[[nodiscard]] constexpr std::uint64_t rank_seed(std::uint64_t seed, int rank) noexcept {
  return rank == 0 ? seed : mix64(seed ^ mix64(0x72616e6b00000000ULL + static_cast<std::uint64_t>(rank)));
}

} // namespace zipml::distributed

#endif
