// zipml — module testbenches: stream decoder, sample unpacker, dot product, gradient unit.
//
// Each module runs with random idle cycles on its input (valid low; a word once offered stays
// offered until taken) and random back-pressure on its output (ready low); the outputs are
// compared, in order and one for one, with a C++ reference built on include/zipml: nothing
// dropped, nothing duplicated, every bit as the engine arithmetic says.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <type_traits>
#include <vector>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/backend/verilator/harness.hpp"
#include "zipml/model/l2svm.hpp"
#include "zipml/model/least_squares.hpp"
#include "zipml/model/logistic.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/format.hpp"

#include "Vdot_product_f32.h"
#include "Vdot_product_q1.h"
#include "Vdot_product_q2.h"
#include "Vdot_product_q4.h"
#include "Vdot_product_q8.h"
#include "Vfifo2.h"
#include "Vfifo2_registered.h"
#include "Vfeature_unpack_f32.h"
#include "Vfeature_unpack_q1.h"
#include "Vfeature_unpack_q2.h"
#include "Vfeature_unpack_q4.h"
#include "Vfeature_unpack_q8.h"
#include "Vgradient_unit.h"
#include "Vstream_decoder.h"

using namespace zipml;
using zipml::verilator::Harness;

namespace {

// ---- bit fields of Verilator ports (plain integers or VlWide) ----
template <class T>
std::uint64_t get_bits(const T& v, unsigned lo, unsigned w) {
  if constexpr (std::is_integral_v<T>) {
    const auto u = static_cast<std::uint64_t>(v);
    const std::uint64_t s = lo >= 64 ? 0 : u >> lo;
    return w >= 64 ? s : s & ((std::uint64_t{1} << w) - 1);
  } else {
    std::uint64_t r = 0;
    for (unsigned b = 0; b < w; ++b) r |= static_cast<std::uint64_t>((v[(lo + b) / 32] >> ((lo + b) % 32)) & 1u) << b;
    return r;
  }
}

template <class T>
void set_bits(T& v, unsigned lo, unsigned w, std::uint64_t x) {
  if constexpr (std::is_integral_v<T>) {
    const std::uint64_t m = (w >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << w) - 1) << lo;
    v = static_cast<T>((static_cast<std::uint64_t>(v) & ~m) | ((x << lo) & m));
  } else {
    for (unsigned b = 0; b < w; ++b) {
      const unsigned i = (lo + b) / 32, s = (lo + b) % 32;
      v[i] = (v[i] & ~(1u << s)) | (static_cast<std::uint32_t>((x >> b) & 1u) << s);
    }
  }
}

std::int64_t sext(std::uint64_t x, unsigned w) {
  return w >= 64 ? static_cast<std::int64_t>(x) : static_cast<std::int64_t>(x << (64 - w)) >> (64 - w);
}

struct Stalls {
  SplitMix64 rng;
  double gap, stall;
  bool chance(double p) { return p > 0 && static_cast<double>(rng.uniform()) < p; }
};

// ======================= stream decoder =======================

struct DecBeat {
  unsigned kind = 0;
  std::uint64_t data = 0;
  unsigned line = 0, copy = 0, first = 0, last = 0;
};

enum : unsigned { kFeature = 0, kLabel = 1, kEnd = 2, kReadback = 3, kClear = 4, kConfig = 5, kLoop = 6,
                  kErrConfig = 7, kErrFraming = 8 };

//! What the decoder (PRECISION 8, MAX_DIM 64) must do with each word it takes.
struct DecoderModel {
  static constexpr unsigned kV = 8, kMaxDim = 64;
  enum class St { Cmd, Armed, Payload, Pass, End, Loop, Error } st = St::Cmd;
  std::uint32_t passes = 0; // armed passes left
  stream::Word which = 0;
  stream::Config cfg{};
  unsigned line = 0, copy = 0, label = 0;
  std::uint32_t row = 0;

