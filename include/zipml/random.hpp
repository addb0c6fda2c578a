// zipml — small, fully specified random numbers.
//
// std:: distributions differ between standard libraries, so stochastic rounding and shuffling
// use these instead: the same seed gives the same packed stream on every platform, and a
// row's random numbers depend only on (seed, epoch, copy, row), not on the order rows are
// packed in (so packing can be split across threads).
#ifndef ZIPML_RANDOM_HPP
#define ZIPML_RANDOM_HPP

#include <cstdint>

namespace zipml {

//! SplitMix64 finalizer: a bijective 64-bit mix.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

//! SplitMix64 generator; also a UniformRandomBitGenerator for std::shuffle-like use.
class SplitMix64 {
 public:
  using result_type = std::uint64_t;
  constexpr explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  constexpr SplitMix64(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) noexcept
      : state_(mix64(mix64(mix64(seed ^ 0x5a17'0000'0000'0001ULL) ^ a) ^ b) ^ c) {}
  constexpr result_type operator()() noexcept {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_ - 0x9e3779b97f4a7c15ULL);
  }
  //! The number the k-th call from now (k = 0: the next) returns, without advancing: SplitMix64
  //! is a counter, so a row's draws can be computed in any order (the packer vectorizes them).
  [[nodiscard]] constexpr result_type peek(std::uint64_t k) const noexcept { return mix64(state_ + k * 0x9e3779b97f4a7c15ULL); }
  //! 24 random bits as a float in [0, 1): exact, the same everywhere.
  constexpr float uniform() noexcept { return static_cast<float>((*this)() >> 40) * 0x1p-24f; }
  //! Uniform integer in [0, n) (modulo bias below n / 2^64: negligible for data set sizes).
  constexpr std::uint64_t below(std::uint64_t n) noexcept { return (*this)() % n; }
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }

 private:
  std::uint64_t state_;
};

} // namespace zipml

#endif
