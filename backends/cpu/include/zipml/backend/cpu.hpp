// zipml — the CPU backend: trains K model lanes in one pass over the packed stream.
#ifndef ZIPML_BACKEND_CPU_HPP
#define ZIPML_BACKEND_CPU_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/backend.hpp"
#include "zipml/arithmetic/float.hpp"
#include "zipml/backend/cpu/kernels.hpp"
#include "zipml/backend/cpu/lane_losses.hpp"
#include "zipml/concepts.hpp"
#include "zipml/error.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/reader.hpp"

namespace zipml {

//! What the passes did, for benchmarks: (sample, lane) pairs read, and those among them
//! that changed the model (an update with g != 0, or any update with regularization).
struct PassCounters {
  std::atomic<std::uint64_t> lane_samples{0};
  std::atomic<std::uint64_t> lane_updates{0};
};

//! Runs passes on this machine's cores, in either arithmetic.
//!
//! Every sample is decoded once from its packed words and then updates all K lanes (one per
//! class): the original needed K passes. With several cores the lanes are split between
//! threads, each reading the same stream, which is exact since lanes never interact.
//! Without mini-batches the passes run fused SIMD sweeps (backend/cpu/kernels.hpp); with a
//! mini-batch mask, a plain pass that keeps the snapshot the mask asks for.
class Cpu {
 public:
  static constexpr std::string_view name = "cpu";
  static constexpr bool supports(Arithmetic) noexcept { return true; }

  //! Threads to use; 0 = one per core (never more than lanes).
  unsigned threads = 0;
  //! If set, the passes add what they did to it.
  PassCounters* counters = nullptr;
  //! The engine arithmetic with a narrower model word than the RTL's (engine::ModelWord), to
  //! measure what it would cost in accuracy: the plain passes round every word they update.
  //! The default is the engine's own word (the fast passes, bit for bit the RTL).
  engine::ModelWord model_word{};

  //! One pass; with job.pass_loss, the pass loss of every lane (PassLoss), else an empty one.
  template <ModelPolicy M>
  PassLoss run_epoch(const M& model, const TrainJob& job, std::size_t epoch, ModelState& state) const {
    if (job.data == nullptr) throw Error("cpu backend: no packed data in the job");
    const std::size_t k = job.lanes();
    if (state.lanes != k || state.dim != job.data->layout.dim || state.arithmetic != job.arithmetic)
      throw Error("cpu backend: model state does not match the job (lanes, dimension or arithmetic)");
    const auto& layout = job.data->layout;
    const auto& c = job.config;
    if (c.dim != layout.dim || c.double_sampled != layout.double_sampled || c.minus_one_one != layout.minus_one_one ||
        (c.precision != stream::PrecisionCode::Unstated && stream::precision_bits(c.precision) != layout.bits))
      throw Error("cpu backend: the configuration words do not describe the packed data (dimension, precision, "
                  "range or double sampling differ)");
    if (!model_word.is_engine()) {
      if (!model_word.valid())
        throw Error("cpu backend: a model word of " + std::to_string(model_word.bits) + " bits with " +
                    std::to_string(model_word.fraction_bits) +
                    " fraction bits is not a narrowing of the engine's Q9.23 word (2 or more bits, 0..23 fraction "
                    "bits, bits + 23 - fraction bits <= 32)");
      if (job.arithmetic != Arithmetic::Engine)
        throw Error("cpu backend: a narrower model word needs the engine arithmetic");
    }
    unsigned t = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    t = static_cast<unsigned>(std::min<std::size_t>(t, k));
    // The fused sweeps read 32-bit slots of the little-endian words; mini-batch snapshots
    // take the plain passes.
    const bool fused = std::endian::native == std::endian::little && c.minibatch_mask == 0 && job.data->rows > 0;
    PassLoss loss;
    if (job.pass_loss) loss.lane_sums.assign(k, 0.0);
    // Each thread writes the sums of its own lanes.
    auto run = [&](std::size_t first, std::size_t last) {
      double* sums = job.pass_loss ? loss.lane_sums.data() + first : nullptr;
      if (job.arithmetic == Arithmetic::Float) {
        if (fused)
          float_pass_fused(model, job, epoch, state, first, last, counters, sums);
        else
          float_pass(model, job, epoch, state, first, last, sums);
      } else {
        if (fused && cpu::kEngineSweeps && model_word.is_engine())
          engine_pass_fused(model, job, epoch, state, first, last, counters, sums);
        else
          engine_pass(model, job, epoch, state, first, last, model_word, sums);
      }
    };
    if (t <= 1) {
      run(0, k);
    } else {
      std::vector<std::jthread> pool;
      for (unsigned i = 0; i < t; ++i) pool.emplace_back(run, k * i / t, k * (i + 1) / t);
    }
    return loss;
  }

