// Least-squares regression on synthetic data, at float32 and with 8-bit samples and double
// sampling (two independent stochastic quantizations per sample, which keeps the gradient
// unbiased). The targets are in "real" units (here 100 to 200) and are scaled to [0, 1] for
// training; the RMSE is printed in both units.
#include <cmath>
#include <cstdio>
#include <random>

#include <zipml/zipml.hpp>

using namespace zipml;

// n samples, 5 features in [0, 1], y = 100 + 40 x1 - 30 x2 + 20 x3 + 10 x4 + 0 x5 + noise.
data::Dataset make_data(std::size_t n, unsigned seed) {
  std::minstd_rand rng(seed); // the same numbers on every platform
  auto uniform = [&] { return static_cast<float>((rng() - 1.0) / (rng.max() - 1.0)); }; // in [0, 1]
  data::Dataset ds;
  ds.features = xt::zeros<float>({n, std::size_t{6}});
  ds.labels = xt::zeros<float>({n});
  const float w[] = {40, -30, 20, 10, 0};
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f; // column 0 is the bias feature
    ds.labels(i) = 130.0f + (uniform() - 0.5f);
    for (std::size_t j = 1; j <= 5; ++j) {
      ds.features(i, j) = uniform();
      ds.labels(i) += w[j - 1] * ds.features(i, j);
    }
  }
  return ds;
}

template <class Precision>
double train_rmse(const char* name, Options options, const data::Dataset& train, const data::Dataset& test,
                  const data::LabelScaler& labels) {
  Sgd<LeastSquares, Precision, Cpu> sgd(options);
  sgd.fit(train, test);
  const double rmse = sgd.score(test); // in scaled units: [0, 1] spans the training targets
  std::printf("%-26s test RMSE %.4f scaled, %.3f in the targets' units\n", name, rmse, rmse * (labels.max - labels.min));
  return rmse;
}

int main() try {
  data::Dataset train = make_data(5000, 1), test = make_data(1000, 2);
  const data::LabelScaler labels = data::scale_labels(train, data::Range::ZeroOne); // fit on training targets
  for (auto& y : test.labels) y = labels.to_scaled(y);                               // same map for the test set

  Options options;
  options.step = 0x1p-6f;
  options.epochs = 10;
  const double f32 = train_rmse<Float32>("float32", options, train, test, labels);
  options.double_sampling = true; // needs stochastic rounding
  const double q8 = train_rmse<Quantized<8, Stochastic>>("q8, double sampling", options, train, test, labels);
  return f32 < 0.05 && q8 < 0.05 ? 0 : 1;
} catch (const zipml::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
