// zipml — the CPU backend: trains K model lanes in one pass over the packed stream.
#ifndef ZIPML_BACKEND_CPU_HPP
#define ZIPML_BACKEND_CPU_HPP

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/backend.hpp"
#include "zipml/arithmetic/float.hpp"
#include "zipml/backend/cpu/kernels.hpp"
#include "zipml/concepts.hpp"
#include "zipml/error.hpp"
#include "zipml/stream/reader.hpp"

namespace zipml {

//! Runs passes on this machine's cores, in either arithmetic.
//!
//! Every sample is decoded once from its packed words and then updates all K lanes (one per
//! class): the original needed K passes. With several cores the lanes are split between
//! threads, each reading the same stream, which is exact since lanes never interact.
class Cpu {
 public:
  static constexpr std::string_view name = "cpu";
  static constexpr bool supports(Arithmetic) noexcept { return true; }

  //! Threads to use; 0 = one per core (never more than lanes).
  unsigned threads = 0;

  template <ModelPolicy M>
  void run_epoch(const M& model, const TrainJob& job, std::size_t epoch, ModelState& state) const {
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
    unsigned t = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    t = static_cast<unsigned>(std::min<std::size_t>(t, k));
    auto run = [&](std::size_t first, std::size_t last) {
      if (job.arithmetic == Arithmetic::Float)
        float_pass(model, job, epoch, state, first, last);
      else
        engine_pass<M>(job, epoch, state, first, last);
    };
    if (t <= 1) {
      run(0, k);
      return;
    }
    std::vector<std::jthread> pool;
    for (unsigned i = 0; i < t; ++i) pool.emplace_back(run, k * i / t, k * (i + 1) / t);
  }

 private:
  //! +-1 (binarized against positives[lane]) or, for regression, the label as it is.
  static float lane_label(const std::vector<std::uint32_t>& positives, std::size_t lane, std::uint32_t bits) noexcept {
    if (positives.empty()) return std::bit_cast<float>(bits);
    return bits == positives[lane] ? 1.0f : -1.0f;
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

  template <ModelPolicy M>
  static void float_pass(const M& model, const TrainJob& job, std::size_t epoch, ModelState& state,
                         std::size_t first, std::size_t last) {
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
        const float g = gamma(c, b) * scale * model.slope(arith::dot(a1.data(), xd, d), b);
        if (g != 0.0f || keep != 1.0f) arith::update(x, upd, g, keep, d);
      }
      if (mask && (static_cast<std::uint32_t>(i) & mask) == mask)
        for (std::size_t l = first; l < last; ++l)
          std::copy_n(state.real.data() + l * d, d, snapshot.data() + (l - first) * d);
    }
  }

  template <ModelPolicy M>
  static void engine_pass(const TrainJob& job, std::size_t epoch, ModelState& state, std::size_t first,
                          std::size_t last) {
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
        // The copy for mini-batches takes the model after sample i - 1, once sample i has read.
        if (refresh) std::copy_n(x, d, snapshot.data() + o * d);
        if (g != 0 || c.lambda_shift < 32) {
          cpu::update_exact(x, prev, upd, g, frac, c.lambda_shift, d);
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
