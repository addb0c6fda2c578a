// The README's example: zipml in your own program. Trains a 10-class L2-SVM on Fashion-MNIST
// with 4-bit stochastically rounded samples and prints the test accuracy of each epoch.
#include <cstdio>

#include <zipml/zipml.hpp>

int main() try {
  using namespace zipml;

  auto [train, test] = data::load_fashion_mnist(); // Debian: dataset-fashion-mnist
  data::scale_features(train, data::Range::ZeroOne, data::Axis::Rows);
  data::scale_features(test, data::Range::ZeroOne, data::Axis::Rows);

  Options options; // the original's MNIST settings: step 2^-12, 10 epochs, file order
  options.step = 0x1p-12f;
  options.epochs = 10;
  Sgd<L2Svm, Quantized<4, Stochastic>, Cpu> sgd(options, L2Svm{1.0f, 1.5f}); // C+ = 1, C- = 1.5
  sgd.on_epoch([](const EpochStats& e) { std::printf("epoch %zu: test accuracy %.4f\n", e.epoch, *e.test_metric); });
  History h = sgd.fit(train, test); // 10 classes, one pass per epoch

  std::printf("accuracy %.4f, %zu x %zu weights\n", sgd.score(test), sgd.weights().shape(0), sgd.weights().shape(1));
  return h.epochs.back().test_metric >= 0.8 ? 0 : 1;
} catch (const zipml::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