 private:
  //! +-1 (binarized against positives[lane]) or, for regression, the label as it is.
  static float lane_label(const std::vector<std::uint32_t>& positives, std::size_t lane, std::uint32_t bits) noexcept {
    if (positives.empty()) return std::bit_cast<float>(bits);
    return bits == positives[lane] ? 1.0f : -1.0f;
  }

  //! The label a lane's loss is measured against: +-1, or the regression target.
  static double float_label(const std::vector<std::uint32_t>& positives, std::size_t lane, std::uint32_t bits) noexcept {
    return lane_label(positives, lane, bits);
  }

  static std::vector<std::uint32_t> positive_bits(const TrainJob& job) {
    std::vector<std::uint32_t> out;
    for (float p : job.positive_labels()) out.push_back(std::bit_cast<std::uint32_t>(p));
    return out;
  }

  //! step x cost for a label, as the configuration words carry it.
  static float gamma(const stream::Config& c, float label) noexcept {
    if (c.loss_mode() == stream::LossMode::LeastSquares) return c.step;
    return label > 0.0f ? c.step_cost_pos : c.step_cost_neg;
  }

  static void count(PassCounters* counters, std::uint64_t samples, std::uint64_t updates) noexcept {
    if (counters == nullptr) return;
    counters->lane_samples += samples;
    counters->lane_updates += updates;
  }

