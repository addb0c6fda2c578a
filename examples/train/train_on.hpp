// zipml-train: train_on<Backend>, the part of the program that instantiates Sgd (see
// settings.hpp). Included only by train_backend.cpp.
#ifndef ZIPML_EXAMPLES_TRAIN_TRAIN_ON_HPP
#define ZIPML_EXAMPLES_TRAIN_TRAIN_ON_HPP

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include <fmt/core.h>
#include <xtensor/xnpy.hpp>

#include "cli/common.hpp"
#include "train/settings.hpp"
#include "zipml/io/model_file.hpp"
#ifdef ZIPML_HAVE_VERILATOR
#include "zipml/backend/pynq/sim/verilated.hpp"
#endif

namespace zipml::train {

namespace fs = std::filesystem;

//! The backend a run trains on: the board (real or simulated) for --backend pynq.
template <class Backend>
Backend make_backend(const Settings& s, [[maybe_unused]] unsigned bits, [[maybe_unused]] const std::string& precision) {
  if constexpr (std::is_same_v<Backend, zipml::Pynq>) {
#ifdef ZIPML_HAVE_VERILATOR
    if (s.board == "sim")
      return zipml::Pynq(zipml::pynq::sim::factory(
          std::make_shared<zipml::pynq::sim::Hardware>(zipml::pynq::sim::make_verilated_engine(bits))));
#endif
    zipml::pynq::Options o;
    o.real_board.bitstream = bitstream_for(s, precision);
    return zipml::Pynq(o);
  } else {
    return Backend{};
  }
}

//! Writes the K x d weights as a NumPy .npy file (float32, row-major), atomically.
inline void export_npy(const fs::path& path, const xt::xtensor<float, 2>& weights) {
  const std::string bytes = xt::dump_npy(weights);
  zipml::io::write_file_atomically(
      path, std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()),
      "--export-npy: cannot write " + path.string());
}

//! --save-stream: `packed` (what Sgd trains on with `opt`: its rows, or a schedule's bit planes)
//! as a packed stream file, with how it was made: the classes, the scalers, the data's name, E||x||^2 for the step rule.
template <class Precision, class Stream> // a stream::PackedStream, or a stream::PlaneStream
void save_stream_file(const fs::path& path, const Stream& packed, const Data& d, const zipml::Options& opt,
                      double mean_sq_norm, bool classification) {
  zipml::stream::PackOptions po;
  po.range = opt.range;
  po.double_sampled = opt.double_sampling;
  po.seed = opt.seed;
  po.engine_range = opt.arithmetic == zipml::Arithmetic::Engine;
  auto info = zipml::io::stream_file_info<Precision>(packed, po);
  info.shuffled = opt.order != zipml::Order::File;
  if (classification) {
    const auto labels = d.train_labels();
    info.classes.assign(labels.begin(), labels.end());
    std::sort(info.classes.begin(), info.classes.end());
    info.classes.erase(std::unique(info.classes.begin(), info.classes.end()), info.classes.end());
  }
  info.scaler = d.scaler;
  info.label_scaler = d.label_scaler;
  info.source = d.description;
  info.mean_sq_norm = mean_sq_norm;
  zipml::io::save_stream(path, info, packed);
}