  DecoderModel() { reset(); }
  void reset() {
    st = St::Cmd;
    cfg = stream::Config{};
    // the RTL's configuration registers reset to zero
    cfg.lambda_shift = 0;
    cfg.step_cost_neg = cfg.step_cost_pos = 0.0f;
    line = copy = label = 0;
    row = 0;
    passes = 0;
  }
  [[nodiscard]] bool prec_bad() const {
    return cfg.precision != stream::PrecisionCode::Unstated && cfg.precision != stream::PrecisionCode::Q8;
  }
  //! The engine takes 0 and 2^-39 <= gamma < 2^8 (E = 150 - biased exponent in 16..62): a
  //! superset of what the host sends (engine::step_factor_ok).
  static bool step_ok(float g) {
    const auto b = std::bit_cast<std::uint32_t>(g);
    const unsigned e = (b >> 23) & 0xffu;
    return (b & 0x7fffffffu) == 0 || (!(b >> 31) && e >= 88 && e <= 134);
  }
  [[nodiscard]] bool other_bad() const {
    const bool ls = cfg.loss_mode() == stream::LossMode::LeastSquares;
    const bool steps = ls ? step_ok(cfg.step) : step_ok(cfg.step_cost_neg) && step_ok(cfg.step_cost_pos);
    return cfg.dim == 0 || cfg.dim > kMaxDim || !steps;
  }
  [[nodiscard]] bool ok() const { return !prec_bad() && !other_bad(); }
  [[nodiscard]] unsigned echo_precision() const {
    return prec_bad() ? 5u : other_bad() ? 7u : static_cast<unsigned>(cfg.precision);
  }
  [[nodiscard]] unsigned lines() const { return (cfg.dim + kV - 1) / kV; }

  std::optional<DecBeat> data_beat(stream::Word w) {
    DecBeat b{kFeature, w, line, copy, 0, 0};
    if (label) {
      b.kind = kLabel;
      label = 0;
      if (row + 1 == cfg.samples) {
        row = 0;
        st = St::End;
      } else {
        ++row;
        st = St::Pass;
      }
      return b;
    }
    b.first = line == 0 && copy == 0;
    b.last = line + 1 == lines();
    st = St::Pass;
    if (b.last) {
      line = 0;
      if (cfg.double_sampled && !copy) {
        copy = 1;
      } else {
        copy = 0;
        label = 1;
      }
    } else {
      ++line;
    }
    return b;
  }

  std::optional<DecBeat> word(stream::Word w) {
    using namespace stream::command;
    switch (st) {
      case St::Cmd:
        if (w == kMagic1 || w == kMagic2 || w == kMagic3 || w == kMagic4 || w == kMagic5) {
          which = w;
          st = St::Payload;
          if (w == kMagic1) return DecBeat{kClear, w};
          return std::nullopt;
        }
        if (w == kSendConfig) {
          if (ok() && cfg.epochs != 0) {
            passes = cfg.epochs;
            st = St::Armed;
          }
          return DecBeat{kConfig, w};
        }
        if (w == kTheEnd) return DecBeat{ok() ? kReadback : kErrConfig, w};
        if (w == kLoopback) {
          st = St::Loop;
          return std::nullopt;
        }
        if (w == kUnloopback) return std::nullopt;
        if (ok() && cfg.samples != 0) return data_beat(w);
        return std::nullopt;
      case St::Armed:
        if (cfg.samples != 0) return data_beat(w);
        if (w == kTheEnd) {
          st = passes > 1 ? St::Armed : St::Cmd;
          --passes;
          return DecBeat{kEnd, w};
        }
        st = St::Error;
        return DecBeat{kErrFraming, w};
      case St::Payload:
        stream::apply_payload(cfg, which, w);
        st = St::Cmd;
        return std::nullopt;
      case St::Pass: return data_beat(w);
      case St::End:
        if (w == kTheEnd) {
          st = passes > 1 ? St::Armed : St::Cmd;
          if (passes != 0) --passes;
          return DecBeat{kEnd, w};
        }
        st = St::Error;
        return DecBeat{kErrFraming, w};
      case St::Loop:
        if (w == kUnloopback) {
          st = St::Cmd;
          return std::nullopt;
        }
        return DecBeat{kLoop, w};
      case St::Error: return std::nullopt;
    }
    return std::nullopt;
  }
};

