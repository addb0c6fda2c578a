// zipml — the engine arithmetic: the integer contract that the RTL engine meets bit for bit.
//
// docs/ENGINE.md is the prose version of this file. Every value here is an integer with a
// stated width and number of fraction bits; every rounding and saturation is spelled out, so
// the C++ below and the SystemVerilog in rtl/ compute the same bits. Only additions of exact
// products are ever reordered, so sums do not depend on the order of accumulation.
#ifndef ZIPML_ARITHMETIC_ENGINE_HPP
#define ZIPML_ARITHMETIC_ENGINE_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace zipml::engine {

inline constexpr int kModelBits = 32;          //!< model word width (signed)
inline constexpr int kModelFractionBits = 23;  //!< model value = word / 2^23 (Q9.23, the original's)
inline constexpr std::int32_t kOne = std::int32_t{1} << kModelFractionBits;
inline constexpr int kFloatFeatureBits = 18;   //!< float32 features enter as signed 18-bit ...
inline constexpr int kFloatFeatureFractionBits = 16; //!< ... with 16 fraction bits: |a| < 2
inline constexpr int kGradientBits = 25;       //!< the per-sample scale g (signed, Q.23): |g| < 2
inline constexpr int kDotAccumulatorBits = 64; //!< exact sum of products (see docs/ENGINE.md)
inline constexpr int kStaleness = 1;           //!< dot(i) uses the model after sample i - 1 - kStaleness
inline constexpr int kMaxStepShift = 62;       //!< beyond this shift g is 0 (decay can get there)
inline constexpr int kMaxHostStepShift = 57;   //!< the host refuses gamma < 2^-34: g would be 0 for any slope

//! Saturates v to a signed `bits`-wide integer.
[[nodiscard]] constexpr std::int64_t saturate(std::int64_t v, int bits) noexcept {
  const std::int64_t hi = (std::int64_t{1} << (bits - 1)) - 1;
  const std::int64_t lo = -(std::int64_t{1} << (bits - 1));
  return std::clamp(v, lo, hi);
}

//! v / 2^s rounded half up: (v + 2^(s-1)) >> s with an arithmetic shift. s = 0 leaves v.
[[nodiscard]] constexpr std::int64_t round_shift(std::int64_t v, int s) noexcept {
  return s == 0 ? v : (v + (std::int64_t{1} << (s - 1))) >> s;
}

//! A float32 feature on entry to the engine: floor(a * 2^16 + 1/2), saturated to 18 bits.
//! The host refuses features outside [-2, 2 - 2^-17), so saturation never changes a packed value.
[[nodiscard]] inline std::int32_t float_feature(float a) noexcept {
  // NaN saturates by its sign bit, as the RTL converter does (the host never sends one).
  if (std::isnan(a)) return std::signbit(a) ? -(1 << (kFloatFeatureBits - 1)) : (1 << (kFloatFeatureBits - 1)) - 1;
  const double scaled = std::floor(static_cast<double>(a) * 65536.0 + 0.5);
  const double lo = -(1 << (kFloatFeatureBits - 1)), hi = (1 << (kFloatFeatureBits - 1)) - 1;
  return static_cast<std::int32_t>(std::clamp(scaled, lo, hi));
}

//! A float32 label (regression target) in Q9.23: floor(b * 2^23 + 1/2), saturated to 32 bits.
[[nodiscard]] inline std::int32_t fixed_label(float b) noexcept {
  if (std::isnan(b)) return std::signbit(b) ? std::numeric_limits<std::int32_t>::min() : std::numeric_limits<std::int32_t>::max();
  const double scaled = std::floor(static_cast<double>(b) * 8388608.0 + 0.5);
  return static_cast<std::int32_t>(std::clamp(scaled, -2147483648.0, 2147483647.0));
}

//! The label after binarization: exact float32 bit compare, as the original engine does.
[[nodiscard]] constexpr std::int32_t binarized_label(std::uint32_t label_bits, std::uint32_t positive_bits) noexcept {
  return label_bits == positive_bits ? kOne : -kOne;
}

//! The dot product in Q9.23: the exact sum D of model x feature products has 23 + F fraction
//! bits; it is rounded half up to 23 and saturated to 32 bits.
[[nodiscard]] constexpr std::int32_t dot_q23(std::int64_t exact_sum, int feature_fraction_bits) noexcept {
  return static_cast<std::int32_t>(saturate(round_shift(exact_sum, feature_fraction_bits), 32));
}

//! A step x cost factor gamma = mantissa * 2^-shift, taken straight from the float32 bits:
//! the 24-bit significand with its hidden bit, and 150 - biased exponent. No rounding at all.
struct StepFactor {
  std::uint32_t mantissa = 0; //!< 24 bits; 0 encodes gamma = 0
  int shift = 0;              //!< >= 1 for every gamma the host accepts
};

[[nodiscard]] constexpr StepFactor step_factor(float gamma) noexcept {
  const auto bits = std::bit_cast<std::uint32_t>(gamma);
  const int biased = static_cast<int>((bits >> 23) & 0xffu);
  if (biased == 0) return {0, 1}; // zero (and denormals, which the host refuses)
  return {(bits & 0x7fffffu) | 0x800000u, 150 - biased};
}