  //! The float arithmetic without mini-batches: per sample, fused sweeps apply sample i's
  //! update and compute sample i + 1's dot products.
  template <ModelPolicy M>
  static void float_pass_fused(const M& model, const TrainJob& job, std::size_t epoch, ModelState& state,
                               std::size_t first, std::size_t last, PassCounters* counters, double* loss_sums) {
    const auto& s = *job.data;
    const auto& layout = s.layout;
    const auto& c = job.config;
    const cpu::KernelOrder order(layout);
    const std::size_t d = layout.dim, p = order.padded(), lanes = last - first;
    const float scale = std::ldexp(1.0f, -job.halvings(epoch));
    const float keep = c.lambda_shift < 32 ? 1.0f - std::ldexp(1.0f, -static_cast<int>(c.lambda_shift)) : 1.0f;
    const auto positives = positive_bits(job);
    cpu::aligned_vector<float> model_words(lanes * p);
    order.to_kernel(state.real.data() + first * d, lanes, model_words.data());
    // Features of the current and the next sample: the dot-product copy and the update copy
    // (the same one without double sampling).
    cpu::aligned_vector<float> buf(4 * p);
    float* dot_copy[2] = {buf.data(), buf.data() + p};
    float* upd_copy[2] = {layout.double_sampled ? buf.data() + 2 * p : dot_copy[0],
                          layout.double_sampled ? buf.data() + 3 * p : dot_copy[1]};
    // The copies hold feature levels (cpu::unpack_levels): the sweeps' dot products are in
    // units of 1 / unit, and the steps they apply are g * unit (both exact).
    const float unit = cpu::level_unit(layout);
    auto unpack = [&](std::size_t i, int slot) {
      cpu::unpack_levels(s.features(i, 0).data(), layout, order, dot_copy[slot]);
      if (layout.double_sampled) cpu::unpack_levels(s.features(i, 1).data(), layout, order, upd_copy[slot]);
    };
    cpu::Lanes<float, float> ln(model_words.data(), lanes, p);
    const cpu::RowPrefetcher prefetch(s.words.data(), s.rows, layout.row_words());
    // Sweep-order lanes [from, to): update with gs and the update copy in slot `cur` (unless
    // U is None), then the dot products with the next sample's copy (if D).
    // With AVX-512 and one block of lanes, `sums` keeps the last sweep's dot products in sweep
    // order, so that the next sample's steps start from a register.
    using fb = xsimd::batch<float>;
    fb sums(0.0f);
    auto sweep = [&]<cpu::Update U, bool D>(std::size_t from, std::size_t to, int cur) {
      cpu::for_blocks<cpu::kMaxFloatBlock>(from, to, [&](std::size_t lo, auto nb) {
        sums = cpu::float_sweep<decltype(nb)::value, U, D>(ln.xs.data() + lo, ln.gs.data() + lo, keep,
                                                           upd_copy[cur], dot_copy[1 - cur], p, ln.dots.data() + lo);
      });
    };
    // Without decay: the first n lanes change, and one sweep per block updates those among
    // its lanes and computes every lane's dot product.
    auto step_and_dot = [&](std::size_t n, int cur) {
      cpu::for_blocks_changing<cpu::kMaxFloatBlock>(lanes, n, [&](std::size_t lo, auto nb, auto nu) {
        constexpr std::size_t NB = decltype(nb)::value, NU = decltype(nu)::value;
        constexpr cpu::Update U = NU == 0 ? cpu::Update::None : cpu::Update::Step;
        sums = cpu::float_sweep<NB, U, true, NU>(ln.xs.data() + lo, ln.gs.data() + lo, keep, upd_copy[cur],
                                                 dot_copy[1 - cur], p, ln.dots.data() + lo);
      });
    };
    // Sample 0's dot products (its copy goes to slot 1, read as "next" from slot 0).
    unpack(0, 1);
    sweep.template operator()<cpu::Update::None, true>(0, lanes, 0);
    ln.scatter_dots();
    std::uint64_t updates = 0;
    int cur = 1;
    // Classifiers whose model has a batched slope take a sample's lanes at once (the same
    // operations, so the same steps): the +-1 labels from one compare of the label against
    // each lane's positive class, the step factors by one select.
    using ub = xsimd::batch<std::uint32_t>;
    constexpr bool batched = requires(const M m, fb v) {
      { m.slopes(v, v) } -> std::same_as<fb>;
    };
    const bool vector_slopes = batched && !positives.empty() && lanes <= fb::size;
    // The pass loss of the batched lanes, summed in registers of doubles where the target has
    // them (cpu::LaneLossSums: the same sums as adding M::loss lane by lane).
    constexpr bool batched_loss = batched && cpu::BatchedLoss<M>;
    struct NoLossSums {};
    std::optional<std::conditional_t<batched_loss, cpu::LaneLossSums<M, fb::size>, NoLossSums>> lane_losses;
    if constexpr (batched_loss) {
      if (vector_slopes && loss_sums != nullptr) lane_losses.emplace(loss_sums, lanes);
    }
    alignas(64) std::array<std::uint32_t, fb::size> positive_of{};
    alignas(64) std::array<float, fb::size> g_v{};
    for (std::size_t l = 0; l < lanes && vector_slopes; ++l) positive_of[l] = positives[first + l];
    const ub step_pos(std::bit_cast<std::uint32_t>(gamma(c, 1.0f) * scale));
    const ub step_neg(std::bit_cast<std::uint32_t>(gamma(c, -1.0f) * scale));
    const ub plus_one(std::bit_cast<std::uint32_t>(1.0f)), minus_one(std::bit_cast<std::uint32_t>(-1.0f));
    const std::uint32_t all_lanes = lanes >= 32 ? ~0u : (1u << lanes) - 1u;
    // The sweep's dot products (sweep order) as one register in lane order. With AVX-512 it
    // is built in registers: from the sweep's own register when one block held every lane
    // (`swept_first`: the lanes the sweep took first), else by a broadcast per lane (ten
    // scalar stores read back as one vector load would stall on store forwarding every sample).
    std::uint32_t swept_first = all_lanes;
    auto dots_by_lane = [&]() -> fb {
#if XSIMD_WITH_AVX512F
      if (lanes <= cpu::kMaxFloatBlock) return fb(cpu::to_lane_order(sums, swept_first, all_lanes));
      __m512 v = _mm512_setzero_ps();
      for (std::size_t k = 0; k < lanes; ++k)
        v = _mm512_mask_broadcastss_ps(v, static_cast<__mmask16>(1u << ln.order[k]), _mm_set_ss(ln.dots[k]));
      return fb(v);
#else
      alignas(64) std::array<float, fb::size> dot_v{};
      for (std::size_t k = 0; k < lanes; ++k) dot_v[ln.order[k]] = ln.dots[k];
      return fb::load_aligned(dot_v.data());
#endif
    };
    // Bit l: lane l's step g is not 0 (NaN included, as g != 0 is true for it).
    auto changed = [&]([[maybe_unused]] fb g) -> std::uint32_t { // the portable path reads g_v
#if XSIMD_WITH_AVX512F
      return _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_NEQ_UQ) & all_lanes;
#else
      std::uint32_t m = 0;
      for (std::size_t l = 0; l < lanes; ++l) m |= static_cast<std::uint32_t>(g_v[l] != 0.0f) << l;
      return m;
#endif
    };
    for (std::size_t i = 0; i < s.rows; ++i) {
      const std::uint32_t bits = s.label_bits(i);
      std::size_t n = 0;
      if constexpr (batched) {
        if (vector_slopes) {
          const auto positive = ub::load_aligned(positive_of.data()) == ub(bits);
          const fb b = xsimd::bitwise_cast<fb>(xsimd::select(positive, plus_one, minus_one));
          const fb step = xsimd::bitwise_cast<fb>(xsimd::select(positive, step_pos, step_neg));
          const fb z = dots_by_lane() * fb(unit);
          const fb g = step * model.slopes(z, b);
          (g * fb(unit)).store_aligned(g_v.data());
          if (loss_sums != nullptr) {
            alignas(64) std::array<float, fb::size> z_v{}, b_v{};
            z.store_aligned(z_v.data());
            b.store_aligned(b_v.data());
            if constexpr (batched_loss) {
              lane_losses->add(model, z_v.data(), b_v.data());
            } else {
              for (std::size_t l = 0; l < lanes; ++l) loss_sums[l] += model.loss(z_v[l], b_v[l]);
            }
          }
          swept_first = keep != 1.0f ? all_lanes : changed(g);
          n = ln.arrange_masks(swept_first, 0, g_v.data())[0];
        }
      }
      if (!vector_slopes) {
        for (std::size_t l = 0; l < lanes; ++l) {
          const float b = lane_label(positives, first + l, bits);
          ln.g[l] = gamma(c, b) * scale * model.slope(ln.dot[l] * unit, b) * unit;
          if (loss_sums != nullptr) loss_sums[l] += model.loss(ln.dot[l] * unit, b);
        }
        n = ln.arrange([&](std::size_t l) { return keep != 1.0f || ln.g[l] != 0.0f ? 0 : 2; })[0];
      }
      updates += n;
      const bool next = i + 1 < s.rows;
      prefetch(i);
      if (next) {
        unpack(i + 1, 1 - cur);
        if (keep != 1.0f)
          sweep.template operator()<cpu::Update::StepDecay, true>(0, n, cur);
        else
          step_and_dot(n, cur);
        if (!vector_slopes) ln.scatter_dots();
      } else if (keep != 1.0f) {
        sweep.template operator()<cpu::Update::StepDecay, false>(0, n, cur);
      } else {
        sweep.template operator()<cpu::Update::Step, false>(0, n, cur);
      }
      cur = 1 - cur;
    }
    if constexpr (batched_loss) {
      if (lane_losses) lane_losses->store(loss_sums, lanes);
    }
    order.to_natural(model_words.data(), lanes, state.real.data() + first * d);
    count(counters, s.rows * lanes, updates);
  }

