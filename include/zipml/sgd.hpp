// zipml — Sgd<Model, Precision, Backend>: the trainer users instantiate.
#ifndef ZIPML_SGD_HPP
#define ZIPML_SGD_HPP

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "zipml/arithmetic/engine.hpp"
#include "zipml/backend.hpp"
#include "zipml/arithmetic/float.hpp"
#include "zipml/concepts.hpp"
#include "zipml/data/dataset.hpp"
#include "zipml/data/rows.hpp"
#include "zipml/data/scaling.hpp"
#include "zipml/distributed/average.hpp"
#include "zipml/distributed/collective.hpp"
#include "zipml/distributed/shard.hpp"
#include "zipml/error.hpp"
#include "zipml/linear_model.hpp"
#include "zipml/options.hpp"
#include "zipml/random.hpp"
#include "zipml/stream/packer.hpp"
#include "zipml/stream/planes.hpp"
#include "zipml/stream/reader.hpp"
#include "zipml/tuning/stopping.hpp"

namespace zipml {

namespace detail {

inline std::string name_of(const data::Dataset& ds) { return ds.source.empty() ? "data set" : ds.source; }

//! Sorted distinct labels.
inline std::vector<float> distinct_labels(std::span<const float> labels) {
  std::vector<float> c(labels.begin(), labels.end());
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

//! A seeded Fisher-Yates shuffle with zipml's own generator (same order on every platform).
inline std::vector<std::uint32_t> shuffled_order(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  SplitMix64 rng(seed, 0x5107f1e0ULL, epoch);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

} // namespace detail

//! Trains a linear model by SGD on packed (full- or low-precision) samples.
//!
//! @tparam Model     LeastSquares, L2Svm or Logistic (zipml/model/)
//! @tparam Precision Float32 or Quantized<Q, Nearest|Stochastic> (zipml/precision/)
//! @tparam Backend   Cpu (backends/cpu/), and the RTL backends as they arrive
//!
//! fit() scales nothing: scale the features first (data/scaling.hpp) and say which range in
//! Options::range. Classifiers train one lane per class (one-vs-rest) in one pass over the
//! stream; with two classes, or Options::positive_label, one lane.
template <ModelPolicy Model, PrecisionPolicy Precision, Backend BackendT>
class Sgd {
 public:
  using model_type = Model;
  using precision_type = Precision;
  using backend_type = BackendT;
  using EpochCallback = std::function<void(const EpochStats&)>;

  explicit Sgd(Options options = {}, Model model = {}, BackendT backend = {})
      : options_(std::move(options)), model_(std::move(model)), backend_(std::move(backend)) {}

  //! Called after every epoch (progress output).
  void on_epoch(EpochCallback cb) { on_epoch_ = std::move(cb); }

  //! Data-parallel training over `group` (docs/SCALING.md): from now on fit() trains this
  //! rank's share of the rows and replaces the ranks' models by their mean as
  //! Options::averaging says, so that every rank ends with the same model, bit for bit.
  //! fit(Dataset) takes the whole data set on every rank and packs only this rank's share
  //! (distributed::shard_of of the rows, or of the seeded shuffle with Order::Shuffle, so the
  //! shares partition the rows), quantized with distributed::rank_seed; fit(PackedStream)
  //! takes a stream that is this rank's share already (pack_for(rows, options, group), or
  //! io::load_stream_shard of a file). The epochs' figures are the group's (every rank the
  //! same); only rank 0 evaluates the test set. Every rank must call fit() alike; `group`
  //! must outlive the trainer.
  void distribute(distributed::Collective& group) noexcept { group_ = &group; }
  [[nodiscard]] distributed::Collective* group() const noexcept { return group_; }

  //! A warm start (scikit-learn's partial_fit and warm_start): the next fit() starts from
  //! `initial` instead of the zero model. Its arithmetic must be Options::arithmetic's and its
  //! shape the job's (lanes x dim with bias), or fit() throws Error. Backends whose engine
  //! keeps the model (Verilator, Pynq: the engine zeroes it when a job starts) refuse it.
  //! Used once: the fit after it starts from zero again unless start_from is called again.
  void start_from(ModelState initial) { initial_ = std::move(initial); }

  //! The classes of a classifier, fixed (scikit-learn's partial_fit(classes=...)): the lanes
  //! stand for these, sorted, whatever subset of them the training labels show, and a label
  //! outside them is an Error naming its row. Empty (the default): the training labels' classes.
  void set_classes(std::vector<float> classes) {
    for (float c : classes)
      if (!std::isfinite(c)) throw Error("classes: " + detail::show(c) + " is not a finite label");
    fixed_classes_ = detail::distinct_labels(classes);
  }

  //! Trains from the zero model for Options::epochs passes (fewer when Options::tol stops it
  //! at a plateau of the training loss); each epoch's figures are Options::evaluation's.
  History fit(const data::Dataset& train, const data::Dataset* test = nullptr) {
    if (test != nullptr) {
      const data::DatasetRows rows(*test);
      return fit_dataset(train, &rows);
    }
    return fit_dataset(train, static_cast<const data::DatasetRows*>(nullptr));
  }
  History fit(const data::Dataset& train, const data::Dataset& test) { return fit(train, &test); }
  //! The same with the test set as any RowSource (IdxImages: evaluated straight from the
  //! file's bytes, scaled as each row is read, without its float matrix).
  template <data::RowSource Test>
  History fit(const data::Dataset& train, const Test& test) {
    return fit_dataset(train, &test);
  }

  //! Trains on a stream packed before (pack_for, stream::pack, a packed stream file): no
  //! scaling and no packing here, and the same model bit for bit as fit() of the data set it
  //! was packed from with the same options. Its layout must be Precision's and the options'
  //! (range, double sampling); its order is its own (Options::order File or Shuffle say what
  //! it was packed with), so neither ShuffleEachEpoch nor requantize can apply. The labels are read from the rows' label words; the training figures of
  //! Evaluation::Full (and of the last epoch without a test set) are taken on its samples.
  History fit(stream::PackedStream packed, const data::Dataset* test = nullptr) {
    if (test != nullptr) {
      const data::DatasetRows rows(*test);
      return fit_stream(std::move(packed), &rows);
    }
    return fit_stream(std::move(packed), static_cast<const data::DatasetRows*>(nullptr));
  }
  History fit(stream::PackedStream packed, const data::Dataset& test) { return fit(std::move(packed), &test); }
  template <data::RowSource Test>
  History fit(stream::PackedStream packed, const Test& test) {
    return fit_stream(std::move(packed), &test);
  }

  //! Trains on a bit-plane stream (stream::pack_planes, or a packed stream file of that
  //! layout): each epoch on the Q-bit stream of its top planes, Q from Options::schedule (or
  //! B, the planes' bits, without one). Its levels must be Precision's (Quantized<B, R>) and
  //! the options' range and double sampling; as for fit(PackedStream), its order is its own.
  History fit(stream::PlaneStream planes, const data::Dataset* test = nullptr) {
    if (test != nullptr) {
      const data::DatasetRows rows(*test);
      return fit_planes(std::move(planes), &rows);
    }
    return fit_planes(std::move(planes), static_cast<const data::DatasetRows*>(nullptr));
  }
  History fit(stream::PlaneStream planes, const data::Dataset& test) { return fit(std::move(planes), &test); }
  template <data::RowSource Test>
  History fit(stream::PlaneStream planes, const Test& test) {
    return fit_planes(std::move(planes), &test);
  }

  //! The stream fit(train) trains on with these options: `train` (already scaled to
  //! Options::range) quantized by Precision, in Options::order's first order.
  [[nodiscard]] static stream::PackedStream pack_for(const data::Dataset& train, const Options& options) {
    return pack_for(data::DatasetRows(train), options);
  }
  //! As pack_for(Dataset) from any RowSource (IdxImages: straight from the file's bytes).
  template <data::RowSource Rows>
  [[nodiscard]] static stream::PackedStream pack_for(const Rows& train, const Options& options) {
    std::vector<std::uint32_t> order;
    if (options.order != Order::File) order = detail::shuffled_order(train.size(), options.seed, 0);
    return stream::pack<Precision>(train, pack_options(options, order, 0));
  }

  //! The stream fit(train) packs on rank group.rank() of a group (distribute): that rank's
  //! share of the rows, quantized with its seed (as the Sgd comment says).
  [[nodiscard]] static stream::PackedStream pack_for(const data::Dataset& train, const Options& options,
                                                     const distributed::Collective& group) {
    return pack_for(data::DatasetRows(train), options, group);
  }
  template <data::RowSource Rows>
  [[nodiscard]] static stream::PackedStream pack_for(const Rows& train, const Options& options,
                                                     const distributed::Collective& group) {
    if (group.size() == 1) return pack_for(train, options);
    return pack_share(train, options, group, shard_rows(train.size(), options, group), 0);
  }

  //! The bit-plane stream fit(train) packs under a precision schedule (Options::schedule):
  //! `train` quantized by Precision as bit planes, in Options::order's first order; and on rank
  //! group.rank() of a group, that rank's share with its seed.
  template <data::RowSource Rows>
  [[nodiscard]] static stream::PlaneStream pack_planes_for(const Rows& train, const Options& options) {
    std::vector<std::uint32_t> order;
    if (options.order != Order::File) order = detail::shuffled_order(train.size(), options.seed, 0);
    return pack_planes_of(train, options, order);
  }
  template <data::RowSource Rows>
  [[nodiscard]] static stream::PlaneStream pack_planes_for(const Rows& train, const Options& options,
                                                           const distributed::Collective& group) {
    if (group.size() == 1) return pack_planes_for(train, options);
    Options o = options;
    o.seed = distributed::rank_seed(o.seed, group.rank());
    return pack_planes_of(train, o, shard_rows(train.size(), options, group));
  }

  //! Decision values: N x K (one column per lane).
  [[nodiscard]] xt::xtensor<float, 2> decision(const data::Dataset& ds) const {
    check_trained();
    return linear_.decision(ds, options_.threads);
  }

  //! Predicted labels (classification: a class of the training set) or values (regression).
  [[nodiscard]] xt::xtensor<float, 1> predict(const data::Dataset& ds) const {
    check_trained();
    return linear_.predict(ds);
  }

  //! Accuracy (classification) or RMSE (regression) on `ds`.
  [[nodiscard]] double score(const data::Dataset& ds) const { return evaluate(ds).metric; }
  //! Mean loss per sample (summed over lanes) plus the L2 term.
  [[nodiscard]] double loss(const data::Dataset& ds) const { return evaluate(ds).loss; }

  //! K x d weights (K = lanes), as floats.
  [[nodiscard]] const xt::xtensor<float, 2>& weights() const noexcept { return linear_.weights(); }
  //! The trained model on its own (predict, score; what a saved model holds).
  [[nodiscard]] const LinearModel& linear_model() const noexcept { return linear_; }
  //! The raw model words (engine arithmetic): K x d Q9.23 integers.
  [[nodiscard]] const ModelState& state() const noexcept { return state_; }
  //! The labels the lanes stand for (classification), in lane order.
  [[nodiscard]] const std::vector<float>& classes() const noexcept { return classes_for_lanes_; }
  [[nodiscard]] const stream::PackedStream& packed() const noexcept { return packed_; }
  [[nodiscard]] const TrainJob& job() const noexcept { return job_; }
  //! The backend (e.g. its simulated cycles, or what the board's engine said it is).
  [[nodiscard]] const BackendT& backend() const noexcept { return backend_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] const Model& model() const noexcept { return model_; }
  [[nodiscard]] bool is_classification() const noexcept {
    return Model::is_classifier || options_.positive_label.has_value();
  }

 private:
  static stream::PackOptions pack_options(const Options& o, std::span<const std::uint32_t> order, std::uint64_t epoch) {
    stream::PackOptions p;
    p.range = o.range;
    p.double_sampled = o.double_sampling;
    p.seed = o.seed;
    p.engine_range = o.arithmetic == Arithmetic::Engine;
    p.threads = o.threads;
    p.order = order;
    p.epoch = epoch;
    return p;
  }

  [[nodiscard]] bool grouped() const noexcept { return group_ != nullptr && group_->size() > 1; }

  //! The rows (of `n`) a rank of `group` trains on, in the order it packs them.
  static std::vector<std::uint32_t> shard_rows(std::size_t n, const Options& o, const distributed::Collective& group) {
    std::vector<std::uint32_t> all;
    if (o.order != Order::File) {
      all = detail::shuffled_order(n, o.seed, 0);
    } else {
      all.resize(n);
      std::iota(all.begin(), all.end(), 0u);
    }
    const auto sh = distributed::shard_of(n, group.rank(), group.size());
    return {all.begin() + static_cast<std::ptrdiff_t>(sh.first), all.begin() + static_cast<std::ptrdiff_t>(sh.last)};
  }
  //! Rows `rows` of `train` (this rank's, in this order) packed with this rank's seed, as
  //! quantization `epoch`.
  template <class Rows> // (a Dataset or a RowSource, as stream::pack takes)
  static stream::PackedStream pack_share(const Rows& train, Options options, const distributed::Collective& group,
                                         std::span<const std::uint32_t> rows, std::uint64_t epoch) {
    options.seed = distributed::rank_seed(options.seed, group.rank());
    return stream::pack<Precision>(train, pack_options(options, rows, epoch));
  }

  // Built by appends: `"q" + std::to_string(...)` trips a GCC 12 -Wrestrict false positive.
  static std::string precision_name(unsigned bits) {
    std::string out = bits == 32 ? "float32" : "q";
    if (bits != 32) out.append(std::to_string(bits));
    return out;
  }

  //! fit(train, test) for a test set of any RowSource (nullptr: none).
  template <class Test>
  History fit_dataset(const data::Dataset& train, const Test* test) {
    auto t_pack = std::chrono::steady_clock::now();
    // (no collective call in here: every rank checks and packs on its own, and they agree)
    on_every_rank([&] {
      check(options_);
      if (train.empty()) throw Error(detail::name_of(train) + ": the training set is empty");
      check_common(train.dim(), detail::name_of(train), test);
      const std::span<const float> labels(train.labels.data(), train.labels.size());
      setup_lanes(labels, detail::name_of(train), false);
      if (options_.arithmetic == Arithmetic::Engine && !lanes_binarized_) check_engine_labels(labels, detail::name_of(train));
      if (options_.schedule.active()) check_schedule();
      t_pack = std::chrono::steady_clock::now();
      planes_.reset();
      if (grouped()) {
        shard_rows_ = shard_rows(train.size(), options_, *group_);
        if (options_.schedule.active()) {
          Options o = options_;
          o.seed = distributed::rank_seed(o.seed, group_->rank());
          planes_ = pack_planes_of(train, o, shard_rows_);
        } else {
          packed_ = pack_share(train, options_, *group_, shard_rows_, 0);
        }
      } else {
        shard_rows_.clear();
        if (options_.schedule.active()) {
          std::vector<std::uint32_t> order;
          if (options_.order != Order::File) order = detail::shuffled_order(train.size(), options_.seed, 0);
          planes_ = pack_planes_of(train, options_, order);
        } else {
          packed_ = pack_for(train, options_);
        }
      }
      if (planes_) packed_ = stream::extract(*planes_, schedule_bits(0), options_.threads);
    });
    return train_packed(&train, test, seconds_since(t_pack));
  }

  //! f(), and in a group: the ranks agree on whether it failed (distributed::agree), so that
  //! one rank's error stops all of them at the same point. Every rank must reach f's
  //! collective calls, if any (none may follow anything that throws on one rank only).
  template <class F>
  void on_every_rank(F&& f) {
    if (grouped()) distributed::agree(*group_, f);
    else f();
  }

  //! fit(packed, test) for a test set of any RowSource (nullptr: none).
  template <class Test>
  History fit_stream(stream::PackedStream packed, const Test* test) {
    std::vector<float> labels;
    const std::string name = "packed stream";
    on_every_rank([&] { labels = check_stream(packed, name, test); });
    on_every_rank([&] {
      setup_lanes(labels, name, grouped(), packed.first_row); // (its collective calls come before what can throw)
      if (options_.arithmetic == Arithmetic::Engine && !lanes_binarized_) check_engine_labels(labels, name, packed.first_row);
      if (options_.arithmetic == Arithmetic::Engine && packed.layout.is_float()) check_engine_features(packed, name);
    });
    shard_rows_.clear();
    planes_.reset();
    packed_ = std::move(packed);
    return train_packed(nullptr, test, 0.0);
  }

  //! fit(planes, test) for a test set of any RowSource (nullptr: none).
  template <class Test>
  History fit_planes(stream::PlaneStream planes, const Test* test) {
    std::vector<float> labels;
    const std::string name = "bit-plane stream";
    on_every_rank([&] { labels = check_planes(planes, name, test); });
    on_every_rank([&] {
      setup_lanes(labels, name, grouped(), planes.first_row);
      if (options_.arithmetic == Arithmetic::Engine && !lanes_binarized_) check_engine_labels(labels, name, planes.first_row);
    });
    shard_rows_.clear();
    const auto t0 = std::chrono::steady_clock::now();
    planes_ = std::move(planes);
    packed_ = stream::extract(*planes_, schedule_bits(0), options_.threads);
    return train_packed(nullptr, test, seconds_since(t0));
  }

  //! What fit_planes checks of a bit-plane stream on its own; its labels.
  template <class Test>
  std::vector<float> check_planes(const stream::PlaneStream& s, const std::string& name, const Test* test) const {
    check(options_);
    const auto& l = s.layout;
    if (s.rows == 0) throw Error(name + ": no samples");
    if (s.words.size() != l.total_words(s.rows))
      throw Error(name + ": " + std::to_string(s.words.size()) + " words, but " + std::to_string(s.rows) +
                  " rows of " + std::to_string(l.dim) + " features in " + std::to_string(l.planes) + " planes need " +
                  std::to_string(l.total_words(s.rows)));
    if (l.planes != Precision::bits)
      throw Error(name + ": its levels are " + std::to_string(l.planes) + "-bit, the trainer's precision is " +
                  precision_name(Precision::bits));
    if (l.dithered != Precision::rounding::stochastic)
      throw Error(name + std::string(": it was rounded ") + (l.dithered ? "stochastically" : "to nearest") +
                  ", the trainer's precision rounds " + (Precision::rounding::stochastic ? "stochastically" : "to nearest"));
    if (l.minus_one_one != (options_.range == data::Range::MinusOneOne))
      throw Error(name + ": its features are in " + (l.minus_one_one ? "[-1, 1]" : "[0, 1]") +
                  ", the options say " + (options_.range == data::Range::MinusOneOne ? "[-1, 1]" : "[0, 1]"));
    if (l.double_sampled != options_.double_sampling)
      throw Error(name + ": it is " + (l.double_sampled ? "" : "not ") + "double-sampled, the options say " +
                  (options_.double_sampling ? "double sampling" : "no double sampling"));
    if (options_.order == Order::ShuffleEachEpoch || options_.requantize)
      throw Error(name + ": its order and quantization were fixed when it was packed: it cannot be shuffled or "
                         "re-quantized every epoch (train from the data set for that)");
    if (options_.schedule.active()) check_schedule();
    check_common(l.dim, name, test);
    std::vector<float> labels(s.rows);
    for (std::size_t i = 0; i < s.rows; ++i) labels[i] = s.label(i);
    return labels;
  }

  //! What a precision schedule needs: levels to take planes of, precisions the planes hold, one
  //! copy of the samples for the whole run, and a backend that can change precision.
  void check_schedule() const {
    const auto& sc = options_.schedule;
    if constexpr (Precision::bits == 32) {
      throw Error("a precision schedule trains on bit planes of quantized levels, not float32: pick a quantized "
                  "precision with as many bits as the highest in the schedule (q8 for 1, 2, 4, 8)");
    } else {
      const bool mm = options_.range == data::Range::MinusOneOne;
      for (unsigned b : sc.bits) {
        if (b > Precision::bits)
          throw Error("precision schedule: " + std::to_string(b) + " bits, but the samples are packed as " +
                      std::to_string(Precision::bits) + "-bit levels: pick a precision of at least " +
                      std::to_string(b) + " bits");
        if (b == 1 && mm)
          throw Error("precision schedule: 1 bit cannot represent features in [-1, 1]: start at 2 bits or scale to [0, 1]");
      }
      if (options_.order == Order::ShuffleEachEpoch || options_.requantize)
        throw Error("a precision schedule trains every epoch on one bit-plane copy of the samples: it cannot be "
                    "shuffled or re-quantized every epoch (use order file or shuffle, no requantize)");
      if constexpr (requires { BackendT::keeps_model; }) {
        const bool changes = sc.automatic || std::adjacent_find(sc.bits.begin(), sc.bits.end(),
                                                                std::not_equal_to<>()) != sc.bits.end();
        if (changes)
          throw Error(std::string(BackendT::name) +
                      " backend: its engine is built for one precision and keeps the model, so it cannot change "
                      "precision between epochs: train a precision schedule on the CPU backend");
      }
    }
  }

  //! The bits of epoch e under the schedule (the automatic rule's current precision, or the
  //! list's entry); Precision's bits without a schedule.
  [[nodiscard]] unsigned schedule_bits(std::size_t e) const noexcept {
    const auto& sc = options_.schedule;
    if (sc.automatic) return e == 0 ? lowest_bits() : auto_bits_;
    if (sc.bits.empty()) return Precision::bits;
    return sc.bits[std::min(e, sc.bits.size() - 1)];
  }
  [[nodiscard]] unsigned lowest_bits() const noexcept {
    return options_.range == data::Range::MinusOneOne ? std::min(2u, Precision::bits) : 1u;
  }
  //! Whether epoch e, at `bits`, trains at the schedule's last precision (where the plateau
  //! rule may stop the run).
  [[nodiscard]] bool at_final_bits(std::size_t e, unsigned bits) const noexcept {
    const auto& sc = options_.schedule;
    if (!planes_ || !sc.active()) return true;
    if (sc.automatic) return bits == Precision::bits;
    return e + 1 >= sc.bits.size();
  }

  template <class Rows>
  static stream::PlaneStream pack_planes_of(const Rows& train, const Options& o, std::span<const std::uint32_t> order) {
    if constexpr (Precision::bits == 32) {
      throw Error("internal: bit planes of float32");
    } else {
      return stream::pack_planes<Precision>(train, pack_options(o, order, 0));
    }
  }

  //! What fit_stream checks of a stream on its own; its labels.
  template <class Test>
  std::vector<float> check_stream(const stream::PackedStream& packed, const std::string& name, const Test* test) const {
    check(options_);
    const auto& l = packed.layout;
    if (packed.rows == 0) throw Error(name + ": no samples");
    if (packed.words.size() != packed.rows * l.row_words())
      throw Error(name + ": " + std::to_string(packed.words.size()) + " words, but " + std::to_string(packed.rows) +
                  " rows of " + std::to_string(l.row_words()) + " words need " +
                  std::to_string(packed.rows * l.row_words()));
    if (l.bits != Precision::bits)
      throw Error(name + ": its samples are " + precision_name(l.bits) + ", the trainer's precision is " +
                  precision_name(Precision::bits));
    if (l.minus_one_one != (options_.range == data::Range::MinusOneOne))
      throw Error(name + ": its features are in " + (l.minus_one_one ? "[-1, 1]" : "[0, 1]") +
                  ", the options say " + (options_.range == data::Range::MinusOneOne ? "[-1, 1]" : "[0, 1]"));
    if (Precision::bits != 32 && l.double_sampled != options_.double_sampling)
      throw Error(name + ": it is " + (l.double_sampled ? "" : "not ") + "double-sampled, the options say " +
                  (options_.double_sampling ? "double sampling" : "no double sampling"));
    if (options_.order == Order::ShuffleEachEpoch || options_.requantize)
      throw Error(name + ": its order and quantization were fixed when it was packed: it cannot be shuffled or "
                         "re-quantized every epoch (train from the data set for that)");
    if (options_.schedule.active())
      throw Error(name + ": a precision schedule trains on bit planes, and this stream's samples are " +
                  precision_name(l.bits) + " rows: pack it with stream::pack_planes (zipml-train --save-stream with "
                  "--precision-schedule), or train from the data set");
    check_common(l.dim, name, test);
    std::vector<float> labels(packed.rows);
    for (std::size_t i = 0; i < packed.rows; ++i) labels[i] = packed.label(i);
    return labels;
  }

  //! What fit() checks whatever the training data came as.
  template <class Test>
  void check_common(std::size_t dim, const std::string& name, const Test* test) const {
    if (test != nullptr && test->dim() != dim)
      throw Error(test->name() + ": test set has " + std::to_string(test->dim()) +
                  " features (with bias) but the training set has " + std::to_string(dim));
    if (options_.arithmetic == Arithmetic::Engine && !BackendT::supports(Arithmetic::Engine))
      throw Error(std::string(BackendT::name) + " backend cannot run the engine arithmetic");
    if (options_.arithmetic == Arithmetic::Float && !BackendT::supports(Arithmetic::Float))
      throw Error(std::string(BackendT::name) + " backend runs only the engine arithmetic: use --arithmetic engine");
    if constexpr (requires { BackendT::keeps_model; }) {
      if (grouped() && options_.averaging != Averaging::End)
        throw distributed::GroupError(std::string(BackendT::name) +
                                          " backend: its engine keeps the model and cannot load an averaged one, so "
                                          "ranks can average only once, after the last epoch (averaging End: "
                                          "--average end)",
                                      group_->is_root());
    }
    const std::size_t max_dim = max_dimension();
    if (dim > max_dim)
      throw Error(name + ": dimension " + std::to_string(dim) + " (with bias) exceeds the " +
                  std::string(BackendT::name) + " backend's limit of " + std::to_string(max_dim) + " for the " +
                  std::string(to_string(options_.arithmetic)) + " arithmetic");
  }

  //! A float32 stream for the engine arithmetic: every feature within the engine's 18 bits (the
  //! packer checks this when it packs for the engine; a stream from elsewhere is checked here).
  static void check_engine_features(const stream::PackedStream& s, const std::string& name) {
    const std::size_t d = s.layout.dim;
    for (std::size_t i = 0; i < s.rows; ++i) {
      const auto w = s.features(i);
      for (std::size_t j = 0; j < d; ++j) {
        const float a = std::bit_cast<float>(static_cast<std::uint32_t>(w[j / 2] >> (32 * (j % 2))));
        if (!engine::float_feature_ok(a))
          throw Error(name + ": row " + std::to_string(s.first_row + i + 1) + ", feature " + std::to_string(j) + ": value " +
                      detail::show(a) + " is outside [-2, 2 - 2^-17), which the engine's 18-bit features hold");
      }
    }
  }

  //! The epochs, on packed_; `train` is the data set it was packed from (nullptr: a stream
  //! given as it is), for re-packing and for the full evaluation.
  template <class Test>
  History train_packed(const data::Dataset* train, const Test* test, double pack_seconds) {
    job_ = TrainJob{};
    job_.config = make_config(packed_.layout.dim);
    job_.lane_labels = lanes_binarized_ ? classes_for_lanes_ : std::vector<float>{};
    job_.data = &packed_;
    job_.arithmetic = options_.arithmetic;
    // The pass loss replaces the evaluation pass over the training set where the backend
    // reports it; the RTL engine's backends do not (the engine computes no losses).
    const bool pass_figures = options_.evaluation != Evaluation::Full && reports_pass_loss<BackendT, Model>;
    job_.pass_loss = pass_figures;
    job_.same_data_each_epoch =
        (train == nullptr || options_.epochs < 2 ||
         !(options_.order == Order::ShuffleEachEpoch || (Precision::rounding::stochastic && options_.requantize))) &&
        !(planes_ && options_.schedule.active());
    state_.reset(options_.arithmetic, job_.lanes(), packed_.layout.dim);
    const bool warm = initial_.has_value();
    if (warm) take_initial();
    refresh_weights();
    auto evaluate_train = [&] {
      if (!grouped()) return train != nullptr ? evaluate(*train) : evaluate(packed_);
      if (train == nullptr) return finish_group(sums_of(packed_));
      const data::DatasetRows all(*train);
      return finish_group(sums_of(data::RowSubset(all, shard_rows_)));
    };
    const bool average_samples = grouped() && options_.averaging == Averaging::Samples;
    // Every rank averages as often as the others: rounds from the largest share.
    std::size_t rounds = 1;
    if (average_samples) {
      double most = static_cast<double>(packed_.rows);
      group_->max(std::span(&most, 1));
      rounds = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(most / static_cast<double>(options_.average_samples))));
    }

    History h;
    h.metric = is_classification() ? "accuracy" : "rmse";
    h.evaluation = pass_figures ? Evaluation::Pass : Evaluation::Full;
    h.pack_seconds = pack_seconds;
    h.initial_loss = warm ? evaluate_train().loss : zero_model_loss();
    if (group_ != nullptr) {
      h.ranks = group_->size();
      for (int r = 0; r < h.ranks; ++r) h.rank_seeds.push_back(distributed::rank_seed(options_.seed, r));
    }
    auto last_good = linear_;
    tuning::LossPlateau plateau(options_.tol, options_.patience);
    std::vector<std::uint32_t> order;
    for (std::size_t e = 0; e < options_.epochs; ++e) {
      EpochStats st;
      st.epoch = e + 1;
      const bool reshuffle = options_.order == Order::ShuffleEachEpoch && e > 0;
      const bool requant = Precision::rounding::stochastic && options_.requantize && e > 0;
      if (planes_ && e > 0 && schedule_bits(e) != packed_.layout.bits) {
        const auto t0 = std::chrono::steady_clock::now();
        packed_ = stream::extract(*planes_, schedule_bits(e), options_.threads);
        job_.config.precision = stream::precision_code(packed_.layout.bits);
        st.pack_seconds = seconds_since(t0);
      } else if (train != nullptr && !planes_ && (reshuffle || requant)) {
        const auto t0 = std::chrono::steady_clock::now();
        if (grouped()) {
          // this rank's rows only, shuffled among themselves with its seed
          order = shard_rows_;
          if (reshuffle) {
            const auto perm = detail::shuffled_order(order.size(), distributed::rank_seed(options_.seed, group_->rank()), e);
            for (std::size_t i = 0; i < perm.size(); ++i) order[i] = shard_rows_[perm[i]];
          }
          packed_ = pack_share(*train, options_, *group_, order, requant ? e : 0);
        } else {
          if (options_.order != Order::File) order = detail::shuffled_order(train->size(), options_.seed, reshuffle ? e : 0);
          packed_ = stream::pack<Precision>(*train, pack_options(options_, order, requant ? e : 0));
        }
        st.pack_seconds = seconds_since(t0);
      }
      const auto t0 = std::chrono::steady_clock::now();
      Evaluated ev;
      PassLoss pass;
      for (std::size_t round = 0; round < rounds; ++round) {
        const auto [first, last_row] = round_rows(round, rounds);
        if (last_row > first) {
          if constexpr (reports_pass_loss<BackendT, Model>) add(pass, run_rows(e, first, last_row));
          else run_rows(e, first, last_row);
        }
        if (average_samples) average_models(h);
      }
      if (grouped() && options_.averaging == Averaging::Epoch) average_models(h);
      st.seconds = seconds_since(t0);
      refresh_weights();
      if (pass_figures) {
        const double sum = std::accumulate(pass.lane_sums.begin(), pass.lane_sums.end(), 0.0);
        ev.loss = grouped() ? group_mean_loss(sum, packed_.rows) : pass.mean(packed_.rows) + l2_term();
      }
      const auto t_eval = std::chrono::steady_clock::now();
      if (!pass_figures) ev = evaluate_train();
      if (!std::isfinite(ev.loss)) {
        linear_ = std::move(last_good);
        if (grouped())
          throw distributed::GroupError("training diverged in epoch " + std::to_string(e + 1) + " (loss is " +
                                        detail::show(ev.loss) + "): try a smaller step than " +
                                        detail::show(options_.step) + "; the model of the last good epoch is kept",
                                        group_->is_root());
        throw Error("training diverged in epoch " + std::to_string(e + 1) + " (loss is " + detail::show(ev.loss) +
                    "): try a smaller step than " + detail::show(options_.step) +
                    "; the model of the last good epoch is kept");
      }
      last_good = linear_;
      st.train_loss = ev.loss;
      st.precision = packed_.layout.bits;
      // The automatic schedule: a stalled epoch below the top precision raises it for the next.
      if (planes_ && options_.schedule.automatic) {
        const double before = h.epochs.empty() ? h.initial_loss : h.epochs.back().train_loss;
        auto_bits_ = st.precision;
        if (st.precision < Precision::bits && before - ev.loss < options_.schedule.rise * before) auto_bits_ *= 2;
      }
      // The training loss is the same on every backend for the same stream and figure (engine
      // arithmetic: bit-exact), so the stop is too. Under a schedule, only its last precision
      // may stop the run (a stall below it raises the precision instead).
      const bool stop = at_final_bits(e, st.precision) && plateau.stop_after(ev.loss) && e + 1 < options_.epochs;
      const bool last = stop || e + 1 == options_.epochs;
      if (last && grouped() && options_.averaging == Averaging::End) {
        // one-shot averaging: the last epoch's figures are the averaged model's (a separate pass)
        average_models(h);
        refresh_weights();
        ev = evaluate_train();
        st.train_loss = ev.loss;
        st.train_metric = ev.metric;
      } else if (!pass_figures) {
        st.train_metric = ev.metric;
      } else if (last && test == nullptr) {
        st.train_metric = evaluate_train().metric;
      }
      const bool evaluates_test = group_ == nullptr || group_->is_root();
      if (test != nullptr && evaluates_test && (last || options_.evaluation != Evaluation::Pass))
        st.test_metric = evaluate(*test).metric;
      st.eval_seconds = seconds_since(t_eval);
      h.epochs.push_back(st);
      if (on_epoch_) on_epoch_(st);
      if (stop) {
        h.converged = true;
        break;
      }
    }
    return h;
  }