std::vector<stream::Word> random_episode(SplitMix64& rng) {
  using namespace stream::command;
  const stream::Word magics[] = {kMagic1, kMagic2, kMagic3, kMagic4, kMagic5, kSendConfig, kTheEnd, kLoopback, kUnloopback};
  auto data_word = [&]() -> stream::Word { return rng.below(4) == 0 ? magics[rng.below(9)] : rng(); };
  std::vector<stream::Word> w;
  for (int seg = 0; seg < 6; ++seg) {
    switch (rng.below(6)) {
      case 0:
      case 1: { // configuration, then passes
        stream::Config c;
        c.dim = static_cast<std::uint32_t>(rng.below(10) == 0 ? rng.below(100) : 1 + rng.below(64));
        c.samples = static_cast<std::uint32_t>(rng.below(4));
        c.epochs = static_cast<std::uint32_t>(rng.below(4));
        c.double_sampled = rng.below(2) == 0;
        c.precision = rng.below(8) == 0 ? stream::PrecisionCode::Q4 : (rng.below(2) ? stream::PrecisionCode::Q8 : stream::PrecisionCode::Unstated);
        c.step = rng.below(10) == 0 ? -0.5f : std::ldexp(1.0f, -static_cast<int>(rng.below(30)));
        c.lambda_shift = static_cast<std::uint32_t>(rng());
        c.minibatch_mask = static_cast<std::uint16_t>(rng());
        for (auto x : stream::config_words(c)) w.push_back(x);
        if (rng.below(4) == 0) w.pop_back(); // no SEND_CONFIG: not armed
        const unsigned lines = (c.dim + 7) / 8;
        const std::size_t row = lines * (c.double_sampled ? 2 : 1) + 1;
        for (unsigned pass = 0; pass < 2; ++pass) {
          std::size_t n = c.samples * row;
          if (rng.below(8) == 0 && n > 0) n -= 1; // truncated: a framing error later
          for (std::size_t i = 0; i < n; ++i) w.push_back(data_word());
          w.push_back(kTheEnd);
        }
        break;
      }
      case 2: // loopback
        w.push_back(kLoopback);
        for (std::uint64_t i = 0, n = rng.below(6); i < n; ++i) w.push_back(data_word());
        w.push_back(kUnloopback);
        break;
      case 3: // THE_END or SEND_CONFIG outside a pass
        w.push_back(rng.below(2) ? kTheEnd : kSendConfig);
        break;
      default: // junk
        for (std::uint64_t i = 0, n = rng.below(5); i < n; ++i) w.push_back(data_word());
        break;
    }
  }
  return w;
}

// ======================= helpers for the datapath modules =======================

template <unsigned Bits>
constexpr unsigned kV = Bits == 32 ? 2 : 64 / Bits;
template <unsigned Bits>
constexpr unsigned kAW = Bits == 32 ? 18 : Bits + 1;

//! A random float32 feature for the unpacker: the interesting cases, not only [-2, 2).
float random_float(SplitMix64& rng) {
  switch (rng.below(8)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return std::bit_cast<float>(static_cast<std::uint32_t>(rng() & 0x807fffffu)); // denormal
    case 3: return (rng.uniform() * 8.0f - 4.0f);                                           // saturates
    case 4: return rng.below(2) ? INFINITY : -INFINITY;
    case 5: return std::ldexp(rng.uniform() - 0.5f, -static_cast<int>(rng.below(30)));    // tiny
    case 6: return static_cast<float>(static_cast<int>(rng.below(65536)) - 32768) / 16384.0f; // ties
    default: return rng.uniform() * 4.0f - 2.0f;
  }
}