template <class Model, class Precision, class Backend>
RunResult train_one(const Settings& s, Data& d, const std::string& label, cli::Progress& progress) {
  Model model;
  if constexpr (requires { model.cost_pos; }) {
    model.cost_pos = s.cost_pos;
    model.cost_neg = s.cost_neg;
  }
  zipml::Options opt = s.opt;
  namespace tuning = zipml::tuning;
  // E||x||^2 as the step rule computes it for this precision (a packed stream file records it)
  // (resolve_auto computed the float32 one for --step auto; stochastic rounding adds its variance)
  double norm = d.mean_sq_norm;
  const bool need_norm = s.step == "auto" || !s.save_stream.empty();
  if (!d.stream_info && need_norm && (tuning::norm_depends_on_precision<Precision> || s.step != "auto"))
    norm = d.with_train_rows([&](const auto& rows) { return tuning::mean_sq_norm<Precision>(rows, opt.range); });
  if (s.step == "auto") opt.step = tuning::step_for(norm, model, opt).step;
  zipml::Sgd<Model, Precision, Backend> sgd(opt, model, make_backend<Backend>(s, Precision::bits, label));
  if (s.group != nullptr) sgd.distribute(*s.group);
  const bool cls = sgd.is_classification();
  if (!s.quiet) {
    progress.print(fmt::format("\n== {} | {} | rounding {} | {} arithmetic | backend {} | step {}{} ==\n", label,
                               Model::name, Precision::bits == 32 ? "-" : std::string(Precision::rounding::name),
                               s.arithmetic, Backend::name, cli::show_step(opt.step), s.step == "auto" ? " (auto)" : "") +
                   fmt::format("{:>5}  {}{:>12}  {:>10}  {:>10}  {:>9}\n", "epoch", opt.schedule.active() ? "bits  " : "",
                               opt.evaluation != zipml::Evaluation::Full && zipml::reports_pass_loss<Backend, Model>
                                   ? "pass loss"
                                   : "train loss",
                               cls ? "train acc" : "train rmse",
                               cls ? "test acc" : "test rmse", "seconds"));
  }
  progress.begin(label);
  sgd.on_epoch([&](const zipml::EpochStats& e) {
    if (!s.quiet)
      progress.print(fmt::format("{:>5}  {}{:>12.6f}  {:>10}  {:>10}  {:>9.3f}\n", e.epoch,
                                 opt.schedule.active() ? fmt::format("{:>4}  ", e.precision) : std::string(), e.train_loss,
                                 e.train_metric ? fmt::format("{:.4f}", *e.train_metric) : std::string("-"),
                                 e.test_metric ? fmt::format("{:.4f}", *e.test_metric) : std::string("-"),
                                 e.seconds + e.pack_seconds));
    progress.epoch_done(e);
  });
  RunResult r;
  r.precision = label;
  r.step = opt.step;
  const auto t_fit = std::chrono::steady_clock::now();
  // fit(train, test) with the test rows in whichever form they are (or none)
  auto fit = [&](auto&& train) {
    if (!d.has_test) return sgd.fit(std::forward<decltype(train)>(train));
    return d.with_test_rows([&](const auto& test) { return sgd.fit(std::forward<decltype(train)>(train), test); });
  };
  using Trainer = zipml::Sgd<Model, Precision, Backend>;
  if (d.train_planes) {
    // A bit-plane file (--precision-schedule): each epoch's Q-bit stream from its top planes.
    r.history = fit(std::move(*d.train_planes));
    d.train_planes.reset();
  } else if (opt.schedule.active()) {
    if constexpr (Precision::bits == 32) {
      r.history = fit(d.train); // (Sgd says why a schedule needs quantized levels)
    } else {
      // One bit-plane copy of the rows for every epoch's precision (saved as it is with --save-stream).
      const auto t_pack = std::chrono::steady_clock::now();
      auto planes = d.with_train_rows([&](const auto& rows) {
        return s.group != nullptr ? Trainer::pack_planes_for(rows, opt, *s.group) : Trainer::pack_planes_for(rows, opt);
      });
      const double pack_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_pack).count();
      if (!s.save_stream.empty()) {
        const auto path = cli::for_precision(s.save_stream, label, s.precisions.size());
        save_stream_file<Precision>(path, planes, d, opt, norm, cls);
        if (!s.quiet) progress.print(fmt::format("bit-plane stream written to {}\n", path.string()));
      }
      r.history = fit(std::move(planes));
      r.history.pack_seconds += pack_seconds;
    }
  } else if (d.train_stream) {
    // A packed stream file: its mapped words are what the backend reads (or the DMA sends).
    r.history = fit(std::move(*d.train_stream));
    d.train_stream.reset();
  } else if (d.train_images || !s.save_stream.empty()) {
    // Straight from the rows (an IDX file's bytes: without the float matrix): the stream
    // fit(train) would pack, which --save-stream writes as it is.
    const auto t_pack = std::chrono::steady_clock::now();
    // (in an MPI job: this rank's share of the rows, quantized with its seed)
    auto packed = d.with_train_rows([&](const auto& rows) {
      return s.group != nullptr ? Trainer::pack_for(rows, opt, *s.group) : Trainer::pack_for(rows, opt);
    });
    const double pack_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_pack).count();
    if (!s.save_stream.empty()) {
      const auto path = cli::for_precision(s.save_stream, label, s.precisions.size());
      save_stream_file<Precision>(path, packed, d, opt, norm, cls);
      if (!s.quiet) progress.print(fmt::format("packed stream written to {}\n", path.string()));
    }
    if (d.train_images) {
      r.history = fit(std::move(packed));
      r.history.pack_seconds = pack_seconds;
    } else {
      r.history = fit(d.train);
    }
  } else {
    r.history = fit(d.train);
  }
  r.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_fit).count();
  progress.end_precision();
  const auto t_save = std::chrono::steady_clock::now();
  r.stream_bytes = sgd.packed().bytes();
  r.lanes = sgd.state().lanes;
  if constexpr (std::is_same_v<Backend, zipml::Pynq>) {
    r.engine_lanes = sgd.backend().engine_info().lanes;
    r.passes = sgd.backend().passes_per_epoch();
    if (!s.quiet)
      progress.print(fmt::format("board: {} model lane{} on an engine of {}: {} pass{} over the stream per epoch\n",
                                 r.lanes, r.lanes == 1 ? "" : "s", r.engine_lanes, r.passes, r.passes == 1 ? "" : "es"));
  }
  if (!s.save.empty() && s.writes_outputs()) {
    r.saved = cli::for_precision(s.save, label, s.precisions.size()).string();
    zipml::io::save_model(r.saved, zipml::io::snapshot(sgd, d.scaler, d.label_scaler));
    if (!s.quiet) progress.print(fmt::format("model saved to {}\n", r.saved));
  }
  if (!s.export_npy.empty() && s.writes_outputs()) {
    r.npy = cli::for_precision(s.export_npy, label, s.precisions.size()).string();
    export_npy(r.npy, sgd.weights());
    if (!s.quiet)
      progress.print(fmt::format("weights ({} x {}) written to {}\n", sgd.weights().shape(0), sgd.weights().shape(1), r.npy));
  }
  r.save_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_save).count();
  return r;
}

template <class Backend>
RunResult train_on(const Settings& s, Data& d, const std::string& precision, cli::Progress& progress) {
  RunResult result;
  dispatch(kModels, s.model, [&](auto model_t) {
    using Model = typename decltype(model_t)::type;
    if (precision == "float32") {
      result = train_one<Model, zipml::Float32, Backend>(s, d, precision, progress);
      return;
    }
    dispatch(kRoundings, s.rounding, [&](auto rounding_t) {
      using Rounding = typename decltype(rounding_t)::type;
      dispatch(precisions_with<Rounding>(), precision, [&](auto precision_t) {
        result = train_one<Model, typename decltype(precision_t)::type, Backend>(s, d, precision, progress);
      });
    });
  });
  return result;
}

} // namespace zipml::train

#endif