  struct Evaluated {
    double loss = 0.0;
    double metric = 0.0;
  };

  //! A pass of the backend over rows [first, last) of packed_ (all of them: the job as it is).
  decltype(auto) run_rows(std::size_t epoch, std::size_t first, std::size_t last) {
    if (first == 0 && last == packed_.rows) return backend_.run_epoch(model_, job_, epoch, state_);
    const std::size_t n = packed_.layout.row_words();
    stream::PackedStream part;
    part.layout = packed_.layout;
    part.rows = last - first;
    part.words = stream::WordStore::view(packed_.words.data() + first * n, part.rows * n);
    TrainJob job = job_;
    job.data = &part;
    job.config.samples = static_cast<std::uint32_t>(part.rows);
    return backend_.run_epoch(model_, job, epoch, state_);
  }
  static void add(PassLoss& total, const PassLoss& part) {
    if (total.lane_sums.empty()) total.lane_sums.assign(part.lane_sums.size(), 0.0);
    for (std::size_t l = 0; l < part.lane_sums.size(); ++l) total.lane_sums[l] += part.lane_sums[l];
  }
  //! Rows of round `i` of `rounds` (Averaging::Samples) of this rank's share: equal parts,
  //! their bounds on mini-batch multiples so that batches are those of a whole pass.
  [[nodiscard]] std::pair<std::size_t, std::size_t> round_rows(std::size_t i, std::size_t rounds) const noexcept {
    const std::size_t n = packed_.rows, mb = options_.minibatch;
    auto bound = [&](std::size_t k) { return k == rounds ? n : n * k / rounds / mb * mb; };
    return {bound(i), bound(i + 1)};
  }
  void average_models(History& h) {
    distributed::average(state_, *group_);
    ++h.averagings;
  }
  //! The group's mean loss per sample plus L2 term from this rank's loss sum over `n` samples
  //! (the L2 term of each rank's own model: they differ before an averaging).
  [[nodiscard]] double group_mean_loss(double loss_sum, std::size_t n) const {
    double v[2] = {loss_sum + static_cast<double>(n) * l2_term(), static_cast<double>(n)};
    group_->sum(v);
    return v[0] / v[1];
  }

