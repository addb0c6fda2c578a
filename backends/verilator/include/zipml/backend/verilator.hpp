// zipml — the Verilator backend: trains on a cycle-accurate simulation of the RTL engine.
//
// The SystemVerilog engine in rtl/ (sgd_engine), Verilated once per sample precision, gets
// exactly the words the board's DMA would send: after a reset the configuration block
// (stream::config_words) whose nine-word echo must equal stream::config_echo, then every epoch
// the packed data words followed by THE_END, and it answers with the model. The words are the
// same PackedStream the CPU backend trains on, so with Arithmetic::Engine both give the same
// model bit for bit (tests/cosim).
//
// K model lanes (one-vs-rest classes) run on one simulated engine with LANES >= K lanes
// (every precision's engine is also Verilated with kLanes lanes), configured by
// stream::config_words(config, labels, LANES): the five commands, one LANE_LABEL word per
// lane, SEND_CONFIG; the model packet holds lane 0's model, then lane 1's, ... More than
// kLanes classes are split across several such engines (in parallel threads); with
// one_engine_per_lane, one single-lane engine per class, each binarizing against its class
// (MAGIC3).
#ifndef ZIPML_BACKEND_VERILATOR_HPP
#define ZIPML_BACKEND_VERILATOR_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "zipml/backend.hpp"
#include "zipml/backend/engine_protocol.hpp"
#include "zipml/concepts.hpp"
#include "zipml/error.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"

#include "zipml/backend/verilator/axis.hpp"
#include "zipml/backend/verilator/harness.hpp"

#include "Vsgd_engine_f32.h"
#include "Vsgd_engine_f32_lanes.h"
#include "Vsgd_engine_q1.h"
#include "Vsgd_engine_q1_lanes.h"
#include "Vsgd_engine_q2.h"
#include "Vsgd_engine_q2_lanes.h"
#include "Vsgd_engine_q4.h"
#include "Vsgd_engine_q4_lanes.h"
#include "Vsgd_engine_q8.h"
#include "Vsgd_engine_q8_lanes.h"

#ifndef ZIPML_VERILATOR_MAX_DIM
#define ZIPML_VERILATOR_MAX_DIM 4096 // rtl/meson.build passes the engines' MAX_DIM
#endif
#ifndef ZIPML_VERILATOR_LANES
#define ZIPML_VERILATOR_LANES 10 // rtl/meson.build passes the multi-lane engines' LANES
#endif

namespace zipml {

namespace verilator {

//! The MAX_DIM the engines were Verilated with.
inline constexpr std::size_t kMaxDim = ZIPML_VERILATOR_MAX_DIM;
//! LANES of the multi-lane engines.
inline constexpr std::size_t kLanes = ZIPML_VERILATOR_LANES;

//! Model lanes of the widest engine Verilated for `bits`-bit samples (every precision has a
//! kLanes-lane one; 1 for a precision without an engine).
[[nodiscard]] constexpr std::size_t lanes_for(unsigned bits) noexcept {
  return (bits == 32 || bits == 8 || bits == 4 || bits == 2 || bits == 1) ? kLanes : 1;
}

// The engine's answers and their descriptions, shared with every host (engine_protocol.hpp).
using protocol::describe_answer;
using protocol::kErrorFraming;
using protocol::kErrorNotConfigured;
using protocol::kPrecisionRefused;
using protocol::precision_name;

//! A simulated engine of one precision, type-erased (one Verilated class per precision).
class SimEngine {
 public:
  virtual ~SimEngine() = default;
  //! rst_n low for a few cycles; the engine then zeroes its memories on its own.
  virtual void reset() = 0;
  //! See AxisDriver::exchange.
  virtual Exchange exchange(std::span<const std::uint64_t> words, std::size_t packets, std::uint64_t max_cycles,
                            std::uint64_t idle_after = 0) = 0;
  //! Clock cycles simulated so far.
  [[nodiscard]] virtual std::uint64_t cycles() const = 0;
  //! 32 or Q: the precision the engine was built for.
  [[nodiscard]] virtual unsigned bits() const = 0;
  //! The engine's LANES.
  [[nodiscard]] virtual std::size_t lanes() const = 0;
};

template <class Model, unsigned Bits, std::size_t Lanes = 1>
class SimEngineOf final : public SimEngine {
 public:
  SimEngineOf(const std::string& trace_path, StreamStalls stalls) : harness_(trace_path), driver_(harness_, stalls) {}
  void reset() override { harness_.reset(); }
  Exchange exchange(std::span<const std::uint64_t> words, std::size_t packets, std::uint64_t max_cycles,
                    std::uint64_t idle_after) override {
    return driver_.exchange(words, packets, max_cycles, idle_after);
  }
  [[nodiscard]] std::uint64_t cycles() const override { return harness_.cycles(); }
  [[nodiscard]] unsigned bits() const override { return Bits; }
  [[nodiscard]] std::size_t lanes() const override { return Lanes; }

