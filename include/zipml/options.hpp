// zipml — training options and the per-epoch history.
#ifndef ZIPML_OPTIONS_HPP
#define ZIPML_OPTIONS_HPP

#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "zipml/backend.hpp"
#include "zipml/data/dataset.hpp"
#include "zipml/error.hpp"

namespace zipml {

//! The order samples are sent in.
enum class Order {
  File,            //!< as in the file (the original's only order)
  Shuffle,         //!< one seeded shuffle before the first epoch
  ShuffleEachEpoch //!< a fresh seeded shuffle every epoch
};

//! Which figures an epoch reports (EpochStats), and what they cost.
enum class Evaluation {
  //! The training loss taken during the pass: each sample's loss at the dot products its own
  //! update used, i.e. with the model before that update (Vowpal Wabbit's progressive loss), on
  //! the packed (quantized) samples. No extra pass. The test metric after the last epoch; the
  //! training metric after the last epoch only when there is no test set. Backends that do not
  //! report a pass loss (the RTL engine's) get Full's training figures instead.
  Pass,
  //! As Pass, and the test metric after every epoch (a pass over the test set).
  Test,
  //! After every epoch, a separate pass over the whole (full-precision) training set with the
  //! epoch's final model for the training loss and metric, and one over the test set.
  Full
};

[[nodiscard]] constexpr const char* to_string(Evaluation e) noexcept {
  return e == Evaluation::Pass ? "pass" : e == Evaluation::Test ? "test" : "full";
}

//! When the ranks of a process group (Sgd::distribute: data-parallel training, each rank on
//! its share of the rows) replace their models by the group's mean (distributed/average.hpp).
enum class Averaging {
  Epoch,   //!< after every epoch (local SGD, one averaging per pass)
  Samples, //!< every Options::average_samples samples of each rank (about), and so after every epoch
  End      //!< once, after the last epoch (one-shot averaging; the only kind for a backend whose
           //!< engine keeps the model, as the RTL engine's do: it cannot load an averaged one)
};

[[nodiscard]] constexpr const char* to_string(Averaging a) noexcept {
  return a == Averaging::Epoch ? "epoch" : a == Averaging::Samples ? "samples" : "end";
}

//! The precision of each epoch, read from one bit-plane copy of the samples
//! (stream/planes.hpp): Sgd packs them once as Precision's B-bit levels in bit planes and
//! trains epoch e on the Q-bit stream that the top Q planes give (Q <= B), made again only
//! when Q changes. Low precisions make cheap early epochs; the last ones refine at B bits.
struct PrecisionSchedule {
  //! Epoch e (0-based) trains at bits[min(e, size - 1)], e.g. {1, 2, 4, 8}: 1, 2 and 4 bits
  //! for one epoch each, then 8. Empty (and not automatic): no schedule.
  std::vector<unsigned> bits;
  //! Instead of a list: start at the lowest precision (1 bit; 2 in [-1, 1]) and double it
  //! (up to B) after each epoch that lowers the training loss by less than `rise` times the
  //! loss before it.
  bool automatic = false;
  double rise = 0.05;
  [[nodiscard]] bool active() const noexcept { return automatic || !bits.empty(); }
};

//! Options of Sgd. The defaults are the original's MNIST settings (step 2^-12, 10 epochs,
//! zero initial model, file order, no regularization).
struct Options {
  float step = 0x1p-12f;        //!< step size (the engine takes step x cost in [2^-34, 2^8))
  std::size_t epochs = 10;      //!< passes over the data (at most, with tol > 0)
  double tol = 0.0;             //!< stop when `patience` epochs lower the best training loss by less than
                                //!< this fraction of it (0: run all epochs; tuning/stopping.hpp)
  unsigned patience = 5;        //!< epochs without such progress before stopping
  bool step_decay = false;      //!< halve the step every `decay_interval` epochs
  unsigned decay_interval = 1;  //!< epochs per halving, 1..255
  std::size_t minibatch = 1;    //!< power of two <= 65536; gradients of a batch are summed
  float l2 = 0.0f;              //!< L2 strength; applied per sample as x -= 2^-round(-log2(step l2)) x
  std::uint64_t seed = 1;       //!< stochastic rounding and shuffling
  Arithmetic arithmetic = Arithmetic::Float;
  Order order = Order::File;
  data::Range range = data::Range::ZeroOne; //!< the range features were scaled to (quantizer mapping)
  bool double_sampling = false; //!< two independent quantizations per sample (needs Stochastic)
  bool requantize = false;      //!< a fresh stochastic quantization every epoch
  std::optional<float> positive_label; //!< binary: this label against the rest
  unsigned threads = 0;         //!< 0 = all cores
  Evaluation evaluation = Evaluation::Pass; //!< what each epoch's figures are and cost
  Averaging averaging = Averaging::Epoch;   //!< with a process group: when the models are averaged
  std::size_t average_samples = 0;          //!< Averaging::Samples: samples of each rank between averagings
  PrecisionSchedule schedule;               //!< per-epoch precisions from bit planes (none by default)
};

namespace detail {

//! Shortest exact spelling of a value for a message: std::to_string would show a step of
//! 2^-40 as "0.000000".
template <class T>
  requires std::is_floating_point_v<T>
std::string show(T v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

} // namespace detail

//! Throws Error naming the option and its value for options no backend can train with (Sgd
//! calls it first; a program may call it before reading any data).
inline void check(const Options& o) {
  if (!(o.step > 0.0f) || !std::isfinite(o.step)) throw Error("step must be a positive number, got " + detail::show(o.step));
  if (o.minibatch == 0 || o.minibatch > 65536 || !std::has_single_bit(o.minibatch))
    throw Error("mini-batch must be a power of two from 1 to 65536 (the engine's 16-bit mask), got " +
                std::to_string(o.minibatch));
  if (o.decay_interval == 0 || o.decay_interval > 255)
    throw Error("decay interval must be 1..255 epochs, got " + std::to_string(o.decay_interval));
  if (!(o.l2 >= 0.0f) || !std::isfinite(o.l2)) throw Error("l2 must be >= 0, got " + detail::show(o.l2));
  if (o.l2 > 0.0f && static_cast<double>(o.step) * o.l2 > 0.5)
    throw Error("step x l2 = " + detail::show(static_cast<double>(o.step) * o.l2) +
                " shrinks the model by half or more per sample: use a smaller l2");
  if (!(o.tol >= 0.0) || !(o.tol < 1.0)) throw Error("tol must be in [0, 1), got " + detail::show(o.tol));
  if (o.averaging == Averaging::Samples && o.average_samples < o.minibatch)
    throw Error("averaging every " + std::to_string(o.average_samples) + " samples: give at least one mini-batch (" +
                std::to_string(o.minibatch) + " samples)");
  for (unsigned b : o.schedule.bits)
    if (b != 1 && b != 2 && b != 4 && b != 8)
      throw Error("precision schedule: " + std::to_string(b) + " bits: each epoch's precision is 1, 2, 4 or 8 bits");
  if (o.schedule.automatic && !o.schedule.bits.empty())
    throw Error("precision schedule: give a list of precisions or the automatic rule, not both");
  if (o.schedule.automatic && !(o.schedule.rise > 0.0 && o.schedule.rise < 1.0))
    throw Error("precision schedule: the automatic rule's rise must be in (0, 1), got " + detail::show(o.schedule.rise));
  if (o.epochs > 0xffffffffu)
    throw Error("epochs " + std::to_string(o.epochs) + " do not fit the stream's 32-bit field (at most 4294967295)");
}

//! What one epoch did.
struct EpochStats {
  std::size_t epoch = 0;       //!< 1-based
  double train_loss = 0.0;     //!< mean loss per sample (summed over lanes, plus the L2 term): the
                               //!< pass loss or the full evaluation's (History::evaluation)
  std::optional<double> train_metric; //!< accuracy (classification) or RMSE (regression), when evaluated
  std::optional<double> test_metric;  //!< the same on the test set, when evaluated
  double seconds = 0.0;        //!< the training pass only
  double pack_seconds = 0.0;   //!< re-packing before this pass (shuffle, re-quantize, or the schedule's
                               //!< extraction at a new precision), else 0
  double eval_seconds = 0.0;   //!< the evaluation passes after it (Options::evaluation)
  unsigned precision = 0;      //!< bits of the samples this pass read (32: float32): Precision's, or
                               //!< the schedule's (Options::schedule)
};

struct History {
  std::string metric;          //!< "accuracy" or "rmse"
  double initial_loss = 0.0;   //!< loss of the zero model
  double pack_seconds = 0.0;   //!< packing the stream before the first epoch
  bool converged = false;      //!< stopped before Options::epochs by the Options::tol rule
  //! How train_loss was measured: Pass (during the pass, on the packed samples) or Full (a
  //! separate pass over the full-precision training set after each epoch).
  Evaluation evaluation = Evaluation::Full;
  std::vector<EpochStats> epochs;
  //! Data-parallel training (Sgd::distribute): the ranks, the seed each quantized and shuffled
  //! its rows with (distributed::rank_seed), and how many times the models were averaged.
  int ranks = 1;
  std::vector<std::uint64_t> rank_seeds;
  std::size_t averagings = 0;
};

} // namespace zipml

#endif
