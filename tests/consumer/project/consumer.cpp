// An out-of-tree program using an installed zipml (tests/consumer/test_consumer.sh builds it
// with Meson through pkg-config and with CMake through find_package). It trains a binary
// L2-SVM at 8-bit precision on a small synthetic data set and prints its accuracy.
#include <cstdio>

#include <zipml/zipml.hpp>

int main() try {
  using namespace zipml;

  // A 20 x 20 grid of points in [0, 1]^2 (column 0 is the bias): class 1 above x1 + x2 = 1.
  const std::size_t n = 400;
  data::Dataset train;
  train.features = xt::zeros<float>({n, std::size_t{3}});
  train.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    const float x1 = static_cast<float>(i % 20) / 19.0f;
    const float x2 = static_cast<float>(i / 20) / 19.0f;
    train.features(i, 0) = 1.0f;
    train.features(i, 1) = x1;
    train.features(i, 2) = x2;
    train.labels(i) = x1 + x2 > 1.0f ? 1.0f : 0.0f;
  }

  Options options;
  options.step = 0x1p-4f;
  options.epochs = 20;
  Sgd<L2Svm, Quantized<8, Nearest>, Cpu> sgd(options);
  sgd.fit(train);
  const double accuracy = sgd.score(train);
  std::printf("consumer: accuracy %.4f\n", accuracy);
  return accuracy >= 0.9 ? 0 : 1;
} catch (const zipml::Error& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
