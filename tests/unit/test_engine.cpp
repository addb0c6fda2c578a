// Unit tests of the engine arithmetic (docs/ENGINE.md) and of the CPU backend's passes.
//
// The key test is a brute-force reference written here straight from docs/ENGINE.md §2-§7:
// it decodes the packed words itself, keeps the explicit model history x^(i) of every sample
// and picks the model each dot product reads by the staleness / mini-batch rule, then
// compares every model word with Cpu::run_epoch. A float reference (§9) does the same for
// Arithmetic::Float with a tolerance.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "zipml/zipml.hpp"

using zipml::Arithmetic;
using zipml::Cpu;
using zipml::Float32;
using zipml::L2Svm;
using zipml::LeastSquares;
using zipml::Logistic;
using zipml::ModelState;
using zipml::Nearest;
using zipml::Quantized;
using zipml::SplitMix64;
using zipml::Stochastic;
using zipml::TrainJob;
using zipml::data::Dataset;
using zipml::data::Range;
using zipml::stream::Config;
using zipml::stream::LossMode;
using zipml::stream::PackedStream;
using zipml::stream::Word;
namespace engine = zipml::engine;
namespace stream = zipml::stream;

namespace {

__extension__ typedef __int128 i128; // exact reference arithmetic

constexpr std::uint32_t kMarker = 0xbf800000u; // least squares in both MAGIC2 halves

Dataset make_ds(std::size_t n, std::size_t d, const std::vector<float>& f, const std::vector<float>& b) {
  Dataset ds;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) ds.features(i, j) = f[i * d + j];
    ds.labels(i) = b[i];
  }
  return ds;
}

// ----- the reference, from docs/ENGINE.md ------------------------------------------------------

i128 rshift(i128 v, int s) { return s == 0 ? v : (v + (i128{1} << (s - 1))) >> s; } // round half up
std::int64_t floor_div(std::int64_t v, std::int64_t m) { return v / m - (v % m != 0 && (v < 0) != (m < 0) ? 1 : 0); }
i128 sat(i128 v, int n) {
  const i128 hi = (i128{1} << (n - 1)) - 1, lo = -(i128{1} << (n - 1));
  return v < lo ? lo : v > hi ? hi : v;
}

struct RefLayout {
  unsigned bits;
  std::size_t d;
  bool mm;
  bool ds;
  [[nodiscard]] std::size_t per() const { return bits == 32 ? 2 : 64 / bits; }
  [[nodiscard]] std::size_t fw() const { return (d + per() - 1) / per(); }
  [[nodiscard]] std::size_t row() const { return fw() * (ds ? 2 : 1) + 1; }
  [[nodiscard]] int frac() const { return bits == 32 ? 16 : mm ? static_cast<int>(bits) - 2 : static_cast<int>(bits) - 1; }
};

//! §2: the engine's integer features A of one copy.
std::vector<std::int64_t> ref_decode(const Word* w, const RefLayout& l) {
  std::vector<std::int64_t> a(l.d);
  for (std::size_t j = 0; j < l.d; ++j) {
    if (l.bits == 32) {
      const float v = std::bit_cast<float>(static_cast<std::uint32_t>(w[j / 2] >> (32 * (j % 2))));
      const double s = std::floor(static_cast<double>(v) * 65536.0 + 0.5);
      a[j] = static_cast<std::int64_t>(std::clamp(s, -131072.0, 131071.0));
    } else {
      const std::size_t per = l.per();
      const std::uint64_t p = (w[j / per] >> (l.bits * (j % per))) & ((std::uint64_t{1} << l.bits) - 1);
      std::int64_t v = static_cast<std::int64_t>(p);
      if (l.mm && v >= (std::int64_t{1} << (l.bits - 1))) v -= std::int64_t{1} << l.bits;
      a[j] = v;
    }
  }
  return a;
}

std::int64_t ref_sigmoid(std::int64_t dot) {
  static const auto knots = [] {
    std::array<std::int64_t, 17> y{};
    for (int k = 0; k < 17; ++k) y[static_cast<std::size_t>(k)] = std::llround(8388608.0 / (1.0 + std::exp(-k / 2.0)));
    return y;
  }();
  const std::int64_t t = dot < 0 ? -dot : dot;
  std::int64_t s;
  if (t >= (std::int64_t{8} << 23)) {
    s = knots[16];
  } else {
    const auto k = static_cast<std::size_t>(t >> 22);
    s = knots[k] + static_cast<std::int64_t>(rshift(i128{knots[k + 1] - knots[k]} * (t & ((1 << 22) - 1)), 22));
  }
  return dot < 0 ? (std::int64_t{1} << 23) - s : s;
}

struct RefStats {
  std::size_t samples = 0, g_saturated = 0, g_zero_by_shift = 0, dot_saturated = 0, x_saturated = 0, g_nonzero = 0;
};

