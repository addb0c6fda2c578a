// zipml-train — the main job: trains a linear model on Fashion-MNIST (or your IDX/LIBSVM files)
// at several precisions and prints the precision-convergence trade-off.
//
// With no arguments: a 10-class L2-SVM (one-vs-rest, C+ = 1, C- = 1.5) at float32 and Q = 8, 4,
// 2, 1. Step, scaling, order and epochs are chosen from the data (zipml/tuning/); on
// Fashion-MNIST they come out as the original ZipML-PYNQ MNIST settings (rows scaled to [0, 1],
// step 2^-12, file order, 10 epochs). Every option is described in docs/OPTIONS.md (and by --help).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/hana.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/plot.hpp"
#include "cli/progress.hpp"
#include "train/settings.hpp"
#include "zipml/distributed/load.hpp"
#include "zipml/zipml.hpp"
#ifdef ZIPML_HAVE_MPI
#include "zipml/distributed/mpi.hpp"
#endif

namespace hana = boost::hana;
namespace fs = std::filesystem;
namespace cli = zipml::cli;

namespace {

using namespace zipml::train; // Settings, Data, RunResult, the name maps, train_on

//! The data files a run reads: no output may overwrite them.
std::vector<fs::path> inputs_of(const Settings& s) {
  if (s.train_file.empty()) return cli::fashion_mnist_files(s.data_dir);
  return {s.train_file, s.train_labels, s.test_file, s.test_labels};
}

//! --backend pynq: what is missing, before any data is read (the board opens per precision).
void check_board(const Settings& s) {
  if (s.board == "sim") {
#ifndef ZIPML_HAVE_VERILATOR
    throw zipml::Error("--board sim: this zipml-train was built without Verilator, which the simulated board's "
                       "engine needs; on a board, leave out --board sim");
#endif
    return;
  }
  if (!s.bitstream.empty() && !fs::is_directory(s.bitstream) && s.precisions.size() > 1)
    throw zipml::Error("--bitstream " + s.bitstream + " is one precision's engine: name that one with --precision, or "
                       "give the folder of zipml_<precision>.bit files");
  for (const auto& p : s.precisions) {
    const auto file = bitstream_for(s, p);
    if (!file.empty() && !fs::is_regular_file(file)) throw zipml::Error("--bitstream: " + file + " does not exist");
  }
  (void)zipml::pynq::FpgaManager(zipml::pynq::LinuxOptions{}).state(); // "no PYNQ board here: ..."
}

//! Every name the user typed, and the numbers given as text (--epochs, --step, --tol), checked
//! (and the numbers parsed into s.opt) before any data is read.
void check_names(Settings& s) {
  if (!contains(kModels, s.model)) throw zipml::Error("unknown model '" + s.model + "': choose " + names(kModels));
  if (!contains(kBackends, s.backend)) {
    for (const auto& b : kComingBackends)
      if (s.backend == b.name) throw zipml::Error(fmt::format("--backend {}: {}", b.name, b.message));
    throw zipml::Error("unknown backend '" + s.backend + "': choose " + names(kBackends));
  }
  dispatch(kBackends, s.backend, [&](auto backend_t) {
    using Backend = typename decltype(backend_t)::type;
    if (!Backend::supports(s.opt.arithmetic))
      throw zipml::Error(fmt::format("--backend {} runs only the {} arithmetic; leave out --arithmetic {}", s.backend,
                                     s.arithmetic == "float" ? "engine" : "float", s.arithmetic));
  });
  if (s.backend != "pynq" && (s.board != "hw" || !s.bitstream.empty()))
    throw zipml::Error("--board and --bitstream are for --backend pynq");
  if (!contains(kRoundings, s.rounding)) throw zipml::Error("unknown rounding '" + s.rounding + "': choose " + names(kRoundings));
  if (s.epochs != "auto") s.opt.epochs = cli::parse_count(s.epochs, "--epochs", "a positive integer or auto");
  if (s.step != "auto") s.opt.step = cli::parse_positive(s.step, "--step", "a positive number or auto");
  if (s.tol && !(*s.tol >= 0.0 && *s.tol < 1.0))
    throw zipml::Error(fmt::format("--tol must be at least 0 and below 1, got {}", *s.tol));
  if (s.precisions.empty()) throw zipml::Error("--precision: name at least one precision");
  for (const auto& p : s.precisions) {
    if (p != "float32" && !contains(precisions_with<zipml::Nearest>(), p))
      throw zipml::Error("unknown precision '" + p + "': choose float32, " + names(precisions_with<zipml::Nearest>()));
    if (std::count(s.precisions.begin(), s.precisions.end(), p) > 1)
      throw zipml::Error("--precision names '" + p + "' twice");
  }
  if (!s.precision_schedule.empty()) {
    auto& sc = s.opt.schedule;
    sc = {};
    if (s.precision_schedule == "auto") {
      sc.automatic = true;
      sc.rise = s.precision_rise;
    } else {
      std::string_view rest = s.precision_schedule;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string item(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        sc.bits.push_back(static_cast<unsigned>(cli::parse_count(item, "--precision-schedule", "1, 2, 4 or 8 bits per epoch, or auto")));
      }
    }
    zipml::check(s.opt); // the bits and the rise, in the library's words
    if (s.precisions.size() != 1)
      throw zipml::Error("--precision-schedule trains one precision's bit planes: name one with --precision (q8 for "
                         "schedules up to 8 bits)");
  }
  if (s.average == "epoch") {
    s.opt.averaging = zipml::Averaging::Epoch;
  } else if (s.average == "end") {
    s.opt.averaging = zipml::Averaging::End;
  } else {
    s.opt.averaging = zipml::Averaging::Samples;
    s.opt.average_samples = cli::parse_count(s.average, "--average", "epoch, end, or a number of samples");
  }
  if (s.backend == "pynq") check_board(s);
}

//! Every file the run will write, checked before training.
std::vector<cli::Output> outputs_of(const Settings& s) {
  std::vector<cli::Output> out;
  for (const auto& p : s.precisions) {
    if (!s.save.empty()) out.push_back({"--save", cli::for_precision(s.save, p, s.precisions.size())});
    if (!s.save_stream.empty()) out.push_back({"--save-stream", cli::for_precision(s.save_stream, p, s.precisions.size())});
    if (!s.export_npy.empty()) out.push_back({"--export-npy", cli::for_precision(s.export_npy, p, s.precisions.size())});
  }
  if (!s.summary.empty()) out.push_back({"--summary", s.summary});
  if (!s.history.empty()) out.push_back({"--history", s.history});
  if (!s.plot.empty()) out.push_back({"--plot", s.plot});
  return out;
}

std::chrono::steady_clock::time_point g_started; //!< main() entered (--profile)

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Data load(Settings& s) {
  if (s.scale_labels != "none" && (s.model != "least-squares" || s.positive_label))
    throw zipml::Error("--scale-labels is for regression (--model least-squares without --positive-label): "
                       "classifiers need their class labels as they are");
  namespace data = zipml::data;
  using clock = std::chrono::steady_clock;
  Data d;
  const auto t_read = clock::now();
  // IDX images stay bytes (IdxImages): the training images scaled and packed from them in one
  // pass, the test images evaluated from them.
  auto read_test = [&](const std::string& format) {
    if (cli::is_idx_input(s.test_file, format)) {
      d.test_images = cli::read_idx_images(s.test_file, s.test_labels, s.test_limit, "--test-labels", &d.read_times);
    } else {
      d.test = cli::read_data(s.test_file, s.test_labels, format, s.test_limit, d.train_dim() - 1, "--test-labels");
    }
    d.has_test = true;
  };
  if (s.stream_file) {
    // A packed stream file: mapped, checked (header, size, CRC, rows), trained from as it is;
    // in an MPI job each rank maps its share of the rows only and the ranks check it together.
    zipml::stream::PackedStream stream;
    zipml::io::StreamFileInfo info;
    if (s.grouped()) {
      auto part = zipml::distributed::load_stream_shard(s.train_file, *s.group);
      stream = std::move(part.stream);
      info = std::move(part.info);
    } else if (s.opt.schedule.active()) {
      // a bit-plane file (a row file is refused, saying so): every epoch's precision from it
      auto loaded = zipml::io::load_planes(s.train_file);
      d.stream_labels.resize(loaded.planes.rows);
      for (std::size_t i = 0; i < loaded.planes.rows; ++i) d.stream_labels[i] = loaded.planes.label(i);
      d.train_planes = std::move(loaded.planes);
      info = std::move(loaded.info);
    } else {
      auto loaded = zipml::io::load_stream(s.train_file);
      stream = std::move(loaded.stream);
      info = std::move(loaded.info);
    }
    if (!d.train_planes) {
      d.stream_labels.resize(stream.rows);
      for (std::size_t i = 0; i < stream.rows; ++i) d.stream_labels[i] = stream.label(i);
      d.train_stream = std::move(stream);
    }
    d.stream_info = std::move(info);
    d.description = s.train_file + " (packed stream of " + (d.stream_info->source.empty() ? "?" : d.stream_info->source) + ")";
    if (!s.test_file.empty()) read_test(s.format == "zps" ? "auto" : s.format);
  } else if (s.train_file.empty()) {
    const auto f = data::fashion_mnist_files(s.data_dir);
    d.train_images = data::IdxImages::read(f[0], f[1], s.train_limit, &d.read_times);
    d.test_images = data::IdxImages::read(f[2], f[3], s.test_limit, &d.read_times);
    d.has_test = true;
    d.description = "Fashion-MNIST (" + s.data_dir + ")";
  } else {
    if (cli::is_idx_input(s.train_file, s.format)) {
      d.train_images = cli::read_idx_images(s.train_file, s.train_labels, s.train_limit, "--train-labels", &d.read_times);
    } else {
      d.train = cli::read_data(s.train_file, s.train_labels, s.format, s.train_limit, 0, "--train-labels");
    }
    if (!s.test_file.empty()) read_test(s.format);
    d.description = s.train_file;
  }
  d.read_seconds = seconds_since(t_read);
  const auto t_scale = clock::now();
  if (d.stream_info) {
    // The rows were scaled when they were packed: the test set is scaled the same way.
    const auto& info = *d.stream_info;
    d.scaler = info.scaler;
    d.label_scaler = info.label_scaler;
    d.mean_sq_norm = info.mean_sq_norm;
    d.scaling = info.scaler ? fmt::format("as packed ({}, range {})", info.scaler->axis() == data::Axis::Rows ? "rows" : "columns",
                                          info.scaler->range() == data::Range::ZeroOne ? "0..1" : "-1..1")
                            : std::string("as packed (none)");
    d.prepare_test();
    d.scale_seconds = seconds_since(t_scale);
    return d;
  }
  std::optional<data::Axis> axis;
  if (s.scale == "auto") {
    const bool images = s.train_file.empty() || cli::is_idx_input(s.train_file, s.format);
    const auto choice = images ? zipml::tuning::ScaleChoice{data::Axis::Rows, s.range_given ? s.opt.range : data::Range::ZeroOne,
                                                            "images: rows"}
                               : zipml::tuning::choose_scaling(d.train, images, s.range_given ? std::optional(s.opt.range) : std::nullopt);
    axis = choice.axis;
    s.opt.range = choice.range;
    s.range = s.opt.range == data::Range::ZeroOne ? "0..1" : "-1..1";
    d.scaling = fmt::format("{} ({}, range {})", choice.axis ? (*choice.axis == data::Axis::Rows ? "rows" : "columns") : "none",
                            choice.why, s.range);
  } else {
    if (s.scale != "none") axis = s.scale == "rows" ? data::Axis::Rows : data::Axis::Columns;
    d.scaling = fmt::format("{} (range {})", s.scale, s.range);
  }
  // Labels to scale, or columns to fit, need the float matrix; rows (or nothing) do not.
  if (s.scale_labels != "none" || (axis && *axis == data::Axis::Columns)) d.materialize_train();
  if (axis && d.train_images) {
    // Each image by its own min/max as IdxImages reads it; the bytes need no validation.
    d.train_images->scale_rows(s.opt.range);
    d.scaler = data::MinMaxScaler::from_state(s.opt.range, data::Axis::Rows, {}, {});
  } else if (axis) {
    data::MinMaxScaler scaler; // validates what it scales
    scaler.fit(d.train, s.opt.range, *axis);
    scaler.apply(d.train);
    d.scaler = scaler;
  } else if (!d.train_images) {
    data::validate(d.train);
  }
  if (s.scale_labels != "none") {
    // Regression targets min-max scaled with the training set's range (RMSE is then in scaled units).
    const auto r = s.scale_labels == "0..1" ? data::Range::ZeroOne : data::Range::MinusOneOne;
    d.label_scaler = data::scale_labels(d.train, r);
  }
  d.prepare_test();
  d.scale_seconds = seconds_since(t_scale);
  return d;
}

//! --profile: where the run's wall time went, phase by phase.
void print_profile(const Data& d, const std::vector<RunResult>& results) {
  const auto& rt = d.read_times;
  fmt::print("\nprofile (wall seconds): read {:.3f}{}, validate and scale {:.3f}, auto rules {:.3f}\n", d.read_seconds,
             rt.inflate_seconds > 0.0 ? fmt::format(" (inflate {:.3f}, parse {:.3f})", rt.inflate_seconds, rt.parse_seconds)
                                      : std::string(),
             d.scale_seconds, d.rules_seconds);
  for (const auto& r : results) {
    double epochs = 0.0, repack = 0.0, eval = 0.0;
    for (const auto& e : r.history.epochs) epochs += e.seconds, repack += e.pack_seconds, eval += e.eval_seconds;
    const double rest = r.fit_seconds - r.history.pack_seconds - epochs - repack - eval;
    fmt::print("  {:>8}: pack {:.3f}{}, {} epochs {:.3f}, evaluation ({}) {:.3f}, rest of fit {:.3f}, save {:.3f}\n",
               r.precision, r.history.pack_seconds, repack > 0.0 ? fmt::format(" (+ re-packing {:.3f})", repack) : "",
               r.history.epochs.size(), epochs, zipml::to_string(r.history.evaluation), eval, rest, r.save_seconds);
  }
  fmt::print("  whole run {:.3f} (from main; the process's start-up before it not counted)\n", seconds_since(g_started));
}

double median_seconds(const zipml::History& h) {
  std::vector<double> t;
  for (const auto& e : h.epochs) t.push_back(e.seconds + e.pack_seconds);
  if (t.empty()) return 0.0;
  std::sort(t.begin(), t.end());
  return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
}

//! --history: one CSV row per precision and epoch.
std::string history_csv(const std::vector<RunResult>& results) {
  const std::string metric = results.empty() ? "accuracy" : results.front().history.metric;
  std::string out = fmt::format("precision,epoch,train_loss,train_{0},test_{0},seconds,bits\n", metric);
  for (const auto& r : results)
    for (const auto& e : r.history.epochs)
      out += fmt::format("{},{},{},{},{},{},{}\n", r.precision, e.epoch, e.train_loss,
                         e.train_metric ? fmt::format("{}", *e.train_metric) : std::string(),
                         e.test_metric ? fmt::format("{}", *e.test_metric) : std::string(), e.seconds + e.pack_seconds,
                         e.precision);
  return out;
}

//! --epochs auto and --order auto, from the loaded training set.
void resolve_auto(Settings& s, Data& d) {
  namespace tuning = zipml::tuning;
  if (s.epochs == "auto") {
    s.opt.epochs = tuning::auto_epochs(d.train_size());
    s.opt.tol = s.tol.value_or(tuning::kAutoTol);
    s.opt.patience = tuning::kAutoPatience;
  } else {
    s.opt.tol = s.tol.value_or(0.0);
  }
  if (s.step == "auto" && !d.stream_info)
    d.mean_sq_norm = d.with_train_rows([&](const auto& rows) { return tuning::mean_sq_norm<zipml::Float32>(rows, s.opt.range); });
  if (d.stream_info) {
    d.ordering = d.stream_info->shuffled ? "as packed (shuffled once)" : "as packed (file order)";
  } else if (s.order == "auto") {
    const bool cls = s.model != "least-squares" || s.positive_label.has_value();
    const bool grouped = tuning::labels_grouped(d.train_labels(), cls);
    s.opt.order = grouped ? zipml::Order::Shuffle : zipml::Order::File;
    d.ordering = grouped ? "shuffle (the file's rows come grouped by label)" : "file (its labels are mixed)";
  } else {
    d.ordering = s.order;
  }
}

//! The epochs line of the summary: "10 epochs", or "up to 1000 epochs (tol 0.001)".
std::string epochs_phrase(const Settings& s) {
  if (s.opt.tol > 0.0)
    return fmt::format("up to {} epochs (stops when {} in a row lower the loss by less than {:g}%)", s.opt.epochs,
                       s.opt.patience, 100.0 * s.opt.tol);
  return fmt::format("{} epochs", s.opt.epochs);
}

//! The MPI line: "2 ranks (MPI), each on its share of the rows (about 30000); models averaged ...".
std::string ranks_phrase(const Settings& s, const Data& d) {
  const int p = s.group->size();
  const std::string when = s.opt.averaging == zipml::Averaging::Epoch ? "after every epoch"
                           : s.opt.averaging == zipml::Averaging::End
                               ? "once, after the last epoch"
                               : fmt::format("every {} samples of each rank", s.opt.average_samples);
  return fmt::format("{} rank{} (MPI), each training its share of the rows (about {}); models averaged {}", p,
                     p > 1 ? "s" : "", d.train_size() / static_cast<std::size_t>(p), when);
}

//! A last epoch that lowered the loss by this fraction or more: the loss "still falls fast".
constexpr double kStillFalling = 0.01;

//! One line when runs ended at their epoch limit with the loss still falling fast (as
//! scikit-learn's ConvergenceWarning): more epochs would have helped.
void note_if_still_falling(const std::vector<RunResult>& results) {
  std::string which;
  std::size_t epochs = 0;
  for (const auto& r : results) {
    const auto& e = r.history.epochs;
    if (r.history.converged || e.empty()) continue;
    const double before = e.size() > 1 ? e[e.size() - 2].train_loss : r.history.initial_loss;
    const double drop = zipml::tuning::last_relative_drop(before, e.back().train_loss);
    if (drop < kStillFalling) continue;
    which += fmt::format("{}{} {:.1f}%", which.empty() ? "" : ", ", r.precision, 100.0 * drop);
    epochs = e.size();
  }
  if (which.empty()) return;
  // fputs, not fmt::print: a note that cannot be written (a full disk behind stderr) must not
  // turn into an exception.
  std::fputs(fmt::format("zipml-train: note: the training loss still fell in the last of {} epochs ({}): more epochs "
                         "(--epochs {} or --epochs auto) should lower it further\n",
                         epochs, which, 4 * epochs)
                 .c_str(),
             stderr);
}

//! --train FILE.zps: the file's header fixes the precision, rounding, range, double sampling,
//! seed and order (the stream is what they made); asking for others is an error, not ignored.
void take_stream_settings(Settings& s) {
  if (!s.save_stream.empty())
    throw zipml::Error("--save-stream: " + s.train_file + " is a packed stream file already");
  const auto head = zipml::io::read_stream_head(s.train_file);
  const auto& info = head.info;
  for (const auto& o : s.given)
    throw zipml::Error(fmt::format("{}: {} is a packed stream file, whose header fixes the precision, rounding, range, "
                                   "double sampling, seed, scaling and order it was packed with; leave out {}",
                                   o, s.train_file, o));
  const std::string p = info.layout.is_float() ? "float32" : "q" + std::to_string(info.layout.bits);
  s.precisions = {p};
  if (!info.layout.is_float()) s.rounding = std::string(zipml::io::rounding_name(info.rounding));
  s.opt.range = info.layout.minus_one_one ? zipml::data::Range::MinusOneOne : zipml::data::Range::ZeroOne;
  s.range = info.layout.minus_one_one ? "-1..1" : "0..1";
  s.opt.double_sampling = info.layout.double_sampled;
  s.opt.seed = info.seed;
  s.opt.order = info.shuffled ? zipml::Order::Shuffle : zipml::Order::File;
  s.order = info.shuffled ? "shuffle" : "file";
  // (engine_range only says the packer checked float32 features against the engine's 18 bits;
  // Sgd::fit checks them again for the engine arithmetic, so either arithmetic may train it)
}

int run(Settings& s) {
  Data d;
  // The checks, the data and the auto rules: in an MPI job every rank does them, and if any
  // fails all stop here together (distributed::agree), each that failed with its message.
  auto prepare = [&] {
    // Everything that can be checked without the data is checked first: a typo should not cost
    // a training run.
    s.stream_file = !s.train_file.empty() && (s.format == "zps" || (s.format == "auto" && zipml::io::has_stream_magic(s.train_file)));
    if (s.stream_file) take_stream_settings(s);
    check_names(s);
    if (!s.save_stream.empty() && (s.order == "shuffle-each-epoch" || s.opt.requantize))
      throw zipml::Error("--save-stream: a packed stream file holds one order and one quantization, so it cannot go with "
                         "--order shuffle-each-epoch or --requantize");
    if (s.grouped() && !s.save_stream.empty())
      throw zipml::Error("--save-stream: in an MPI job each rank packs only its share of the rows; write the packed stream "
                         "file in one process (zipml-train --save-stream without mpirun), then train every rank from it");
    if (s.writes_outputs()) cli::check_outputs(outputs_of(s), inputs_of(s));
    if (!s.plot.empty()) {
      cli::plot_format(s.plot);
      cli::find_gnuplot();
    }

    d = load(s);
    const auto t_rules = std::chrono::steady_clock::now();
    resolve_auto(s, d);
    d.rules_seconds = seconds_since(t_rules);
  };
  if (s.group != nullptr) zipml::distributed::agree(*s.group, prepare);
  else prepare();
  // A plot or a history wants a figure per epoch: the test metric (or, without a test set,
  // the training set's figures) every epoch; so do the per-epoch lines on the screen (the
  // test metric; not a pass over the training set). --quiet prints none: the pass loss only.
  if (!s.eval_given && (!s.plot.empty() || !s.history.empty()))
    s.opt.evaluation = d.has_test ? zipml::Evaluation::Test : zipml::Evaluation::Full;
  else if (!s.eval_given && !s.quiet && d.has_test)
    s.opt.evaluation = zipml::Evaluation::Test;
  // Packing straight from the image bytes gives the stream packing the float matrix would;
  // what the packed stream cannot do needs the matrix: a fresh order or quantization every
  // epoch, or the full-precision training set's figures (--eval full, or no test set).
  if (s.opt.order == zipml::Order::ShuffleEachEpoch || s.opt.requantize || s.opt.evaluation == zipml::Evaluation::Full ||
      !d.has_test)
    d.materialize_train();
  if (!s.quiet) {
    fmt::print("data: {}: {} training samples{}, d = {} (with bias)\n", d.description, d.train_size(),
               d.has_test ? fmt::format(", {} test samples", d.test_size()) : std::string(), d.train_dim());
    fmt::print("scaling {}; order {}; {}; step {}\n", d.scaling, d.ordering, epochs_phrase(s),
               s.step == "auto" ? "auto (per precision, from the rows' norms)" : cli::show_step(s.opt.step));
    if (s.group != nullptr) fmt::print("{}\n", ranks_phrase(s, d));
  }
  std::fflush(stdout);
  std::vector<RunResult> results;
  {
    cli::Progress progress(!s.quiet && cli::stdout_is_terminal(), s.precisions.size(), s.opt.epochs, d.train_size());
    for (const auto& p : s.precisions) {
      dispatch(kBackends, s.backend, [&](auto backend_t) {
        results.push_back(zipml::train::train_on<typename decltype(backend_t)::type>(s, d, p, progress));
      });
    }
  }

  const bool cls = s.model != "least-squares" || s.positive_label.has_value();
  if (s.writes_outputs()) note_if_still_falling(results);
  std::fflush(stderr);
  fmt::print("\nsummary: {} {}, {}, {} arithmetic, rounding {}\n", s.model, cls ? "(one-vs-rest)" : "(regression)",
             epochs_phrase(s), s.arithmetic, s.rounding);
  const std::string which = d.has_test ? "test " : "train ";
  fmt::print("{:>9}  {:>12}  {:>14}  {:>16}  {:>10}  {:>6}  {:>7}\n", "precision", which + (cls ? "acc" : "rmse"),
             "final loss", "s/epoch (median)", "MB/epoch", "epochs", "step");
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : results) {
    const auto& last = r.history.epochs.back();
    const double metric = last.test_metric ? *last.test_metric : last.train_metric.value_or(0.0);
    fmt::print("{:>9}  {:>12.4f}  {:>14.6f}  {:>16.4f}  {:>10.3f}  {:>6}  {:>7}\n", r.precision, metric, last.train_loss,
               median_seconds(r.history), static_cast<double>(r.stream_bytes) / 1e6, r.history.epochs.size(),
               cli::show_step(r.step));
    nlohmann::json hist = nlohmann::json::array();
    for (const auto& e : r.history.epochs)
      hist.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"train_" + r.history.metric, e.train_metric ? nlohmann::json(*e.train_metric) : nlohmann::json()},
                      {"test_" + r.history.metric, e.test_metric ? nlohmann::json(*e.test_metric) : nlohmann::json()},
                      {"seconds", e.seconds},
                      {"pack_seconds", e.pack_seconds},
                      {"precision_bits", e.precision}});
    nlohmann::json run = {{"precision", r.precision},
                          {"model", s.model},
                          {"rounding", r.precision == "float32" ? "none" : s.rounding},
                          {"arithmetic", s.arithmetic},
                          {"backend", s.backend},
                          {"epochs", s.opt.epochs},
                          {"epochs_run", r.history.epochs.size()},
                          {"converged", r.history.converged},
                          {"tol", s.opt.tol},
                          {"train_loss_from", zipml::to_string(r.history.evaluation)},
                          {"step", r.step},
                          {"step_auto", s.step == "auto"},
                          {"metric", r.history.metric},
                          {std::string(d.has_test ? "test_" : "train_") + r.history.metric, metric},
                          {"final_train_loss", last.train_loss},
                          {"initial_train_loss", r.history.initial_loss},
                          {"median_seconds_per_epoch", median_seconds(r.history)},
                          {"stream_bytes_per_epoch", r.stream_bytes},
                          {"lanes", r.lanes},
                          {"history", hist}};
    if (s.opt.schedule.active())
      run["precision_schedule"] = s.opt.schedule.automatic ? fmt::format("auto (rise {})", s.opt.schedule.rise)
                                                           : s.precision_schedule;
    if (r.engine_lanes > 0) {
      run["engine_lanes"] = r.engine_lanes;
      run["passes_per_epoch"] = r.passes;
    }
    if (s.group != nullptr) {
      run["ranks"] = r.history.ranks;
      run["averaging"] = zipml::to_string(s.opt.averaging);
      if (s.opt.averaging == zipml::Averaging::Samples) run["average_samples"] = s.opt.average_samples;
      run["averagings"] = r.history.averagings;
      run["rank_seeds"] = r.history.rank_seeds;
    }
    if (!r.saved.empty()) run["model_file"] = r.saved;
    if (!r.npy.empty()) run["weights_npy"] = r.npy;
    runs.push_back(run);
  }
  if (!s.writes_outputs()) return 0; // (rank 0 writes the files)
  if (!s.summary.empty()) {
    nlohmann::json doc = {{"data", d.description},
                          {"train_samples", d.train_size()},
                          {"test_samples", d.has_test ? d.test_size() : 0},
                          {"dimension", d.train_dim()},
                          {"scaling", d.scaling},
                          {"order", d.ordering},
                          {"runs", runs}};
    // One step for the whole run when every precision trained with it (the original's field).
    if (std::all_of(results.begin(), results.end(), [&](const RunResult& r) { return r.step == results.front().step; }))
      doc["step"] = results.front().step;
    cli::write_file_atomically(s.summary, doc.dump(2) + '\n');
    if (!s.quiet) fmt::print("summary written to {}\n", s.summary);
  }
  if (!s.history.empty()) {
    cli::write_file_atomically(s.history, history_csv(results));
    if (!s.quiet) fmt::print("history written to {}\n", s.history);
  }
  if (!s.plot.empty()) {
    std::vector<cli::PlotCurve> curves;
    for (const auto& r : results) curves.push_back({r.precision, r.history});
    const std::string title = fmt::format("{} on {}: {}, {} arithmetic, rounding {}", s.model, d.description,
                                          epochs_phrase(s), s.arithmetic, s.rounding);
    cli::plot_history(s.plot, curves, results.front().history.metric, d.has_test, title);
    if (!s.quiet) fmt::print("plot written to {}\n", s.plot);
  }
  if (s.profile) print_profile(d, results);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  g_started = std::chrono::steady_clock::now();
  Settings s;
  CLI::App app{"zipml-train: SGD for linear models on full- and low-precision data.\n"
               "With no options: a 10-class L2-SVM on Fashion-MNIST at float32, q8, q4, q2 and q1, C+ = 1, C- = 1.5.\n"
               "Step, scaling, order and epochs default to auto (chosen from the data; on Fashion-MNIST:\n"
               "the original ZipML-PYNQ settings, rows scaled to [0,1], step 2^-12, file order, 10 epochs).\n"
               "Every option is described in docs/OPTIONS.md."};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", "zipml-train " ZIPML_VERSION);
  // What to train.
  app.add_option("--model", s.model, "Loss: " + names(kModels))->type_name("NAME");
  app.add_option("--precision", s.precisions, "Precisions to train at, in order (float32, q8, q4, q2, q1)")
      ->delimiter(',')
      ->type_name("LIST");
  app.add_option("--rounding", s.rounding, "Quantizer rounding: " + names(kRoundings))->type_name("NAME");
  app.add_option("--backend", s.backend,
                 "Where to train: " + names(kBackends) +
                     " (verilator: the simulated RTL engine; pynq: the engine in a PYNQ board's FPGA; both engine arithmetic)")
      ->type_name("NAME");
  app.add_option("--board", s.board, "--backend pynq: hw (the board this runs on) or sim (a simulated board, for tests)")
      ->check(CLI::IsMember({"hw", "sim"}));
  app.add_option("--bitstream", s.bitstream,
                 "--backend pynq: load this zipml .bit first (or from this folder, zipml_<precision>.bit per precision)")
      ->type_name("PATH");
  auto* arithmetic = app.add_option("--arithmetic", s.arithmetic,
                                    "float (float32 model) or engine (the RTL engine's fixed point; "
                                    "the default with --backend verilator and pynq)")
                         ->check(CLI::IsMember({"float", "engine"}));
  // How to train.
  app.add_option("--epochs", s.epochs,
                 "Passes over the training set, or auto: up to 600000 samples' worth (10..1000 passes), "
                 "stopping at a plateau of the training loss (--tol)")
      ->type_name("N|auto");
  app.add_option("--step", s.step, "Step size, or auto: 1/16 of 1/(loss curvature x cost x mean squared row norm), a power of two")
      ->type_name("X|auto");
  app.add_option("--tol", s.tol,
                 "Stop when 5 epochs lower the best training loss by less than this fraction of it "
                 "(default 0.001 with --epochs auto, else off)")
      ->type_name("X");
  app.add_flag("--decay", s.opt.step_decay, "Halve the step every --decay-interval epochs");
  app.add_option("--decay-interval", s.opt.decay_interval, "Epochs per halving of the step")->check(CLI::Range(1u, 255u));
  app.add_option("--minibatch", s.opt.minibatch, "Mini-batch size (power of two; gradients are summed)");
  app.add_option("--l2", s.opt.l2, "L2 regularization strength (step x l2 is rounded to a power of two)");
  app.add_option("--cost-pos", s.cost_pos, "Cost of positive samples (l2svm, logistic)");
  app.add_option("--cost-neg", s.cost_neg, "Cost of negative samples (l2svm, logistic)");
  app.add_option("--positive-label", s.positive_label, "Binary classification: this label against the rest");
  app.add_option("--seed", s.opt.seed, "Seed for stochastic rounding and shuffling");
  app.add_option("--order", s.order,
                 "Sample order: file, shuffle (once), shuffle-each-epoch, or auto (file, unless the rows come grouped by label: shuffle)")
      ->check(CLI::IsMember({"auto", "file", "shuffle", "shuffle-each-epoch"}));
  app.add_option("--precision-schedule", s.precision_schedule,
                 "Each epoch's precision from one bit-plane copy of the samples (packed at --precision, q8 by "
                 "default): a list such as 1,2,4,8 (the last repeats), or auto (from 1 bit, doubled whenever an "
                 "epoch lowers the training loss by less than --precision-rise of it)")
      ->type_name("LIST|auto");
  app.add_option("--precision-rise", s.precision_rise,
                 "--precision-schedule auto: raise the precision when an epoch lowers the loss by less than this "
                 "fraction")
      ->type_name("X");
  app.add_flag("--double-sampling", s.opt.double_sampling, "Two independent quantizations per sample (stochastic rounding)");
  app.add_flag("--requantize", s.opt.requantize, "A fresh stochastic quantization every epoch");
  app.add_option("--threads", s.opt.threads, "Threads (0 = all cores)");
  app.add_option("--average", s.average,
                 "Under mpirun (each rank trains its share of the rows): average the ranks' models after every "
                 "epoch, once at the end, or every N samples of each rank")
      ->type_name("epoch|end|N");
  // The data.
  app.add_option("--scale", s.scale,
                 "Min-max scaling of the features: rows, columns, none, or auto (IDX images: rows; tables: "
                 "columns, none when already in [0,1] or [-1,1])")
      ->check(CLI::IsMember({"auto", "rows", "columns", "none"}));
  auto* range = app.add_option("--range", s.range, "Feature range after scaling: 0..1 or -1..1")
                    ->check(CLI::IsMember({"0..1", "-1..1"}));
  app.add_option("--scale-labels", s.scale_labels, "Regression: min-max scale the labels to none, 0..1 or -1..1")
      ->check(CLI::IsMember({"none", "0..1", "-1..1"}));
  app.add_option("--data-dir", s.data_dir, "Fashion-MNIST folder (Debian package dataset-fashion-mnist)")
      ->type_name("DIR");
  app.add_option("--train", s.train_file, "Training data: a LIBSVM file, or IDX images (with --train-labels)")
      ->type_name("FILE");
  app.add_option("--train-labels", s.train_labels, "IDX labels of the training images")->type_name("FILE");
  app.add_option("--test", s.test_file, "Test data: a LIBSVM file, or IDX images (with --test-labels)")
      ->type_name("FILE");
  app.add_option("--test-labels", s.test_labels, "IDX labels of the test images")->type_name("FILE");
  app.add_option("--format", s.format,
                 "Data format of --train/--test: auto (by the magic number), idx, libsvm, or zps (--train: a packed "
                 "stream file from --save-stream)")
      ->check(CLI::IsMember({"auto", "idx", "libsvm", "zps"}));
  app.add_option("--train-limit", s.train_limit, "Use only the first N training samples (0 = all)")->type_name("N");
  app.add_option("--test-limit", s.test_limit, "Use only the first N test samples (0 = all)")->type_name("N");
  // What to write.
  app.add_option("--save", s.save,
                 "Save the model for zipml-predict; several precisions: one file each (m.zml -> m.q4.zml)")
      ->type_name("FILE");
  app.add_option("--save-stream", s.save_stream,
                 "Write each precision's packed stream (the words the engine receives) to FILE.zps, one file per "
                 "precision as --save; --train FILE.zps trains from it without reading or packing the data")
      ->type_name("FILE");
  app.add_option("--export-npy", s.export_npy, "Write the K x d weights (float32, bias first) as NumPy .npy, like --save")
      ->type_name("FILE");
  app.add_option("--summary", s.summary, "Write a JSON summary (per precision: accuracy, loss, seconds, history)")
      ->type_name("FILE");
  app.add_option("--history", s.history, "Write a CSV row per precision and epoch: loss, metrics, seconds")
      ->type_name("FILE");
  app.add_option("--plot", s.plot, "Draw loss and test metric per epoch and precision to FILE.svg or .png (gnuplot)")
      ->type_name("FILE");
  app.add_flag("-q,--quiet", s.quiet, "Print only the summary table (no per-epoch lines, no progress bar)");
  app.add_flag("--profile", s.profile, "Print where the time went: read (inflate, parse), scale, pack, epochs, evaluation, save");
  auto* eval = app.add_option("--eval", s.eval,
                              "Each epoch's figures: pass (the training loss taken during the pass, before each "
                              "sample's update, on the packed samples; test metric after the last epoch), test "
                              "(pass, and the test metric every epoch: the default when epoch lines are printed (no "
                              "--quiet) or with --plot or --history), full (a separate pass over the training and "
                              "test sets after every epoch: the default with --plot or --history and no test set)")
                   ->check(CLI::IsMember({"pass", "test", "full"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
#ifdef ZIPML_HAVE_MPI
  // Started by mpirun: join the job. Rank 0 prints and writes; the others print only errors.
  std::optional<zipml::distributed::Mpi> mpi;
  if (zipml::distributed::Mpi::launched()) {
    mpi.emplace(&argc, &argv);
    s.group = &*mpi;
    if (!mpi->is_root() && std::freopen("/dev/null", "w", stdout) == nullptr) std::fclose(stdout);
  }
#endif
  try {
    // The simulated engine computes only the engine arithmetic: it is the default there, and
    // asking it for float is refused (by Sgd, with a message that says so).
    if ((s.backend == "verilator" || s.backend == "pynq") && arithmetic->count() == 0) s.arithmetic = "engine";
    s.opt.arithmetic = s.arithmetic == "engine" ? zipml::Arithmetic::Engine : zipml::Arithmetic::Float;
    s.range_given = range->count() > 0;
    // A schedule trains one precision's bit planes: q8 unless --precision names another.
    if (!s.precision_schedule.empty() && app.count("--precision") == 0) s.precisions = {"q8"};
    for (const char* o : {"--precision", "--rounding", "--double-sampling", "--scale", "--range", "--order", "--seed",
                          "--train-labels", "--train-limit", "--scale-labels", "--requantize"})
      if (app.count(o) > 0) s.given.emplace_back(o);
    s.opt.order = s.order == "file"      ? zipml::Order::File
                  : s.order == "shuffle" ? zipml::Order::Shuffle
                                         : zipml::Order::ShuffleEachEpoch;
    s.opt.range = s.range == "0..1" ? zipml::data::Range::ZeroOne : zipml::data::Range::MinusOneOne;
    s.opt.positive_label = s.positive_label;
    s.eval_given = eval->count() > 0;
    s.opt.evaluation = s.eval == "pass" ? zipml::Evaluation::Pass
                       : s.eval == "test" ? zipml::Evaluation::Test
                                          : zipml::Evaluation::Full;
    return run(s);
  } catch (const zipml::distributed::GroupError& e) {
    // every rank stops here alike: the ranks it names say it, and all end normally
    std::fflush(stdout);
    if (e.report()) std::fputs(fmt::format("zipml-train: error: {}\n", e.what()).c_str(), stderr);
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    const std::string who = s.grouped() ? s.group->describe() + ": " : std::string();
    std::fputs(fmt::format("zipml-train: error: {}{}\n", who, e.what()).c_str(), stderr); // never throws
    // One rank's own error: the others may wait in a collective call for it. End the job.
    if (s.grouped()) {
      std::fflush(stderr);
      s.group->abort(1);
    }
    return 1;
  }
}