template <class Model, unsigned Bits>
void unpack_testbench(std::uint64_t seed, double gap, double stall) {
  Harness<Model> h;
  auto& io = h.io();
  h.reset();
  SplitMix64 rng(seed, 1);
  Stalls st{SplitMix64(seed, 2), gap, stall};
  constexpr unsigned V = kV<Bits>, AW = kAW<Bits>;
  struct In {
    std::uint64_t word;
    unsigned lanes;
  };
  const bool mm = Bits != 1 && (seed & 1);
  io.minus_one_one_i = mm;
  std::vector<In> in(300);
  for (auto& x : in) {
    x.lanes = rng.below(3) == 0 ? 1 + static_cast<unsigned>(rng.below(V)) : V;
    if constexpr (Bits == 32) {
      x.word = std::bit_cast<std::uint32_t>(random_float(rng)) |
               (static_cast<std::uint64_t>(std::bit_cast<std::uint32_t>(random_float(rng))) << 32);
    } else {
      x.word = rng();
    }
  }
  std::size_t pos = 0, got = 0;
  bool offering = false;
  for (std::uint64_t cycle = 0; got < in.size(); ++cycle) {
    REQUIRE(cycle < 100000);
    if (!offering && pos < in.size()) offering = !st.chance(st.gap);
    io.in_valid_i = offering;
    if (offering) {
      io.in_word_i = in[pos].word;
      io.in_lanes_i = in[pos].lanes;
    }
    const bool ready = !st.chance(st.stall);
    io.out_ready_i = ready;
    h.settle();
    const bool fire = offering && io.in_ready_o;
    if (ready && io.out_valid_o) {
      REQUIRE(got < pos + (fire ? 1 : 0));
      const In& x = in[got];
      for (unsigned v = 0; v < V; ++v) {
        std::int64_t expect = 0;
        if (v < x.lanes) {
          if constexpr (Bits == 32)
            expect = engine::float_feature(std::bit_cast<float>(static_cast<std::uint32_t>(x.word >> (32 * v))));
          else
            expect = quant::from_pattern(x.word >> (Bits * v), Bits, mm);
        }
        const std::int64_t a = sext(get_bits(io.out_a_o, v * AW, AW), AW);
        if (a != expect) {
          FAIL("unpacker (" << Bits << " bits, mm " << mm << "): word " << got << " value " << v << ": got " << a
                            << ", expected " << expect << " (word 0x" << std::hex << x.word << ")");
        }
      }
      ++got;
    }
    h.tick();
    if (fire) {
      ++pos;
      offering = false;
    }
  }
  CHECK(pos == in.size());
}

template <class Model, unsigned Bits>
void dot_testbench(std::uint64_t seed, double gap, double stall) {
  Harness<Model> h;
  auto& io = h.io();
  h.reset();
  SplitMix64 rng(seed, 3);
  Stalls st{SplitMix64(seed, 4), gap, stall};
  constexpr unsigned V = kV<Bits>, AW = kAW<Bits>;
  struct Beat {
    std::vector<std::int32_t> x, a;
    bool last;
  };
  std::vector<Beat> beats;
  std::vector<std::int64_t> sums;
  for (int row = 0; row < 60; ++row) {
    const unsigned n = 1 + static_cast<unsigned>(rng.below(5));
    std::int64_t sum = 0;
    for (unsigned b = 0; b < n; ++b) {
      Beat bt{std::vector<std::int32_t>(V), std::vector<std::int32_t>(V), b + 1 == n};
      for (unsigned v = 0; v < V; ++v) {
        bt.x[v] = rng.below(4) == 0 ? (rng.below(2) ? INT32_MAX : INT32_MIN) : static_cast<std::int32_t>(rng());
        const std::int64_t lo = -(std::int64_t{1} << (AW - 1)), hi = (std::int64_t{1} << (AW - 1)) - 1;
        bt.a[v] = static_cast<std::int32_t>(rng.below(4) == 0 ? (rng.below(2) ? lo : hi) : lo + static_cast<std::int64_t>(rng.below(hi - lo + 1)));
        if (Bits == 1) bt.a[v] &= 1; // a 1-bit engine only sees 0 and 1 ([-1, 1] is refused)
        sum += static_cast<std::int64_t>(bt.x[v]) * bt.a[v];
      }
      beats.push_back(bt);
    }
    sums.push_back(sum);
  }
  std::size_t pos = 0, got = 0;
  bool offering = false;
  for (std::uint64_t cycle = 0; got < sums.size(); ++cycle) {
    REQUIRE(cycle < 100000);
    if (!offering && pos < beats.size()) offering = !st.chance(st.gap);
    io.in_valid_i = offering;
    if (offering) {
      for (unsigned v = 0; v < V; ++v) {
        set_bits(io.in_x_i, 32 * v, 32, static_cast<std::uint32_t>(beats[pos].x[v]));
        set_bits(io.in_a_i, AW * v, AW, static_cast<std::uint32_t>(beats[pos].a[v]));
      }
      io.in_last_i = beats[pos].last;
    }
    const bool ready = !st.chance(st.stall);
    io.out_ready_i = ready;
    h.settle();
    const bool fire = offering && io.in_ready_o;
    if (ready && io.out_valid_o) {
      REQUIRE(got < sums.size());
      const auto s = static_cast<std::int64_t>(io.out_sum_o);
      if (s != sums[got]) FAIL("dot product (" << Bits << " bits): row " << got << ": got " << s << ", expected " << sums[got]);
      ++got;
    }
    h.tick();
    if (fire) {
      ++pos;
      offering = false;
    }
  }
  CHECK(pos == beats.size());
}