//! One epoch of the engine arithmetic over all lanes; `x` is lanes x d, updated in place.
void ref_engine_epoch(const Config& c, const std::vector<float>& lane_labels, const std::vector<Word>& words,
                      std::size_t rows, const RefLayout& l, std::size_t epoch, std::vector<std::int32_t>& x,
                      RefStats& st, const engine::ModelWord& word = {}) {
  const std::size_t d = l.d, lanes = lane_labels.empty() ? 1 : lane_labels.size();
  const int f = l.frac();
  const bool ls = std::bit_cast<std::uint32_t>(c.step_cost_neg) == kMarker &&
                  std::bit_cast<std::uint32_t>(c.step_cost_pos) == kMarker;
  const LossMode mode = ls ? LossMode::LeastSquares : c.logistic ? LossMode::Logistic : LossMode::L2Svm;
  const int h = c.step_decay ? static_cast<int>(epoch / (c.decay_interval == 0 ? 1u : c.decay_interval)) : 0;
  auto factor = [](float g) {
    const auto b = std::bit_cast<std::uint32_t>(g);
    return std::pair<std::int64_t, int>{(b & 0x7fffff) | 0x800000, 150 - static_cast<int>((b >> 23) & 0xff)};
  };
  const std::int64_t m = c.minibatch_mask;
  // Both copies of every row, decoded once (the same for every lane).
  std::vector<std::vector<std::int64_t>> copy1(rows), copy2(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const Word* row = words.data() + i * l.row();
    copy1[i] = ref_decode(row, l);
    copy2[i] = l.ds ? ref_decode(row + l.fw(), l) : copy1[i];
  }
  for (std::size_t lane = 0; lane < lanes; ++lane) {
    // A narrower model word (Cpu::model_word): the words a sample updates are rounded to
    // multiples of 2^k (half up, or with the lane's draws in order: sample, then feature) and
    // clamped to the word's range at that scale.
    const int k = engine::kModelFractionBits - word.fraction_bits;
    const std::int64_t top = (std::int64_t{1} << (word.bits - 1)) - 1;
    SplitMix64 draws(word.seed, epoch, lane);
    auto narrowed = [&](std::int64_t v) {
      const std::int64_t low = word.stochastic ? static_cast<std::int64_t>(draws() % (std::uint64_t{1} << k))
                                               : (k > 0 ? std::int64_t{1} << (k - 1) : 0);
      const std::int64_t q = std::clamp<std::int64_t>(floor_div(v + low, std::int64_t{1} << k), -top - 1, top);
      return q * (std::int64_t{1} << k);
    };
    // hist[i + 1] = x^(i); hist[0] = x^(-1).
    std::vector<std::vector<std::int64_t>> hist(rows + 1, std::vector<std::int64_t>(d));
    for (std::size_t j = 0; j < d; ++j) hist[0][j] = x[lane * d + j];
    for (std::size_t i = 0; i < rows; ++i) {
      const Word* row = words.data() + i * l.row();
      const auto& a1 = copy1[i];
      const auto& a2 = copy2[i];
      const auto label_bits = static_cast<std::uint32_t>(row[l.row() - 1]);
      std::int64_t b;
      if (lane_labels.empty()) {
        const double s = std::floor(static_cast<double>(std::bit_cast<float>(label_bits)) * 8388608.0 + 0.5);
        b = static_cast<std::int64_t>(std::clamp(s, -2147483648.0, 2147483647.0));
      } else {
        b = label_bits == std::bit_cast<std::uint32_t>(lane_labels[lane]) ? (1 << 23) : -(1 << 23);
      }
      // §6: the model the dot product reads: x^(r), r the largest r <= i - 2 with (r & m) == m.
      std::int64_t r = static_cast<std::int64_t>(i) - 2;
      while (r >= 0 && (r & m) != m) --r;
      if (r < -1) r = -1;
      const auto& xr = hist[static_cast<std::size_t>(r + 1)];
      i128 D = 0;
      for (std::size_t j = 0; j < d; ++j) D += i128{xr[j]} * a1[j];
      const i128 dot_wide = rshift(D, f);
      const auto dot = static_cast<std::int64_t>(sat(dot_wide, 32));
      st.dot_saturated += dot != dot_wide ? 1 : 0;
      // §5
      std::int64_t s;
      switch (mode) {
        case LossMode::LeastSquares: s = dot - b; break;
        case LossMode::L2Svm: s = (b > 0 ? dot < (1 << 23) : dot > -(1 << 23)) ? dot - b : 0; break;
        default: s = ref_sigmoid(dot) - (b > 0 ? (1 << 23) : 0); break;
      }
      const auto [mant, e] = factor(ls ? c.step : b > 0 ? c.step_cost_pos : c.step_cost_neg);
      std::int64_t g = 0;
      if (e + h > 62) {
        st.g_zero_by_shift += 1;
      } else {
        const i128 wide = rshift(i128{s} * mant, e + h);
        g = static_cast<std::int64_t>(sat(wide, 25));
        st.g_saturated += g != wide ? 1 : 0;
      }
      st.g_nonzero += g != 0 ? 1 : 0;
      // §6: the update, from x^(i-1).
      const auto& prev = hist[i];
      auto& next = hist[i + 1];
      for (std::size_t j = 0; j < d; ++j) {
        const std::int64_t decay = c.lambda_shift < 32 ? (prev[j] >> c.lambda_shift) : 0;
        const i128 v = i128{prev[j]} - decay - rshift(i128{g} * a2[j], f);
        next[j] = static_cast<std::int64_t>(sat(v, 32));
        st.x_saturated += next[j] != v ? 1 : 0;
      }
      if (!word.is_engine() && (g != 0 || c.lambda_shift < 32))
        for (std::size_t j = 0; j < d; ++j) next[j] = narrowed(next[j]);
      st.samples += 1;
    }
    for (std::size_t j = 0; j < d; ++j) x[lane * d + j] = static_cast<std::int32_t>(hist[rows][j]);
  }
}

//! One epoch of the float arithmetic (§9) in double precision; `x` is lanes x d.
void ref_float_epoch(const Config& c, const std::vector<float>& lane_labels, const std::vector<Word>& words,
                     std::size_t rows, const RefLayout& l, std::size_t epoch, std::vector<double>& x) {
  const std::size_t d = l.d, lanes = lane_labels.empty() ? 1 : lane_labels.size();
  const bool ls = std::bit_cast<std::uint32_t>(c.step_cost_neg) == kMarker &&
                  std::bit_cast<std::uint32_t>(c.step_cost_pos) == kMarker;
  const LossMode mode = ls ? LossMode::LeastSquares : c.logistic ? LossMode::Logistic : LossMode::L2Svm;
  const int h = c.step_decay ? static_cast<int>(epoch / (c.decay_interval == 0 ? 1u : c.decay_interval)) : 0;
  const double keep = c.lambda_shift < 32 ? 1.0 - std::ldexp(1.0, -static_cast<int>(c.lambda_shift)) : 1.0;
  const std::int64_t m = c.minibatch_mask;
  auto values = [&](const Word* w) {
    std::vector<double> v(d);
    if (l.bits == 32) {
      for (std::size_t j = 0; j < d; ++j)
        v[j] = std::bit_cast<float>(static_cast<std::uint32_t>(w[j / 2] >> (32 * (j % 2))));
    } else {
      const auto a = ref_decode(w, l);
      for (std::size_t j = 0; j < d; ++j) v[j] = std::ldexp(static_cast<double>(a[j]), -l.frac());
    }
    return v;
  };
  std::vector<std::vector<double>> copy1(rows), copy2(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const Word* row = words.data() + i * l.row();
    copy1[i] = values(row);
    copy2[i] = l.ds ? values(row + l.fw()) : copy1[i];
  }
  for (std::size_t lane = 0; lane < lanes; ++lane) {
    std::vector<std::vector<double>> hist(rows + 1, std::vector<double>(d));
    for (std::size_t j = 0; j < d; ++j) hist[0][j] = x[lane * d + j];
    for (std::size_t i = 0; i < rows; ++i) {
      const Word* row = words.data() + i * l.row();
      const auto& a1 = copy1[i];
      const auto& a2 = copy2[i];
      const auto bits = static_cast<std::uint32_t>(row[l.row() - 1]);
      const double b = lane_labels.empty() ? static_cast<double>(std::bit_cast<float>(bits))
                                           : (bits == std::bit_cast<std::uint32_t>(lane_labels[lane]) ? 1.0 : -1.0);
      // No staleness: x^(r), r the largest r <= i - 1 with (r & m) == m.
      std::int64_t r = static_cast<std::int64_t>(i) - 1;
      while (r >= 0 && (r & m) != m) --r;
      const auto& xr = hist[static_cast<std::size_t>(r + 1)];
      double dot = 0.0;
      for (std::size_t j = 0; j < d; ++j) dot += xr[j] * a1[j];
      double s;
      switch (mode) {
        case LossMode::LeastSquares: s = dot - b; break;
        case LossMode::L2Svm: s = b * dot < 1.0 ? dot - b : 0.0; break;
        default: s = 1.0 / (1.0 + std::exp(-dot)) - (b > 0 ? 1.0 : 0.0); break;
      }
      const double gamma = ls ? c.step : b > 0 ? c.step_cost_pos : c.step_cost_neg;
      const double g = std::ldexp(gamma, -h) * s;
      for (std::size_t j = 0; j < d; ++j) hist[i + 1][j] = keep * hist[i][j] - g * a2[j];
    }
    for (std::size_t j = 0; j < d; ++j) x[lane * d + j] = hist[rows][j];
  }
}

