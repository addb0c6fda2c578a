// zipml-predict — uses a model saved by `zipml-train --save`: reads IDX or LIBSVM data, applies
// the feature (and label) scaling saved with the model, prints the accuracy (classification)
// or RMSE (regression), and optionally writes one prediction per sample as CSV.
//
//   zipml-train --precision q4 --save fm.zml      # Fashion-MNIST, 4-bit samples
//   zipml-predict fm.zml                          # the Fashion-MNIST test set
//   zipml-predict model.zml test.libsvm --predictions predictions.csv
//
// Every option is described in docs/OPTIONS.md (and by --help).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/common.hpp"
#include "zipml/io/model_file.hpp"
#include "zipml/zipml.hpp"

namespace fs = std::filesystem;
namespace cli = zipml::cli;

namespace {

struct Settings {
  std::string model_file;
  std::string data_file;
  std::string labels;
  std::string format = "auto";
  std::string data_dir = ZIPML_FASHION_MNIST_DIR;
  std::string predictions;
  bool predictions_given = false; //!< --predictions "" (an unset shell variable) is an error, not "no file"
  std::size_t limit = 0;
  unsigned threads = 0;
  bool quiet = false;
};

//! One line about the model: what it is and how its data must be prepared.
std::string describe(const zipml::io::ModelFile& m) {
  const auto& w = m.weights;
  std::string what;
  if (!w.is_classification())
    what = "regression";
  else if (w.lanes() == 1)
    what = fmt::format("binary, positive class {}", w.lane_classes().front());
  else
    what = fmt::format("{} classes, one-vs-rest", w.lanes());
  std::string scaling = "features not scaled";
  if (m.scaler) {
    const bool rows = m.scaler->axis() == zipml::data::Axis::Rows;
    scaling = fmt::format("{} scaled to {}", rows ? "rows" : "columns",
                          m.scaler->range() == zipml::data::Range::ZeroOne ? "[0, 1]" : "[-1, 1]");
  }
  return fmt::format("{} ({}), {}{}, {} arithmetic, d = {} (with bias), {}", m.model, what, m.precision,
                     m.rounding == "none" ? "" : " rounding " + m.rounding, m.arithmetic, w.dim(), scaling);
}

zipml::data::Dataset load(const Settings& s, std::size_t dim) {
  if (!s.data_file.empty())
    return cli::read_data(s.data_file, s.labels, s.format, s.limit, dim - 1, "--labels");
  // No data given: the Fashion-MNIST test set, as zipml-train's default run uses.
  const auto files = cli::fashion_mnist_files(s.data_dir);
  std::error_code ec;
  if (!fs::is_regular_file(files[2], ec) || !fs::is_regular_file(files[3], ec))
    throw zipml::Error("no DATA given and the Fashion-MNIST test set is not in " + s.data_dir +
                       ": give a data file, or install it with: sudo apt-get install dataset-fashion-mnist");
  return zipml::data::read_idx(files[2], files[3], s.limit);
}

int run(const Settings& s) {
  std::vector<fs::path> inputs = {s.model_file, s.data_file, s.labels};
  if (s.data_file.empty())
    for (const auto& f : cli::fashion_mnist_files(s.data_dir)) inputs.push_back(f);
  if (s.predictions_given) cli::check_outputs({{"--predictions", s.predictions}}, inputs);

  const zipml::io::ModelFile m = zipml::io::load_model(s.model_file);
  const zipml::LinearModel& model = m.weights;
  if (!s.quiet) fmt::print("model: {}: {}\n", s.model_file, describe(m));

  zipml::data::Dataset ds = load(s, model.dim());
  zipml::data::validate(ds);
  if (ds.dim() != model.dim())
    throw zipml::Error(fmt::format("{}: {} features per sample, but the model {} was trained on {}: is this the data "
                                   "it was made for?",
                                   ds.source, ds.dim() - 1, s.model_file, model.dim() - 1));
  const xt::xtensor<float, 1> raw_labels = ds.labels; // in the file's units
  if (m.scaler) m.scaler->apply(ds);
  if (!s.quiet) fmt::print("data: {}: {} samples\n", ds.source, ds.size());

  const auto decision = model.decision(ds, s.threads);
  std::string csv = "row,label,prediction\n";
  double hits = 0.0, sq = 0.0, sq_scaled = 0.0;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    float prediction = model.label_from(decision, i);
    if (model.is_classification()) {
      hits += model.correct(decision, i, raw_labels(i)) ? 1.0 : 0.0;
    } else {
      if (m.label_scaler) {
        const double e = static_cast<double>(prediction) - m.label_scaler->to_scaled(raw_labels(i));
        sq_scaled += e * e;
        prediction = m.label_scaler->from_scaled(prediction); // back to the labels' units
      }
      const double e = static_cast<double>(prediction) - raw_labels(i);
      sq += e * e;
    }
    if (!s.predictions.empty()) csv += fmt::format("{},{},{}\n", i + 1, raw_labels(i), prediction);
  }
  const double n = static_cast<double>(ds.size());
  if (model.is_classification()) {
    fmt::print("accuracy {:.4f}\n", hits / n);
  } else if (m.label_scaler) {
    fmt::print("rmse {:.6g} (in the labels' units; {:.6g} in the scaled units zipml-train reports)\n", std::sqrt(sq / n),
               std::sqrt(sq_scaled / n));
  } else {
    fmt::print("rmse {:.6g}\n", std::sqrt(sq / n));
  }
  if (!s.predictions.empty()) {
    cli::write_file_atomically(s.predictions, csv);
    if (!s.quiet) fmt::print("predictions written to {}\n", s.predictions);
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"zipml-predict: applies a model saved by zipml-train --save to IDX or LIBSVM data and prints\n"
               "its accuracy (classification) or RMSE (regression). The feature and label scaling saved with\n"
               "the model are applied to the data. Every option is described in docs/OPTIONS.md."};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", "zipml-predict " ZIPML_VERSION);
  app.add_option("MODEL", s.model_file, "Model file written by zipml-train --save")->required()->type_name("FILE");
  app.add_option("DATA", s.data_file,
                 "Data to predict: a LIBSVM file, or IDX images (with --labels); default: the Fashion-MNIST test set")
      ->type_name("FILE");
  app.add_option("--labels", s.labels, "IDX labels of the DATA images")->type_name("FILE");
  app.add_option("--format", s.format, "Data format of DATA: auto, idx or libsvm")
      ->check(CLI::IsMember({"auto", "idx", "libsvm"}));
  app.add_option("--data-dir", s.data_dir, "Fashion-MNIST folder, used when no DATA is given")->type_name("DIR");
  app.add_option("--limit", s.limit, "Use only the first N samples (0 = all)")->type_name("N");
  auto* predictions =
      app.add_option("--predictions", s.predictions, "Write a CSV row per sample: row (1-based), label, prediction")
          ->type_name("FILE");
  app.add_option("--threads", s.threads, "Threads (0 = all cores)");
  app.add_flag("-q,--quiet", s.quiet, "Print only the accuracy or RMSE line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  s.predictions_given = predictions->count() > 0;
  try {
    return run(s);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fputs(fmt::format("zipml-predict: error: {}\n", e.what()).c_str(), stderr); // never throws
    return 1;
  }
}