 private:
  Harness<Model> harness_;
  AxisDriver<Model> driver_;
};

//! A simulated engine for `bits` (32, 1, 2, 4 or 8): the single-lane one, or with
//! `multi_lane` the one with lanes_for(bits) lanes; throws zipml::Error when there is none.
[[nodiscard]] inline std::unique_ptr<SimEngine> make_engine(unsigned bits, const std::string& trace_path = {},
                                                            StreamStalls stalls = {}, bool multi_lane = false) {
  if (multi_lane) {
    switch (bits) {
      case 32: return std::make_unique<SimEngineOf<Vsgd_engine_f32_lanes, 32, kLanes>>(trace_path, stalls);
      case 8: return std::make_unique<SimEngineOf<Vsgd_engine_q8_lanes, 8, kLanes>>(trace_path, stalls);
      case 4: return std::make_unique<SimEngineOf<Vsgd_engine_q4_lanes, 4, kLanes>>(trace_path, stalls);
      case 2: return std::make_unique<SimEngineOf<Vsgd_engine_q2_lanes, 2, kLanes>>(trace_path, stalls);
      case 1: return std::make_unique<SimEngineOf<Vsgd_engine_q1_lanes, 1, kLanes>>(trace_path, stalls);
      default:
        throw Error("verilator backend: no multi-lane engine for " + std::to_string(bits) + "-bit samples");
    }
  }
  switch (bits) {
    case 32: return std::make_unique<SimEngineOf<Vsgd_engine_f32, 32>>(trace_path, stalls);
    case 1: return std::make_unique<SimEngineOf<Vsgd_engine_q1, 1>>(trace_path, stalls);
    case 2: return std::make_unique<SimEngineOf<Vsgd_engine_q2, 2>>(trace_path, stalls);
    case 4: return std::make_unique<SimEngineOf<Vsgd_engine_q4, 4>>(trace_path, stalls);
    case 8: return std::make_unique<SimEngineOf<Vsgd_engine_q8, 8>>(trace_path, stalls);
    default: throw Error("verilator backend: no engine for " + std::to_string(bits) + "-bit samples");
  }
}

//! Asks a freshly reset engine for its build (ENGINE_INFO); throws zipml::Error, starting
//! with `where`, if the answer is not one (a zipml engine answers three words).
[[nodiscard]] inline stream::EngineInfo query_info(SimEngine& e, const std::string& where) {
  const std::uint64_t ask[] = {stream::command::kEngineInfo};
  const auto ex = e.exchange(ask, 1, 10000);
  std::vector<std::uint32_t> words;
  for (const auto& b : ex.beats) words.push_back(b.data);
  const auto info = stream::decode_engine_info(words);
  if (ex.timed_out || !info || !ex.beats.back().last)
    throw Error(where + "the engine did not answer ENGINE_INFO (3 words starting with 0x5a495031): not a zipml engine?");
  return *info;
}

//! Why an echo differs from what was sent, in words (empty: it does not).
[[nodiscard]] inline std::string echo_mismatch(const stream::Config& sent, const std::vector<OutBeat>& got,
                                               unsigned engine_bits) {
  std::vector<std::uint32_t> words;
  for (const auto& b : got) words.push_back(b.data);
  return protocol::echo_mismatch(sent, words, !got.empty() && got.back().last, engine_bits, kMaxDim);
}

} // namespace verilator

//! Runs passes on the Verilated RTL engine (Arithmetic::Engine only).
class Verilator {
 public:
  static constexpr std::string_view name = "verilator";
  //! The model lives in the engine between epochs, which cannot load one: a process group
  //! can average only after the last epoch (Averaging::End).
  static constexpr bool keeps_model = true;
  static constexpr bool supports(Arithmetic a) noexcept { return a == Arithmetic::Engine; }
  //! The engines' MAX_DIM (features including the bias).
  static std::size_t max_dim(Arithmetic) noexcept { return verilator::kMaxDim; }

