// zipml — model averaging: the K x d model of every rank replaced by their mean, the same bits
// on every rank.
//
// Both arithmetics reduce to an exact integer sum over the ranks (MPI_Allreduce of 64-bit
// integers: exact, so independent of the order MPI adds in), then a fixed rounding of sum / P
// that every rank computes alike (docs/ENGINE.md, "Model averaging"):
// - engine (Q9.23 words): mean = sum / P rounded to the nearest integer, ties to even.
// - float: each weight as a 64-bit fixed-point number with a shared binary exponent e chosen
//   from the largest |w| over all ranks (so that P such numbers cannot overflow), summed, and
//   mean = float(double(sum) / P x 2^-e).
#ifndef ZIPML_DISTRIBUTED_AVERAGE_HPP
#define ZIPML_DISTRIBUTED_AVERAGE_HPP

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "zipml/backend.hpp"
#include "zipml/distributed/collective.hpp"

namespace zipml::distributed {

//! The mean of `ranks` Q9.23 words whose exact sum is `sum`: sum / ranks rounded to the
//! nearest integer, ties to even. The mean of int32 words is an int32 word.
[[nodiscard]] constexpr std::int32_t mean_q23(std::int64_t sum, std::int64_t ranks) noexcept {
  std::int64_t q = sum / ranks, r = sum % ranks; // C++ truncates toward zero
  if (r < 0) q -= 1, r += ranks;                 // floor: sum = q ranks + r, 0 <= r < ranks
  if (2 * r > ranks || (2 * r == ranks && (q & 1) != 0)) q += 1;
  return static_cast<std::int32_t>(q);
}

//! The shared exponent e of the float rule: P numbers of magnitude <= 2^62 / P fit an int64
//! sum. `max_abs` > 0 and finite, the largest |w| over all ranks.
[[nodiscard]] inline int fixed_exponent(double max_abs, int ranks) noexcept {
  int x = 0;
  (void)std::frexp(max_abs, &x); // max_abs < 2^x
  const int log2_ranks = static_cast<int>(std::bit_width(static_cast<unsigned>(ranks - 1))); // ceil(log2 P)
  return 62 - x - log2_ranks;
}

//! w as the float rule's fixed-point number (round to nearest, ties to even: exact ldexp,
//! then std::nearbyint in the default rounding mode).
[[nodiscard]] inline std::int64_t to_fixed(float w, int e) noexcept {
  return static_cast<std::int64_t>(std::nearbyint(std::ldexp(static_cast<double>(w), e)));
}

//! The float rule's mean of `ranks` fixed-point numbers whose sum is `sum`.
[[nodiscard]] inline float mean_fixed(std::int64_t sum, int ranks, int e) noexcept {
  return static_cast<float>(std::ldexp(static_cast<double>(sum) / ranks, -e));
}

//! Replaces `state` on every rank of `group` by the mean of all ranks' states (same lanes and
//! dimension on every rank). Engine arithmetic: mean_q23 of each word. Float: as the file
//! comment says; if any rank holds a weight that is not finite, every weight becomes NaN on
//! every rank (so that the divergence check that follows fires alike everywhere).
inline void average(ModelState& state, Collective& group) {
  const int p = group.size();
  if (p == 1) return;
  if (state.arithmetic == Arithmetic::Engine) {
    std::vector<std::int64_t> sums(state.fixed.begin(), state.fixed.end());
    group.sum(sums);
    for (std::size_t i = 0; i < sums.size(); ++i) state.fixed[i] = mean_q23(sums[i], p);
    return;
  }
  double max_abs = 0.0;
  for (float w : state.real) max_abs = std::isfinite(w) ? std::max(max_abs, static_cast<double>(std::fabs(w)))
                                                        : std::numeric_limits<double>::infinity();
  group.max(std::span(&max_abs, 1));
  if (max_abs == 0.0) return; // every weight of every rank is 0: so is the mean
  if (!std::isfinite(max_abs)) {
    for (float& w : state.real) w = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  const int e = fixed_exponent(max_abs, p);
  std::vector<std::int64_t> sums(state.real.size());
  for (std::size_t i = 0; i < sums.size(); ++i) sums[i] = to_fixed(state.real[i], e);
  group.sum(sums);
  for (std::size_t i = 0; i < sums.size(); ++i) state.real[i] = mean_fixed(sums[i], p, e);
}

} // namespace zipml::distributed

#endif
