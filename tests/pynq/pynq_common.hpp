// zipml — helpers of the PYNQ tests: synthetic data, and Sgd on the simulated board.
#ifndef ZIPML_TESTS_PYNQ_COMMON_HPP
#define ZIPML_TESTS_PYNQ_COMMON_HPP

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zipml/backend/pynq.hpp"
#include "zipml/backend/pynq/sim/board.hpp"
#include "zipml/zipml.hpp"

namespace pynq_test {

using namespace zipml;

//! n samples, d features (bias first) in [0, 1]; labels 0/1/2 by bands of a random score
//! (classification) or the score itself (regression).
inline data::Dataset synthetic(std::size_t n, std::size_t d, bool classes, std::uint64_t seed) {
  data::Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  SplitMix64 rng(seed, 5);
  std::vector<float> w(d);
  for (auto& v : w) v = rng.uniform() * 2.0f - 1.0f;
  for (std::size_t i = 0; i < n; ++i) {
    float dot = 0.0f;
    for (std::size_t j = 0; j < d; ++j) {
      const float a = j == 0 ? 1.0f : rng.uniform();
      ds.features(i, j) = a;
      dot += a * w[j];
    }
    ds.labels(i) = classes ? static_cast<float>(static_cast<unsigned>(std::abs(dot) * 7.0f) % 3u)
                           : 0.25f * dot / static_cast<float>(d);
  }
  ds.source = "synthetic(seed " + std::to_string(seed) + ")";
  return ds;
}

//! A Pynq backend on simulated hardware `hw`.
inline Pynq on(const std::shared_ptr<pynq::sim::Hardware>& hw, pynq::Options o = {}) {
  return Pynq(pynq::sim::factory(hw), o);
}

//! The model words after every epoch of Sgd<Model, Precision, Backend>.
template <class Model, class Precision, class B>
std::vector<std::vector<std::int32_t>> train(const data::Dataset& ds, Options o, B backend = {}) {
  o.arithmetic = Arithmetic::Engine;
  Sgd<Model, Precision, B> sgd(o, Model{}, std::move(backend));
  std::vector<std::vector<std::int32_t>> out;
  sgd.on_epoch([&](const EpochStats&) { out.push_back(sgd.state().fixed); });
  sgd.fit(ds);
  return out;
}

//! The message of the zipml::Error f throws ("(no error)" if none).
inline std::string failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

//! Requires "nothing left mapped or allocated" on the simulated hardware.
inline void require_released(const pynq::sim::Hardware& hw) {
  CHECK(hw.live_windows() == 0);
  CHECK(hw.live_buffers() == 0);
}

} // namespace pynq_test

#endif
