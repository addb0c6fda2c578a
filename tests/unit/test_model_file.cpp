// Saved models (zipml/io/model_file.hpp): round trips that predict bit for bit like the
// trained model, every load error, corruption at every offset, and atomic writes.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <xtensor/xview.hpp>

#include "support.hpp"
#include "zipml/io.hpp"
#include "zipml/zipml.hpp"

using namespace zipml;
using zipml::test::TempDir;
namespace fs = std::filesystem;

// ---- allocation probe: the largest single request (operator new, posix_memalign) while armed --
namespace {
std::atomic<bool> g_probe{false};
std::atomic<std::size_t> g_largest{0};
void note(std::size_t n) {
  if (!g_probe.load(std::memory_order_relaxed)) return;
  std::size_t cur = g_largest.load(std::memory_order_relaxed);
  while (n > cur && !g_largest.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {
  }
}
} // namespace

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete" // free() of our own operator new's malloc
#endif
void* operator new(std::size_t n) {
  note(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  note(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// xtensor's buffers come from xsimd's aligned allocator through posix_memalign: probe it too
// (not under AddressSanitizer, whose runtime owns posix_memalign).
#ifndef ZIPML_TEST_ASAN
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  note(n);
  void* p = ::memalign(alignment, n == 0 ? 1 : n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

//! Features uniform in [0, 1) (bias in column 0); `classes` > 0: label = the class whose
//! random prototype scores highest; 0: regression label = a . w (as tests/unit/test_sgd.cpp).
data::Dataset synthetic(std::size_t n, std::size_t d, std::size_t classes, std::uint64_t seed) {
  SplitMix64 rng(seed);
  data::Dataset ds;
  ds.source = "synthetic(seed=" + std::to_string(seed) + ")";
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  const std::size_t k = classes ? classes : 1;
  std::vector<float> w(k * d);
  for (auto& v : w) v = 2.0f * rng.uniform() - 1.0f;
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = rng.uniform();
    std::size_t best = 0;
    float best_score = -1e30f;
    for (std::size_t c = 0; c < k; ++c) {
      float s = 0.0f;
      for (std::size_t j = 1; j < d; ++j) s += w[c * d + j] * (ds.features(i, j) - 0.5f);
      if (s > best_score) best_score = s, best = c;
    }
    ds.labels(i) = classes ? static_cast<float>(best) : best_score;
  }
  return ds;
}

std::vector<unsigned char> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

//! Recomputes the trailing CRC-32 after a deliberate edit (a forged but well-formed file).
void refresh_crc(std::vector<unsigned char>& b) {
  const std::uint32_t c = io::detail::crc32_of(std::span<const unsigned char>(b).first(b.size() - 4));
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(c >> (8 * i));
}

void put_u32(std::vector<unsigned char>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (8 * i));
}

//! Files in `dir` whose name starts with `prefix` (temporaries left behind).
std::vector<std::string> leftovers(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  return out;
}

//! Bitwise equality of two float tensors (NaN-safe, -0 != +0).
template <class A, class B>
bool same_bits(const A& a, const B& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string error_of(const fs::path& p) {
  try {
    (void)io::load_model(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string error_of_bytes(const std::vector<unsigned char>& b) {
  try {
    (void)io::parse_model(b, "m.zml");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

//! A trained 10-class Q4 L2-SVM with a column scaler, and its test set (scaled).
struct Classifier {
  io::ModelFile file;
  data::Dataset test;
};

Classifier train_classifier() {
  // One draw (one set of class prototypes), split into training and test rows.
  const auto all = synthetic(1900, 17, 10, 21);
  data::Dataset train, test;
  train.source = "train", test.source = "test";
  train.features = xt::view(all.features, xt::range(0, 1500), xt::all());
  train.labels = xt::view(all.labels, xt::range(0, 1500));
  test.features = xt::view(all.features, xt::range(1500, 1900), xt::all());
  test.labels = xt::view(all.labels, xt::range(1500, 1900));
  // Spread the features so the scaler has work to do.
  for (auto& x : train.features) x = x * 7.0f - 2.0f;
  for (auto& x : test.features) x = x * 7.0f - 2.0f;
  for (std::size_t i = 0; i < train.size(); ++i) train.features(i, 0) = 1.0f;
  for (std::size_t i = 0; i < test.size(); ++i) test.features(i, 0) = 1.0f;
  data::MinMaxScaler scaler;
  scaler.fit(train, data::Range::ZeroOne, data::Axis::Columns);
  scaler.apply(train);
  scaler.apply(test);
  Options o;
  o.epochs = 3;
  o.step = 1.0f / 64;
  o.seed = 5;
  o.order = Order::Shuffle;
  Sgd<L2Svm, Quantized<4>, Cpu> sgd(o, L2Svm{1.0f, 1.5f});
  sgd.fit(train);
  REQUIRE(sgd.linear_model().lanes() == 10);
  return {io::snapshot(sgd, scaler), std::move(test)};
}

} // namespace

TEST_CASE("the table CRC-32 of builds without zlib is zlib's") {
  // The ARM board builds (ZIPML_NO_ZLIB) must read and write the same model files.
  const std::string check = "123456789"; // the CRC-32 check value of the IEEE polynomial
  const auto as_bytes = [](const std::string& t) {
    return std::span(reinterpret_cast<const unsigned char*>(t.data()), t.size());
  };
  CHECK(io::detail::crc32_portable(as_bytes(check)) == 0xCBF43926u);
  CHECK(io::detail::crc32_portable({}) == 0u);
  const std::uint64_t seed = 20261206;
  INFO("seed " << seed);
  std::uint64_t x = seed;
  std::vector<unsigned char> bytes(70000);
  for (auto& b : bytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<unsigned char>(x >> 56);
  }
  for (const std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{256}, std::size_t{4097}, bytes.size()}) {
    INFO("length " << n);
    const auto part = std::span<const unsigned char>(bytes).first(n);
    CHECK(io::detail::crc32_portable(part) == io::detail::crc32_of(part));
  }
}

TEST_CASE("snapshot names the policies, options, costs and scalers") {
  const auto c = train_classifier();
  const auto& m = c.file;
  CHECK(m.model == "l2svm");
  CHECK(m.precision == "q4");
  CHECK(m.rounding == "nearest");
  CHECK(m.arithmetic == "float");
  CHECK(m.cost_pos == 1.0f);
  CHECK(m.cost_neg == 1.5f);
  CHECK(m.options.seed == 5);
  CHECK(m.options.order == Order::Shuffle);
  REQUIRE(m.scaler.has_value());
  CHECK(m.scaler->axis() == data::Axis::Columns);
  CHECK_FALSE(m.label_scaler.has_value());
  CHECK(m.weights.lanes() == 10);
  CHECK(m.weights.dim() == 17);

  Sgd<L2Svm, Float32, Cpu> untrained;
  CHECK_THROWS_WITH_AS((void)io::snapshot(untrained), doctest::Contains("not trained"), Error);
}

TEST_CASE("a 10-class Q4 L2-SVM round-trips and predicts bit for bit") {
  TempDir dir;
  const auto c = train_classifier();
  const fs::path p = dir.path / "svm.zml";
  io::save_model(p, c.file);
  const io::ModelFile back = io::load_model(p);

  CHECK(back.model == c.file.model);
  CHECK(back.precision == c.file.precision);
  CHECK(back.rounding == c.file.rounding);
  CHECK(back.arithmetic == c.file.arithmetic);
  CHECK(back.cost_pos == c.file.cost_pos);
  CHECK(back.cost_neg == c.file.cost_neg);
  const Options &a = back.options, &b = c.file.options;
  CHECK(a.step == b.step);
  CHECK(a.epochs == b.epochs);
  CHECK(a.step_decay == b.step_decay);
  CHECK(a.decay_interval == b.decay_interval);
  CHECK(a.minibatch == b.minibatch);
  CHECK(a.l2 == b.l2);
  CHECK(a.seed == b.seed);
  CHECK(a.arithmetic == b.arithmetic);
  CHECK(a.order == b.order);
  CHECK(a.range == b.range);
  CHECK(a.double_sampling == b.double_sampling);
  CHECK(a.requantize == b.requantize);
  CHECK(a.positive_label == b.positive_label);
  CHECK(a.threads == b.threads);
  REQUIRE(back.scaler.has_value());
  CHECK(back.scaler->range() == c.file.scaler->range());
  CHECK(back.scaler->axis() == c.file.scaler->axis());
  CHECK(back.scaler->min() == c.file.scaler->min());
  CHECK(back.scaler->max() == c.file.scaler->max());
  CHECK(back.weights.is_classification());
  CHECK(back.weights.lane_classes() == c.file.weights.lane_classes());
  CHECK(back.weights.all_classes() == c.file.weights.all_classes());
  CHECK(same_bits(back.weights.weights(), c.file.weights.weights()));

  CHECK(same_bits(back.weights.decision(c.test), c.file.weights.decision(c.test)));
  CHECK(same_bits(back.weights.predict(c.test), c.file.weights.predict(c.test)));
  CHECK(back.weights.score(c.test) == c.file.weights.score(c.test));
  CHECK(back.weights.score(c.test) > 0.5); // it did learn something

  // The loaded scaler transforms raw data exactly like the saved one.
  auto raw1 = synthetic(50, 17, 10, 99), raw2 = raw1;
  c.file.scaler->apply(raw1);
  back.scaler->apply(raw2);
  CHECK(same_bits(raw1.features, raw2.features));

  // Saving the loaded model again gives the same bytes.
  const fs::path p2 = dir.path / "again.zml";
  io::save_model(p2, back);
  CHECK(read_bytes(p) == read_bytes(p2));
  CHECK(leftovers(dir.path, "svm.zml.tmp-").empty());
}

TEST_CASE("a least-squares model with feature and label scalers round-trips bit for bit") {
  TempDir dir;
  auto train = synthetic(1200, 9, 0, 31);
  auto test = synthetic(300, 9, 0, 32);
  data::MinMaxScaler scaler;
  scaler.fit(train, data::Range::MinusOneOne, data::Axis::Rows);
  scaler.apply(train);
  scaler.apply(test);
  const data::LabelScaler labels = data::scale_labels(train, data::Range::MinusOneOne);
  for (auto& y : test.labels) y = labels.to_scaled(y);
  for (Arithmetic ar : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(to_string(ar));
    Options o;
    o.epochs = 4;
    o.step = 1.0f / 32;
    o.range = data::Range::MinusOneOne;
    o.arithmetic = ar;
    o.double_sampling = true;
    o.requantize = true;
    o.minibatch = 4;
    Sgd<LeastSquares, Quantized<8, Stochastic>, Cpu> sgd(o);
    sgd.fit(train);
    const auto m = io::snapshot(sgd, scaler, labels);
    CHECK(m.rounding == "stochastic");
    CHECK(m.precision == "q8");
    CHECK(m.arithmetic == to_string(ar));
    const fs::path p = dir.path / "ls.zml";
    io::save_model(p, m);
    const auto back = io::load_model(p);
    CHECK_FALSE(back.weights.is_classification());
    REQUIRE(back.label_scaler.has_value());
    CHECK(back.label_scaler->min == labels.min);
    CHECK(back.label_scaler->max == labels.max);
    CHECK(back.label_scaler->range == labels.range);
    REQUIRE(back.scaler.has_value());
    CHECK(back.scaler->axis() == data::Axis::Rows);
    CHECK(back.scaler->range() == data::Range::MinusOneOne);
    CHECK(back.options.double_sampling);
    CHECK(back.options.requantize);
    CHECK(back.options.minibatch == 4);
    const auto p1 = sgd.predict(test);
    const auto p2 = back.weights.predict(test);
    CHECK(same_bits(p1, p2));
    for (std::size_t i = 0; i < p1.size(); ++i)
      CHECK(back.label_scaler->from_scaled(p2(i)) == labels.from_scaled(p1(i)));
  }
}

TEST_CASE("float32 logistic with a positive label, and a least-squares classifier, round-trip") {
  TempDir dir;
  const auto ds = synthetic(600, 5, 3, 41);
  Options o;
  o.epochs = 2;
  o.step = 1.0f / 16;
  o.positive_label = 2.0f;
  o.step_decay = true;
  o.decay_interval = 7;
  o.l2 = 1e-3f;
  {
    Sgd<Logistic, Float32, Cpu> sgd(o, Logistic{2.0f, 0.5f});
    sgd.fit(ds);
    const auto m = io::snapshot(sgd);
    CHECK(m.rounding == "none");
    CHECK(m.cost_pos == 2.0f);
    io::save_model(dir.path / "lr.zml", m);
    const auto back = io::load_model(dir.path / "lr.zml");
    CHECK(back.options.positive_label == std::optional<float>(2.0f));
    CHECK(back.options.decay_interval == 7);
    CHECK(back.options.l2 == 1e-3f);
    CHECK(back.weights.lanes() == 1);
    CHECK(same_bits(back.weights.predict(ds), sgd.predict(ds)));
  }
  {
    Sgd<LeastSquares, Quantized<2, Stochastic>, Cpu> sgd(o);
    sgd.fit(ds);
    const auto m = io::snapshot(sgd);
    CHECK(m.weights.is_classification());
    io::save_model(dir.path / "lsc.zml", m);
    const auto back = io::load_model(dir.path / "lsc.zml");
    CHECK(back.cost_pos == 1.0f);
    CHECK(same_bits(back.weights.predict(ds), sgd.predict(ds)));
  }
}

TEST_CASE("load errors name the file and the problem") {
  TempDir dir;
  const auto c = train_classifier();
  const fs::path good = dir.path / "good.zml";
  io::save_model(good, c.file);
  const auto bytes = read_bytes(good);

  SUBCASE("missing file") {
    const auto e = error_of(dir.path / "nope.zml");
    CHECK(e.find("nope.zml") != std::string::npos);
    CHECK(e.find("file not found") != std::string::npos);
  }
  SUBCASE("a directory") { CHECK(error_of(dir.path).find("is a directory") != std::string::npos); }
  SUBCASE("wrong magic") {
    write_bytes(dir.path / "x.libsvm", {'1', ' ', '1', ':', '0', '.', '5', '\n'});
    const auto e = error_of(dir.path / "x.libsvm");
    CHECK(e.find("x.libsvm") != std::string::npos);
    CHECK(e.find("not a zipml model file") != std::string::npos);
  }
  SUBCASE("unsupported version") {
    auto b = bytes;
    put_u32(b, 8, 7);
    write_bytes(dir.path / "v7.zml", b);
    const auto e = error_of(dir.path / "v7.zml");
    CHECK(e.find("v7.zml") != std::string::npos);
    CHECK(e.find("version 7 is not supported; this build of zipml reads version 1") != std::string::npos);
    CHECK(e.find("newer zipml") != std::string::npos);
  }
  SUBCASE("truncated: expected vs actual size") {
    auto b = bytes;
    b.resize(b.size() - 100);
    write_bytes(dir.path / "cut.zml", b);
    const auto e = error_of(dir.path / "cut.zml");
    CHECK(e.find("cut.zml") != std::string::npos);
    CHECK(e.find("is truncated: expected " + std::to_string(bytes.size()) + " bytes, the file has " +
                 std::to_string(b.size())) != std::string::npos);
  }
  SUBCASE("trailing bytes") {
    auto b = bytes;
    b.push_back(0);
    CHECK(error_of_bytes(b).find("1 bytes after the end of the model") != std::string::npos);
  }
  SUBCASE("checksum mismatch") {
    auto b = bytes;
    b[b.size() / 2] ^= 0x10;
    write_bytes(dir.path / "flip.zml", b);
    const auto e = error_of(dir.path / "flip.zml");
    CHECK(e.find("flip.zml") != std::string::npos);
    CHECK(e.find("checksum mismatch") != std::string::npos);
  }
  // Forged files: the edit comes with a valid checksum, so the field checks must catch it.
  SUBCASE("bad enum strings") {
    auto b = bytes;
    // The model name follows the 41-byte fixed header: length 5, "l2svm".
    REQUIRE(b[41] == 5);
    REQUIRE(std::memcmp(&b[42], "l2svm", 5) == 0);
    b[42] = 'L';
    refresh_crc(b);
    CHECK(error_of_bytes(b).find("unknown model 'L2svm'") != std::string::npos);
    auto r = bytes;
    const std::size_t rounding_at = 41 + 6 + 3; // after "l2svm" and "q4"
    REQUIRE(r[rounding_at] == 7);
    r[rounding_at + 1] = 0x01; // a control byte is shown as '?'
    refresh_crc(r);
    CHECK(error_of_bytes(r).find("unknown rounding '?earest'") != std::string::npos);
  }
  SUBCASE("inconsistent dimensions") {
    auto b = bytes;
    put_u32(b, 24, 18); // d = 18 instead of 17
    refresh_crc(b);
    CHECK(error_of_bytes(b).find("inconsistent dimensions: 10 lanes x 18 features") != std::string::npos);
    auto h = bytes;
    put_u32(h, 20, 0xffffffffu); // 2^32 - 1 lanes x 2^32 - 1 features: no allocation may follow
    put_u32(h, 24, 0xffffffffu);
    put_u32(h, 28, 0xffffffffu);
    put_u32(h, 32, 0xffffffffu);
    refresh_crc(h);
    g_largest = 0;
    g_probe = true;
    const auto e = error_of_bytes(h);
    g_probe = false;
    CHECK(e.find("inconsistent dimensions") != std::string::npos);
    CHECK(g_largest.load() < 4096);
    auto w = bytes;
    put_u32(w, 20, 0x80000000u); // 2^31 x 2^31 weights of 4 bytes: 2^64 bytes, which wraps to 0
    put_u32(w, 24, 0x80000000u);
    put_u32(w, 28, 0x80000000u);
    refresh_crc(w);
    CHECK(error_of_bytes(w).find("need more than 2^64 bytes") != std::string::npos);
    auto l = bytes;
    put_u32(l, 28, 9); // 9 lane classes for 10 lanes
    refresh_crc(l);
    CHECK(error_of_bytes(l).find("10 lanes but 9 lane classes") != std::string::npos);
  }
  SUBCASE("NaN and infinite weights") {
    for (std::uint32_t bits : {0x7fc00000u, 0x7f800000u, 0xff800000u}) {
      auto b = bytes;
      put_u32(b, b.size() - 8, bits); // the last weight
      refresh_crc(b);
      const auto e = error_of_bytes(b);
      CAPTURE(e);
      CHECK(e.find("weight 16 of lane 9 is") != std::string::npos);
      CHECK(e.find("not a finite number") != std::string::npos);
    }
  }
  SUBCASE("bad option fields") {
    auto b = bytes;
    // Options start after the four strings: 41 + (1+5) + (1+2) + (1+7) + (1+5) = 64.
    const std::size_t opt = 64;
    put_u32(b, opt, 0x7fc00000u); // step = NaN
    refresh_crc(b);
    CHECK(error_of_bytes(b).find("option step nan is not a positive number") != std::string::npos);
    auto f = bytes;
    f[opt + 12] = 2; // step_decay byte
    refresh_crc(f);
    CHECK(error_of_bytes(f).find("option step_decay is 2, expected 0 or 1") != std::string::npos);
    auto a = bytes;
    a[opt + 37] = 9; // arithmetic byte
    refresh_crc(a);
    CHECK(error_of_bytes(a).find("option arithmetic 9") != std::string::npos);
  }
}

TEST_CASE("every truncation and every single-byte corruption is refused without a large allocation") {
  const auto c = train_classifier();
  const auto bytes = io::serialize_model(c.file);
  REQUIRE(io::parse_model(bytes, "m").weights.lanes() == 10);
  INFO("model file of ", bytes.size(), " bytes");
  std::size_t refused = 0;
  g_largest = 0;
  g_probe = true;
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    const std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
    const auto e = error_of_bytes(cut);
    CAPTURE(len);
    CAPTURE(e);
    CHECK(e.find("m.zml") != std::string::npos);
    CHECK(e.find("truncated") != std::string::npos);
    refused += e != "(no error)";
  }
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (unsigned char x : {0x01, 0x02, 0x10, 0x80, 0xff}) {
      auto b = bytes;
      b[at] ^= x;
      const auto e = error_of_bytes(b);
      CAPTURE(at);
      CAPTURE(int{x});
      CAPTURE(e);
      CHECK(e != "(no error)");
      CHECK(e.find("m.zml") != std::string::npos);
      refused += e != "(no error)";
    }
  }
  g_probe = false;
  MESSAGE("refused ", refused, " damaged files; largest allocation ", g_largest.load(), " bytes");
  CHECK(refused == bytes.size() * 6);
  // The largest buffer a load may need is the weights (file-sized) or a message.
  CHECK(g_largest.load() <= bytes.size());
}

TEST_CASE("save refuses models that would not load, and writes nothing") {
  TempDir dir;
  const auto c = train_classifier();
  const fs::path p = dir.path / "bad.zml";
  auto expect_refused = [&](const io::ModelFile& m, const char* what) {
    CAPTURE(what);
    CHECK_THROWS_WITH_AS(io::save_model(p, m), doctest::Contains(what), Error);
    CHECK_FALSE(fs::exists(p));
    CHECK(leftovers(dir.path, "bad.zml").empty());
  };
  auto m = c.file;
  m.precision = "q3";
  expect_refused(m, "unknown precision 'q3'");
  m = c.file;
  m.rounding = "none";
  expect_refused(m, "float32 has rounding 'none'");
  m = c.file;
  m.arithmetic = "engine";
  expect_refused(m, "but the options say 'float'");
  m = c.file;
  m.weights.weights()(3, 4) = std::numeric_limits<float>::quiet_NaN();
  expect_refused(m, "weight 4 of lane 3 is nan");
  m = c.file;
  m.scaler = data::MinMaxScaler{};
  expect_refused(m, "feature scaler is not fitted");
  m = c.file;
  m.label_scaler = data::LabelScaler{};
  expect_refused(m, "a classifier has no label scaler");
  m = c.file;
  m.weights = LinearModel{};
  expect_refused(m, "no weights");
  m = c.file;
  m.cost_neg = 0.0f;
  expect_refused(m, "class costs");
}

TEST_CASE("writes are atomic: a failed save leaves the old model and no temporary") {
  TempDir dir;
  const auto c = train_classifier();
  const fs::path p = dir.path / "model.zml";
  io::save_model(p, c.file);
  const auto before = read_bytes(p);
  REQUIRE(before.size() > 200);

  SUBCASE("the target path is a directory") {
    const fs::path d = dir.path / "adir";
    fs::create_directories(d / "inside");
    CHECK_THROWS_WITH_AS(io::save_model(d, c.file), doctest::Contains("adir"), Error);
    CHECK(fs::is_directory(d / "inside"));
    CHECK(leftovers(dir.path, "adir.tmp-").empty());
  }
  SUBCASE("the folder does not exist") {
    CHECK_THROWS_WITH_AS(io::save_model(dir.path / "no" / "such" / "m.zml", c.file),
                         doctest::Contains("cannot create the temporary file"), Error);
  }
  SUBCASE("the folder is not writable") {
    if (::geteuid() == 0) {
      MESSAGE("running as root: permissions do not stop writes, subcase skipped");
    } else {
      fs::permissions(dir.path, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                      fs::perm_options::remove);
      CHECK_THROWS_WITH_AS(io::save_model(p, c.file), doctest::Contains("Permission denied"), Error);
      fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::add);
      CHECK(read_bytes(p) == before);
      CHECK(leftovers(dir.path, "model.zml.tmp-").empty());
    }
  }
  SUBCASE("the disk fills up halfway through the write (RLIMIT_FSIZE)") {
    // Fault injection: writes past 128 bytes fail with EFBIG, as on a full disk. Works as root.
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* prev = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 128;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    auto m = c.file;
    m.cost_neg = 2.5f; // a different model: the old one must survive
    std::string msg;
    try {
      io::save_model(p, m);
    } catch (const Error& e) {
      msg = e.what();
    }
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    std::signal(SIGXFSZ, prev);
    CAPTURE(msg);
    CHECK(msg.find("model.zml") != std::string::npos);
    CHECK(msg.find("failed after 128 of") != std::string::npos);
    CHECK(msg.find("an existing file is unchanged") != std::string::npos);
    CHECK(read_bytes(p) == before);
    CHECK(io::load_model(p).cost_neg == 1.5f);
    CHECK(leftovers(dir.path, "model.zml.tmp-").empty());
  }
  SUBCASE("a successful save replaces the old model whole") {
    auto m = c.file;
    m.cost_neg = 2.5f;
    io::save_model(p, m);
    CHECK(io::load_model(p).cost_neg == 2.5f);
    CHECK(leftovers(dir.path, "model.zml.tmp-").empty());
  }
  SUBCASE("a stale temporary of a dead process with our pid is replaced") {
    // The name the next save will use, taken by a "dead" process's leftover.
    const fs::path stale =
        p.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(io::detail::temporary_counter.load());
    write_bytes(stale, {1, 2, 3});
    auto m = c.file;
    m.cost_neg = 3.0f;
    io::save_model(p, m);
    CHECK(io::load_model(p).cost_neg == 3.0f);
    CHECK_FALSE(fs::exists(stale));
    CHECK(leftovers(dir.path, "model.zml.tmp-").empty());
  }
}

TEST_CASE("MinMaxScaler::from_state rebuilds a fitted scaler and checks the state") {
  auto ds = synthetic(40, 6, 0, 3);
  data::MinMaxScaler s;
  s.fit(ds, data::Range::MinusOneOne, data::Axis::Columns);
  const auto r = data::MinMaxScaler::from_state(s.range(), s.axis(), s.min(), s.max());
  CHECK(r.fitted());
  auto a = ds, b = ds;
  s.apply(a);
  r.apply(b);
  CHECK(same_bits(a.features, b.features));
  CHECK_THROWS_WITH_AS((void)data::MinMaxScaler::from_state(data::Range::ZeroOne, data::Axis::Rows, {1.0f}, {2.0f}),
                       doctest::Contains("keeps no column ranges"), Error);
  CHECK_THROWS_WITH_AS(
      (void)data::MinMaxScaler::from_state(data::Range::ZeroOne, data::Axis::Columns, {1.0f, 3.0f}, {1.0f, 2.0f}),
      doctest::Contains("column 1 has the range [3, 2]"), Error);
  CHECK_THROWS_WITH_AS((void)data::MinMaxScaler::from_state(data::Range::ZeroOne, data::Axis::Columns, {1.0f}, {}),
                       doctest::Contains("one minimum and one maximum per column"), Error);
  CHECK(data::MinMaxScaler::from_state(data::Range::ZeroOne, data::Axis::Rows, {}, {}).fitted());
}