float random_step(SplitMix64& rng) {
  if (rng.below(10) == 0) return 0.0f;
  // 2^-39 <= gamma < 2^8, with a random significand
  const float m = 1.0f + rng.uniform();
  return std::ldexp(m, static_cast<int>(rng.below(46)) - 39);
}

} // namespace

TEST_CASE("stream decoder: random streams, back-pressure and idle cycles") {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    Harness<Vstream_decoder> h;
    auto& io = h.io();
    SplitMix64 rng(seed, 5);
    Stalls st{SplitMix64(seed, 6), seed % 3 == 0 ? 0.0 : 0.3, seed % 2 == 0 ? 0.0 : 0.4};
    for (int episode = 0; episode < 4; ++episode) {
      h.reset();
      DecoderModel ref;
      const auto words = random_episode(rng);
      std::vector<DecBeat> expect;
      for (auto w : words)
        if (auto b = ref.word(w)) expect.push_back(*b);
      std::size_t pos = 0, got = 0;
      bool offering = false;
      unsigned busy = 0;
      for (std::uint64_t cycle = 0; pos < words.size() || got < expect.size(); ++cycle) {
        REQUIRE_MESSAGE(cycle < 20000, "decoder stuck: seed " << seed << ", word " << pos << " of " << words.size()
                                                               << ", beat " << got << " of " << expect.size());
        if (!offering && pos < words.size()) offering = !st.chance(st.gap);
        io.s_axis_tvalid = offering;
        io.s_axis_tdata = offering ? words[pos] : 0;
        io.busy_i = busy > 0;
        const bool ready = !st.chance(st.stall);
        io.out_ready_i = ready;
        h.settle();
        const bool fire = offering && io.s_axis_tready;
        if (busy > 0) {
          CHECK_MESSAGE(!fire, "decoder took a word while the engine was busy");
          --busy;
        }
        if (ready && io.out_valid_o) {
          REQUIRE_MESSAGE(got < expect.size(), "decoder emitted an extra beat, seed " << seed);
          const auto& e = expect[got];
          INFO("seed " << seed << ", episode " << episode << ", beat " << got);
          REQUIRE(io.out_kind_o == e.kind);
          REQUIRE(io.out_data_o == e.data);
          if (e.kind == kFeature) {
            CHECK(io.out_line_o == e.line);
            CHECK(io.out_copy_o == e.copy);
            CHECK(io.out_first_o == e.first);
            CHECK(io.out_last_o == e.last);
          }
          if (e.kind != kFeature && e.kind != kLabel && e.kind != kLoop) busy = static_cast<unsigned>(st.rng.below(5));
          ++got;
        }
        h.tick();
        if (fire) {
          ++pos;
          offering = false;
        }
      }
      CHECK(got == expect.size());
      CHECK(io.cfg_ok_o == ref.ok());
      CHECK(io.echo_precision_o == ref.echo_precision());
      if (ref.ok()) {
        CHECK(io.lines_o == ref.lines());
        CHECK(io.last_lanes_o == (ref.cfg.dim - 1) % 8 + 1);
      }
    }
  }
}