  //! Non-empty: write an FST waveform of the engine (engine g > 0: "<stem>-engine<g><ext>").
  std::string trace_path;
  //! Random idle input cycles and output back-pressure (tests).
  verilator::StreamStalls stalls;
  //! Run one single-lane engine per class even where a multi-lane engine exists (tests, and
  //! to compare the two).
  bool one_engine_per_lane = false;

  Verilator() = default;
  explicit Verilator(std::string trace, verilator::StreamStalls s = {}) : trace_path(std::move(trace)), stalls(s) {}

  template <ModelPolicy M>
  void run_epoch(const M& /*model*/, const TrainJob& job, std::size_t epoch, ModelState& state) {
    check_job(job, state);
    const auto& layout = job.data->layout;
    if (epoch == 0 || !same_job(job)) {
      if (epoch != 0)
        throw Error("verilator backend: epoch " + std::to_string(epoch + 1) +
                    " of a job the engine was not configured for; the model lives in the simulated "
                    "engine, so training must start at epoch 1");
      configure(job, state);
    } else if (epoch != passes_) {
      throw Error("verilator backend: epochs must run in order (expected epoch " + std::to_string(passes_ + 1) +
                  ", got " + std::to_string(epoch + 1) + ")");
    }
    std::vector<std::uint64_t> words(job.data->words.begin(), job.data->words.end());
    words.push_back(stream::command::kTheEnd);
    const std::size_t d = layout.dim, padded = layout.padded_dim();
    run_groups([&](std::size_t g) {
      const Group& grp = groups_[g];
      const std::size_t expect = grp.count * padded;
      const std::uint64_t budget = 200000 + 64 * static_cast<std::uint64_t>(words.size()) + 16 * expect;
      const auto ex = grp.engine->exchange(words, 1, budget);
      const std::string where = "verilator backend (" + grp.what() + ", epoch " + std::to_string(epoch + 1) + "): ";
      if (ex.timed_out)
        throw Error(where + "the engine did not write the model back within " + std::to_string(budget) + " cycles");
      if (ex.beats.size() == 1)
        throw Error(where + "the engine answered THE_END with " + verilator::describe_answer(ex.beats[0].data));
      if (ex.beats.size() != expect || !ex.beats.back().last)
        throw Error(where + "the engine answered THE_END with " + std::to_string(ex.beats.size()) +
                    " words, expected " + std::to_string(expect) + " (" + std::to_string(grp.count) + " x " +
                    std::to_string(padded) + ") ending with tlast");
      // lane l of the group: words l*padded .. l*padded + d - 1 of the packet
      for (std::size_t l = 0; l < grp.count; ++l)
        for (std::size_t j = 0; j < d; ++j)
          state.fixed[(grp.first + l) * d + j] = static_cast<std::int32_t>(ex.beats[l * padded + j].data);
      if (g == 0) last_epoch_cycles_ = ex.cycles;
    });
    ++passes_;
  }

  //! Simulated clock cycles of the last epoch (the first engine: all run the same schedule).
  [[nodiscard]] std::uint64_t last_epoch_cycles() const noexcept { return last_epoch_cycles_; }
  //! Simulated clock cycles since the first configuration (the first engine).
  [[nodiscard]] std::uint64_t cycles() const { return groups_.empty() ? 0 : groups_[0].engine->cycles(); }
  //! Simulated engines the current job runs on (1 for up to kLanes classes where a multi-lane
  //! engine exists).
  [[nodiscard]] std::size_t engines() const noexcept { return groups_.size(); }

 private:
  //! Consecutive lanes [first, first + count) of the job on one engine.
  struct Group {
    std::unique_ptr<verilator::SimEngine> engine;
    std::size_t first = 0;
    std::size_t count = 1;
    [[nodiscard]] std::string what() const {
      return count == 1 ? "lane " + std::to_string(first)
                        : "lanes " + std::to_string(first) + ".." + std::to_string(first + count - 1);
    }
  };

  static void check_job(const TrainJob& job, const ModelState& state) {
    protocol::check_job(job, state, verilator::kMaxDim, "verilator backend");
  }

  [[nodiscard]] bool same_job(const TrainJob& job) const {
    return !groups_.empty() && configured_ == job.config && configured_labels_ == job.lane_labels &&
           configured_layout_ == job.data->layout;
  }

