// zipml Python module (_core): the bindings. NumPy arrays come in as buffers (a float32
// C-contiguous array is read in place), zipml::Error goes out as zipml.ZipmlError (a
// ValueError) carrying the C++ message, and training runs with the GIL released. The
// scikit-learn estimators (python/zipml/_estimators.py) are written in Python on top of this.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "fit_on.hpp" // (its fit_on instances are compiled in fit_backend.cpp: see the extern templates)
#include "zipml/data/fashion_mnist.hpp"
#include "zipml/data/idx.hpp"
#include "zipml/data/libsvm.hpp"
#include "zipml/io/model_file.hpp"
#include "zipml/io/stream_file.hpp"

namespace py = pybind11;
using namespace zipml;
using zipml::python::Prepared;
using zipml::python::Spec;
using zipml::python::Trained;

namespace zipml::python {
// fit_backend.cpp, one translation unit per backend
extern template Trained fit_on<Cpu>(const Spec&, const Prepared&, const Trained*, const EpochCallback&);
extern template Trained fit_on<Pynq>(const Spec&, const Prepared&, const Trained*, const EpochCallback&);
#ifdef ZIPML_HAVE_VERILATOR
extern template Trained fit_on<Verilator>(const Spec&, const Prepared&, const Trained*, const EpochCallback&);
#endif
} // namespace zipml::python

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::string show(float v) { return data::detail::format_value(v); }

//! The matrix (n x f) of a 2-D array, or Error.
std::pair<std::size_t, std::size_t> shape_of(const FloatArray& x, const std::string& name) {
  if (x.ndim() != 2) throw Error(name + " must be a 2-D array (samples x features), got " + std::to_string(x.ndim()) + " dimensions");
  return {static_cast<std::size_t>(x.shape(0)), static_cast<std::size_t>(x.shape(1))};
}

//! Throws Error naming the first non-finite value of x (n x f), as X[i, j].
void check_finite(const float* x, std::size_t n, std::size_t f, const std::string& name) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* r = x + i * f;
    if (data::detail::all_finite(r, f)) continue;
    for (std::size_t j = 0; j < f; ++j)
      if (!std::isfinite(r[j]))
        throw Error(name + "[" + std::to_string(i) + ", " + std::to_string(j) + "] is " + show(r[j]) +
                    ": the features must be finite numbers");
  }
}

//! Per-column minima and maxima of x (n x f).
void column_ranges(const float* x, std::size_t n, std::size_t f, std::vector<float>& lo, std::vector<float>& hi) {
  lo.assign(f, std::numeric_limits<float>::infinity());
  hi.assign(f, -std::numeric_limits<float>::infinity());
  for (std::size_t i = 0; i < n; ++i) {
    const float* r = x + i * f;
    for (std::size_t j = 0; j < f; ++j) {
      lo[j] = r[j] < lo[j] ? r[j] : lo[j];
      hi[j] = r[j] > hi[j] ? r[j] : hi[j];
    }
  }
}

std::optional<data::Range> range_named(const std::string& r) {
  if (r == "0..1") return data::Range::ZeroOne;
  if (r == "-1..1") return data::Range::MinusOneOne;
  if (r == "auto") return std::nullopt;
  throw Error("range '" + r + "': use '0..1', '-1..1' or 'auto'");
}