  //! The zero model's loss: every dot product is 0, so it follows from the labels alone.
  [[nodiscard]] double zero_model_loss() const {
    double loss = 0.0;
    for (std::size_t i = 0; i < packed_.rows; ++i) {
      const float y = packed_.label(i);
      if (!lanes_binarized_) {
        loss += model_.loss(0.0, y);
        continue;
      }
      for (float c : classes_for_lanes_) loss += model_.loss(0.0, y == c ? 1.0 : -1.0);
    }
    if (grouped()) return group_mean_loss(loss, packed_.rows); // (the zero model's L2 term is 0)
    return loss / static_cast<double>(packed_.rows);
  }

  //! The L2 term of the loss, for the current weights.
  [[nodiscard]] double l2_term() const {
    if (job_.config.lambda_shift >= 32) return 0.0;
    const double lambda = std::ldexp(1.0, -static_cast<int>(job_.config.lambda_shift)) / options_.step;
    double sq = 0.0;
    for (float w : linear_.weights()) sq += static_cast<double>(w) * w;
    return 0.5 * lambda * sq;
  }

  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  [[nodiscard]] std::size_t max_dimension() const noexcept {
    if constexpr (requires { BackendT::max_dim(Arithmetic::Engine); }) {
      return BackendT::max_dim(options_.arithmetic);
    } else {
      // The engine arithmetic's 64-bit exact dot product holds d <= 2^15 products of
      // 32-bit model words and 18-bit features.
      return options_.arithmetic == Arithmetic::Engine ? std::size_t{1} << 15 : std::size_t{0xffffffffu};
    }
  }