// ----- random cases ----------------------------------------------------------------------------

struct Case {
  std::uint64_t seed = 0;
  int model = 0;      // 0 least squares, 1 L2-SVM, 2 logistic
  int precision = 0;  // index into the list in run_case
  bool mm = false;
  std::uint16_t mask = 0;
  std::uint32_t lambda = 32;
  bool decay = false;
  int lanes = 1;
  unsigned threads = 1;
  Arithmetic arithmetic = Arithmetic::Engine;
  engine::ModelWord word{}; // Cpu::model_word

  [[nodiscard]] std::string describe() const {
    static const char* models[] = {"least-squares", "l2svm", "logistic"};
    static const char* precs[] = {"float32", "q1", "q2", "q4", "q8", "q1 stochastic ds", "q2 stochastic ds",
                                  "q4 stochastic ds", "q8 stochastic ds", "q4 stochastic"};
    std::ostringstream os;
    os << "seed=" << seed << " model=" << models[model] << " precision=" << precs[precision]
       << " range=" << (mm ? "[-1,1]" : "[0,1]") << " mask=" << mask << " lambda=" << lambda
       << " decay=" << decay << " lanes=" << lanes << " threads=" << threads
       << " arithmetic=" << zipml::to_string(arithmetic);
    if (!word.is_engine())
      os << " model word=" << word.bits << " bits, " << word.fraction_bits << " fraction bits, "
         << (word.stochastic ? "stochastic" : "nearest");
    return os.str();
  }
};

struct Totals {
  std::size_t runs = 0, mismatches = 0, words = 0, nonzero_words = 0;
  RefStats st;
};

template <class M, class P>
void run_case(const Case& cs, Totals& tot) {
  INFO(cs.describe());
  SplitMix64 rng(cs.seed);
  const std::size_t n = 40 + rng.below(21), d = 3 + rng.below(68), epochs = 4;
  const bool classifier = M::is_classifier;
  const std::vector<float> classes = {0.0f, 7.0f, -2.5f};
  std::vector<float> lane_labels;
  if (cs.lanes == 3) lane_labels = classes;
  else if (classifier) lane_labels = {7.0f};
  // Steps: the engine gets everything from the tiny (G = 0 after a decay) to the clipping;
  // the float reference gets steps for which the float32 and double trajectories stay close.
  float step;
  if (cs.arithmetic == Arithmetic::Engine) {
    static const float steps[] = {0x1p-4f, 0.3f, 0x1.5eb852p-9f, 1.75f, 0x1p-20f, 0x1p-38f, 0x1p-7f, 12.5f};
    step = steps[rng.below(std::size(steps))];
  } else {
    // step x |a|^2 <= 1 (features in [-1, 1]): no divergence, so float32 and double stay close.
    static const float steps[] = {1.0f, 0.5f, 0.3f, 0.1f};
    step = std::ldexp(steps[rng.below(std::size(steps))], -static_cast<int>(std::bit_width(d - 1)));
  }
  INFO("n=", n, " d=", d, " step=", step);

  std::vector<float> f(n * d), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    f[i * d] = 1.0f;
    for (std::size_t j = 1; j < d; ++j) {
      float v;
      if constexpr (P::bits == 32) {
        const auto k = rng.below(10);
        v = k == 0 ? -2.0f : k == 1 ? std::nextafter(2.0f - 0x1p-17f, 0.0f) : k == 2 ? 0x1p-17f * static_cast<float>(rng.below(7)) - 0x1p-16f
                                                          : std::min(4.0f * rng.uniform() - 2.0f, std::nextafter(2.0f - 0x1p-17f, 0.0f));
        if (cs.arithmetic == Arithmetic::Float) v = 2.0f * rng.uniform() - 1.0f;
      } else {
        const auto k = rng.below(8);
        const float lo = cs.mm ? -1.0f : 0.0f;
        v = k == 0 ? lo : k == 1 ? 1.0f : lo + (1.0f - lo) * rng.uniform();
      }
      f[i * d + j] = v;
    }
    b[i] = (classifier || cs.lanes == 3) ? classes[rng.below(3)] : 6.0f * rng.uniform() - 3.0f;
    if (!classifier && cs.lanes == 1 && rng.below(25) == 0) b[i] = rng.below(2) ? 300.0f : -300.0f; // saturates B
  }
  const Dataset ds = make_ds(n, d, f, b);

  stream::PackOptions po;
  po.range = cs.mm ? Range::MinusOneOne : Range::ZeroOne;
  po.double_sampled = P::rounding::stochastic && cs.precision >= 5 && cs.precision <= 8;
  po.seed = cs.seed;
  po.engine_range = cs.arithmetic == Arithmetic::Engine;
  po.threads = 1;

  Config c;
  c.lambda_shift = cs.lambda;
  c.minibatch_mask = cs.mask;
  c.step_decay = cs.decay;
  c.decay_interval = static_cast<std::uint8_t>(rng.below(3)); // 0 (= 1), 1 or 2
  c.binarize = !lane_labels.empty();
  c.double_sampled = po.double_sampled;
  c.logistic = M::loss_mode == LossMode::Logistic;
  if (M::loss_mode == LossMode::LeastSquares) {
    c.step_cost_neg = c.step_cost_pos = std::bit_cast<float>(kMarker);
  } else {
    c.step_cost_pos = step * 1.0f;
    c.step_cost_neg = step * 1.5f;
  }
  c.binarize_label = lane_labels.empty() ? 0.0f : lane_labels.front();
  c.dim = static_cast<std::uint32_t>(d);
  c.samples = static_cast<std::uint32_t>(n);
  c.epochs = static_cast<std::uint32_t>(epochs);
  c.step = step;
  c.minus_one_one = cs.mm;
  c.precision = stream::precision_code(P::bits);
  INFO("decay_interval=", static_cast<unsigned>(c.decay_interval));

  PackedStream packed;
  TrainJob job;
  job.config = c;
  job.lane_labels = lane_labels;
  job.arithmetic = cs.arithmetic;
  const std::size_t lanes = job.lanes();
  REQUIRE(lanes == static_cast<std::size_t>(cs.lanes));
  ModelState state;
  state.reset(cs.arithmetic, lanes, d);
  std::vector<std::int32_t> xe(lanes * d, 0);
  std::vector<double> xf(lanes * d, 0.0);
  // A quarter of the engine cases start from a random model (words anywhere in 32 bits, many
  // near the limits), so that dot products and model words saturate; the rest start from 0.
  if (cs.arithmetic == Arithmetic::Engine && rng.below(4) == 0) {
    for (auto& w : xe) {
      const auto k = rng.below(4);
      w = k == 0 ? std::numeric_limits<std::int32_t>::max() - static_cast<std::int32_t>(rng.below(1 << 24))
          : k == 1 ? std::numeric_limits<std::int32_t>::min() + static_cast<std::int32_t>(rng.below(1 << 24))
                   : static_cast<std::int32_t>(static_cast<std::uint32_t>(rng()));
    }
    state.fixed = xe;
  }
  const RefLayout rl{P::bits, d, cs.mm, po.double_sampled};
  Cpu cpu;
  cpu.threads = cs.threads;
  cpu.model_word = cs.word;
  for (std::size_t e = 0; e < epochs; ++e) {
    // Stochastic rounding: a fresh quantization every epoch, as Sgd's requantize does.
    if (e == 0 || P::rounding::stochastic) {
      po.epoch = e;
      packed = zipml::stream::pack<P>(ds, po);
      job.data = &packed;
      REQUIRE(packed.words.size() == n * rl.row());
    }
    cpu.run_epoch(M{}, job, e, state);
    ++tot.runs;
    if (cs.arithmetic == Arithmetic::Engine) {
      ref_engine_epoch(c, lane_labels, packed.words, n, rl, e, xe, tot.st, cs.word);
      for (std::size_t lane = 0; lane < lanes; ++lane)
        for (std::size_t j = 0; j < d; ++j) {
          const std::int32_t want = xe[lane * d + j], got = state.fixed[lane * d + j];
          ++tot.words;
          tot.nonzero_words += want != 0 ? 1 : 0;
          if (want != got) {
            ++tot.mismatches;
            FAIL_CHECK("engine mismatch: lane ", lane, ", first differing feature ", j, ", epoch ", e,
                       ": reference ", want, ", cpu ", got);
            return;
          }
        }
    } else {
      ref_float_epoch(c, lane_labels, packed.words, n, rl, e, xf);
      for (std::size_t lane = 0; lane < lanes; ++lane) {
        double scale = 1e-3;
        for (std::size_t j = 0; j < d; ++j) scale = std::max(scale, std::abs(xf[lane * d + j]));
        for (std::size_t j = 0; j < d; ++j) {
          const double want = xf[lane * d + j], got = state.real[lane * d + j];
          ++tot.words;
          tot.nonzero_words += want != 0.0 ? 1 : 0;
          if (!(std::abs(want - got) <= 1e-4 * std::max(std::abs(want), scale))) {
            ++tot.mismatches;
            FAIL_CHECK("float mismatch: lane ", lane, ", first differing feature ", j, ", epoch ", e,
                       ": reference ", want, ", cpu ", got, " (lane scale ", scale, ")");
            return;
          }
        }
      }
    }
  }
  CHECK(true); // one assertion per case that got through every epoch
}