//! The training rows of an array checked, their scaling decided (or taken from `previous`, a
//! partial_fit's earlier batches), and the labels to train on.
Prepared prepare(const Spec& s, const float* x, std::size_t n, std::size_t f, const float* y, bool regression,
                 const Trained* previous) {
  if (n == 0) throw Error("X has no rows: there is nothing to train on");
  check_finite(x, n, f, "X");
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(y[i])) throw Error("y[" + std::to_string(i) + "] is " + show(y[i]) + ": the labels must be finite numbers");
  Prepared d;
  d.rows.emplace(x, n, f, nullptr, "X");
  d.labels.assign(y, y + n);
  const auto asked = range_named(s.range);
  if (previous != nullptr) {
    // partial_fit: every batch is scaled as the first was
    d.scaler = previous->file.scaler;
    d.range = previous->file.options.range;
    d.label_scaler = previous->file.label_scaler;
    d.scaling = previous->scaling;
    if (previous->file.weights.dim() != f + 1)
      throw Error("X has " + std::to_string(f) + " features, but the model was trained on " +
                  std::to_string(previous->file.weights.dim() - 1));
  } else {
    std::string how = s.scale;
    std::vector<float> lo, hi;
    if (how != "rows") column_ranges(x, n, f, lo, hi);
    const float all_lo = f ? *std::min_element(lo.begin(), lo.end()) : 0.0f;
    const float all_hi = f ? *std::max_element(hi.begin(), hi.end()) : 0.0f;
    const bool in01 = all_lo >= 0.0f && all_hi <= 1.0f, in11 = all_lo >= -1.0f && all_hi <= 1.0f;
    if (how == "auto") {
      if (in01 && asked.value_or(data::Range::ZeroOne) == data::Range::ZeroOne) {
        how = "none";
        d.scaling = "none (the features are in [0, 1])";
        d.range = data::Range::ZeroOne;
      } else if (in11 && asked.value_or(data::Range::MinusOneOne) == data::Range::MinusOneOne) {
        how = "none";
        d.scaling = "none (the features are in [-1, 1])";
        d.range = data::Range::MinusOneOne;
      } else {
        how = "columns";
      }
    } else {
      d.range = asked.value_or(data::Range::ZeroOne);
    }
    if (how == "columns" || how == "rows") {
      d.range = asked.value_or(data::Range::ZeroOne);
      std::vector<float> mn, mx;
      if (how == "columns") {
        mn.assign(1, 1.0f);
        mx.assign(1, 1.0f);
        mn.insert(mn.end(), lo.begin(), lo.end());
        mx.insert(mx.end(), hi.begin(), hi.end());
      }
      d.scaler = data::MinMaxScaler::from_state(d.range, how == "rows" ? data::Axis::Rows : data::Axis::Columns,
                                                std::move(mn), std::move(mx), "scaler");
      if (d.scaling.empty()) d.scaling = how + " (min-max to " + data::detail::range_name(d.range) + ")";
    } else if (how == "none") {
      if (d.scaling.empty()) d.scaling = "none";
    } else {
      throw Error("scale '" + s.scale + "': use 'auto', 'rows', 'columns' or 'none'");
    }
    if (how == "none" && !(d.range == data::Range::ZeroOne ? in01 : in11)) {
      // name the first value outside the range the quantizer maps
      const float a = d.range == data::Range::ZeroOne ? 0.0f : -1.0f;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < f; ++j)
          if (!(x[i * f + j] >= a && x[i * f + j] <= 1.0f))
            throw Error("X[" + std::to_string(i) + ", " + std::to_string(j) + "] is " + show(x[i * f + j]) + ", outside " +
                        data::detail::range_name(d.range) + ", the range the quantizer maps: scale the features "
                        "(scale='columns' or 'rows') or give the range they are in");
    }
    if (regression && s.scale_y != "none") {
      const auto r = range_named(s.scale_y);
      if (!r) throw Error("scale_y '" + s.scale_y + "': use 'none', '0..1' or '-1..1'");
      data::LabelScaler ls;
      ls.min = *std::min_element(d.labels.begin(), d.labels.end());
      ls.max = *std::max_element(d.labels.begin(), d.labels.end());
      ls.range = *r;
      d.label_scaler = ls;
    }
  }
  if (d.label_scaler)
    for (auto& v : d.labels) v = d.label_scaler->to_scaled(v);
  return d;
}

//! Training on the backend `spec` names.
Trained fit_prepared(const Spec& s, const Prepared& d, const Trained* previous, const py::object& on_epoch) {
  python::EpochCallback cb;
  if (!on_epoch.is_none()) {
    cb = [&on_epoch](const EpochStats& e) {
      py::gil_scoped_acquire gil;
      py::dict st;
      st["epoch"] = e.epoch;
      st["train_loss"] = e.train_loss;
      st["seconds"] = e.seconds + e.pack_seconds;
      on_epoch(st);
    };
  }
  auto run = [&]() -> Trained {
    if (s.backend == "cpu") return python::fit_on<Cpu>(s, d, previous, cb);
    if (s.backend == "pynq") return python::fit_on<Pynq>(s, d, previous, cb);
#ifdef ZIPML_HAVE_VERILATOR
    if (s.backend == "verilator") return python::fit_on<Verilator>(s, d, previous, cb);
#else
    if (s.backend == "verilator")
      throw Error("backend 'verilator': this zipml was built without Verilator (install Debian's verilator package "
                  "and rebuild); backend='cpu' with arithmetic='engine' computes the same model bit for bit");
#endif
    throw Error("backend '" + s.backend + "': use 'cpu', 'verilator' or 'pynq'");
  };
  py::gil_scoped_release nogil;
  return run();
}

