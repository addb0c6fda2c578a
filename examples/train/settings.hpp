// zipml-train's shared declarations: the compile-time maps from the names a user types to the
// policy types, the run's settings and results, and train_on<Backend>, which trains one
// precision on one backend. Each backend's instantiation of train_on is compiled in its own
// translation unit (train_backend.cpp, once per backend: examples/meson.build), so that the
// program's 81 Sgd<Model, Precision, Backend> configurations compile in parallel.
#ifndef ZIPML_EXAMPLES_TRAIN_SETTINGS_HPP
#define ZIPML_EXAMPLES_TRAIN_SETTINGS_HPP

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/hana.hpp>

#include "cli/progress.hpp"
#include "zipml/backend/pynq.hpp"
#include "zipml/distributed/collective.hpp"
#include "zipml/io/stream_file.hpp"
#include "zipml/names.hpp"
#include "zipml/zipml.hpp"
#ifdef ZIPML_HAVE_VERILATOR
#include "zipml/backend/verilator.hpp"
#endif

namespace zipml::train {

namespace hana = boost::hana;

// The compile-time maps from the names users type to the policy types (zipml/names.hpp).
using names::kModels;
using names::kRoundings;
template <class Rounding>
constexpr auto precisions_with() {
  return names::quantized_with<Rounding>();
}
// The backends built into this program. The Verilator backend (a cycle-accurate simulation of
// the RTL engine) is built in when Meson found Verilator (ZIPML_HAVE_VERILATOR); the PYNQ
// board backend always (--board sim, its simulated board, needs Verilator too).
#ifdef ZIPML_HAVE_VERILATOR
constexpr auto kBackends = hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("cpu"), hana::type_c<zipml::Cpu>),
                                            hana::make_pair(BOOST_HANA_STRING("verilator"), hana::type_c<zipml::Verilator>),
                                            hana::make_pair(BOOST_HANA_STRING("pynq"), hana::type_c<zipml::Pynq>));
#else
constexpr auto kBackends = hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("cpu"), hana::type_c<zipml::Cpu>),
                                            hana::make_pair(BOOST_HANA_STRING("pynq"), hana::type_c<zipml::Pynq>));
#endif

//! Backends users may ask for that this build does not have, and what to do instead.
struct ComingBackend {
  std::string_view name, message;
};
constexpr ComingBackend kComingBackends[] = {
    {"verilator", "this zipml-train was built without Verilator (install Debian's verilator package and "
                  "reconfigure the build); --backend cpu --arithmetic engine computes the same model bit for bit"},
};

using names::dispatch;

template <class Map>
bool contains(const Map& map, std::string_view name) {
  return dispatch(map, name, [](auto) {});
}

template <class Map>
std::string names(const Map& map) {
  std::string out;
  hana::for_each(map, [&](auto entry) { out += (out.empty() ? "" : ", ") + std::string(hana::to<const char*>(hana::first(entry))); });
  return out;
}

struct Settings {
  std::string model = "l2svm";
  std::vector<std::string> precisions = {"float32", "q8", "q4", "q2", "q1"};
  std::string rounding = "nearest";
  std::string backend = "cpu";
  std::string board = "hw";  //!< --backend pynq: hw (the board this runs on) or sim (the simulated board)
  std::string bitstream;     //!< --backend pynq: a .bit to load, or a folder of zipml_<precision>.bit
  std::string arithmetic = "float";
  std::string order = "auto";  //!< file, shuffle, shuffle-each-epoch, or auto (tuning/order.hpp)
  std::string scale = "auto";  //!< rows, columns, none, or auto (tuning/scaling.hpp)
  std::string epochs = "auto"; //!< a count, or auto (tuning/stopping.hpp): resolved into opt.epochs
  std::string step = "auto";   //!< a number, or auto (tuning/step.hpp, per precision)
  std::optional<double> tol;   //!< --tol; default kAutoTol with --epochs auto, else 0
  bool range_given = false;    //!< --range was on the command line
  std::vector<std::string> given; //!< options given on the command line that a packed stream file fixes
  std::string save_stream;     //!< --save-stream: write each precision's packed stream (.zps)
  bool stream_file = false;    //!< --train names a packed stream file
  std::string scale_labels = "none";
  std::string range = "0..1";
  std::string data_dir = ZIPML_FASHION_MNIST_DIR;
  std::string train_file, test_file, train_labels, test_labels;
  std::string format = "auto";
  std::string summary, history, plot, save, export_npy;
  std::size_t train_limit = 0, test_limit = 0;
  float cost_pos = 1.0f, cost_neg = 1.5f;
  std::optional<float> positive_label;
  bool quiet = false;
  std::string eval = "pass"; //!< --eval: pass, test, full (what each epoch's figures are)
  bool eval_given = false;
  bool profile = false;      //!< --profile: print where the run's time went
  std::string average = "epoch"; //!< --average: epoch, end, or a sample count (with several ranks)
  std::string precision_schedule; //!< --precision-schedule: a list of bits, or auto (empty: none)
  double precision_rise = 0.05;   //!< --precision-rise: the automatic schedule's threshold
  //! The MPI job this process is a rank of (mpirun; null: on its own). Every rank runs the same
  //! settings and calls; rank 0 alone prints and writes the outputs.
  zipml::distributed::Collective* group = nullptr;
  [[nodiscard]] bool grouped() const noexcept { return group != nullptr && group->size() > 1; }
  //! Whether this process prints the run and writes its files (rank 0, or on its own).
  [[nodiscard]] bool writes_outputs() const noexcept { return group == nullptr || group->is_root(); }
  zipml::Options opt;
};