template <class M>
void dispatch(const Case& cs, Totals& tot) {
  switch (cs.precision) {
    case 0: run_case<M, Float32>(cs, tot); break;
    case 1: run_case<M, Quantized<1>>(cs, tot); break;
    case 2: run_case<M, Quantized<2>>(cs, tot); break;
    case 3: run_case<M, Quantized<4>>(cs, tot); break;
    case 4: run_case<M, Quantized<8>>(cs, tot); break;
    case 5: run_case<M, Quantized<1, Stochastic>>(cs, tot); break;
    case 6: run_case<M, Quantized<2, Stochastic>>(cs, tot); break;
    case 7: run_case<M, Quantized<4, Stochastic>>(cs, tot); break;
    case 8: run_case<M, Quantized<8, Stochastic>>(cs, tot); break;
    default: run_case<M, Quantized<4, Stochastic>>(cs, tot); break;
  }
}

//! Narrower model words (Cpu::model_word) on a cross-section of the cases run_all covers.
Totals run_narrow(std::uint64_t base_seed) {
  const engine::ModelWord words[] = {{16, 13, false, 7}, {16, 13, true, 7}, {12, 8, true, 9}, {24, 19, false, 1},
                                     {20, 23, true, 3}, {26, 20, true, 5}};
  Totals tot;
  std::uint64_t k = 0;
  for (int model = 0; model < 3; ++model)
    for (int prec : {0, 3, 4, 7})
      for (std::uint16_t mask : {std::uint16_t{0}, std::uint16_t{3}})
        for (std::uint32_t lambda : {32u, 6u})
          for (int lanes : {1, 3})
            for (const auto& w : words) {
              Case cs;
              cs.seed = base_seed + k++;
              cs.model = model;
              cs.precision = prec;
              cs.mm = (k & 1) != 0;
              cs.mask = mask;
              cs.lambda = lambda;
              cs.decay = (k & 2) != 0;
              cs.lanes = lanes;
              cs.threads = lanes == 3 && (k & 4) != 0 ? 2 : 1;
              cs.word = w;
              if (model == 0) dispatch<LeastSquares>(cs, tot);
              else if (model == 1) dispatch<L2Svm>(cs, tot);
              else dispatch<Logistic>(cs, tot);
            }
  return tot;
}

