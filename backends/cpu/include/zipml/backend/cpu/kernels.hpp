// zipml — the CPU backend's inner loops: dot products and model updates, float and integer.
#ifndef ZIPML_BACKEND_CPU_KERNELS_HPP
#define ZIPML_BACKEND_CPU_KERNELS_HPP

#include <cstddef>
#include <cstdint>

#include "zipml/arithmetic/engine.hpp"

namespace zipml::cpu {

//! The engine's exact dot product: sum A[j] x[j] in 64 bits (no rounding, so any order).
[[nodiscard]] inline std::int64_t dot_exact(const std::int32_t* a, const std::int32_t* x, std::size_t n) noexcept {
  std::int64_t s = 0;
  for (std::size_t j = 0; j < n; ++j) s += static_cast<std::int64_t>(a[j]) * x[j];
  return s;
}

//! The engine's model update for every feature; the old words go to `previous`, which is
//! the model the next sample's dot product sees (staleness 1).
inline void update_exact(std::int32_t* x, std::int32_t* previous, const std::int32_t* a, std::int32_t g, int frac,
                         std::uint32_t lambda_shift, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    previous[j] = x[j];
    x[j] = engine::update(x[j], a[j], g, frac, lambda_shift);
  }
}

} // namespace zipml::cpu

#endif
