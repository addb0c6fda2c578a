// zipml Python module: fit_on<Backend> (core.hpp), the part that instantiates Sgd for every
// model and precision. Included only by fit_backend.cpp, which is compiled once per backend so
// that the backends compile in parallel (as zipml-train's train_on).
#ifndef ZIPML_PYTHON_FIT_ON_HPP
#define ZIPML_PYTHON_FIT_ON_HPP

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/hana.hpp>

#include "core.hpp"
#include "zipml/names.hpp"
#include "zipml/backend/pynq.hpp"
#ifdef ZIPML_HAVE_VERILATOR
#include "zipml/backend/pynq/sim/verilated.hpp"
#include "zipml/backend/verilator.hpp"
#endif

namespace zipml::python {

namespace hana = boost::hana;
using names::dispatch;
using names::kModels;
using names::kRoundings;
using names::quantized_with;

//! f(type_c<Precision>) for the spec's precision and rounding.
template <class F>
void with_precision(const Spec& s, F&& f) {
  if (s.precision == "float32") {
    f(hana::type_c<Float32>);
    return;
  }
  bool found = false;
  dispatch(kRoundings, s.rounding, [&](auto r) {
    found = dispatch(quantized_with<typename decltype(r)::type>(), s.precision, f);
  });
  if (!found) throw Error("precision '" + s.precision + "' with rounding '" + s.rounding + "' is not one zipml has");
}

//! The backend object: the board (real or simulated) for pynq.
template <class B>
B make_backend(const Spec& s, [[maybe_unused]] unsigned bits) {
  if constexpr (std::is_same_v<B, Pynq>) {
    if (s.board == "sim") {
#ifdef ZIPML_HAVE_VERILATOR
      return Pynq(pynq::sim::factory(std::make_shared<pynq::sim::Hardware>(pynq::sim::make_verilated_engine(bits))));
#else
      throw Error("backend 'pynq', board 'sim': this zipml was built without Verilator, which the simulated board's "
                  "engine needs (install Debian's verilator and rebuild)");
#endif
    }
    pynq::Options o;
    o.real_board.bitstream = s.bitstream;
    if (!s.bitstream.empty() && std::filesystem::is_directory(s.bitstream))
      o.real_board.bitstream =
          (std::filesystem::path(s.bitstream) / ("zipml_" + (bits == 32 ? std::string("f32") : "q" + std::to_string(bits)) + ".bit"))
              .string();
    return Pynq(o);
  } else {
    return B{};
  }
}

template <class B>
Arithmetic arithmetic_of(const Spec& s) {
  if (s.arithmetic == "float") return Arithmetic::Float;
  if (s.arithmetic == "engine") return Arithmetic::Engine;
  return B::supports(Arithmetic::Float) ? Arithmetic::Float : Arithmetic::Engine;
}

//! f(rows) with the training rows as a RowSource, scaled as `d` says.
template <class F>
decltype(auto) with_rows(const Prepared& d, F&& f) {
  if (d.scaler) return f(data::ScaledRows(*d.rows, *d.scaler));
  return f(*d.rows);
}

//! The training rows as a Dataset (a copy: for what a packed stream cannot do, a fresh order or
//! quantization every epoch).
inline data::Dataset materialize(const Prepared& d) {
  data::Dataset ds;
  ds.source = d.rows->name();
  ds.features = xt::xtensor<float, 2>::from_shape({d.size(), d.dim()});
  ds.labels = xt::xtensor<float, 1>::from_shape({d.size()});
  with_rows(d, [&](const auto& rows) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      float* out = ds.features.data() + i * rows.dim();
      const float* r = rows.row(i, out);
      if (r != out) std::copy(r, r + rows.dim(), out);
      ds.labels(i) = d.labels[i];
    }
  });
  return ds;
}