Totals run_all(Arithmetic arithmetic, std::uint64_t base_seed) {
  Totals tot;
  std::uint64_t k = 0;
  for (int model = 0; model < 3; ++model)
    for (int prec = 0; prec < 10; ++prec)
      for (bool mm : {false, true}) {
        if (mm && (prec == 1 || prec == 5)) continue; // 1-bit [-1, 1] is refused
        for (std::uint16_t mask : {std::uint16_t{0}, std::uint16_t{3}})
          for (std::uint32_t lambda : {32u, 6u})
            for (bool decay : {false, true})
              for (int lanes : {1, 3})
                for (unsigned threads : {1u, 2u}) {
                  if (lanes == 1 && threads == 2) continue; // the same as one thread
                  Case cs;
                  cs.seed = base_seed + k++;
                  cs.model = model;
                  cs.precision = prec;
                  cs.mm = mm;
                  cs.mask = mask;
                  cs.lambda = lambda;
                  cs.decay = decay;
                  cs.lanes = lanes;
                  cs.threads = threads;
                  cs.arithmetic = arithmetic;
                  if (model == 0) dispatch<LeastSquares>(cs, tot);
                  else if (model == 1) dispatch<L2Svm>(cs, tot);
                  else dispatch<Logistic>(cs, tot);
                }
      }
  return tot;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The building blocks
// ---------------------------------------------------------------------------------------------

TEST_CASE("engine arithmetic: hand-worked example (docs/ENGINE.md §10)") {
  // Q = 4, [0, 1] (F = 3), least squares, step 2^-4, d = 2, features (1.0, 0.5), label 1.0.
  SUBCASE("through the engine:: functions") {
    const auto sf = engine::step_factor(0x1p-4f);
    CHECK(sf.mantissa == 0x800000u);
    CHECK(sf.shift == 27);
    const std::int32_t a[2] = {8, 4};
    const std::int32_t x[2] = {0, 0};
    const std::int64_t D = std::int64_t{x[0]} * a[0] + std::int64_t{x[1]} * a[1];
    const std::int32_t dot = engine::dot_q23(D, 3);
    CHECK(dot == 0);
    const std::int32_t b = engine::fixed_label(1.0f);
    CHECK(b == 8388608);
    const std::int64_t s = LeastSquares::engine_slope(dot, b);
    CHECK(s == -8388608);
    const std::int32_t g = engine::gradient_scale(s, sf, 0);
    CHECK(g == -524288);
    CHECK(engine::update(x[0], a[0], g, 3, 32) == 524288);
    CHECK(engine::update(x[1], a[1], g, 3, 32) == 262144);
  }
  SUBCASE("through Cpu::run_epoch on a one-row packed stream") {
    const Dataset ds = make_ds(1, 2, {1.0f, 0.5f}, {1.0f});
    const PackedStream s = zipml::stream::pack<Quantized<4>>(ds);
    REQUIRE(s.words.size() == 2);
    CHECK(s.words[0] == 0x48u);
    TrainJob job;
    job.config.step_cost_neg = job.config.step_cost_pos = std::bit_cast<float>(kMarker);
    job.config.step = 0x1p-4f;
    job.config.dim = 2;
    job.config.samples = 1;
    job.config.epochs = 1;
    job.config.precision = stream::PrecisionCode::Q4;
    job.data = &s;
    job.arithmetic = Arithmetic::Engine;
    ModelState state;
    state.reset(Arithmetic::Engine, 1, 2);
    Cpu{}.run_epoch(LeastSquares{}, job, 0, state);
    REQUIRE(state.fixed.size() == 2);
    CHECK(state.fixed[0] == 524288);
    CHECK(state.fixed[1] == 262144);
    CHECK(state.weight(0, 0) == 0.0625f);
    CHECK(state.weight(0, 1) == 0.03125f);
    // The float arithmetic gives the same model here (no staleness matters for one row).
    job.arithmetic = Arithmetic::Float;
    state.reset(Arithmetic::Float, 1, 2);
    Cpu{}.run_epoch(LeastSquares{}, job, 0, state);
    CHECK(state.real[0] == 0.0625f);
    CHECK(state.real[1] == 0.03125f);
  }
}

TEST_CASE("engine arithmetic: round_shift and saturate") {
  CHECK(engine::round_shift(5, 0) == 5);
  CHECK(engine::round_shift(-5, 0) == -5);
  CHECK(engine::round_shift(5, 1) == 3);   // 2.5 -> 3
  CHECK(engine::round_shift(-5, 1) == -2); // -2.5 -> -2 (half up)
  CHECK(engine::round_shift(6, 2) == 2);   // 1.5 -> 2
  CHECK(engine::round_shift(-6, 2) == -1); // -1.5 -> -1
  CHECK(engine::round_shift(-2, 2) == 0);  // -0.5 -> 0
  CHECK(engine::round_shift(-3, 2) == -1); // -0.75 -> -1
  CHECK(engine::round_shift(5, 2) == 1);   // 1.25 -> 1
  CHECK(engine::round_shift(7, 2) == 2);   // 1.75 -> 2
  CHECK(engine::round_shift(std::int64_t{1} << 61, 62) == 1);        // 0.5 -> 1
  CHECK(engine::round_shift(-(std::int64_t{1} << 61), 62) == 0);     // -0.5 -> 0
  CHECK(engine::round_shift((std::int64_t{1} << 61) - 1, 62) == 0);
  const std::uint64_t seed = 99;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  for (int t = 0; t < 100000; ++t) {
    const auto v = static_cast<std::int64_t>(rng() >> 8) - (std::int64_t{1} << 55);
    const int s = static_cast<int>(rng.below(40));
    CAPTURE(v);
    CAPTURE(s);
    // floor(v / 2^s + 1/2), exactly, in long double is not exact for 56 bits: use integers.
    const i128 want = s == 0 ? i128{v} : (i128{v} + (i128{1} << (s - 1))) >> s;
    CHECK(engine::round_shift(v, s) == static_cast<std::int64_t>(want));
  }

  CHECK(engine::saturate(5, 8) == 5);
  CHECK(engine::saturate(127, 8) == 127);
  CHECK(engine::saturate(128, 8) == 127);
  CHECK(engine::saturate(-128, 8) == -128);
  CHECK(engine::saturate(-129, 8) == -128);
  CHECK(engine::saturate(std::int64_t{1} << 31, 32) == 2147483647);
  CHECK(engine::saturate(-(std::int64_t{1} << 31) - 1, 32) == -2147483648LL);
  CHECK(engine::saturate(std::int64_t{1} << 24, 25) == (1 << 24) - 1);
  CHECK(engine::saturate(-(std::int64_t{1} << 24), 25) == -(1 << 24));
  CHECK(engine::saturate(std::numeric_limits<std::int64_t>::max(), 18) == 131071);
  CHECK(engine::saturate(std::numeric_limits<std::int64_t>::min(), 18) == -131072);
}

TEST_CASE("engine arithmetic: float_feature and fixed_label") {
  CHECK(engine::float_feature(0.0f) == 0);
  CHECK(engine::float_feature(1.0f) == 65536);
  CHECK(engine::float_feature(-1.0f) == -65536);
  CHECK(engine::float_feature(0.5f) == 32768);
  CHECK(engine::float_feature(0x1p-17f) == 1);    // 0.5 -> 1 (half up)
  CHECK(engine::float_feature(-0x1p-17f) == 0);   // -0.5 -> 0 (half up)
  CHECK(engine::float_feature(0x3p-17f) == 2);    // 1.5 -> 2
  CHECK(engine::float_feature(-0x3p-17f) == -1);  // -1.5 -> -1
  CHECK(engine::float_feature(0x1p-18f) == 0);    // 0.25 -> 0
  CHECK(engine::float_feature(-0x3p-18f) == -1);  // -0.75 -> -1
  CHECK(engine::float_feature(0.1f) == 6554);     // 6553.6 -> 6554
  CHECK(engine::float_feature(-2.0f) == -131072);
  CHECK(engine::float_feature(1.9999847f) == 131071); // 131070.999 -> 131071
  CHECK(engine::float_feature(2.0f) == 131071);        // saturated at 18 bits
  CHECK(engine::float_feature(100.0f) == 131071);
  CHECK(engine::float_feature(-100.0f) == -131072);
  CHECK(engine::float_feature(-2.0000002f) == -131072);
  // Values the host accepts (< 2) but whose rounding reaches 2^17 saturate too:
  // floor((2 - 2^-23) * 2^16 + 1/2) = 131072 -> 131071.
  CHECK(engine::float_feature(std::nextafter(2.0f, 0.0f)) == 131071);

  CHECK(engine::fixed_label(1.0f) == 8388608);
  CHECK(engine::fixed_label(-1.0f) == -8388608);
  CHECK(engine::fixed_label(0.0f) == 0);
  CHECK(engine::fixed_label(0x1p-24f) == 1);   // 0.5 -> 1
  CHECK(engine::fixed_label(-0x1p-24f) == 0);  // -0.5 -> 0
  CHECK(engine::fixed_label(0x3p-24f) == 2);
  CHECK(engine::fixed_label(-0x3p-24f) == -1);
  CHECK(engine::fixed_label(0.1f) == 838861);  // 838860.8 -> 838861
  CHECK(engine::fixed_label(255.99998f) == 2147483520);
  CHECK(engine::fixed_label(256.0f) == 2147483647);
  CHECK(engine::fixed_label(-256.0f) == -2147483647 - 1);
  CHECK(engine::fixed_label(1e10f) == 2147483647);
  CHECK(engine::fixed_label(-1e10f) == -2147483647 - 1);

  CHECK(engine::binarized_label(0x40e00000u, 0x40e00000u) == 8388608);
  CHECK(engine::binarized_label(0x40e00001u, 0x40e00000u) == -8388608);
  CHECK(engine::binarized_label(0x80000000u, 0x00000000u) == -8388608); // -0.0 is not 0.0 bit for bit
}

TEST_CASE("engine arithmetic: dot_q23 rounding and saturation") {
  CHECK(engine::dot_q23(0, 3) == 0);
  CHECK(engine::dot_q23(3, 1) == 2);    // 1.5 -> 2
  CHECK(engine::dot_q23(-3, 1) == -1);  // -1.5 -> -1
  CHECK(engine::dot_q23(-1, 1) == 0);   // -0.5 -> 0
  CHECK(engine::dot_q23(12, 3) == 2);   // 1.5 -> 2
  CHECK(engine::dot_q23(11, 3) == 1);   // 1.375 -> 1
  CHECK(engine::dot_q23(123456789, 0) == 123456789);
  CHECK(engine::dot_q23(std::int64_t{1} << 40, 3) == 2147483647);
  CHECK(engine::dot_q23(-(std::int64_t{1} << 40), 3) == -2147483647 - 1);
  CHECK(engine::dot_q23((std::int64_t{1} << 34) - 5, 3) == 2147483647); // 2^31 - 0.625 -> 2^31 - 1
  CHECK(engine::dot_q23((std::int64_t{1} << 34) - 4, 3) == 2147483647); // 2^31 - 0.5 -> 2^31: saturated
  CHECK(engine::dot_q23(-(std::int64_t{1} << 34) - 4, 3) == -2147483647 - 1); // -2^31 - 0.5 -> -2^31
  CHECK(engine::dot_q23(-(std::int64_t{1} << 34) - 5, 3) == -2147483647 - 1); // saturated
  CHECK(engine::dot_q23((std::int64_t{2147483647} << 16), 16) == 2147483647);
  CHECK(engine::dot_q23(-(std::int64_t{1} << 47), 16) == -2147483647 - 1);
  // The largest exact sum: 2^15 products of 2^31 * 2^17.
  CHECK(engine::dot_q23(std::numeric_limits<std::int64_t>::min() + (std::int64_t{1} << 15), 16) == -2147483647 - 1);
}

TEST_CASE("engine arithmetic: step_factor and step_factor_ok") {
  {
    const auto f = engine::step_factor(0x1p-12f * 1.5f);
    CHECK(f.mantissa == 0xC00000u);
    CHECK(f.shift == 35);
  }
  {
    const auto f = engine::step_factor(1.0f);
    CHECK(f.mantissa == 0x800000u);
    CHECK(f.shift == 23);
  }
  {
    const auto f = engine::step_factor(0.1f); // 0x3dcccccd
    CHECK(f.mantissa == 0xcccccdu);
    CHECK(f.shift == 27);
    CHECK(std::ldexp(static_cast<double>(f.mantissa), -f.shift) == static_cast<double>(0.1f));
  }
  {
    const auto f = engine::step_factor(0x1p-39f);
    CHECK(f.mantissa == 0x800000u);
    CHECK(f.shift == 62);
  }
  {
    const auto f = engine::step_factor(std::nextafter(256.0f, 0.0f));
    CHECK(f.mantissa == 0xffffffu);
    CHECK(f.shift == 16);
  }
  CHECK(engine::step_factor(0.0f).mantissa == 0u);
  // Every normal float is represented exactly.
  const std::uint64_t seed = 5;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  for (int t = 0; t < 10000; ++t) {
    const float g = std::ldexp(1.0f + rng.uniform(), -static_cast<int>(rng.below(40)));
    const auto f = engine::step_factor(g);
    CAPTURE(g);
    CHECK(std::ldexp(static_cast<double>(f.mantissa), -f.shift) == static_cast<double>(g));
    CHECK(f.mantissa >= 0x800000u);
    CHECK(f.mantissa <= 0xffffffu);
  }

  CHECK_FALSE(engine::step_factor_ok(0.0f)); // a zero step trains nothing: refused
  CHECK(engine::step_factor_ok(0x1p-34f));
  CHECK(engine::step_factor_ok(0x1p-12f));
  CHECK(engine::step_factor_ok(1.0f));
  CHECK(engine::step_factor_ok(std::nextafter(256.0f, 0.0f)));
  CHECK_FALSE(engine::step_factor_ok(256.0f));
  CHECK_FALSE(engine::step_factor_ok(1000.0f));
  CHECK_FALSE(engine::step_factor_ok(std::nextafter(0x1p-34f, 0.0f))); // g would be 0 for any slope
  CHECK_FALSE(engine::step_factor_ok(0x1p-40f));
  CHECK_FALSE(engine::step_factor_ok(1e-30f));
  CHECK_FALSE(engine::step_factor_ok(std::numeric_limits<float>::denorm_min()));
  CHECK_FALSE(engine::step_factor_ok(-0x1p-4f));
  CHECK_FALSE(engine::step_factor_ok(std::numeric_limits<float>::quiet_NaN()));
  CHECK_FALSE(engine::step_factor_ok(std::numeric_limits<float>::infinity()));
  CHECK_FALSE(engine::step_factor_ok(-std::numeric_limits<float>::infinity()));
}

TEST_CASE("engine arithmetic: gradient_scale") {
  const auto one = engine::step_factor(1.0f); // M = 2^23, E = 23: G = s
  CHECK(engine::gradient_scale(12345, one, 0) == 12345);
  CHECK(engine::gradient_scale(-12345, one, 0) == -12345);
  // Saturation at 25 bits (|G| < 2).
  CHECK(engine::gradient_scale((1 << 24) - 1, one, 0) == (1 << 24) - 1);
  CHECK(engine::gradient_scale(1 << 24, one, 0) == (1 << 24) - 1);
  CHECK(engine::gradient_scale(-(1 << 24), one, 0) == -(1 << 24));
  CHECK(engine::gradient_scale(-(1 << 24) - 1, one, 0) == -(1 << 24));
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1.fffffep7f), 0) == (1 << 24) - 1);
  CHECK(engine::gradient_scale(-(std::int64_t{1} << 33), engine::step_factor(0x1.fffffep7f), 0) == -(1 << 24));
  // Decay halvings, each rounding half up.
  CHECK(engine::gradient_scale(12345, one, 1) == 6173); // 6172.5 -> 6173
  CHECK(engine::gradient_scale(-12345, one, 1) == -6172); // -6172.5 -> -6172
  CHECK(engine::gradient_scale(12345, one, 2) == 3086);   // 3086.25
  CHECK(engine::gradient_scale(1 << 24, one, 1) == 1 << 23); // no longer saturated
  CHECK(engine::gradient_scale(1 << 20, one, 39) == 0);      // E + h = 62: 2^-19 -> 0
  // gamma = 2^-39 (E = 62, the limit): |s| < 2^33 gives |G| < 2^-5 words, so always 0.
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1p-39f), 0) == 0);
  // E + h > 62 gives 0 whatever the slope.
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1p-39f), 1) == 0);
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1p-20f), 43) == 0);
  // gamma = 2^-20 (E = 43), h = 10: 2^33 * 2^23 / 2^53 = 8; h = 19 (E + h = 62): 2^56 / 2^62 -> 0.
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1p-20f), 10) == 1 << 3);
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1p-20f), 19) == 0);
  CHECK(engine::gradient_scale(std::int64_t{1} << 33, engine::step_factor(0x1p-20f), 14) == 1); // 0.5 -> 1
  CHECK(engine::gradient_scale(-(std::int64_t{1} << 33), engine::step_factor(0x1p-20f), 14) == 0); // -0.5 -> 0
  CHECK(engine::gradient_scale(999999, engine::step_factor(0.0f), 0) == 0);
  // The spec formula, on random inputs.
  const std::uint64_t seed = 17;
  CAPTURE(seed);
  SplitMix64 rng(seed);
  for (int t = 0; t < 100000; ++t) {
    const auto s = static_cast<std::int64_t>(rng() >> 30) - (std::int64_t{1} << 33); // 34-bit signed
    const float gamma = std::ldexp(1.0f + rng.uniform(), -static_cast<int>(rng.below(40)));
    const int h = static_cast<int>(rng.below(8));
    const auto bits = std::bit_cast<std::uint32_t>(gamma);
    const std::int64_t m = (bits & 0x7fffff) | 0x800000;
    const int e = 150 - static_cast<int>(bits >> 23);
    const std::int64_t want = e + h > 62 ? 0 : static_cast<std::int64_t>(sat(rshift(i128{s} * m, e + h), 25));
    CAPTURE(s);
    CAPTURE(gamma);
    CAPTURE(h);
    CHECK(engine::gradient_scale(s, engine::step_factor(gamma), h) == want);
  }
}