//! True when the host accepts gamma: 2^-34 <= gamma < 2^8 (smaller factors would make g = 0
//! for every slope the engine can compute, so training would silently do nothing).
[[nodiscard]] constexpr bool step_factor_ok(float gamma) noexcept {
  if (!(gamma > 0.0f)) return false;
  const auto f = step_factor(gamma);
  return f.mantissa != 0 && f.shift >= 150 - 127 - 8 + 1 && f.shift <= kMaxHostStepShift;
}

//! Float32 features the engine holds without saturation: -2 <= a < 2 - 2^-17.
[[nodiscard]] constexpr bool float_feature_ok(float a) noexcept { return a >= -2.0f && a < 2.0f - 0x1p-17f; }

//! g = gamma * s in Q.23, rounded half up and saturated to 25 bits; `halvings` is the step
//! decay applied so far (each adds one to the shift).
[[nodiscard]] constexpr std::int32_t gradient_scale(std::int64_t slope_q23, StepFactor f, int halvings) noexcept {
  const int s = f.shift + halvings;
  if (f.mantissa == 0 || s > kMaxStepShift) return 0;
  return static_cast<std::int32_t>(saturate(round_shift(slope_q23 * static_cast<std::int64_t>(f.mantissa), s), kGradientBits));
}

//! One model word's update: x - (x >> lambda) - round(g * a / 2^F), saturated to 32 bits.
//! lambda >= 32 turns regularization off.
[[nodiscard]] constexpr std::int32_t update(std::int32_t x, std::int32_t a, std::int32_t g, int feature_fraction_bits,
                                            std::uint32_t lambda_shift) noexcept {
  const std::int64_t decay = lambda_shift < 32 ? (static_cast<std::int64_t>(x) >> lambda_shift) : 0;
  const std::int64_t step = round_shift(static_cast<std::int64_t>(g) * a, feature_fraction_bits);
  return static_cast<std::int32_t>(saturate(static_cast<std::int64_t>(x) - decay - step, 32));
}

//! A narrower model word than the engine's, to measure what one would cost in accuracy
//! (docs/PERFORMANCE.md, "Narrower model words"): `bits` bits with `fraction_bits` of them
//! after the binary point, so it holds the multiples of 2^-fraction_bits in
//! [-2^(bits-1-fraction_bits), 2^(bits-1-fraction_bits)). The default is the engine's own
//! Q9.23 word. The CPU backend can store every updated word so (Cpu::model_word); the RTL
//! engine does not implement narrower words.
struct ModelWord {
  int bits = kModelBits;
  int fraction_bits = kModelFractionBits;
  bool stochastic = false;  //!< round up with the probability of the remainder (unbiased), else half up
  std::uint64_t seed = 1;   //!< of the stochastic rounding

  //! Q9.23 fraction bits the narrower word drops.
  [[nodiscard]] constexpr int dropped() const noexcept { return kModelFractionBits - fraction_bits; }
  [[nodiscard]] constexpr bool is_engine() const noexcept {
    return bits == kModelBits && fraction_bits == kModelFractionBits;
  }
  //! Whether every such word is also a Q9.23 word (the pass keeps the model in Q9.23).
  [[nodiscard]] constexpr bool valid() const noexcept {
    return bits >= 2 && fraction_bits >= 0 && fraction_bits <= kModelFractionBits && bits + dropped() <= kModelBits;
  }
};

//! A Q9.23 word as the narrower word `w` stores it (still in Q9.23): rounded to a multiple of
//! 2^w.dropped() (half up; or, when stochastic, up with probability remainder / 2^dropped,
//! `random` supplying the uniform low bits) and saturated to w.bits bits at that scale.
[[nodiscard]] constexpr std::int32_t narrow(std::int32_t x, const ModelWord& w, std::uint64_t random) noexcept {
  const int s = w.dropped();
  const std::int64_t low = static_cast<std::int64_t>(random & ((std::uint64_t{1} << s) - 1u));
  const std::int64_t q = w.stochastic ? (static_cast<std::int64_t>(x) + low) >> s : round_shift(x, s);
  return static_cast<std::int32_t>(saturate(q, w.bits) * (std::int64_t{1} << s));
}

//! Knots of the piecewise-linear sigmoid: round(sigma(k/2) * 2^23) for k = 0..16.
inline constexpr std::array<std::int32_t, 17> kSigmoidKnots = {
    4194304, 5221567, 6132564, 6858312, 7388661, 7752263, 7990771, 8142719, 8237729,
    8296443, 8332464, 8354465, 8367866, 8376015, 8380966, 8383971, 8385795};

//! sigma(t) for t in Q9.23: chords between knots 1/2 apart on [0, 8), flat beyond, and
//! sigma(-t) = 1 - sigma(t). Error below 0.0031 against the real sigmoid.
[[nodiscard]] constexpr std::int32_t sigmoid(std::int32_t t) noexcept {
  const std::int64_t m = t < 0 ? -static_cast<std::int64_t>(t) : t;
  std::int64_t s;
  if (m >= (std::int64_t{8} << kModelFractionBits)) {
    s = kSigmoidKnots[16];
  } else {
    const auto k = static_cast<std::size_t>(m >> 22);
    const std::int64_t r = m & ((std::int64_t{1} << 22) - 1);
    s = kSigmoidKnots[k] + round_shift((kSigmoidKnots[k + 1] - kSigmoidKnots[k]) * r, 22);
  }
  return static_cast<std::int32_t>(t < 0 ? kOne - s : s);
}

} // namespace zipml::engine

#endif
