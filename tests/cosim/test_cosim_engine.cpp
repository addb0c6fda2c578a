// zipml — the RTL engine (Verilator backend) against the CPU engine arithmetic, bit for bit.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdint>
#include <iostream>
#include <vector>

#include "zipml/zipml.hpp"
#include "zipml/backend/verilator.hpp"

using namespace zipml;

namespace {

data::Dataset synthetic(std::size_t n, std::size_t d, data::Range range, bool classes, std::uint64_t seed) {
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
    ds.labels(i) = classes ? (dot > 0.0f ? 1.0f : 0.0f) : 0.25f * dot + 0.1f * (rng.uniform() - 0.5f);
  }
  ds.source = "synthetic";
  return ds;
}

} // namespace

TEST_CASE("cosim smoke: least squares, 8-bit") {
  const auto ds = synthetic(40, 13, data::Range::ZeroOne, false, 1);
  Options o;
  o.arithmetic = Arithmetic::Engine;
  o.epochs = 3;
  o.step = 0x1p-4f;
  Sgd<LeastSquares, Quantized<8>, Cpu> cpu(o);
  Sgd<LeastSquares, Quantized<8>, Verilator> rtl(o);
  std::vector<std::vector<std::int32_t>> a, b;
  cpu.on_epoch([&](const EpochStats&) { a.push_back(cpu.state().fixed); });
  rtl.on_epoch([&](const EpochStats&) { b.push_back(rtl.state().fixed); });
  cpu.fit(ds);
  rtl.fit(ds);
  REQUIRE(a.size() == b.size());
  for (std::size_t e = 0; e < a.size(); ++e) {
    for (std::size_t j = 0; j < a[e].size(); ++j) {
      if (a[e][j] != b[e][j]) {
        FAIL("epoch " << e + 1 << " feature " << j << ": cpu " << a[e][j] << " rtl " << b[e][j]);
      }
    }
  }
}