  //! The engine arithmetic without mini-batches: the sweeps for sample i compute its dot
  //! products from the model before sample i - 1's update (staleness 1), then apply that update.
  template <ModelPolicy M>
  static void engine_pass_fused([[maybe_unused]] const M& model, const TrainJob& job, std::size_t epoch,
                                ModelState& state, std::size_t first, std::size_t last, PassCounters* counters,
                                [[maybe_unused]] double* loss_sums) {
#if XSIMD_WITH_AVX512F
    const auto& s = *job.data;
    const auto& layout = s.layout;
    const auto& c = job.config;
    const cpu::KernelOrder order(layout);
    const std::size_t d = layout.dim, p = order.padded(), lanes = last - first;
    const cpu::EngineStep st{static_cast<int>(layout.feature_fraction_bits()), c.lambda_shift};
    const int halvings = job.halvings(epoch);
    const bool ls = c.loss_mode() == stream::LossMode::LeastSquares;
    const engine::StepFactor pos = engine::step_factor(ls ? c.step : c.step_cost_pos);
    const engine::StepFactor neg = engine::step_factor(ls ? c.step : c.step_cost_neg);
    const auto positive = positive_bits(job);
    const bool decay = c.lambda_shift < 32;
    // g u fits the 32-bit sweep when |g| max|A| + 2^(F-1) < 2^31; other lanes take the wide sweep.
    const std::int64_t amax = layout.is_float() ? std::int64_t{1} << 17 : std::int64_t{1} << (layout.bits - 1);
    const std::int64_t limit =
        (std::int64_t{std::numeric_limits<std::int32_t>::max()} - (st.frac > 0 ? 1 << (st.frac - 1) : 0)) / amax;
    auto wide = [&](std::int32_t g) { return std::abs(static_cast<std::int64_t>(g)) > limit; };
    cpu::aligned_vector<std::int32_t> model_words(lanes * p);
    order.to_kernel(state.fixed.data() + first * d, lanes, model_words.data());
    cpu::aligned_vector<std::int32_t> buf(4 * p);
    std::int32_t* dot_copy[2] = {buf.data(), buf.data() + p};
    std::int32_t* upd_copy[2] = {layout.double_sampled ? buf.data() + 2 * p : dot_copy[0],
                                 layout.double_sampled ? buf.data() + 3 * p : dot_copy[1]};
    auto unpack = [&](std::size_t i, int slot) {
      cpu::unpack_fixed(s.features(i, 0).data(), layout, order, dot_copy[slot]);
      if (layout.double_sampled) cpu::unpack_fixed(s.features(i, 1).data(), layout, order, upd_copy[slot]);
    };
    cpu::Lanes<std::int32_t, std::int32_t> ln(model_words.data(), lanes, p);
    const cpu::RowPrefetcher prefetch(s.words.data(), s.rows, layout.row_words());
    // Sweep-order lanes [from, to): dot products with the copy in slot `cur` (if D), then
    // the pending update with gs and the previous sample's update copy (unless U is None).
    auto sweep = [&]<cpu::Update U, bool D>(std::size_t from, std::size_t to, int cur) {
      cpu::for_blocks<cpu::kMaxEngineBlock>(from, to, [&](std::size_t lo, auto nb) {
        cpu::engine_sweep<decltype(nb)::value, U, D>(ln.xs.data() + lo, ln.gs.data() + lo, st, upd_copy[1 - cur],
                                                     dot_copy[cur], p, ln.dots.data() + lo);
      });
    };
    // Without decay, when every changing lane fits the 32-bit sweep (the usual case): one sweep
    // per block computes every lane's dot product and updates those of the first n lanes.
    auto dot_and_step = [&](std::size_t n, int cur) {
      cpu::for_blocks_changing<cpu::kMaxEngineBlock>(lanes, n, [&](std::size_t lo, auto nb, auto nu) {
        constexpr std::size_t NB = decltype(nb)::value, NU = decltype(nu)::value;
        constexpr cpu::Update U = NU == 0 ? cpu::Update::None : cpu::Update::Step;
        cpu::engine_sweep<NB, U, true, NU>(ln.xs.data() + lo, ln.gs.data() + lo, st, upd_copy[1 - cur],
                                           dot_copy[cur], p, ln.dots.data() + lo);
      });
    };
    // One sample's sweeps: n lanes change (the first `fast` of them in 32-bit lanes).
    auto sweeps = [&]<bool D>(std::size_t fast, std::size_t n, int cur) {
      if constexpr (D) {
        if (!decay && fast == n) {
          dot_and_step(n, cur);
          return;
        }
      }
      if (decay)
        sweep.template operator()<cpu::Update::StepDecay, D>(0, fast, cur);
      else
        sweep.template operator()<cpu::Update::Step, D>(0, fast, cur);
      for (std::size_t k = fast; k < n; ++k)
        cpu::engine_sweep_wide(ln.xs[k], ln.gs[k], st, true, upd_copy[1 - cur], D ? dot_copy[cur] : nullptr, p,
                               D ? &ln.dots[k] : nullptr);
      if constexpr (D) sweep.template operator()<cpu::Update::None, true>(n, lanes, cur);
    };
    std::uint64_t updates = 0;
    std::size_t fast = 0, n = 0; // the pending update: lanes [0, n) change, [fast, n) need the wide sweep
    int cur = 0;
    for (std::size_t i = 0; i < s.rows; ++i) {
      prefetch(i);
      unpack(i, cur);
      sweeps.template operator()<true>(fast, n, cur);
      ln.scatter_dots();
      const std::uint32_t bits = s.label_bits(i);
      for (std::size_t l = 0; l < lanes; ++l) {
        const std::int32_t label = positive.empty() ? engine::fixed_label(std::bit_cast<float>(bits))
                                                    : engine::binarized_label(bits, positive[first + l]);
        const std::int32_t q23 = engine::dot_q23(ln.dot[l], st.frac);
        ln.g[l] = engine::gradient_scale(M::engine_slope(q23, label), label > 0 ? pos : neg, halvings);
        if (loss_sums != nullptr) loss_sums[l] += model.loss(q23 * 0x1p-23, float_label(positive, first + l, bits));
      }
      const auto start = ln.arrange([&](std::size_t l) { return !decay && ln.g[l] == 0 ? 2 : wide(ln.g[l]) ? 1 : 0; });
      fast = start[0];
      n = start[1];
      updates += n;
      cur = 1 - cur;
    }
    // THE_END: the last sample's update (its features are in slot 1 - cur).
    sweeps.template operator()<false>(fast, n, cur);
    order.to_natural(model_words.data(), lanes, state.fixed.data() + first * d);
    count(counters, s.rows * lanes, updates);
#else
    (void)job, (void)epoch, (void)state, (void)first, (void)last, (void)counters;
#endif
  }

