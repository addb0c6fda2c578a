// Pins the packer's output: hashes of the words `stream::pack` produced (at commit d0bc025, the
// scalar packer) for a grid of synthetic data sets x precision x rounding x range x double
// sampling x seed x epoch x row order x thread count. The vectorized packer must reproduce every
// word bit for bit, including stochastic rounding's draws from SplitMix64(seed, epoch, copy, row).
//
// To regenerate (only when the wire format changes on purpose):
//   ZIPML_PRINT_PACK_HASHES=1 build/tests/test_pack_fast
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>
#include <utility>

#include "zipml/data/dataset.hpp"
#include "zipml/error.hpp"
#include "zipml/precision/float32.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/precision/rounding.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/packer.hpp"

using zipml::Float32;
using zipml::Nearest;
using zipml::Quantized;
using zipml::SplitMix64;
using zipml::Stochastic;
using zipml::data::Dataset;
using zipml::data::Range;
using namespace zipml::stream;

namespace {

//! A feature in the quantizer's range, biased towards the cases rounding can get wrong:
//! exact levels, ties at every Q, a ulp either side of a tie, 0, -0, 1, denormals.
float feature(SplitMix64& rng, bool mm) {
  float a = 0.0f;
  switch (rng.below(6)) {
  case 0: a = static_cast<float>(rng.below(1025)) / 1024.0f; break; // levels and ties of every Q
  case 1: {
    static constexpr float special[] = {0.0f, -0.0f, 1.0f, 0.5f, 0x1p-149f, 1e-38f, 0x1.fffffep-1f, 0x1.fffffep-2f,
                                        0x1.000002p-1f, 0x1p-24f, 0x1p-25f, 0x1.8p-8f};
    a = special[rng.below(std::size(special))];
    break;
  }
  case 2: { // a tie of Q = 1..8 (2k + 1) / 2^(f + 1), nudged by one ulp either way or not
    const int f = static_cast<int>(rng.below(8));
    const auto k = rng.below(std::uint64_t{1} << f);
    a = std::ldexp(static_cast<float>(2 * k + 1), -(f + 1));
    const auto nudge = rng.below(3);
    if (nudge == 1) a = std::nextafter(a, 0.0f);
    if (nudge == 2) a = std::nextafter(a, 1.0f);
    break;
  }
  default: a = rng.uniform(); break;
  }
  return mm && rng.below(2) == 1 ? -a : a;
}

//! Any finite float (random bit patterns), for the float32 layout.
float any_float(SplitMix64& rng) {
  for (;;) {
    const auto a = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (std::isfinite(a)) return a;
  }
}

Dataset make(std::size_t n, std::size_t d, bool mm, bool any, std::uint64_t seed) {
  SplitMix64 rng(seed, n, d, mm);
  Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = any ? any_float(rng) : feature(rng, mm);
    ds.labels(i) = i % 7 == 3 ? -0.0f : any_float(rng);
  }
  return ds;
}

std::uint64_t hash_words(std::uint64_t h, const PackedStream& s) {
  h = zipml::mix64(h ^ s.rows) ^ s.layout.row_words();
  for (Word w : s.words) h = zipml::mix64(h ^ w);
  return h;
}

struct Pin {
  const char* name;
  std::uint64_t hash;
};

// Hashes of the scalar packer (commit d0bc025); one per precision, rounding, range, double sampling.
constexpr Pin kPins[] = {
    {"float32/01/ss", 0x2ae84fb19b8d5738ULL},
    {"float32/-11/ss", 0x5937ea0f0d4c502cULL},
    {"q8/nearest/01/ss", 0xd79f50e017320391ULL},
    {"q8/stochastic/01/ss", 0x9ea6bff93a43c4e2ULL},
    {"q8/stochastic/01/ds", 0xcf70f9e1e6e2322eULL},
    {"q8/nearest/-11/ss", 0xeba168dae45c14bbULL},
    {"q8/stochastic/-11/ss", 0x1af5f6ce97b7f1bdULL},
    {"q8/stochastic/-11/ds", 0xcb09b7db31e93659ULL},
    {"q4/nearest/01/ss", 0xe311c12dfb53541cULL},
    {"q4/stochastic/01/ss", 0x38a3b31ad57e4ffbULL},
    {"q4/stochastic/01/ds", 0x5a9700e1746bc2ebULL},
    {"q4/nearest/-11/ss", 0xa3883e33f80661c0ULL},
    {"q4/stochastic/-11/ss", 0x2e961eafd247688bULL},
    {"q4/stochastic/-11/ds", 0x7fa11abf31bb861cULL},
    {"q2/nearest/01/ss", 0x968423c401ec3511ULL},
    {"q2/stochastic/01/ss", 0xa4bfd12439b2fda1ULL},
    {"q2/stochastic/01/ds", 0x5aa90fe776a009b8ULL},
    {"q2/nearest/-11/ss", 0xaa02d71183bd43e2ULL},
    {"q2/stochastic/-11/ss", 0x98ab3bd3b1f35e55ULL},
    {"q2/stochastic/-11/ds", 0x598852c1c01ba3e8ULL},
    {"q1/nearest/01/ss", 0xe727d9b5e23fba0fULL},
    {"q1/stochastic/01/ss", 0xad9e09e4fbe4183bULL},
    {"q1/stochastic/01/ds", 0x84681edc5bbfd6e1ULL},
};

std::uint64_t pinned(const std::string& name) {
  for (const Pin& p : kPins)
    if (name == p.name) return p.hash;
  return 0;
}