template <class Model, class Precision, class B>
Trained train(const Spec& s, const Prepared& d, const Trained* previous, const EpochCallback& on_epoch,
              std::optional<float> positive = std::nullopt) {
  const auto t0 = std::chrono::steady_clock::now();
  Model model;
  if constexpr (requires { model.cost_pos; }) {
    model.cost_pos = s.cost_pos;
    model.cost_neg = s.cost_neg;
  }
  Options o;
  o.arithmetic = arithmetic_of<B>(s);
  o.range = d.range;
  o.double_sampling = s.double_sampling;
  o.requantize = s.requantize;
  o.l2 = s.l2;
  o.minibatch = s.minibatch;
  o.step_decay = s.step_decay;
  o.threads = s.threads;
  o.seed = s.seed;
  o.positive_label = positive;
  o.evaluation = Evaluation::Pass;
  const std::size_t n = d.size();
  if (s.epochs == 0) {
    o.epochs = tuning::auto_epochs(n);
    o.tol = s.tol < 0.0 ? tuning::kAutoTol : s.tol;
    o.patience = tuning::kAutoPatience;
  } else {
    o.epochs = s.epochs;
    o.tol = s.tol < 0.0 ? 0.0 : s.tol;
    o.patience = s.patience;
  }
  Trained t;
  const bool cls = Model::is_classifier || positive.has_value();
  if (d.stream_info != nullptr) {
    o.order = d.stream_info->shuffled ? Order::Shuffle : Order::File;
    t.ordering = d.stream_info->shuffled ? "as packed (shuffled once)" : "as packed (file order)";
  } else if (s.order == "auto") {
    const bool grouped = tuning::labels_grouped(d.labels, cls);
    o.order = grouped ? Order::Shuffle : Order::File;
    t.ordering = grouped ? "shuffle (the rows come grouped by label)" : "file (the labels are mixed)";
  } else {
    o.order = s.order == "file" ? Order::File : s.order == "shuffle" ? Order::Shuffle : Order::ShuffleEachEpoch;
    t.ordering = s.order;
  }
  if (previous != nullptr) {
    o.step = static_cast<float>(previous->step);
    t.step_auto = previous->step_auto;
  } else if (s.step > 0.0) {
    o.step = static_cast<float>(s.step);
  } else {
    double norm = 0.0;
    if (d.stream_info != nullptr) {
      norm = d.stream_info->mean_sq_norm;
      if (!std::isfinite(norm))
        throw Error("step='auto': this packed stream file does not record E||x||^2, from which the step is chosen: "
                    "give a step");
    } else {
      norm = with_rows(d, [&](const auto& rows) { return tuning::mean_sq_norm<Precision>(rows, o.range); });
    }
    o.step = tuning::step_for(norm, model, o).step;
    t.step_auto = true;
  }
  Sgd<Model, Precision, B> sgd(o, model, make_backend<B>(s, Precision::bits));
  if (!s.classes.empty()) sgd.set_classes(s.classes);
  if (previous != nullptr) sgd.start_from(previous->state);
  if (on_epoch) sgd.on_epoch(on_epoch);
  if (d.stream != nullptr) {
    stream::PackedStream view;
    view.layout = d.stream->layout;
    view.rows = d.stream->rows;
    view.words = stream::WordStore::view(d.stream->words.data(), d.stream->words.size());
    t.history = sgd.fit(std::move(view));
  } else if (o.order == Order::ShuffleEachEpoch || o.requantize) {
    t.history = sgd.fit(materialize(d));
  } else {
    // Straight from the array's rows (scaled as they are read): no copy of the matrix.
    const auto t_pack = std::chrono::steady_clock::now();
    auto packed = with_rows(d, [&](const auto& rows) {
      return Sgd<Model, Precision, B>::pack_for(WithLabels(rows, d.labels), o);
    });
    const double pack_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_pack).count();
    t.history = sgd.fit(std::move(packed));
    t.history.pack_seconds = pack_seconds;
  }
  t.file = io::snapshot(sgd, d.scaler, d.label_scaler);
  t.state = sgd.state();
  t.step = o.step;
  t.stream_bytes = sgd.packed().bytes();
  t.backend = std::string(B::name);
  t.scaling = d.scaling;
  t.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

template <class B>
Trained fit_on(const Spec& s, const Prepared& d, const Trained* previous, const EpochCallback& on_epoch) {
  std::optional<Trained> out;
  const bool known = dispatch(kModels, s.model, [&](auto model_t) {
    using Model = typename decltype(model_t)::type;
    with_precision(s, [&](auto precision_t) {
      using Precision = typename decltype(precision_t)::type;
      out = train<Model, Precision, B>(s, d, previous, on_epoch);
    });
  });
  if (!known) throw Error("model '" + s.model + "' is not one zipml has (l2svm, logistic, least-squares)");
  return std::move(*out);
}

} // namespace zipml::python

#endif
