// zipml on your own LIBSVM file: binary classification (labels +1/-1, 0/1: any two values) by
// an L2-SVM on 4-bit samples.      Usage: zipml-libsvm-binary TRAIN.libsvm [TEST.libsvm]
// With no arguments it first writes a small example file (two classes split by a line) to the
// temporary folder and trains on that.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <zipml/zipml.hpp>

// 1,000 samples with three features in [0, 10]; class +1 when x1 + x2 > 10 (x3 is noise).
std::filesystem::path write_example() {
  const auto path = std::filesystem::temp_directory_path() / "zipml-example.libsvm";
  std::ofstream out(path);
  std::minstd_rand rng(42); // the same numbers on every platform
  auto uniform = [&] { return 10.0 * (rng() - 1.0) / (rng.max() - 1.0); }; // in [0, 10]
  for (int i = 0; i < 1000; ++i) {
    const double x1 = uniform(), x2 = uniform(), x3 = uniform();
    out << (x1 + x2 > 10.0 ? "+1" : "-1") << " 1:" << x1 << " 2:" << x2 << " 3:" << x3 << "\n";
  }
  return path;
}

int main(int argc, char** argv) try {
  using namespace zipml;
  const std::filesystem::path train_file = argc > 1 ? std::filesystem::path(argv[1]) : write_example();

  data::Dataset train = data::read_libsvm(train_file);

  // Quantized samples need features in [0, 1]: scale each column by its training min/max.
  data::MinMaxScaler scaler;
  scaler.fit(train, data::Range::ZeroOne, data::Axis::Columns);
  scaler.apply(train);

  // A test file is read to the training set's width (LIBSVM files hold no dimension) and
  // scaled with the training set's ranges. Without one, the training set is measured.
  data::Dataset test = train;
  if (argc > 2) {
    test = data::read_libsvm(argv[2], {.num_features = train.dim() - 1});
    scaler.apply(test);
  }

  Options options;
  options.step = 0x1p-6f;             // larger than the MNIST default: few features here
  options.epochs = 10;
  options.order = Order::Shuffle;     // LIBSVM files are often sorted by label
  Sgd<L2Svm, Quantized<4, Stochastic>, Cpu> sgd(options); // two classes: one model lane
  sgd.on_epoch([](const EpochStats& e) {
    std::printf("epoch %2zu  loss %.4f  accuracy %.4f\n", e.epoch, e.train_loss, e.test_metric.value_or(0.0));
  });
  sgd.fit(train, test);

  const double accuracy = sgd.score(test);
  std::printf("%s: %zu samples, %zu features, %s accuracy %.4f\n", train_file.c_str(), train.size(),
              train.dim() - 1, argc > 2 ? "test" : "training", accuracy);
  return argc > 1 || accuracy >= 0.9 ? 0 : 1; // the example data must be learned well
} catch (const zipml::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