//! Packs the grid for one precision, range and double sampling, hashes it, checks thread
//! independence on the large data set, and compares the hash with its pin.
template <class P>
void check_pins(bool mm, bool twice) {
  const std::string name = std::string(P::name) + (P::bits == 32 ? "" : std::string("/") + std::string(P::rounding::name)) +
                           (mm ? "/-11" : "/01") + (twice ? "/ds" : "/ss");
  CAPTURE(name);
  const std::size_t dims[] = {1, 2, 5, 8, 16, 17, 31, 33, 63, 64, 65, 129, 130, 785};
  std::vector<Dataset> sets;
  std::uint64_t seed = 77;
  for (std::size_t d : dims) sets.push_back(make(13, d, mm, false, ++seed));
  if (P::bits == 32) {
    sets.push_back(make(11, 9, mm, true, ++seed));
    sets.push_back(make(7, 64, mm, true, ++seed));
  }
  const std::size_t big = sets.size();
  sets.push_back(make(2100, 785, mm, false, ++seed)); // >= 2048 rows: two or more packing threads run
  std::uint64_t h = 0;
  for (std::size_t k = 0; k < sets.size(); ++k) {
    const Dataset& ds = sets[k];
    // A row order with repeats and omissions, not a permutation.
    std::vector<std::uint32_t> order;
    for (std::size_t i = 0; i < ds.size() * 2 / 3 + 1; ++i)
      order.push_back(static_cast<std::uint32_t>((i * 7 + 3) % ds.size()));
    for (const auto& [s, e] : {std::pair<std::uint64_t, std::uint64_t>{0, 0}, {0x5eedULL, 7}, {~0ULL, 123456789}}) {
      for (bool ordered : {false, true}) {
        PackOptions o;
        o.range = mm ? Range::MinusOneOne : Range::ZeroOne;
        o.double_sampled = twice;
        o.seed = s;
        o.epoch = e;
        o.threads = 1;
        if (ordered) o.order = order;
        const PackedStream one = pack<P>(ds, o);
        h = hash_words(h, one);
        if (k == big) {
          for (unsigned t : {2u, 3u, 0u}) {
            o.threads = t;
            CHECK(pack<P>(ds, o).words == one.words);
          }
        }
      }
    }
  }
  if (std::getenv("ZIPML_PRINT_PACK_HASHES") != nullptr)
    std::printf("    {\"%s\", 0x%016llxULL},\n", name.c_str(), static_cast<unsigned long long>(h));
  CHECK(h == pinned(name));
}

template <unsigned Q>
void check_quantized() {
  for (bool mm : {false, true}) {
    if (Q == 1 && mm) continue; // 1 bit has no [-1, 1] levels
    check_pins<Quantized<Q, Nearest>>(mm, false);
    check_pins<Quantized<Q, Stochastic>>(mm, false);
    check_pins<Quantized<Q, Stochastic>>(mm, true);
  }
}

} // namespace

TEST_CASE("pack: float32 words are pinned") {
  check_pins<Float32>(false, false);
  check_pins<Float32>(true, false);
}
TEST_CASE("pack: q8 words are pinned") { check_quantized<8>(); }
TEST_CASE("pack: q4 words are pinned") { check_quantized<4>(); }
TEST_CASE("pack: q2 words are pinned") { check_quantized<2>(); }
TEST_CASE("pack: q1 words are pinned") { check_quantized<1>(); }

// The first bad value in row order is reported, whichever thread meets it and however many
// bad values follow (messages as at commit d0bc025).
TEST_CASE("pack: the first bad value of a large data set is the one reported") {
  Dataset ds = make(3000, 40, false, false, 5);
  ds.source = "big.libsvm";
  const auto message = [&](auto packer) -> std::string {
    try {
      packer();
    } catch (const zipml::Error& e) {
      return e.what();
    }
    return "no error";
  };
  for (unsigned t : {1u, 2u}) {
    CAPTURE(t);
    PackOptions o;
    o.threads = t;
    Dataset bad = ds;
    bad.features(2900, 3) = 1.5f;
    bad.features(2500, 39) = std::numeric_limits<float>::infinity();
    bad.features(2500, 7) = -0x1p-30f;
    bad.labels(2600) = std::numeric_limits<float>::quiet_NaN();
    CHECK(message([&] { (void)pack<Quantized<4>>(bad, o); }) ==
          "big.libsvm: row 2501, feature 7: value -9.31322575e-10 is outside the quantizer's range [0, 1]: scale the features (or pick the other range)");
    CHECK(message([&] { (void)pack<Float32>(bad, o); }) ==
          "big.libsvm: row 2501, feature 39: value inf is not finite");
    bad.labels(1700) = -std::numeric_limits<float>::infinity();
    CHECK(message([&] { (void)pack<Quantized<2, Stochastic>>(bad, o); }) ==
          "big.libsvm: row 1701, label: value -inf is not finite");
    o.engine_range = true;
    bad.features(1200, 20) = 2.0f;
    CHECK(message([&] { (void)pack<Float32>(bad, o); }) ==
          "big.libsvm: row 1201, feature 20: value 2 is outside [-2, 2 - 2^-17), which the engine's 18-bit features hold: scale the features");
    o.range = Range::MinusOneOne;
    CHECK(message([&] { (void)pack<Quantized<8>>(bad, o); }) ==
          "big.libsvm: row 1201, feature 20: value 2 is outside the quantizer's range [-1, 1]: scale the features (or pick the other range)");
    bad.features(999, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK(message([&] { (void)pack<Quantized<8>>(bad, o); }) ==
          "big.libsvm: row 1000, feature 0: value nan is not finite");
    // Rows the order leaves out are validated too.
    const std::vector<std::uint32_t> few{0, 1, 2};
    o.order = few;
    CHECK(message([&] { (void)pack<Quantized<8>>(bad, o); }) ==
          "big.libsvm: row 1000, feature 0: value nan is not finite");
  }
}
