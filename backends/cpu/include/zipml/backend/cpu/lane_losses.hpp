// zipml — the CPU backend's pass loss of a sample's lanes, summed in SIMD registers of doubles.
//
// The fused float pass takes every lane's slope of a sample at once (M::slopes); its pass
// loss is each lane's double sum of M::loss over the samples. LaneLossSums keeps those sums in
// registers, one batch of doubles per xsimd::batch<double>::size lanes, and adds M::losses,
// which does M::loss's operations in the same order: the same sums, bit for bit, as adding
// M::loss lane by lane. Where the target has no double SIMD (32-bit ARM NEON: there xsimd's
// batch<double> has no lanes) BatchedLoss is false and the pass adds lane by lane.
#ifndef ZIPML_BACKEND_CPU_LANE_LOSSES_HPP
#define ZIPML_BACKEND_CPU_LANE_LOSSES_HPP

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace zipml::cpu {

//! The target has double SIMD and M a loss of a batch of doubles.
template <class M>
concept BatchedLoss = (xsimd::batch<double>::size > 0) && requires(const M m, xsimd::batch<double> v) {
  { m.losses(v, v) } -> std::same_as<xsimd::batch<double>>;
};

//! The running pass loss of up to Lanes lanes (Lanes: one register of floats). Only named, not
//! instantiated, for a model or target without BatchedLoss.
template <class M, std::size_t Lanes>
class LaneLossSums {
  using db = xsimd::batch<double>;
  static_assert(Lanes % db::size == 0, "a register of floats is a whole number of registers of doubles");
  static constexpr std::size_t kBatches = Lanes / db::size;

public:
  //! Starts from sums[0, lanes).
  LaneLossSums(const double* sums, std::size_t lanes) : used_((lanes + db::size - 1) / db::size) {
    alignas(64) std::array<double, Lanes> start{};
    std::copy(sums, sums + lanes, start.begin());
    for (std::size_t j = 0; j < kBatches; ++j) acc_[j] = db::load_aligned(start.data() + j * db::size);
  }
  //! Adds one sample's loss of every lane: z and b hold Lanes dot products and +-1 labels in
  //! lane order (64-byte aligned; the lanes past `lanes` are ignored).
  void add(const M& model, const float* z, const float* b) {
    alignas(64) std::array<double, Lanes> zd{}, bd{};
    for (std::size_t k = 0; k < Lanes; ++k) zd[k] = z[k], bd[k] = b[k];
    for (std::size_t j = 0; j < used_; ++j)
      acc_[j] += model.losses(db::load_aligned(zd.data() + j * db::size), db::load_aligned(bd.data() + j * db::size));
  }
  //! Writes the sums to sums[0, lanes).
  void store(double* sums, std::size_t lanes) const {
    alignas(64) std::array<double, Lanes> out{};
    for (std::size_t j = 0; j < kBatches; ++j) acc_[j].store_aligned(out.data() + j * db::size);
    std::copy(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(lanes), sums);
  }

private:
  std::array<db, kBatches> acc_{};
  std::size_t used_;
};

} // namespace zipml::cpu

#endif