//! The rows of an array as the model's input: scaled as its training rows were.
template <class F>
decltype(auto) with_input(const Trained& t, const FloatArray& X, F&& f) {
  const auto [n, cols] = shape_of(X, "X");
  check_finite(X.data(), n, cols, "X");
  if (t.file.weights.dim() != cols + 1)
    throw Error("X has " + std::to_string(cols) + " features, but the model was trained on " +
                std::to_string(t.file.weights.dim() - 1));
  const python::ArrayRows rows(X.data(), n, cols, nullptr, "X");
  if (t.file.scaler) return f(data::ScaledRows(rows, *t.file.scaler));
  return f(rows);
}

py::array_t<float> to_numpy(const xt::xtensor<float, 2>& a) {
  py::array_t<float> out({a.shape(0), a.shape(1)});
  std::copy(a.begin(), a.end(), out.mutable_data());
  return out;
}

py::list history_of(const History& h) {
  py::list out;
  for (const auto& e : h.epochs) {
    py::dict d;
    d["epoch"] = e.epoch;
    d["train_loss"] = e.train_loss;
    d["seconds"] = e.seconds + e.pack_seconds;
    out.append(d);
  }
  return out;
}

//! A saved model's ModelState: the float weights, or the engine's Q9.23 words from them
//! (exact for |w| < 2: the floats hold the words' 24 top bits there).
ModelState state_of(const io::ModelFile& m) {
  ModelState s;
  const auto& w = m.weights.weights();
  s.reset(m.options.arithmetic, w.shape(0), w.shape(1));
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (s.arithmetic == Arithmetic::Engine) s.fixed[i] = static_cast<std::int32_t>(std::lrint(std::ldexp(w.data()[i], 23)));
    else s.real[i] = w.data()[i];
  }
  return s;
}

//! A packed stream in Python: the file's header and its words (mapped, or packed here).
struct Stream {
  io::StreamFileInfo info;
  stream::PackedStream packed;
};

std::string precision_of(unsigned bits) { return bits == 32 ? "float32" : "q" + std::to_string(bits); }

} // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "zipml's C++ core: training, models, data files and packed streams (use the zipml package)";
  static py::exception<Error> zipml_error(m, "ZipmlError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      zipml_error(e.what());
    }
  });

  py::list backends;
  backends.append("cpu");
#ifdef ZIPML_HAVE_VERILATOR
  backends.append("verilator");
#endif
  backends.append("pynq");
  m.attr("backends") = backends;
#ifdef ZIPML_HAVE_VERILATOR
  m.attr("has_verilator") = true;
#else
  m.attr("has_verilator") = false;