  template <ModelPolicy M>
  static void float_pass(const M& model, const TrainJob& job, std::size_t epoch, ModelState& state,
                         std::size_t first, std::size_t last, double* loss_sums) {
    const auto& s = *job.data;
    const auto& layout = s.layout;
    const std::size_t d = layout.dim;
    const auto& c = job.config;
    const float scale = std::ldexp(1.0f, -job.halvings(epoch));
    const float keep = c.lambda_shift < 32 ? 1.0f - std::ldexp(1.0f, -static_cast<int>(c.lambda_shift)) : 1.0f;
    const std::uint32_t mask = c.minibatch_mask;
    std::vector<float> a1(d), a2(layout.double_sampled ? d : 0);
    const auto positives = positive_bits(job);
    // With a mini-batch mask, dot products use a copy refreshed after samples i with i & mask == mask.
    std::vector<float> snapshot(mask ? (last - first) * d : 0);
    for (std::size_t l = first; l < last; ++l)
      std::copy_n(state.real.data() + l * d, mask ? d : 0, snapshot.data() + (l - first) * d);
    for (std::size_t i = 0; i < s.rows; ++i) {
      stream::decode_values(s.features(i, 0), layout, a1.data());
      const float* upd = a1.data();
      if (layout.double_sampled) {
        stream::decode_values(s.features(i, 1), layout, a2.data());
        upd = a2.data();
      }
      const std::uint32_t bits = s.label_bits(i);
      for (std::size_t l = first; l < last; ++l) {
        float* x = state.real.data() + l * d;
        const float* xd = mask ? snapshot.data() + (l - first) * d : x;
        const float b = lane_label(positives, l, bits);
        const float z = arith::dot(a1.data(), xd, d);
        const float g = gamma(c, b) * scale * model.slope(z, b);
        if (loss_sums != nullptr) loss_sums[l - first] += model.loss(z, b);
        if (g != 0.0f || keep != 1.0f) arith::update(x, upd, g, keep, d);
      }
      if (mask && (static_cast<std::uint32_t>(i) & mask) == mask)
        for (std::size_t l = first; l < last; ++l)
          std::copy_n(state.real.data() + l * d, d, snapshot.data() + (l - first) * d);
    }
  }