TEST_CASE("engine arithmetic: update saturates and applies lambda as x >> lambda") {
  constexpr std::int32_t imax = std::numeric_limits<std::int32_t>::max();
  constexpr std::int32_t imin = std::numeric_limits<std::int32_t>::min();
  // x - round(g a / 2^F): F = 3, a = 8 (1.0), g = -2^23 adds 2^23.
  CHECK(engine::update(0, 8, -(1 << 23), 3, 32) == 1 << 23);
  CHECK(engine::update(imax - 5, 8, -(1 << 23), 3, 32) == imax);
  CHECK(engine::update(imax, 8, -(1 << 24), 3, 32) == imax);
  CHECK(engine::update(imin + 5, 8, 1 << 23, 3, 32) == imin);
  CHECK(engine::update(imin, 8, (1 << 24) - 1, 3, 32) == imin);
  CHECK(engine::update(imin, 4, 3, 3, 32) == imin); // round(1.5) = 2 -> below the minimum
  CHECK(engine::update(imin + 2, 4, 3, 3, 32) == imin);
  CHECK(engine::update(imin + 3, 4, 3, 3, 32) == imin + 1);
  // Rounding half up of g a / 2^F.
  CHECK(engine::update(100, 1, 4, 3, 32) == 99);   // 0.5 -> 1
  CHECK(engine::update(100, 1, -4, 3, 32) == 100); // -0.5 -> 0
  CHECK(engine::update(100, 1, 3, 3, 32) == 100);  // 0.375 -> 0
  CHECK(engine::update(100, -1, 12, 3, 32) == 101); // -1.5 -> -1
  CHECK(engine::update(100, 7, 5, 0, 32) == 65);   // F = 0: exact
  // Float32 features: F = 16, A = 131071 (just below 2), G = -(2^24): x += 2^24 * 131071 / 2^16.
  CHECK(engine::update(0, 131071, -(1 << 24), 16, 32) == 33554176);
  // Lambda: x - (x >> lambda), flooring shift.
  CHECK(engine::update(1000, 0, 0, 3, 3) == 875);
  CHECK(engine::update(-1000, 0, 0, 3, 3) == -875);
  CHECK(engine::update(-9, 0, 0, 3, 3) == -7);  // -9 >> 3 = -2
  CHECK(engine::update(-1, 0, 0, 3, 3) == 0);   // -1 >> 3 = -1
  CHECK(engine::update(7, 0, 0, 3, 3) == 7);    // 7 >> 3 = 0
  CHECK(engine::update(imax, 0, 0, 3, 1) == imax - (imax >> 1));
  CHECK(engine::update(imin, 0, 0, 3, 31) == imin + 1); // imin >> 31 = -1
  CHECK(engine::update(12345, 0, 0, 3, 0) == 0);        // lambda 0: x - x
  CHECK(engine::update(12345, 0, 0, 3, 32) == 12345);   // off
  CHECK(engine::update(12345, 0, 0, 3, 33) == 12345);
  CHECK(engine::update(12345, 0, 0, 3, 0xffffffffu) == 12345);
  // Both at once.
  CHECK(engine::update(1024, 8, 16, 3, 4) == 1024 - 64 - 16);
}