#endif

  py::class_<Spec>(m, "Spec", "Training parameters (the estimators fill it in)")
      .def(py::init<>())
      .def_readwrite("model", &Spec::model)
      .def_readwrite("precision", &Spec::precision)
      .def_readwrite("rounding", &Spec::rounding)
      .def_readwrite("backend", &Spec::backend)
      .def_readwrite("board", &Spec::board)
      .def_readwrite("bitstream", &Spec::bitstream)
      .def_readwrite("arithmetic", &Spec::arithmetic)
      .def_readwrite("scale", &Spec::scale)
      .def_readwrite("range", &Spec::range)
      .def_readwrite("scale_y", &Spec::scale_y)
      .def_readwrite("order", &Spec::order)
      .def_readwrite("cost_pos", &Spec::cost_pos)
      .def_readwrite("cost_neg", &Spec::cost_neg)
      .def_readwrite("step", &Spec::step)
      .def_readwrite("epochs", &Spec::epochs)
      .def_readwrite("tol", &Spec::tol)
      .def_readwrite("patience", &Spec::patience)
      .def_readwrite("l2", &Spec::l2)
      .def_readwrite("minibatch", &Spec::minibatch)
      .def_readwrite("step_decay", &Spec::step_decay)
      .def_readwrite("double_sampling", &Spec::double_sampling)
      .def_readwrite("requantize", &Spec::requantize)
      .def_readwrite("threads", &Spec::threads)
      .def_readwrite("seed", &Spec::seed)
      .def_readwrite("classes", &Spec::classes);

  py::class_<Trained>(m, "Trained", "A trained model (weights with the bias in column 0) and how it was trained")
      .def_property_readonly("weights", [](const Trained& t) { return to_numpy(t.file.weights.weights()); })
      .def_property_readonly("lane_classes", [](const Trained& t) { return t.file.weights.lane_classes(); })
      .def_property_readonly("classes", [](const Trained& t) { return t.file.weights.all_classes(); })
      .def_property_readonly("is_classification", [](const Trained& t) { return t.file.weights.is_classification(); })
      .def_property_readonly("history", [](const Trained& t) { return history_of(t.history); })
      .def_property_readonly("initial_loss", [](const Trained& t) { return t.history.initial_loss; })
      .def_property_readonly("converged", [](const Trained& t) { return t.history.converged; })
      .def_property_readonly("pack_seconds", [](const Trained& t) { return t.history.pack_seconds; })
      .def_readonly("step", &Trained::step)
      .def_readonly("step_auto", &Trained::step_auto)
      .def_readonly("stream_bytes", &Trained::stream_bytes)
      .def_readonly("fit_seconds", &Trained::fit_seconds)
      .def_readonly("backend", &Trained::backend)
      .def_readonly("scaling", &Trained::scaling)
      .def_readonly("ordering", &Trained::ordering)
      .def_property_readonly("model", [](const Trained& t) { return t.file.model; })
      .def_property_readonly("precision", [](const Trained& t) { return t.file.precision; })
      .def_property_readonly("rounding", [](const Trained& t) { return t.file.rounding; })
      .def_property_readonly("arithmetic", [](const Trained& t) { return t.file.arithmetic; })
      .def_property_readonly("epochs_run", [](const Trained& t) { return t.history.epochs.size(); })
      .def_property_readonly("state_words",
                             [](const Trained& t) {
                               // the engine arithmetic's raw Q9.23 words (K x d), or None
                               if (t.state.arithmetic != Arithmetic::Engine) return py::object(py::none());
                               py::array_t<std::int32_t> a({t.state.lanes, t.state.dim});
                               std::copy(t.state.fixed.begin(), t.state.fixed.end(), a.mutable_data());
                               return py::object(a);
                             })
      .def(
          "decision",
          [](const Trained& t, const FloatArray& X, unsigned threads) {
            return to_numpy(with_input(t, X, [&](const auto& rows) {
              py::gil_scoped_release nogil;
              return t.file.weights.decision(rows, threads);
            }));
          },
          py::arg("X"), py::arg("threads") = 0, "Decision values, n x lanes")
      .def(
          "predict",
          [](const Trained& t, const FloatArray& X, unsigned threads) {
            const auto dec = with_input(t, X, [&](const auto& rows) {
              py::gil_scoped_release nogil;
              return t.file.weights.decision(rows, threads);
            });
            py::array_t<float> out(static_cast<py::ssize_t>(dec.shape(0)));
            float* o = out.mutable_data();
            for (std::size_t i = 0; i < dec.shape(0); ++i) {
              const float v = t.file.weights.label_from(dec, i);
              o[i] = t.file.label_scaler ? t.file.label_scaler->from_scaled(v) : v;
            }
            return out;
          },
          py::arg("X"), py::arg("threads") = 0, "Predicted labels (the labels trained on) or values")
      .def("to_bytes", [](const Trained& t) {
        const auto b = io::serialize_model(t.file);
        return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
      }, "The model in the saved-model format (zipml-train --save, zipml-predict)")
      .def("save", [](const Trained& t, const std::string& path) { io::save_model(path, t.file); }, py::arg("path"))
      .def(py::pickle(
          [](const Trained& t) {
            const auto b = io::serialize_model(t.file);
            return py::make_tuple(py::bytes(reinterpret_cast<const char*>(b.data()), b.size()), t.step_auto,
                                  t.stream_bytes, t.backend, t.scaling, t.ordering);
          },
          [](const py::tuple& s) {
            if (s.size() != 6) throw Error("zipml model pickle: expected 6 fields, got " + std::to_string(s.size()));
            const std::string b = s[0].cast<std::string>();
            Trained t;
            t.file = io::parse_model(std::span(reinterpret_cast<const unsigned char*>(b.data()), b.size()), "pickled model");
            t.state = state_of(t.file);
            t.step = t.file.options.step;
            t.step_auto = s[1].cast<bool>();
            t.stream_bytes = s[2].cast<std::size_t>();
            t.backend = s[3].cast<std::string>();
            t.scaling = s[4].cast<std::string>();
            t.ordering = s[5].cast<std::string>();
            return t;
          }));

  m.def("load_model", [](const std::string& path) {
    Trained t;
    t.file = io::load_model(path);
    t.state = state_of(t.file);
    t.step = t.file.options.step;
    t.backend = "cpu";
    t.scaling = t.file.scaler ? (t.file.scaler->axis() == data::Axis::Rows ? "rows" : "columns") : "none";
    return t;
  }, py::arg("path"), "A model saved by zipml-train --save or Trained.save");

  m.def(
      "fit",
      [](const Spec& s, const FloatArray& X, const FloatArray& y, bool regression, const Trained* previous,
         const py::object& on_epoch) {
        const auto [n, f] = shape_of(X, "X");
        if (y.ndim() != 1 || static_cast<std::size_t>(y.shape(0)) != n)
          throw Error("y must be a 1-D array of " + std::to_string(n) + " labels (one per row of X), got shape (" +
                      (y.ndim() ? std::to_string(y.shape(0)) : std::string()) + (y.ndim() > 1 ? ", ..." : "") + ")");
        const Prepared d = prepare(s, X.data(), n, f, y.data(), regression, previous);
        return fit_prepared(s, d, previous, on_epoch);
      },
      py::arg("spec"), py::arg("X"), py::arg("y"), py::arg("regression"), py::arg("previous") = nullptr,
      py::arg("on_epoch") = py::none(),
      "Trains on X (n x f, float32 C-contiguous arrays are read in place) and y; previous: continue from it");

  py::class_<Stream>(m, "Stream", "A packed stream: the samples as the engine reads them (a .zps file's contents)")
      .def_property_readonly("rows", [](const Stream& s) { return s.packed.rows; })
      .def_property_readonly("n_features", [](const Stream& s) { return s.packed.layout.dim - 1; })
      .def_property_readonly("precision", [](const Stream& s) { return precision_of(s.packed.layout.bits); })
      .def_property_readonly("rounding", [](const Stream& s) { return std::string(io::rounding_name(s.info.rounding)); })
      .def_property_readonly("range", [](const Stream& s) { return s.packed.layout.minus_one_one ? "-1..1" : "0..1"; })
      .def_property_readonly("double_sampling", [](const Stream& s) { return s.packed.layout.double_sampled; })
      .def_property_readonly("seed", [](const Stream& s) { return s.info.seed; })
      .def_property_readonly("shuffled", [](const Stream& s) { return s.info.shuffled; })
      .def_property_readonly("classes", [](const Stream& s) { return s.info.classes; })
      .def_property_readonly("source", [](const Stream& s) { return s.info.source; })
      .def_property_readonly("scaling", [](const Stream& s) {
        return s.info.scaler ? std::string(s.info.scaler->axis() == data::Axis::Rows ? "rows" : "columns") : std::string("none");
      })
      .def_property_readonly("nbytes", [](const Stream& s) { return s.packed.bytes(); })
      .def_property_readonly("row_words", [](const Stream& s) { return s.packed.layout.row_words(); })
      .def_property_readonly("labels", [](const Stream& s) {
        py::array_t<float> out(static_cast<py::ssize_t>(s.packed.rows));
        for (std::size_t i = 0; i < s.packed.rows; ++i) out.mutable_data()[i] = s.packed.label(i);
        return out;
      })
      .def_property_readonly(
          "words",
          [](py::object self) {
            // a read-only view of the 64-bit words (no copy); it keeps the stream alive
            const auto& s = self.cast<const Stream&>();
            py::array_t<std::uint64_t> a({s.packed.rows, s.packed.layout.row_words()},
                                         {s.packed.layout.row_words() * sizeof(std::uint64_t), sizeof(std::uint64_t)},
                                         s.packed.words.data(), self);
            py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return a;
          },
          "The stream's 64-bit words, rows x row_words (a read-only view)")
      .def(
          "features",
          [](const Stream& s, std::size_t start, std::optional<std::size_t> stop) {
            const std::size_t last = std::min(stop.value_or(s.packed.rows), s.packed.rows);
            if (start > last) throw Error("features: start " + std::to_string(start) + " is past the stop " + std::to_string(last));
            const std::size_t d = s.packed.layout.dim;
            py::array_t<float> out({last - start, d - 1});
            std::vector<float> row(d);
            for (std::size_t i = start; i < last; ++i) {
              stream::decode_values(s.packed.features(i), s.packed.layout, row.data());
              std::copy(row.begin() + 1, row.end(), out.mutable_data() + (i - start) * (d - 1));
            }
            return out;
          },
          py::arg("start") = 0, py::arg("stop") = py::none(),
          "Rows [start, stop) decoded to the real numbers the float arithmetic trains on (no bias column)")
      .def("save", [](const Stream& s, const std::string& path) { io::save_stream(path, s.info, s.packed); }, py::arg("path"),
           "Writes a packed stream file (.zps): zipml-train --train reads it");

  m.def(
      "load_stream",
      [](const std::string& path, bool verify) {
        auto l = io::load_stream(path, verify ? io::Verify::Checksum : io::Verify::SizeOnly);
        return Stream{std::move(l.info), std::move(l.stream)};
      },
      py::arg("path"), py::arg("verify") = true, "Maps a packed stream file (zipml-train --save-stream, Stream.save)");

  m.def(
      "pack",
      [](const Spec& s, const FloatArray& X, const FloatArray& y, bool regression) {
        const auto [n, f] = shape_of(X, "X");
        if (y.ndim() != 1 || static_cast<std::size_t>(y.shape(0)) != n)
          throw Error("y must be a 1-D array of " + std::to_string(n) + " labels (one per row of X)");
        const Prepared d = prepare(s, X.data(), n, f, y.data(), regression, nullptr);
        Stream out;
        python::with_precision(s, [&](auto precision_t) {
          using P = typename decltype(precision_t)::type;
          Options o;
          o.range = d.range;
          o.double_sampling = s.double_sampling;
          o.seed = s.seed;
          o.arithmetic = s.arithmetic == "engine" ? Arithmetic::Engine : Arithmetic::Float;
          o.order = s.order == "shuffle" ? Order::Shuffle : Order::File;
          if (s.order != "shuffle" && s.order != "file" && s.order != "auto")
            throw Error("order '" + s.order + "': a packed stream is in file order or shuffled once ('file', 'shuffle')");
          py::gil_scoped_release nogil;
          python::with_rows(d, [&](const auto& rows) {
            const python::WithLabels lab(rows, d.labels);
            out.packed = Sgd<LeastSquares, P, Cpu>::pack_for(lab, o);
            stream::PackOptions po;
            po.range = o.range;
            po.double_sampled = o.double_sampling;
            po.seed = o.seed;
            po.engine_range = o.arithmetic == Arithmetic::Engine;
            out.info = io::stream_file_info<P>(out.packed, po);
            out.info.shuffled = o.order != Order::File;
            out.info.mean_sq_norm = tuning::mean_sq_norm<P>(lab, o.range);
          });
        });
        if (!regression) out.info.classes = detail::distinct_labels(d.labels);
        out.info.scaler = d.scaler;
        out.info.label_scaler = d.label_scaler;
        out.info.source = "NumPy array (" + std::to_string(n) + " x " + std::to_string(f) + ")";
        return out;
      },
      py::arg("spec"), py::arg("X"), py::arg("y"), py::arg("regression"), "Packs X, y as the spec says");

  m.def(
      "fit_stream",
      [](const Spec& s, const Stream& st, const Trained* previous, const py::object& on_epoch) {
        Prepared d;
        d.stream = &st.packed;
        d.stream_info = &st.info;
        d.scaler = st.info.scaler;
        d.label_scaler = st.info.label_scaler;
        d.range = st.packed.layout.minus_one_one ? data::Range::MinusOneOne : data::Range::ZeroOne;
        d.scaling = st.info.scaler ? std::string("as packed (") + (st.info.scaler->axis() == data::Axis::Rows ? "rows" : "columns") + ")"
                                   : std::string("as packed (none)");
        d.labels.resize(st.packed.rows);
        for (std::size_t i = 0; i < st.packed.rows; ++i) d.labels[i] = st.packed.label(i);
        Spec fixed = s; // the stream fixes its precision, rounding, range and double sampling
        fixed.precision = precision_of(st.packed.layout.bits);
        if (!st.packed.layout.is_float()) fixed.rounding = std::string(io::rounding_name(st.info.rounding));
        fixed.double_sampling = st.packed.layout.double_sampled;
        fixed.seed = st.info.seed;
        return fit_prepared(fixed, d, previous, on_epoch);
      },
      py::arg("spec"), py::arg("stream"), py::arg("previous") = nullptr, py::arg("on_epoch") = py::none(),
      "Trains on a packed stream as it is (its precision, rounding, range and order are its own)");

  m.def(
      "load_libsvm",
      [](const std::string& path, std::size_t n_features, std::size_t limit, const std::string& index_base) {
        data::LibsvmOptions o;
        o.num_features = n_features;
        o.limit = limit;
        o.index_base = index_base == "auto" ? data::IndexBase::Auto
                       : index_base == "1"  ? data::IndexBase::One
                       : index_base == "0"  ? data::IndexBase::Zero
                                            : throw Error("index_base '" + index_base + "': use 'auto', '0' or '1'");
        data::Dataset ds;
        {
          py::gil_scoped_release nogil;
          ds = data::read_libsvm(path, o);
        }
        const std::size_t n = ds.size(), f = ds.dim() - 1;
        py::array_t<float> X({n, f}), y(static_cast<py::ssize_t>(n));
        for (std::size_t i = 0; i < n; ++i) {
          std::copy(ds.features.data() + i * (f + 1) + 1, ds.features.data() + (i + 1) * (f + 1), X.mutable_data() + i * f);
          y.mutable_data()[i] = ds.labels(i);
        }
        return py::make_tuple(X, y);
      },
      py::arg("path"), py::arg("n_features") = 0, py::arg("limit") = 0, py::arg("index_base") = "auto",
      "Reads a LIBSVM/svmlight file (plain or gzip) into dense float32 X and y");

  m.def(
      "load_idx",
      [](const std::string& images, const std::string& labels, std::size_t limit, bool scale_rows) {
        std::optional<data::IdxImages> im;
        {
          py::gil_scoped_release nogil;
          im.emplace(data::IdxImages::read(images, labels, limit));
        }
        if (scale_rows) im->scale_rows(data::Range::ZeroOne);
        const std::size_t n = im->size(), f = im->dim() - 1;
        py::array_t<float> X({n, f}), y(static_cast<py::ssize_t>(n));
        {
          float* out = X.mutable_data();
          py::gil_scoped_release nogil;
          std::vector<float> buf(f + 1);
          for (std::size_t i = 0; i < n; ++i) {
            const float* r = im->row(i, buf.data());
            std::copy(r + 1, r + f + 1, out + i * f);
          }
        }
        std::copy(im->labels().begin(), im->labels().end(), y.mutable_data());
        return py::make_tuple(X, y);
      },
      py::arg("images"), py::arg("labels"), py::arg("limit") = 0, py::arg("scale_rows") = false,
      "Reads an IDX image file and its labels (plain or gzip); scale_rows: each image to [0, 1]");

  m.def("fashion_mnist_files", [](const std::string& dir) {
    const auto f = data::fashion_mnist_files(dir.empty() ? std::filesystem::path(data::kFashionMnistDir) : std::filesystem::path(dir));
    return py::make_tuple(f[0].string(), f[1].string(), f[2].string(), f[3].string());
  }, py::arg("dir") = "", "The four Fashion-MNIST files (Debian's dataset-fashion-mnist), or ZipmlError naming the missing ones");
}