  //! Regression targets enter the engine as Q9.23 words: |b| must stay below 256.
  static void check_engine_labels(std::span<const float> labels, const std::string& name, std::size_t first_row = 0) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const float b = labels[i];
      if (!(b >= -256.0f && b < 256.0f))
        throw Error(name + ": row " + std::to_string(first_row + i + 1) + ": label " + detail::show(b) +
                    " is outside the engine's Q9.23 range [-256, 256): scale the labels");
    }
  }

  //! The lanes from the training labels; `sharded`: `labels` are this rank's share, the
  //! classes are those of all ranks; `first_row`: where the labels start (messages).
  void setup_lanes(std::span<const float> labels, const std::string& name, bool sharded, std::size_t first_row = 0) {
    classes_for_lanes_.clear();
    lanes_binarized_ = false;
    all_classes_.clear();
    if (!is_classification()) return;
    all_classes_ = detail::distinct_labels(labels);
    if (!fixed_classes_.empty()) {
      for (std::size_t i = 0; i < labels.size(); ++i)
        if (!std::binary_search(fixed_classes_.begin(), fixed_classes_.end(), labels[i]))
          throw Error(name + ": row " + std::to_string(first_row + i + 1) + ": label " + detail::show(labels[i]) +
                      " is not one of the " + std::to_string(fixed_classes_.size()) + " classes given");
      all_classes_ = fixed_classes_;
    }
    std::size_t total = labels.size();
    if (sharded) {
      all_classes_ = detail::distinct_labels(group_->gather(all_classes_));
      double n = static_cast<double>(labels.size());
      group_->sum(std::span(&n, 1));
      total = static_cast<std::size_t>(n);
    }
    lanes_binarized_ = true;
    if (options_.positive_label) {
      const float p = *options_.positive_label;
      if (std::find(all_classes_.begin(), all_classes_.end(), p) == all_classes_.end())
        throw Error(name + ": positive label " + detail::show(p) + " does not occur in the labels");
      classes_for_lanes_ = {p};
      return;
    }
    check_class_labels(labels, name, total, first_row);
    if (all_classes_.size() < 2)
      throw Error(name + ": a classifier needs at least two classes, found " +
                  std::to_string(all_classes_.size()));
    if (all_classes_.size() > 1024)
      throw Error(name + ": " + std::to_string(all_classes_.size()) +
                  " distinct labels: a classifier takes at most 1024 classes (is this regression data?)");
    if (all_classes_.size() == 2)
      classes_for_lanes_ = {all_classes_[1]};
    else
      classes_for_lanes_ = all_classes_;
  }

  //! A classifier given a regression target trains one lane per distinct value, silently and
  //! uselessly: labels that are not integers, or so many distinct ones that few samples share
  //! each, stop here with the model to use instead.
  void check_class_labels(std::span<const float> labels, const std::string& name, std::size_t total,
                          std::size_t first_row) const {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const float y = labels[i];
      if (y != std::nearbyint(y))
        throw Error(name + ": row " + std::to_string(first_row + i + 1) + ": label " + detail::show(y) +
                    " is not a class (not an integer): for a continuous target train the least-squares model "
                    "(zipml-train --model least-squares)");
    }
    const std::size_t k = all_classes_.size(), n = total;
    if (k >= kRegressionLikeClasses && n < kMinSamplesPerClass * k)
      throw Error(name + ": " + std::to_string(k) + " distinct labels in " + std::to_string(n) +
                  " samples (fewer than " + std::to_string(kMinSamplesPerClass) +
                  " per label) look like a continuous target, not classes: train the least-squares model "
                  "(zipml-train --model least-squares)");
  }
  static constexpr std::size_t kRegressionLikeClasses = 32; //!< from this many distinct labels on,
  static constexpr std::size_t kMinSamplesPerClass = 5;     //!< ... fewer samples per label than this say regression

  [[nodiscard]] stream::Config make_config(std::size_t dim) const {
    const auto& o = options_;
    stream::Config c;
    if (o.l2 > 0.0f) {
      const double s = std::round(-std::log2(static_cast<double>(o.step) * o.l2));
      c.lambda_shift = static_cast<std::uint32_t>(std::clamp(s, 1.0, 31.0));
    }
    c.minibatch_mask = static_cast<std::uint16_t>(o.minibatch - 1);
    c.step_decay = o.step_decay;
    c.decay_interval = static_cast<std::uint8_t>(o.decay_interval == 1 ? 0 : o.decay_interval);
    c.binarize = lanes_binarized_;
    c.double_sampled = packed_.layout.double_sampled;
    c.logistic = Model::loss_mode == stream::LossMode::Logistic;
    if (Model::loss_mode == stream::LossMode::LeastSquares) {
      c.step_cost_neg = std::bit_cast<float>(stream::kLeastSquaresMarker);
      c.step_cost_pos = c.step_cost_neg;
    } else {
      c.step_cost_neg = o.step * model_.cost(-1.0f);
      c.step_cost_pos = o.step * model_.cost(1.0f);
      for (float g : {c.step_cost_neg, c.step_cost_pos})
        if (!(g > 0.0f) || !std::isfinite(g))
          throw Error("step x cost must be positive and finite, got " + detail::show(g) + ": check the class costs");
    }
    c.binarize_label = classes_for_lanes_.empty() ? 0.0f : classes_for_lanes_.front();
    c.dim = static_cast<std::uint32_t>(dim);
    c.samples = static_cast<std::uint32_t>(packed_.rows);
    c.epochs = static_cast<std::uint32_t>(o.epochs);
    c.step = o.step;
    c.minus_one_one = o.range == data::Range::MinusOneOne;
    c.precision = stream::precision_code(packed_.layout.bits); // Precision's, or the schedule's first
    if (o.arithmetic == Arithmetic::Engine) {
      const float gammas[] = {c.step, c.loss_mode() == stream::LossMode::LeastSquares ? c.step : c.step_cost_neg,
                              c.loss_mode() == stream::LossMode::LeastSquares ? c.step : c.step_cost_pos};
      for (float g : gammas)
        if (!engine::step_factor_ok(g))
          throw Error("step (x cost) " + detail::show(g) + " is outside the engine's range [2^-34, 2^8)");
      if (c.loss_mode() != stream::LossMode::LeastSquares && !lanes_binarized_)
        throw Error("model '" + std::string(Model::name) +
                    "' has a classifier's loss but is_classifier is false: the engine's classifiers need "
                    "binarized labels");
    }
    return c;
  }

  //! start_from's model in place of the zero model state_ was reset to (train_packed).
  void take_initial() {
    ModelState m = std::move(*initial_);
    initial_.reset();
    if constexpr (requires { BackendT::keeps_model; })
      throw Error(std::string(BackendT::name) +
                  " backend: its engine starts every job from the zero model and cannot load one, so it cannot "
                  "continue training (partial_fit, warm start): train on the CPU backend for that");
    if (m.arithmetic != state_.arithmetic)
      throw Error(std::string("warm start: the model was trained with the ") + std::string(to_string(m.arithmetic)) +
                  " arithmetic, this job runs the " + std::string(to_string(state_.arithmetic)) + " arithmetic");
    if (m.lanes != state_.lanes || m.dim != state_.dim)
      throw Error("warm start: the model has " + std::to_string(m.lanes) + " lanes of " + std::to_string(m.dim) +
                  " weights, this job trains " + std::to_string(state_.lanes) + " lanes of " +
                  std::to_string(state_.dim) + " (the classes or the features differ)");
    const std::size_t n = m.lanes * m.dim;
    if ((m.arithmetic == Arithmetic::Engine ? m.fixed.size() : m.real.size()) != n)
      throw Error("warm start: the model's words are not lanes x dim");
    state_ = std::move(m);
  }

  void refresh_weights() {
    xt::xtensor<float, 2> w = xt::zeros<float>({state_.lanes, state_.dim});
    for (std::size_t l = 0; l < state_.lanes; ++l)
      for (std::size_t j = 0; j < state_.dim; ++j) w(l, j) = state_.weight(l, j);
    linear_ = LinearModel(std::move(w), is_classification(), classes_for_lanes_, all_classes_);
  }

  void check_trained() const {
    if (linear_.empty()) throw Error("Sgd: call fit() before predicting");
  }

  //! What an evaluation adds up over its rows (finish turns it into means).
  struct Sums {
    double loss = 0.0;   //!< the model's loss, summed over rows and lanes
    double metric = 0.0; //!< rows classified right, or the squared errors
    std::size_t n = 0;
  };

  [[nodiscard]] Evaluated finish(const Sums& s) const {
    const double n = static_cast<double>(s.n);
    return {s.loss / n + l2_term(), is_classification() ? s.metric / n : std::sqrt(s.metric / n)};
  }
  //! finish over the group: every rank's sums (and its own model's L2 term), the same on every rank.
  [[nodiscard]] Evaluated finish_group(const Sums& s) const {
    double v[3] = {s.loss + static_cast<double>(s.n) * l2_term(), s.metric, static_cast<double>(s.n)};
    group_->sum(v);
    return {v[0] / v[2], is_classification() ? v[1] / v[2] : std::sqrt(v[1] / v[2])};
  }

  //! The sums on the stream's own (quantized) samples, decoded row by row.
  [[nodiscard]] Sums sums_of(const stream::PackedStream& s) const {
    const std::size_t n = s.rows, d = s.layout.dim, k = linear_.weights().shape(0);
    const float* w = linear_.weights().data();
    std::vector<float> a(d);
    xt::xtensor<float, 2> dec = xt::xtensor<float, 2>::from_shape({std::size_t{1}, k});
    Sums out;
    out.n = n;
    for (std::size_t i = 0; i < n; ++i) {
      stream::decode_values(s.features(i), s.layout, a.data());
      for (std::size_t l = 0; l < k; ++l) dec(0, l) = arith::dot(a.data(), w + l * d, d);
      const float y = s.label(i);
      for (std::size_t l = 0; l < k; ++l)
        out.loss += model_.loss(dec(0, l), lanes_binarized_ ? (y == classes_for_lanes_[l] ? 1.0f : -1.0f) : y);
      if (is_classification()) {
        out.metric += linear_.correct(dec, 0, y) ? 1.0 : 0.0;
      } else {
        const double e = static_cast<double>(dec(0, 0)) - y;
        out.metric += e * e;
      }
    }
    return out;
  }
  template <data::RowSource Rows>
  [[nodiscard]] Sums sums_of(const Rows& rows) const {
    check_trained();
    const auto dec = linear_.decision(rows, options_.threads);
    const std::size_t n = rows.size(), k = dec.shape(1);
    Sums out;
    out.n = n;
    for (std::size_t i = 0; i < n; ++i) {
      const float y = rows.label(i);
      for (std::size_t l = 0; l < k; ++l) {
        const float b = lanes_binarized_ ? (y == classes_for_lanes_[l] ? 1.0f : -1.0f) : y;
        out.loss += model_.loss(dec(i, l), b);
      }
      if (is_classification()) {
        out.metric += linear_.correct(dec, i, y) ? 1.0 : 0.0;
      } else {
        const double e = static_cast<double>(dec(i, 0)) - y;
        out.metric += e * e;
      }
    }
    return out;
  }

  //! The loss and metric on the stream's own (quantized) samples.
  [[nodiscard]] Evaluated evaluate(const stream::PackedStream& s) const { return finish(sums_of(s)); }
  [[nodiscard]] Evaluated evaluate(const data::Dataset& ds) const { return evaluate(data::DatasetRows(ds)); }
  template <data::RowSource Rows>
  [[nodiscard]] Evaluated evaluate(const Rows& rows) const {
    return finish(sums_of(rows));
  }

  Options options_;
  Model model_;
  BackendT backend_;
  EpochCallback on_epoch_;
  stream::PackedStream packed_;
  std::optional<stream::PlaneStream> planes_; //!< a schedule's bit planes; packed_ is their current Q
  unsigned auto_bits_ = 0;                    //!< the automatic schedule's precision for the next epoch
  TrainJob job_;
  ModelState state_;
  LinearModel linear_;
  std::vector<float> all_classes_;
  std::vector<float> classes_for_lanes_;
  bool lanes_binarized_ = false;
  std::optional<ModelState> initial_;         //!< start_from(): the next fit's first model
  std::vector<float> fixed_classes_;          //!< set_classes(): the classifier's classes
  distributed::Collective* group_ = nullptr; //!< distribute(): the ranks (none: this process alone)
  std::vector<std::uint32_t> shard_rows_;    //!< fit(Dataset) in a group: the rows this rank packed
};

} // namespace zipml

#endif