TEST_CASE("engine arithmetic: staleness and mini-batch snapshots on hand-sized streams") {
  // Least squares, Q = 8 [0, 1] (F = 7), d = 1, feature 1.0 (A = 128), step 1/4.
  // Labels 1, 1, 1, 1: with staleness 1, samples 0 and 1 both read x^(-1) = 0.
  const Dataset ds = make_ds(4, 1, {1.0f, 1.0f, 1.0f, 1.0f}, {1.0f, 1.0f, 1.0f, 1.0f});
  const PackedStream s = zipml::stream::pack<Quantized<8>>(ds);
  TrainJob job;
  job.config.step_cost_neg = job.config.step_cost_pos = std::bit_cast<float>(kMarker);
  job.config.step = 0.25f;
  job.config.dim = 1;
  job.config.samples = 4;
  job.data = &s;
  job.arithmetic = Arithmetic::Engine;
  ModelState st;
  const std::int32_t one = 1 << 23;
  SUBCASE("mask 0") {
    st.reset(Arithmetic::Engine, 1, 1);
    Cpu{}.run_epoch(LeastSquares{}, job, 0, st);
    // x0 = 0 + 1/4 (dot 0); x1 = x0 + 1/4 (dot reads x^(-1) = 0); x2 = x1 + (1 - x0)/4;
    // x3 = x2 + (1 - x1)/4.
    const std::int64_t x0 = one / 4, x1 = x0 + one / 4, x2 = x1 + (one - x0) / 4, x3 = x2 + (one - x1) / 4;
    CHECK(st.fixed[0] == x3);
  }
  SUBCASE("mask 1: snapshots after samples with r & 1 == 1") {
    job.config.minibatch_mask = 1;
    st.reset(Arithmetic::Engine, 1, 1);
    Cpu{}.run_epoch(LeastSquares{}, job, 0, st);
    // Samples 0, 1, 2 read x^(-1) (no r <= i - 2 with r odd); sample 3 reads x^(1).
    const std::int64_t x0 = one / 4, x1 = x0 + one / 4, x2 = x1 + one / 4, x3 = x2 + (one - x1) / 4;
    CHECK(st.fixed[0] == x3);
  }
  SUBCASE("float arithmetic: no staleness") {
    job.arithmetic = Arithmetic::Float;
    st.reset(Arithmetic::Float, 1, 1);
    Cpu{}.run_epoch(LeastSquares{}, job, 0, st);
    // x <- x + (1 - x)/4 four times: 1 - (3/4)^4.
    CHECK(st.real[0] == doctest::Approx(1.0 - 0.31640625).epsilon(1e-7));
  }
}

