// zipml — helpers of the co-simulation tests: synthetic data and the CPU-vs-RTL comparison.
#ifndef ZIPML_TESTS_COSIM_COMMON_HPP
#define ZIPML_TESTS_COSIM_COMMON_HPP

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "zipml/zipml.hpp"
#include "zipml/backend/verilator.hpp"

namespace cosim {

using namespace zipml;

//! n samples of d features (feature 0 = bias 1.0), uniform in the range; labels from a random
//! linear model: a target (regression), or `classes` class ids 0..classes-1 by score bands.
inline data::Dataset synthetic(std::size_t n, std::size_t d, data::Range range, unsigned classes, std::uint64_t seed) {
  data::Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  SplitMix64 rng(seed, 17);
  std::vector<float> w(d);
  for (auto& v : w) v = rng.uniform() * 2.0f - 1.0f;
  for (std::size_t i = 0; i < n; ++i) {
    float dot = 0.0f;
    for (std::size_t j = 0; j < d; ++j) {
      float a = j == 0 ? 1.0f : rng.uniform();
      if (range == data::Range::MinusOneOne && j > 0) a = 2.0f * a - 1.0f;
      ds.features(i, j) = a;
      dot += a * w[j];
    }
    if (classes == 0) {
      ds.labels(i) = 0.25f * dot + 0.1f * (rng.uniform() - 0.5f);
    } else {
      // noisy bands of the score, so that every class occurs
      const float s = dot / static_cast<float>(d) * 4.0f + 0.5f + 0.3f * (rng.uniform() - 0.5f);
      int c = static_cast<int>(s * static_cast<float>(classes));
      c = c < 0 ? 0 : (c >= static_cast<int>(classes) ? static_cast<int>(classes) - 1 : c);
      ds.labels(i) = static_cast<float>(c);
    }
  }
  ds.source = "synthetic(seed " + std::to_string(seed) + ")";
  return ds;
}

//! Trains the same job with Cpu and Verilator (engine arithmetic) and requires the same model
//! words after every epoch, and (require_training) a model that left zero. Returns the RTL's
//! final words.
template <class Model, class Precision>
std::vector<std::int32_t> compare(const std::string& what, const data::Dataset& ds, Options o, Model m = {},
                                  verilator::StreamStalls stalls = {}, bool require_training = true) {
  o.arithmetic = Arithmetic::Engine;
  Sgd<Model, Precision, Cpu> cpu(o, m);
  Sgd<Model, Precision, Verilator> rtl(o, m, Verilator({}, stalls));
  std::vector<std::vector<std::int32_t>> a, b;
  cpu.on_epoch([&](const EpochStats&) { a.push_back(cpu.state().fixed); });
  rtl.on_epoch([&](const EpochStats&) { b.push_back(rtl.state().fixed); });
  cpu.fit(ds);
  rtl.fit(ds);
  INFO(what << ", " << ds.source);
  REQUIRE(a.size() == o.epochs);
  REQUIRE(b.size() == o.epochs);
  const std::size_t d = ds.dim();
  for (std::size_t e = 0; e < a.size(); ++e) {
    REQUIRE(a[e].size() == b[e].size());
    for (std::size_t i = 0; i < a[e].size(); ++i) {
      if (a[e][i] != b[e][i]) {
        std::ostringstream os;
        os << what << ": first difference after epoch " << e + 1 << ", lane " << i / d << ", feature " << i % d
           << ": cpu " << a[e][i] << ", rtl " << b[e][i] << " (" << ds.source << ", " << Model::name << ", "
           << Precision::name << ")";
        FAIL(os.str());
      }
    }
  }
  bool moved = false;
  for (auto w : b.back()) moved = moved || w != 0;
  if (require_training) CHECK_MESSAGE(moved, what << ": the model never left zero (the comparison proves little)");
  return b.back();
}

// ---- driving one simulated engine by hand (protocol and netlist tests) ----

inline constexpr std::uint64_t kBudget = 200000;

inline std::vector<std::uint32_t> data_of(const std::vector<verilator::OutBeat>& beats) {
  std::vector<std::uint32_t> d;
  for (auto& b : beats) d.push_back(b.data);
  return d;
}

inline std::vector<std::uint32_t> to_vec(const std::array<std::uint32_t, 9>& a) { return {a.begin(), a.end()}; }

//! A valid least-squares configuration for packed data.
inline stream::Config config_for(const stream::PackedStream& s, float step = 0x1p-6f, std::uint32_t epochs = 2) {
  stream::Config c;
  c.dim = s.layout.dim;
  c.samples = static_cast<std::uint32_t>(s.rows);
  c.epochs = epochs;
  c.step = step;
  c.minus_one_one = s.layout.minus_one_one;
  c.double_sampled = s.layout.double_sampled;
  c.precision = stream::precision_code(s.layout.bits);
  return c;
}

//! Sends the configuration block and returns the nine-word echo (tlast on the ninth only).
inline std::vector<std::uint32_t> echo(verilator::SimEngine& e, const stream::Config& c) {
  const auto words = stream::config_words(c);
  const auto ex = e.exchange(words, 1, kBudget);
  REQUIRE_FALSE(ex.timed_out);
  REQUIRE(ex.beats.size() == 9);
  CHECK(ex.beats[8].last);
  for (int i = 0; i < 8; ++i) CHECK_FALSE(ex.beats[i].last);
  return data_of(ex.beats);
}

//! One epoch on a simulated engine: data words + THE_END, the model's first d words back.
inline std::vector<std::int32_t> rtl_epoch(verilator::SimEngine& e, const stream::PackedStream& s) {
  std::vector<std::uint64_t> words(s.words.begin(), s.words.end());
  words.push_back(stream::command::kTheEnd);
  const auto ex = e.exchange(words, 1, kBudget + 64 * words.size());
  REQUIRE_FALSE(ex.timed_out);
  REQUIRE(ex.beats.size() == s.layout.padded_dim());
  REQUIRE(ex.beats.back().last);
  std::vector<std::int32_t> m;
  for (std::size_t j = 0; j < s.layout.dim; ++j) m.push_back(static_cast<std::int32_t>(ex.beats[j].data));
  return m;
}

//! The CPU engine arithmetic's models after each of `epochs` epochs (one lane; binarized when
//! the configuration says so).
template <class M = LeastSquares>
std::vector<std::vector<std::int32_t>> cpu_epochs(const stream::Config& c, const stream::PackedStream& s,
                                                  std::size_t epochs) {
  TrainJob job;
  job.config = c;
  job.data = &s;
  job.arithmetic = Arithmetic::Engine;
  ModelState st;
  st.reset(Arithmetic::Engine, 1, s.layout.dim);
  Cpu cpu;
  std::vector<std::vector<std::int32_t>> out;
  for (std::size_t e = 0; e < epochs; ++e) {
    cpu.run_epoch(M{}, job, e, st);
    out.push_back(st.fixed);
  }
  return out;
}

//! Configure with `c` (after a reset) and train `epochs` epochs; require the CPU's words after each.
template <class M = LeastSquares>
void train_config(verilator::SimEngine& e, const stream::PackedStream& s, const stream::Config& c, std::size_t epochs,
                  [[maybe_unused]] const std::string& what) { // unused where doctest is disabled
  CHECK(echo(e, c) == to_vec(stream::config_echo(c)));
  const auto ref = cpu_epochs<M>(c, s, epochs);
  for (std::size_t ep = 0; ep < epochs; ++ep) {
    const auto m = rtl_epoch(e, s);
    for (std::size_t j = 0; j < m.size(); ++j)
      if (m[j] != ref[ep][j])
        FAIL(what << ": epoch " << ep + 1 << " feature " << j << ": cpu " << ref[ep][j] << ", rtl " << m[j]);
  }
}

//! Least squares with config_for(s, step, epochs).
inline void train_and_compare(verilator::SimEngine& e, const stream::PackedStream& s, std::size_t epochs,
                              const std::string& what, float step = 0x1p-6f) {
  train_config<LeastSquares>(e, s, config_for(s, step, static_cast<std::uint32_t>(epochs)), epochs, what);
}

} // namespace cosim

#endif