  void configure(const TrainJob& job, const ModelState& state) {
    for (std::int32_t w : state.fixed)
      if (w != 0)
        throw Error("verilator backend: the engine starts from the zero model (MAGIC1 zeroes it); "
                    "the model state given to epoch 1 is not zero");
    const std::size_t k = job.lanes();
    const unsigned bits = job.data->layout.bits;
    // as few engines as possible, the lanes spread evenly over them
    const bool multi = k > 1 && !one_engine_per_lane && verilator::lanes_for(bits) > 1;
    const std::size_t per = multi ? verilator::lanes_for(bits) : 1;
    const std::size_t n = (k + per - 1) / per;
    groups_.clear();
    for (std::size_t g = 0, first = 0; g < n; ++g) {
      Group grp;
      grp.first = first;
      grp.count = k / n + (g < k % n ? 1 : 0);
      grp.engine = verilator::make_engine(bits, engine_trace(g), stalls_for(g), multi);
      first += grp.count;
      groups_.push_back(std::move(grp));
    }
    run_groups([&](std::size_t g) {
      Group& grp = groups_[g];
      const std::string where = "verilator backend (" + grp.what() + "): ";
      const std::span<const float> labels =
          job.lane_labels.empty() ? std::span<const float>{}
                                  : std::span<const float>(job.lane_labels).subspan(grp.first, grp.count);
      auto& e = *grp.engine;
      e.reset();
      if (e.lanes() > 1) {
        // what a board driver does: ask the engine before sending lane words it may not take
        const auto info = verilator::query_info(e, where);
        if (const auto why = stream::lane_limit_error(labels.size(), info.lanes); !why.empty())
          throw Error(where + why);
        if (info.precision != stream::precision_code(bits) || info.max_dim < job.data->layout.dim)
          throw Error(where + "the engine's ENGINE_INFO does not match the job (precision code " +
                      std::to_string(static_cast<unsigned>(info.precision)) + ", MAX_DIM " +
                      std::to_string(info.max_dim) + ")");
      }
      const stream::Config c = stream::lanes_config(job.config, labels);
      const auto words = stream::config_words(job.config, labels, e.lanes());
      const auto ex = e.exchange(words, 1, 200000);
      if (ex.timed_out) throw Error(where + "no answer to SEND_CONFIG within 200000 cycles");
      const auto why = verilator::echo_mismatch(c, ex.beats, bits);
      if (!why.empty()) throw Error(where + why);
    });
    configured_ = job.config;
    configured_labels_ = job.lane_labels;
    configured_layout_ = job.data->layout;
    passes_ = 0;
  }

  [[nodiscard]] std::string engine_trace(std::size_t g) const {
    if (trace_path.empty() || g == 0) return trace_path;
    const auto dot = trace_path.find_last_of('.');
    const auto slash = trace_path.find_last_of('/');
    const bool ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    const std::string stem = ext ? trace_path.substr(0, dot) : trace_path;
    return stem + "-engine" + std::to_string(g) + (ext ? trace_path.substr(dot) : std::string{});
  }

  [[nodiscard]] verilator::StreamStalls stalls_for(std::size_t g) const {
    auto s = stalls;
    s.seed += g;
    return s;
  }

  //! f(g) for every engine, in parallel (each engine has its own Verilator context).
  template <class F>
  void run_groups(F&& f) const {
    const std::size_t n = groups_.size();
    if (n == 1) {
      f(std::size_t{0});
      return;
    }
    const unsigned t = std::max(1u, std::min<unsigned>(static_cast<unsigned>(n), std::thread::hardware_concurrency()));
    std::vector<std::exception_ptr> errors(n);
    {
      std::vector<std::jthread> pool;
      for (unsigned i = 0; i < t; ++i)
        pool.emplace_back([&, i] {
          for (std::size_t g = i; g < n; g += t) {
            try {
              f(g);
            } catch (...) {
              errors[g] = std::current_exception();
            }
          }
        });
    }
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

  std::vector<Group> groups_;
  stream::Config configured_;
  std::vector<float> configured_labels_;
  stream::Layout configured_layout_;
  std::size_t passes_ = 0;
  std::uint64_t last_epoch_cycles_ = 0;
};

static_assert(Backend<Verilator>);

} // namespace zipml

#endif