TEST_CASE("engine arithmetic: a mismatched model state is refused") {
  const Dataset ds = make_ds(1, 2, {1.0f, 0.5f}, {1.0f});
  const PackedStream s = zipml::stream::pack<Quantized<4>>(ds);
  TrainJob job;
  job.data = &s;
  job.arithmetic = Arithmetic::Engine;
  ModelState st;
  st.reset(Arithmetic::Engine, 1, 3);
  CHECK_THROWS_AS(Cpu{}.run_epoch(LeastSquares{}, job, 0, st), zipml::Error);
  st.reset(Arithmetic::Float, 1, 2);
  CHECK_THROWS_AS(Cpu{}.run_epoch(LeastSquares{}, job, 0, st), zipml::Error);
  st.reset(Arithmetic::Engine, 2, 2);
  CHECK_THROWS_AS(Cpu{}.run_epoch(LeastSquares{}, job, 0, st), zipml::Error);
  job.data = nullptr;
  st.reset(Arithmetic::Engine, 1, 2);
  CHECK_THROWS_AS(Cpu{}.run_epoch(LeastSquares{}, job, 0, st), zipml::Error);
}

// ---------------------------------------------------------------------------------------------
// The brute-force references against the CPU backend
// ---------------------------------------------------------------------------------------------

TEST_CASE("engine arithmetic: Cpu::run_epoch matches the docs/ENGINE.md reference bit for bit") {
  const Totals t = run_all(Arithmetic::Engine, 0xE1000000ULL);
  MESSAGE("engine: ", t.runs, " epochs, ", t.words, " model words compared (", t.nonzero_words, " non-zero), ",
          t.st.samples, " samples: G saturated ", t.st.g_saturated, ", G = 0 by the shift limit ",
          t.st.g_zero_by_shift, ", dot saturated ", t.st.dot_saturated, ", model word saturated ", t.st.x_saturated);
  CHECK(t.mismatches == 0);
  // The comparison exercised what it is meant to exercise.
  CHECK(t.nonzero_words > t.words / 2);
  CHECK(t.st.g_saturated > 0);
  CHECK(t.st.g_zero_by_shift > 0);
  CHECK(t.st.dot_saturated > 0);
  CHECK(t.st.x_saturated > 0);
}

TEST_CASE("narrower model words: engine::narrow rounds and saturates at the word's scale") {
  const engine::ModelWord w{16, 13}; // multiples of 2^10 in Q9.23, 16 bits at that scale
  CHECK(w.valid());
  CHECK_FALSE(w.is_engine());
  CHECK(engine::narrow(511, w, 0) == 0);
  CHECK(engine::narrow(512, w, 0) == 1024); // half up
  CHECK(engine::narrow(-512, w, 0) == 0);
  CHECK(engine::narrow(-513, w, 0) == -1024);
  CHECK(engine::narrow(5 * 1024, w, 12345) == 5 * 1024); // on the grid: unchanged, whatever the draw
  CHECK(engine::narrow(std::numeric_limits<std::int32_t>::max(), w, 0) == 32767 * 1024);
  CHECK(engine::narrow(std::numeric_limits<std::int32_t>::min(), w, 0) == -32768 * 1024);
  CHECK(engine::narrow(40000 * 1024, w, 0) == 32767 * 1024);
  const engine::ModelWord e{};
  CHECK(e.is_engine());
  CHECK(engine::narrow(-123457, e, 99) == -123457);
  CHECK_FALSE((engine::ModelWord{16, 24}).valid()); // more fraction bits than Q9.23
  CHECK_FALSE((engine::ModelWord{30, 20}).valid()); // 30 + 3 bits do not fit a Q9.23 word
  CHECK_FALSE((engine::ModelWord{1, 0}).valid());
  SUBCASE("stochastic rounding is unbiased: up with the probability of the remainder") {
    const std::uint64_t seed = 0x57AC;
    INFO("seed ", seed);
    SplitMix64 rng(seed);
    const engine::ModelWord sw{16, 13, true};
    for (const std::int32_t x : {300, -300, 1023, -5 * 1024 + 1, 7 * 1024 + 512}) {
      INFO("x ", x);
      const std::int32_t lo = static_cast<std::int32_t>(std::floor(x / 1024.0)) * 1024;
      double sum = 0.0;
      constexpr int n = 100000;
      for (int i = 0; i < n; ++i) {
        const std::int32_t y = engine::narrow(x, sw, rng());
        REQUIRE((y == lo || y == lo + 1024));
        sum += y;
      }
      // mean within 5 standard errors (at most 512 / sqrt(n) = 1.6) of x
      CHECK(std::abs(sum / n - x) < 8.5);
    }
  }
}

TEST_CASE("narrower model words: Cpu::run_epoch rounds every updated word as the reference does") {
  const Totals t = run_narrow(0xA7000000ULL);
  MESSAGE("narrow: ", t.runs, " epochs, ", t.words, " model words compared (", t.nonzero_words, " non-zero)");
  CHECK(t.mismatches == 0);
  CHECK(t.nonzero_words > t.words / 2);
}

TEST_CASE("narrower model words: refused for the float arithmetic and for words that are not narrower") {
  const Dataset ds = make_ds(2, 2, {1.0f, 0.5f, 1.0f, 0.25f}, {1.0f, -1.0f});
  const PackedStream packed = zipml::stream::pack<Quantized<8>>(ds, {});
  TrainJob job;
  job.config.dim = 2;
  job.config.samples = 2;
  job.config.step = 0.5f;
  job.config.step_cost_neg = job.config.step_cost_pos = std::bit_cast<float>(kMarker);
  job.config.precision = stream::precision_code(8);
  job.data = &packed;
  job.arithmetic = Arithmetic::Float;
  ModelState st;
  st.reset(Arithmetic::Float, 1, 2);
  Cpu cpu;
  cpu.model_word = {16, 13};
  CHECK_THROWS_WITH_AS(cpu.run_epoch(LeastSquares{}, job, 0, st), doctest::Contains("engine arithmetic"), zipml::Error);
  job.arithmetic = Arithmetic::Engine;
  st.reset(Arithmetic::Engine, 1, 2);
  cpu.model_word = {30, 20};
  CHECK_THROWS_WITH_AS(cpu.run_epoch(LeastSquares{}, job, 0, st), doctest::Contains("30 bits with 20 fraction bits"),
                       zipml::Error);
  cpu.model_word = {16, 13};
  cpu.run_epoch(LeastSquares{}, job, 0, st);
  for (const std::int32_t w : st.fixed) CHECK(w % 1024 == 0);
}

TEST_CASE("float arithmetic: Cpu::run_epoch matches a double-precision reference") {
  const Totals t = run_all(Arithmetic::Float, 0xF1000000ULL);
  MESSAGE("float: ", t.runs, " epochs, ", t.words, " model words compared (", t.nonzero_words, " non-zero)");
  CHECK(t.mismatches == 0);
  CHECK(t.nonzero_words > t.words / 2);
}
