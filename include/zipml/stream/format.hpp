// zipml — the ZipML-PYNQ host -> engine stream: commands, configuration words, row layout.
//
// This is the one layer every backend shares. The CPU backend trains on these words, the RTL
// engine consumes them and the board's DMA sends them, so all three can be compared word for
// word. The format is the original's (see docs/STREAM.md); zipml only adds meanings to payload
// bits that the original engines ignore, so a stream from the original host is still valid.
#ifndef ZIPML_STREAM_FORMAT_HPP
#define ZIPML_STREAM_FORMAT_HPP

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace zipml::stream {

using Word = std::uint64_t;

//! Command words. Any other word is payload.
namespace command {
inline constexpr Word kMagic1 = 0x39e904330f1a0df2ULL;     //!< options; zeroes the model
inline constexpr Word kMagic2 = 0xb209505f9f560afeULL;     //!< step x cost (neg, pos)
inline constexpr Word kMagic3 = 0x891ebbfdb9d5f766ULL;     //!< binarize label, dimension
inline constexpr Word kMagic4 = 0xc049cea2e9f6957dULL;     //!< samples, epochs
inline constexpr Word kMagic5 = 0xfe9134a9b660b182ULL;     //!< step, range, precision
inline constexpr Word kSendConfig = 0xabcaabcaabcaabcaULL; //!< echo the nine config words
inline constexpr Word kTheEnd = 0xabcdabcdabcdabcdULL;     //!< end of a pass: write the model
inline constexpr Word kLoopback = 0xababababababababULL;   //!< echo low halves from now on
inline constexpr Word kUnloopback = 0xbabababababababaULL; //!< leave loopback mode
// zipml's own commands (the original engines know neither: send them only to a zipml engine)
inline constexpr Word kLaneLabel = 0x6c4e3d2a9b17f583ULL;  //!< payload: one lane's positive label, K
inline constexpr Word kEngineInfo = 0xabcbabcbabcbabcbULL; //!< the engine answers its build (3 words)
} // namespace command

[[nodiscard]] constexpr bool is_command(Word w) noexcept {
  using namespace command;
  return w == kMagic1 || w == kMagic2 || w == kMagic3 || w == kMagic4 || w == kMagic5 ||
         w == kSendConfig || w == kTheEnd || w == kLoopback || w == kUnloopback || w == kLaneLabel ||
         w == kEngineInfo;
}

//! The float32 pattern -1.0f in both step x cost fields selects least squares (as the original).
inline constexpr std::uint32_t kLeastSquaresMarker = 0xbf800000u;

//! Which loss the engine applies; derived from the configuration words.
enum class LossMode : std::uint8_t { LeastSquares, L2Svm, Logistic };

//! Sample precision as announced in MAGIC5 bits 35..33 (a zipml extension; 0 = not stated,
//! as the original hosts send, in which case the engine uses the precision it was built for).
enum class PrecisionCode : std::uint8_t { Unstated = 0, Float32 = 1, Q1 = 2, Q2 = 3, Q4 = 4, Q8 = 5 };

[[nodiscard]] constexpr PrecisionCode precision_code(unsigned bits) noexcept {
  switch (bits) {
    case 32: return PrecisionCode::Float32;
    case 1: return PrecisionCode::Q1;
    case 2: return PrecisionCode::Q2;
    case 4: return PrecisionCode::Q4;
    case 8: return PrecisionCode::Q8;
    default: return PrecisionCode::Unstated;
  }
}

[[nodiscard]] constexpr unsigned precision_bits(PrecisionCode c) noexcept {
  switch (c) {
    case PrecisionCode::Float32: return 32;
    case PrecisionCode::Q1: return 1;
    case PrecisionCode::Q2: return 2;
    case PrecisionCode::Q4: return 4;
    case PrecisionCode::Q8: return 8;
    default: return 0;
  }
}

//! Everything the five configuration commands carry, decoded.
//!
//! Field order and meaning follow the original; fields marked "zipml" live in payload bits that
//! the original engines ignore.
struct Config {
  // MAGIC1 payload
  std::uint32_t lambda_shift = 32;   //!< bits 31..0: per-sample decay x -= x >> shift; >= 32: off
  std::uint16_t minibatch_mask = 0;  //!< bits 47..32: dot-product copy refreshed when i & m == m
  bool step_decay = false;           //!< bit 48: halve the step every decay_interval epochs
  bool binarize = false;             //!< bit 49: label == binarize_label -> +1, else -1
  bool double_sampled = false;       //!< bit 50 (zipml): rows carry two quantized copies
  bool logistic = false;             //!< bit 51 (zipml): logistic loss instead of the L2-SVM
  std::uint8_t decay_interval = 0;   //!< bits 59..52 (zipml): epochs per halving; 0 means 1
  // MAGIC2 payload
  float step_cost_neg = -1.0f;       //!< bits 31..0: step x cost for labels <= 0
  float step_cost_pos = -1.0f;       //!< bits 63..32: step x cost for labels > 0
  // MAGIC3 payload
  float binarize_label = 0.0f;       //!< bits 31..0: the positive class (exact float compare)
  std::uint32_t dim = 0;             //!< bits 63..32: d, features including the bias
  // MAGIC4 payload
  std::uint32_t samples = 0;         //!< bits 31..0: rows per pass
  std::uint32_t epochs = 0;          //!< bits 63..32: passes the host will send
  // MAGIC5 payload
  float step = 0.0f;                 //!< bits 31..0: step size (the least-squares factor)
  bool minus_one_one = false;        //!< bit 32: features in [-1, 1] (else [0, 1])
  PrecisionCode precision = PrecisionCode::Unstated; //!< bits 35..33 (zipml)

  [[nodiscard]] LossMode loss_mode() const noexcept {
    if (std::bit_cast<std::uint32_t>(step_cost_neg) == kLeastSquaresMarker &&
        std::bit_cast<std::uint32_t>(step_cost_pos) == kLeastSquaresMarker)
      return LossMode::LeastSquares;
    return logistic ? LossMode::Logistic : LossMode::L2Svm;
  }
  [[nodiscard]] unsigned decay_every() const noexcept { return decay_interval == 0 ? 1u : decay_interval; }

  friend bool operator==(const Config&, const Config&) = default;
};

namespace detail {
[[nodiscard]] constexpr Word pack_halves(std::uint32_t lo, std::uint32_t hi) noexcept {
  return static_cast<Word>(lo) | (static_cast<Word>(hi) << 32);
}
[[nodiscard]] constexpr std::uint32_t lo32(Word w) noexcept { return static_cast<std::uint32_t>(w); }
[[nodiscard]] constexpr std::uint32_t hi32(Word w) noexcept { return static_cast<std::uint32_t>(w >> 32); }
} // namespace detail

//! The five payload words, in command order MAGIC1..MAGIC5.
[[nodiscard]] constexpr std::array<Word, 5> payloads(const Config& c) noexcept {
  using detail::pack_halves;
  const Word p1 = static_cast<Word>(c.lambda_shift) | (static_cast<Word>(c.minibatch_mask) << 32) |
                  (static_cast<Word>(c.step_decay) << 48) | (static_cast<Word>(c.binarize) << 49) |
                  (static_cast<Word>(c.double_sampled) << 50) | (static_cast<Word>(c.logistic) << 51) |
                  (static_cast<Word>(c.decay_interval) << 52);
  const Word p2 = pack_halves(std::bit_cast<std::uint32_t>(c.step_cost_neg),
                              std::bit_cast<std::uint32_t>(c.step_cost_pos));
  const Word p3 = pack_halves(std::bit_cast<std::uint32_t>(c.binarize_label), c.dim);
  const Word p4 = pack_halves(c.samples, c.epochs);
  const Word p5 = static_cast<Word>(std::bit_cast<std::uint32_t>(c.step)) |
                  (static_cast<Word>(c.minus_one_one) << 32) |
                  (static_cast<Word>(static_cast<std::uint8_t>(c.precision) & 0x7u) << 33);
  return {p1, p2, p3, p4, p5};
}

//! Applies the payload of `magic` to `c` (the engine's command decoder, in C++).
constexpr void apply_payload(Config& c, Word magic, Word p) noexcept {
  using namespace command;
  using detail::hi32;
  using detail::lo32;
  if (magic == kMagic1) {
    c.lambda_shift = lo32(p);
    c.minibatch_mask = static_cast<std::uint16_t>(p >> 32);
    c.step_decay = (p >> 48) & 1u;
    c.binarize = (p >> 49) & 1u;
    c.double_sampled = (p >> 50) & 1u;
    c.logistic = (p >> 51) & 1u;
    c.decay_interval = static_cast<std::uint8_t>(p >> 52);
  } else if (magic == kMagic2) {
    c.step_cost_neg = std::bit_cast<float>(lo32(p));
    c.step_cost_pos = std::bit_cast<float>(hi32(p));
  } else if (magic == kMagic3) {
    c.binarize_label = std::bit_cast<float>(lo32(p));
    c.dim = hi32(p);
  } else if (magic == kMagic4) {
    c.samples = lo32(p);
    c.epochs = hi32(p);
  } else if (magic == kMagic5) {
    c.step = std::bit_cast<float>(lo32(p));
    c.minus_one_one = (p >> 32) & 1u;
    c.precision = static_cast<PrecisionCode>((p >> 33) & 0x7u);
  }
}

//! The configuration block the host sends: MAGIC1, p1, ..., MAGIC5, p5, SEND_CONFIG.
[[nodiscard]] constexpr std::array<Word, 11> config_words(const Config& c) noexcept {
  using namespace command;
  const auto p = payloads(c);
  return {kMagic1, p[0], kMagic2, p[1], kMagic3, p[2], kMagic4, p[3], kMagic5, p[4], kSendConfig};
}

//! The nine 32-bit words the engine answers to SEND_CONFIG, in the original's order:
//! lambda shift, flags, step x cost_neg, step x cost_pos, binarize label, d, samples, epochs,
//! step. Flags: bits 15..0 mini-batch mask, 16 decay, 17 binarize, and (zipml) 18 double
//! sampled, 19 logistic, 20 features in [-1, 1], 23..21 precision code, 31..24 decay interval.
[[nodiscard]] constexpr std::array<std::uint32_t, 9> config_echo(const Config& c) noexcept {
  const std::uint32_t flags = static_cast<std::uint32_t>(c.minibatch_mask) |
                              (static_cast<std::uint32_t>(c.step_decay) << 16) |
                              (static_cast<std::uint32_t>(c.binarize) << 17) |
                              (static_cast<std::uint32_t>(c.double_sampled) << 18) |
                              (static_cast<std::uint32_t>(c.logistic) << 19) |
                              (static_cast<std::uint32_t>(c.minus_one_one) << 20) |
                              ((static_cast<std::uint32_t>(c.precision) & 0x7u) << 21) |
                              (static_cast<std::uint32_t>(c.decay_interval) << 24);
  return {c.lambda_shift,
          flags,
          std::bit_cast<std::uint32_t>(c.step_cost_neg),
          std::bit_cast<std::uint32_t>(c.step_cost_pos),
          std::bit_cast<std::uint32_t>(c.binarize_label),
          c.dim,
          c.samples,
          c.epochs,
          std::bit_cast<std::uint32_t>(c.step)};
}

// ---- K model lanes on one engine (zipml; docs/STREAM.md "Model lanes") ----
//
// An engine built with LANES model lanes trains K <= LANES models in one pass: after
// LANE_LABEL words with K > 0, lane k uses its own positive label where the original uses the
// MAGIC3 label (binarizing when MAGIC1 bit 49 says so: one-vs-rest), and THE_END answers lanes
// 0..K-1's models in one packet. Without LANE_LABEL (K = 0, the state after reset) every lane
// uses the MAGIC3 label and all LANES models are answered, as with the original's one lane.

//! The largest K a LANE_LABEL word can carry (8-bit fields).
inline constexpr std::size_t kMaxLanes = 255;

//! One LANE_LABEL payload: bits 31..0 the float32 positive label of lane `lane`, 39..32 the
//! lane, 47..40 K, the lanes in use (the same in every LANE_LABEL word of a configuration;
//! 0 leaves lane mode), 63..48 zero.
struct LaneLabel {
  std::uint8_t lane = 0;
  std::uint8_t lanes = 0;
  float label = 0.0f;
  friend bool operator==(const LaneLabel&, const LaneLabel&) = default;
};

[[nodiscard]] constexpr Word lane_payload(const LaneLabel& l) noexcept {
  return static_cast<Word>(std::bit_cast<std::uint32_t>(l.label)) | (static_cast<Word>(l.lane) << 32) |
         (static_cast<Word>(l.lanes) << 40);
}

[[nodiscard]] constexpr LaneLabel decode_lane_payload(Word p) noexcept {
  return {static_cast<std::uint8_t>(p >> 32), static_cast<std::uint8_t>(p >> 40),
          std::bit_cast<float>(static_cast<std::uint32_t>(p))};
}

//! The configuration an engine gets for these lane labels: with labels, binarize against the
//! first (what a single-lane engine trains, and what the echo shows); without, `c` itself.
[[nodiscard]] constexpr Config lanes_config(Config c, std::span<const float> labels) noexcept {
  if (!labels.empty()) {
    c.binarize = true;
    c.binarize_label = labels[0];
  }
  return c;
}

//! The configuration block for an engine with `engine_lanes` model lanes training one model
//! per label (none: one model, regression or the configuration's own binarize label). With
//! engine_lanes == 1 (the original's engines) it is config_words(lanes_config(c, labels)) and
//! takes at most one label; with more it adds one LANE_LABEL word per label (K = labels, at
//! least 1, so that the engine answers exactly K models) before SEND_CONFIG. The echo to
//! expect is config_echo(lanes_config(c, labels)). The caller checks labels.size() <=
//! engine_lanes first (lane_limit_error).
[[nodiscard]] inline std::vector<Word> config_words(const Config& c, std::span<const float> labels,
                                                    std::size_t engine_lanes) {
  const auto block = config_words(lanes_config(c, labels));
  std::vector<Word> w(block.begin(), block.end() - 1);
  if (engine_lanes > 1) {
    const std::size_t k = labels.empty() ? 1 : labels.size();
    for (std::size_t l = 0; l < k; ++l) {
      w.push_back(command::kLaneLabel);
      const float label = labels.empty() ? c.binarize_label : labels[l];
      w.push_back(lane_payload({static_cast<std::uint8_t>(l), static_cast<std::uint8_t>(k), label}));
    }
  }
  w.push_back(command::kSendConfig);
  return w;
}

//! Why K lanes cannot run on an engine with `engine_lanes` lanes; empty when they can.
[[nodiscard]] inline std::string lane_limit_error(std::size_t k, std::size_t engine_lanes) {
  if (k <= engine_lanes && k <= kMaxLanes) return {};
  return std::to_string(k) + " model lanes (classes) requested, but the engine has " + std::to_string(engine_lanes) +
         (engine_lanes == 1 ? " lane" : " lanes") + ": split the classes across passes or engines";
}

//! First word of the ENGINE_INFO answer ("ZIP", answer version 1).
inline constexpr std::uint32_t kInfoSignature = 0x5a495031u;

//! The three words an engine answers to ENGINE_INFO (tlast on the third): the signature;
//! 7..0 LANES, 15..8 K in use (0 = no LANE_LABEL), 18..16 the precision code it was built for;
//! MAX_DIM.
struct EngineInfo {
  unsigned lanes = 1;
  unsigned lanes_in_use = 0;
  PrecisionCode precision = PrecisionCode::Unstated;
  std::uint32_t max_dim = 0;
  friend bool operator==(const EngineInfo&, const EngineInfo&) = default;
};

[[nodiscard]] constexpr std::array<std::uint32_t, 3> info_words(const EngineInfo& e) noexcept {
  return {kInfoSignature,
          (e.lanes & 0xffu) | ((e.lanes_in_use & 0xffu) << 8) | ((static_cast<std::uint32_t>(e.precision) & 7u) << 16),
          e.max_dim};
}

//! The answer decoded; nullopt unless it is three words starting with the signature.
[[nodiscard]] constexpr std::optional<EngineInfo> decode_engine_info(std::span<const std::uint32_t> w) noexcept {
  if (w.size() != 3 || w[0] != kInfoSignature) return std::nullopt;
  return EngineInfo{w[1] & 0xffu, (w[1] >> 8) & 0xffu, static_cast<PrecisionCode>((w[1] >> 16) & 7u), w[2]};
}

//! Shape of the rows in a packed stream.
//!
//! float32: d features as float32, two per word (feature 2k in bits 31..0), zero-padded to an
//! even count, then a label word. Q-bit: d levels of Q bits, feature 0 in the lowest bits,
//! 64/Q per word, zero-padded, then a label word. With double sampling (zipml) the Q-bit
//! feature words appear twice, two independent quantizations, before the label word. The
//! label word holds the float32 label in bits 31..0 and zeros above.
struct Layout {
  unsigned bits = 32;          //!< 32 for float32, else Q in {1, 2, 4, 8}
  std::uint32_t dim = 0;       //!< d, including the bias feature 0
  bool minus_one_one = false;  //!< feature range [-1, 1] (else [0, 1])
  bool double_sampled = false; //!< two quantized copies per row

  [[nodiscard]] constexpr bool is_float() const noexcept { return bits == 32; }
  [[nodiscard]] constexpr unsigned values_per_word() const noexcept { return is_float() ? 2u : 64u / bits; }
  //! Words holding one copy of the features.
  [[nodiscard]] constexpr std::size_t feature_words() const noexcept {
    return (static_cast<std::size_t>(dim) + values_per_word() - 1) / values_per_word();
  }
  [[nodiscard]] constexpr std::size_t copies() const noexcept { return double_sampled ? 2 : 1; }
  [[nodiscard]] constexpr std::size_t row_words() const noexcept { return feature_words() * copies() + 1; }
  //! Feature slots including padding: the number of 32-bit model words the engine writes back.
  [[nodiscard]] constexpr std::size_t padded_dim() const noexcept { return feature_words() * values_per_word(); }
  //! Fraction bits of a decoded feature in the engine arithmetic (docs/ENGINE.md).
  [[nodiscard]] constexpr unsigned feature_fraction_bits() const noexcept {
    if (is_float()) return 16;
    return minus_one_one ? bits - 2 : bits - 1;
  }
  friend constexpr bool operator==(const Layout&, const Layout&) = default;
};

} // namespace zipml::stream

#endif