TEST_CASE("sample unpacker: every precision, back-pressure and idle cycles") {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const double gap = seed <= 2 ? 0.0 : 0.3, stall = seed % 2 ? 0.5 : 0.0;
    unpack_testbench<Vfeature_unpack_f32, 32>(seed, gap, stall);
    unpack_testbench<Vfeature_unpack_q1, 1>(seed, gap, stall);
    unpack_testbench<Vfeature_unpack_q2, 2>(seed, gap, stall);
    unpack_testbench<Vfeature_unpack_q4, 4>(seed, gap, stall);
    unpack_testbench<Vfeature_unpack_q8, 8>(seed, gap, stall);
  }
}

TEST_CASE("dot product: exact sums, every precision, back-pressure and idle cycles") {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const double gap = seed <= 2 ? 0.0 : 0.3, stall = seed % 2 ? 0.5 : 0.0;
    dot_testbench<Vdot_product_f32, 32>(seed, gap, stall);
    dot_testbench<Vdot_product_q1, 1>(seed, gap, stall);
    dot_testbench<Vdot_product_q2, 2>(seed, gap, stall);
    dot_testbench<Vdot_product_q4, 4>(seed, gap, stall);
    dot_testbench<Vdot_product_q8, 8>(seed, gap, stall);
  }
}

TEST_CASE("gradient unit: every loss against the engine arithmetic, back-pressure and idle cycles") {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Harness<Vgradient_unit> h;
    auto& io = h.io();
    h.reset();
    SplitMix64 rng(seed, 7);
    Stalls st{SplitMix64(seed, 8), seed <= 2 ? 0.0 : 0.3, seed % 2 ? 0.5 : 0.0};
    // the configuration is constant while samples are in flight: one per run
    const unsigned loss = static_cast<unsigned>((seed - 1) % 3); // 0 least squares, 1 L2-SVM, 2 logistic
    const int frac = static_cast<int>(rng.below(17));
    const float step = random_step(rng), pos_step = random_step(rng), neg_step = random_step(rng);
    const int halvings = static_cast<int>(rng.below(4) == 0 ? rng.below(128) : rng.below(6));
    io.loss_i = loss;
    io.frac_i = static_cast<unsigned>(frac);
    io.step_i = std::bit_cast<std::uint32_t>(step);
    io.step_pos_i = std::bit_cast<std::uint32_t>(pos_step);
    io.step_neg_i = std::bit_cast<std::uint32_t>(neg_step);
    io.halvings_i = static_cast<unsigned>(halvings);
    struct In {
      std::int64_t sum;
      std::int32_t label;
    };
    std::vector<In> in(400);
    std::vector<std::int32_t> expect;
    for (auto& x : in) {
      // dot products around the interesting places: the margin, the sigmoid's knots, saturation
      const std::int64_t unit = std::int64_t{1} << (23 + frac);
      switch (rng.below(4)) {
        case 0: x.sum = static_cast<std::int64_t>(rng() >> 2) * (rng.below(2) ? 1 : -1); break;
        case 1: x.sum = static_cast<std::int64_t>(rng.below(20 * 2)) * unit / 4 - 10 * unit; break;
        default: x.sum = (static_cast<std::int64_t>(rng.below(1u << 30)) - (1 << 29)) << (frac > 6 ? frac - 6 : 0);
      }
      x.label = loss == 0 ? static_cast<std::int32_t>(rng()) : (rng.below(2) ? engine::kOne : -engine::kOne);
      const std::int32_t dot = engine::dot_q23(x.sum, frac);
      std::int64_t s = 0;
      if (loss == 0) s = LeastSquares::engine_slope(dot, x.label);
      else if (loss == 1) s = L2Svm::engine_slope(dot, x.label);
      else s = Logistic::engine_slope(dot, x.label);
      const float gamma = loss == 0 ? step : (x.label > 0 ? pos_step : neg_step);
      expect.push_back(engine::gradient_scale(s, engine::step_factor(gamma), halvings));
    }
    std::size_t pos = 0, got = 0;
    bool offering = false;
    for (std::uint64_t cycle = 0; got < in.size(); ++cycle) {
      REQUIRE(cycle < 100000);
      if (!offering && pos < in.size()) offering = !st.chance(st.gap);
      io.in_valid_i = offering;
      if (offering) {
        io.in_sum_i = static_cast<std::uint64_t>(in[pos].sum);
        io.in_label_i = static_cast<std::uint32_t>(in[pos].label);
      }
      const bool ready = !st.chance(st.stall);
      io.out_ready_i = ready;
      h.settle();
      const bool fire = offering && io.in_ready_o;
      if (ready && io.out_valid_o) {
        REQUIRE(got < in.size());
        const auto g = static_cast<std::int32_t>(sext(io.out_g_o, 25));
        if (g != expect[got])
          FAIL("gradient unit (loss " << loss << ", F " << frac << ", h " << halvings << "): sample " << got
                                      << " sum " << in[got].sum << " label " << in[got].label << ": got " << g
                                      << ", expected " << expect[got]);
        ++got;
      }
      h.tick();
      if (fire) {
        ++pos;
        offering = false;
      }
    }
    CHECK(pos == in.size());
  }
}

