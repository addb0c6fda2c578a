// zipml — what the policy layer hands a backend, and what a backend must provide.
//
// A backend runs one pass of the packed stream over K model lanes. It does not know about
// files, scaling or histories; Sgd does not know how a pass is computed. The Verilator and
// PYNQ backends plug in here without touching the policy layer.
#ifndef ZIPML_BACKEND_HPP
#define ZIPML_BACKEND_HPP

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/concepts.hpp"
#include "zipml/model/least_squares.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"

namespace zipml {

//! How a pass is computed: `Float` (float32 model, best accuracy) or `Engine` (the integer
//! arithmetic of docs/ENGINE.md that the RTL engine implements bit for bit).
enum class Arithmetic { Float, Engine };

[[nodiscard]] constexpr std::string_view to_string(Arithmetic a) noexcept {
  return a == Arithmetic::Float ? "float" : "engine";
}

//! One training job: the configuration words, the positive label of each model lane and the
//! packed data. With `lane_labels` empty there is one lane and labels are used as they are
//! (regression); otherwise lane k binarizes against lane_labels[k] (one-vs-rest).
struct TrainJob {
  stream::Config config;
  std::vector<float> lane_labels;
  const stream::PackedStream* data = nullptr;
  Arithmetic arithmetic = Arithmetic::Float;
  //! Ask the pass for its training loss (PassLoss): each sample's loss under the dot products
  //! its update used, i.e. before that update. Backends that cannot report it ignore this.
  bool pass_loss = false;
  //! Every epoch passes the same stream (false: Sgd re-packs it, shuffled or re-quantized,
  //! before each). A backend that trains groups of lanes one after another needs it.
  bool same_data_each_epoch = true;

  [[nodiscard]] std::size_t lanes() const noexcept { return lane_labels.empty() ? 1 : lane_labels.size(); }
  //! The positive label of every lane: `lane_labels`, or the configuration's single binarize
  //! label (as an engine reads it) when no lanes are given; empty for regression.
  [[nodiscard]] std::vector<float> positive_labels() const {
    if (!lane_labels.empty()) return lane_labels;
    if (config.binarize) return {config.binarize_label};
    return {};
  }
  //! Step halvings in effect during `epoch` (0-based).
  [[nodiscard]] int halvings(std::size_t epoch) const noexcept {
    return config.step_decay ? static_cast<int>(epoch / config.decay_every()) : 0;
  }
};

//! What a pass measured on its way, when TrainJob::pass_loss asked: per lane, the sum over the
//! samples of the model's loss at the dot product the sample's update used (Vowpal Wabbit's
//! progressive loss). Empty when not asked. The sums are per lane, in sample order, so they do
//! not depend on how lanes are split between threads.
struct PassLoss {
  std::vector<double> lane_sums;

  [[nodiscard]] bool empty() const noexcept { return lane_sums.empty(); }
  //! Mean over `rows` samples of the loss summed over lanes (lane order).
  [[nodiscard]] double mean(std::size_t rows) const noexcept {
    double sum = 0.0;
    for (double v : lane_sums) sum += v;
    return rows > 0 ? sum / static_cast<double>(rows) : 0.0;
  }
};

//! The K model lanes: Q9.23 words for the engine arithmetic, floats for the float arithmetic.
struct ModelState {
  Arithmetic arithmetic = Arithmetic::Float;
  std::size_t lanes = 0;
  std::size_t dim = 0;
  std::vector<std::int32_t> fixed; //!< lanes x dim, row-major
  std::vector<float> real;         //!< lanes x dim, row-major

  void reset(Arithmetic a, std::size_t k, std::size_t d) {
    arithmetic = a;
    lanes = k;
    dim = d;
    fixed.assign(a == Arithmetic::Engine ? k * d : 0, 0);
    real.assign(a == Arithmetic::Float ? k * d : 0, 0.0f);
  }
  [[nodiscard]] float weight(std::size_t lane, std::size_t j) const noexcept {
    const std::size_t i = lane * dim + j;
    return arithmetic == Arithmetic::Engine ? static_cast<float>(fixed[i]) * 0x1p-23f : real[i];
  }
};

//! Whether backend B's run_epoch reports the pass loss (returns PassLoss).
template <class B, class M>
inline constexpr bool reports_pass_loss =
    std::is_same_v<decltype(std::declval<B&>().run_epoch(std::declval<const M&>(), std::declval<const TrainJob&>(),
                                                                 std::size_t{}, std::declval<ModelState&>())),
                   PassLoss>;

//! A backend: its name, which arithmetics it can run, and one pass of the stream.
template <class B>
concept Backend = requires(B& backend, const LeastSquares& model, const TrainJob& job, std::size_t epoch,
                           ModelState& state) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::supports(Arithmetic::Float) } -> std::same_as<bool>;
  backend.run_epoch(model, job, epoch, state);
};

} // namespace zipml

#endif
