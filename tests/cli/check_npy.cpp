// Loads the .npy file zipml-train --export-npy wrote with xtensor's own reader and checks it
// against the model zipml-train --save wrote in the same run: same K x d shape, the same
// float32 weights bit for bit. Prints the weights as hex floats (one a line, row-major) to
// stdout so that numpy can be checked against them exactly.
// Usage: check_npy WEIGHTS.npy MODEL.zml
#include <cstdio>
#include <cstring>
#include <exception>

#include <xtensor/xnpy.hpp>

#include "zipml/io/model_file.hpp"

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: check_npy WEIGHTS.npy MODEL.zml\n");
    return 2;
  }
  const auto npy = xt::load_npy<float>(argv[1]);
  const auto model = zipml::io::load_model(argv[2]);
  const auto& w = model.weights.weights();
  if (npy.dimension() != 2 || npy.shape(0) != w.shape(0) || npy.shape(1) != w.shape(1)) {
    std::fprintf(stderr, "check_npy: %s has %zu dimensions, shape %zu x %zu; the model is %zu x %zu\n", argv[1],
                 npy.dimension(), npy.shape(0), npy.dimension() > 1 ? npy.shape(1) : 0, w.shape(0), w.shape(1));
    return 1;
  }
  for (std::size_t k = 0; k < w.shape(0); ++k)
    for (std::size_t j = 0; j < w.shape(1); ++j)
      if (std::memcmp(&npy(k, j), &w(k, j), sizeof(float)) != 0) {
        std::fprintf(stderr, "check_npy: weight (%zu, %zu) is %a in %s but %a in the model\n", k, j,
                     static_cast<double>(npy(k, j)), argv[1], static_cast<double>(w(k, j)));
        return 1;
      }
  for (float v : npy) std::printf("%a\n", static_cast<double>(v));
  std::fprintf(stderr, "check_npy: %s: %zu x %zu float32 weights, equal to %s\n", argv[1], w.shape(0), w.shape(1),
               argv[2]);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "check_npy: %s\n", e.what());
  return 1;
}