namespace {

//! The two-entry queue against a std::deque: order, no loss, the handshake on both sides and
//! when an entry becomes visible (the cycle it arrives with FALL_THROUGH, the next without).
template <class Model, bool FallThrough>
void check_fifo2(std::uint64_t seed) {
  INFO("fifo2 (fall-through " << FallThrough << "), seed " << seed);
  Harness<Model> h;
  auto& io = h.io();
  h.reset();
  SplitMix64 rng(seed, 11);
  Stalls st{SplitMix64(seed, 12), 0.1 * static_cast<double>(seed % 4), 0.15 * static_cast<double>(seed % 5)};
  std::deque<std::uint32_t> queue; // what the RTL holds (entries that entered)
  std::uint64_t taken = 0;
  bool offering = false;
  std::uint32_t offered = 0;
  for (int cycle = 0; cycle < 4000; ++cycle) {
    if (!offering && !st.chance(st.gap)) {
      offering = true;
      offered = static_cast<std::uint32_t>(rng());
    }
    const bool ready = !st.chance(st.stall);
    io.in_valid_i = offering;
    io.in_data_i = offered;
    io.out_ready_i = ready;
    h.settle();
    const bool visible_now = FallThrough && queue.empty() && offering;
    REQUIRE(static_cast<bool>(io.out_valid_o) == (!queue.empty() || visible_now));
    REQUIRE(static_cast<bool>(io.in_ready_o) == (queue.size() < 2 || (ready && !queue.empty())));
    const bool take = ready && io.out_valid_o;
    const bool put = offering && io.in_ready_o;
    if (take) {
      const std::uint32_t head = queue.empty() ? offered : queue.front();
      REQUIRE(io.out_data_o == head);
      if (queue.empty()) {
        REQUIRE(visible_now);
      } else {
        queue.pop_front();
      }
      ++taken;
    }
    if (put && !(take && visible_now)) queue.push_back(offered);
    if (put) offering = false;
    REQUIRE(queue.size() <= 2);
    h.tick();
  }
  CHECK(taken > 1000); // the traffic did flow
}

} // namespace

TEST_CASE("two-entry queue: order, handshakes and fall-through, random traffic") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    check_fifo2<Vfifo2, true>(seed);
    check_fifo2<Vfifo2_registered, false>(seed);
  }
}