  template <ModelPolicy M>
  static void engine_pass(const M& loss_model, const TrainJob& job, std::size_t epoch, ModelState& state,
                          std::size_t first, std::size_t last, const engine::ModelWord& word, double* loss_sums) {
    const auto& s = *job.data;
    const auto& layout = s.layout;
    const std::size_t d = layout.dim;
    const auto& c = job.config;
    const int frac = static_cast<int>(layout.feature_fraction_bits());
    const int halvings = job.halvings(epoch);
    const bool ls = c.loss_mode() == stream::LossMode::LeastSquares;
    const engine::StepFactor pos = engine::step_factor(ls ? c.step : c.step_cost_pos);
    const engine::StepFactor neg = engine::step_factor(ls ? c.step : c.step_cost_neg);
    const std::uint32_t mask = c.minibatch_mask;
    const std::size_t lanes = last - first;
    std::vector<std::int32_t> a1(d), a2(layout.double_sampled ? d : 0);
    // previous[l]: the model one sample back, which the next dot product reads (staleness 1);
    // fresh[l]: no update happened since, so previous == current and need not be read.
    std::vector<std::int32_t> previous(lanes * d);
    std::vector<char> fresh(lanes, 1);
    std::vector<std::int32_t> snapshot(mask ? lanes * d : 0);
    for (std::size_t l = first; l < last; ++l)
      std::copy_n(state.fixed.data() + l * d, mask ? d : 0, snapshot.data() + (l - first) * d);
    const auto positive = positive_bits(job);
    // The stochastic rounding's draws: one generator per lane and epoch, so that they do not
    // depend on how the lanes are split between threads.
    std::vector<SplitMix64> draws;
    for (std::size_t l = first; l < last; ++l) draws.emplace_back(word.seed, epoch, l);
    for (std::size_t i = 0; i < s.rows; ++i) {
      stream::decode_fixed(s.features(i, 0), layout, a1.data());
      const std::int32_t* upd = a1.data();
      if (layout.double_sampled) {
        stream::decode_fixed(s.features(i, 1), layout, a2.data());
        upd = a2.data();
      }
      const std::uint32_t bits = s.label_bits(i);
      const bool refresh = mask && i >= 1 && ((static_cast<std::uint32_t>(i) - 1) & mask) == mask;
      for (std::size_t l = first; l < last; ++l) {
        const std::size_t o = l - first;
        std::int32_t* x = state.fixed.data() + l * d;
        std::int32_t* prev = previous.data() + o * d;
        const std::int32_t* model = mask ? snapshot.data() + o * d : (fresh[o] ? x : prev);
        const std::int32_t label = positive.empty() ? engine::fixed_label(std::bit_cast<float>(bits))
                                                    : engine::binarized_label(bits, positive[l]);
        const std::int32_t dot = engine::dot_q23(cpu::dot_exact(a1.data(), model, d), frac);
        const std::int32_t g = engine::gradient_scale(M::engine_slope(dot, label), label > 0 ? pos : neg, halvings);
        if (loss_sums != nullptr) loss_sums[o] += loss_model.loss(dot * 0x1p-23, float_label(positive, l, bits));
        // The copy for mini-batches takes the model after sample i - 1, once sample i has read.
        if (refresh) std::copy_n(x, d, snapshot.data() + o * d);
        if (g != 0 || c.lambda_shift < 32) {
          cpu::update_exact(x, prev, upd, g, frac, c.lambda_shift, d);
          if (!word.is_engine())
            for (std::size_t j = 0; j < d; ++j) x[j] = engine::narrow(x[j], word, draws[o]());
          fresh[o] = 0;
        } else {
          fresh[o] = 1;
        }
      }
    }
  }
};

static_assert(Backend<Cpu>);

} // namespace zipml

#endif
