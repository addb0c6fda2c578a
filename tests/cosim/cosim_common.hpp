// zipml — helpers of the co-simulation tests: synthetic data and the CPU-vs-RTL comparison.
#ifndef ZIPML_TESTS_COSIM_COMMON_HPP
#define ZIPML_TESTS_COSIM_COMMON_HPP

#include <doctest/doctest.h>

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
//! words after every epoch. Returns the RTL's final words.
template <class Model, class Precision>
std::vector<std::int32_t> compare(const std::string& what, const data::Dataset& ds, Options o, Model m = {},
                                  verilator::StreamStalls stalls = {}) {
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
  CHECK_MESSAGE(moved, what << ": the model never left zero (the comparison proves little)");
  return b.back();
}

} // namespace cosim

#endif