struct RunResult {
  std::string precision;
  zipml::History history;
  float step = 0.0f;            //!< the step it trained with (chosen, or --step)
  std::size_t stream_bytes = 0; //!< packed bytes sent per epoch
  std::size_t lanes = 0;        //!< model lanes trained (one per class, one-vs-rest; else 1)
  std::size_t engine_lanes = 0; //!< --backend pynq: the board engine's lanes (ENGINE_INFO)
  std::size_t passes = 0;       //!< --backend pynq: passes over the stream per epoch
  std::string saved, npy;       //!< files written for this precision
  double fit_seconds = 0.0;     //!< Sgd::fit as a whole (pack, epochs, evaluation, set-up)
  double save_seconds = 0.0;    //!< writing --save and --export-npy
};

struct Data {
  //! The training rows: IDX images are kept as their bytes (train_images) and packed straight
  //! from them, unless something needs the float matrix (materialize_train); tables are read
  //! into `train`.
  std::optional<zipml::data::IdxImages> train_images;
  //! A packed stream file given as --train: its stream (moved into the one precision's Sgd)
  //! and its header; a bit-plane file's planes (--precision-schedule) instead of the stream.
  std::optional<zipml::stream::PackedStream> train_stream;
  std::optional<zipml::stream::PlaneStream> train_planes;
  std::optional<zipml::io::StreamFileInfo> stream_info;
  std::vector<float> stream_labels;
  zipml::data::Dataset train, test;
  //! IDX test images kept as their bytes and evaluated from them (scaled by row as each is
  //! read), unless their scaling needs the float matrix (`test`): see prepare_test.
  std::optional<zipml::data::IdxImages> test_images;
  bool has_test = false;
  std::string description;
  std::string scaling;  //!< how the features were scaled, and why (the defaults line)
  std::string ordering; //!< which order, and why
  double mean_sq_norm = 0.0; //!< E||x||^2 of the scaled training rows (--step auto)
  std::optional<zipml::data::MinMaxScaler> scaler;      //!< saved with the model
  std::optional<zipml::data::LabelScaler> label_scaler; //!< saved with the model
  zipml::data::ReadTimes read_times; //!< IDX files: inflate and parse
  double read_seconds = 0.0;         //!< reading the data, all formats
  double scale_seconds = 0.0;        //!< validating and scaling
  double rules_seconds = 0.0;        //!< the auto rules (resolve_auto)

  [[nodiscard]] std::size_t train_size() const {
    return stream_info ? stream_info->rows : train_images ? train_images->size() : train.size();
  }
  [[nodiscard]] std::size_t train_dim() const {
    return stream_info ? stream_info->layout.dim : train_images ? train_images->dim() : train.dim();
  }
  [[nodiscard]] std::span<const float> train_labels() const {
    if (stream_info) return stream_labels;
    if (train_images) return train_images->labels();
    return {train.labels.data(), train.labels.size()};
  }
  //! f(rows) with the training rows as a data::RowSource, whichever form they are in.
  template <class F>
  decltype(auto) with_train_rows(F&& f) const {
    if (train_images) return f(*train_images);
    return f(zipml::data::DatasetRows(train));
  }
  [[nodiscard]] std::size_t test_size() const { return test_images ? test_images->size() : test.size(); }
  //! f(rows) with the test rows as a data::RowSource (has_test only).
  template <class F>
  decltype(auto) with_test_rows(F&& f) const {
    if (test_images) return f(*test_images);
    return f(zipml::data::DatasetRows(test));
  }
  //! Scales (or validates) the test set as `scaler` and `label_scaler` say the training rows
  //! were: IDX images by row as they are read (the bytes need no validation), any other
  //! scaling in the float matrix.
  void prepare_test() {
    if (!has_test) return;
    if (test_images && !label_scaler && (!scaler || scaler->axis() == zipml::data::Axis::Rows)) {
      if (scaler) test_images->scale_rows(scaler->range());
      return;
    }
    if (test_images) {
      test = test_images->to_dataset();
      test_images.reset();
    }
    if (scaler) scaler->apply(test);
    else zipml::data::validate(test);
    if (label_scaler)
      for (auto& y : test.labels) y = label_scaler->to_scaled(y);
  }
  //! The float matrix of the training rows (scaled as train_images says), for what needs it.
  void materialize_train() {
    if (!train_images) return;
    train = train_images->to_dataset();
    train_images.reset();
  }
};

//! --backend pynq --bitstream: the file for `precision` (a folder holds zipml_<f32|qN>.bit).
inline std::string bitstream_for(const Settings& s, const std::string& precision) {
  if (s.bitstream.empty() || !std::filesystem::is_directory(s.bitstream)) return s.bitstream;
  return (std::filesystem::path(s.bitstream) / ("zipml_" + std::string(precision == "float32" ? "f32" : precision) + ".bit")).string();
}

//! Trains precision `precision` (a name from --precision) of the run `s` describes on `Backend`,
//! and writes that precision's --save and --export-npy files. Defined in train_on.hpp,
//! instantiated once per backend in train_backend.cpp.
template <class Backend>
RunResult train_on(const Settings& s, Data& d, const std::string& precision, cli::Progress& progress);

} // namespace zipml::train

#endif
