// The errors of docs/ERRORS.md that no other unit test provokes: each is triggered through the
// public API and its message checked for what went wrong and where (file, row, value).
// Conditions root cannot normally meet use files that refuse everyone (/proc), symbolic link
// loops, FIFOs, and an address-space limit in a child process.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"
#include "zipml/io.hpp"
#include "zipml/zipml.hpp"

using namespace zipml;
using zipml::test::TempDir;
namespace fs = std::filesystem;

namespace {

//! The message of the zipml::Error `f` throws ("(no error)" if none).
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

//! N x d features in [0, 1] with the bias, labels 0, 1, 2, ... cycling through `classes`.
data::Dataset small(std::size_t n, std::size_t d, std::size_t classes, const std::string& source = "s.libsvm") {
  data::Dataset ds;
  ds.source = source;
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = static_cast<float>((i * 7 + j * 3) % 11) / 10.0f;
    ds.labels(i) = static_cast<float>(i % classes);
  }
  return ds;
}

//! A K x 3 model of ones.
xt::xtensor<float, 2> ones(std::size_t k) { return xt::ones<float>({k, std::size_t{3}}); }

} // namespace

// ---- §1 and §8: files that exist but cannot be read -------------------------------------------

TEST_CASE("unreadable paths name the path and the system's reason") {
  TempDir dir;
  const fs::path loop = dir.path / "loop.libsvm";
  fs::create_symlink(loop.filename(), loop); // a link to itself: stat fails with ELOOP
  CHECK(message_of([&] { (void)data::read_libsvm(loop); }) ==
        "cannot read '" + loop.string() + "': Too many levels of symbolic links");
  CHECK(message_of([&] { (void)io::load_model(loop); }) ==
        "cannot load the model '" + loop.string() + "': Too many levels of symbolic links");

  // Write-only for everyone, root included (sysctl permissions are checked for root too).
  const fs::path write_only = "/proc/sys/vm/drop_caches";
  if (!fs::exists(write_only)) {
    MESSAGE("no " << write_only << ": the open-failure checks are skipped");
  } else {
    CHECK(message_of([&] { (void)data::read_libsvm(write_only); }) ==
          "cannot open '/proc/sys/vm/drop_caches': Permission denied");
    CHECK(message_of([&] { (void)io::load_model(write_only); }) ==
          "cannot load the model '/proc/sys/vm/drop_caches': Permission denied");
  }
  // A regular file whose read fails: our own memory at address 0 (EIO).
  CHECK(message_of([] { (void)io::load_model("/proc/self/mem"); }) ==
        "cannot load the model '/proc/self/mem': read failed: Input/output error");
  // A file that reports size 0 but has content, as a file being written would.
  CHECK(message_of([] { (void)io::load_model("/proc/self/status"); }) ==
        "cannot load the model '/proc/self/status': the file grew while it was read (is it being written?)");
}

// ---- §3: LIBSVM ------------------------------------------------------------------------------

TEST_CASE("libsvm: a label beyond float's range names file, line and token") {
  TempDir dir;
  const auto f = dir.file("big.libsvm", "1 1:1\n1e999 1:1\n");
  CHECK(message_of([&] { (void)data::read_libsvm(f); }) ==
        f.string() + ":2: label '1e999' is out of the range of float");
  const auto g = dir.file("neg.libsvm", "-4e38 2:1\n");
  CHECK(message_of([&] { (void)data::read_libsvm(g); }) ==
        g.string() + ":1: label '-4e38' is out of the range of float");
}

namespace {
//! Runs `f` in a child process whose address space may grow by only `headroom` bytes and
//! returns the zipml::Error message it got ("exit ..." if something else happened).
[[maybe_unused]] std::string message_with_memory_limit(std::size_t headroom, const std::function<void()>& f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::size_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlimit lim{pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) + headroom, RLIM_INFINITY};
    std::string msg = "(no error)";
    if (::setrlimit(RLIMIT_AS, &lim) != 0) msg = "setrlimit failed";
    else msg = message_of(f);
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " (exit status " + std::to_string(status) + ")";
  return out;
}
} // namespace

TEST_CASE("libsvm: an allocation that fails within the memory budget is an error, not a crash") {
#ifdef ZIPML_TEST_ASAN
  MESSAGE("AddressSanitizer reserves the address space an RLIMIT_AS test needs: skipped");
#else
  TempDir dir;
  data::LibsvmOptions opt;
  opt.max_bytes = std::size_t{1} << 40; // the budget allows it: the allocation itself must fail
  SUBCASE("the dense matrix") {
    // 2 x 50,000,001 floats = 400 MB against 128 MB of headroom.
    const auto f = dir.file("wide.libsvm", "1 1:1\n-1 50000000:2\n");
    CHECK(message_with_memory_limit(std::size_t{128} << 20, [&] { (void)data::read_libsvm(f, opt); }) ==
          "'" + f.string() + "': not enough memory for a dense 2 x 50000001 matrix; the largest feature index is "
                             "50000000 (line 2): check it, or set num_features");
  }
  SUBCASE("the duplicate-index check's columns") {
    // One row: 200 MB of features fit in 320 MB of headroom, the 400 MB column stamps do not.
    const auto f = dir.file("wide.libsvm", "1 50000000:2\n");
    CHECK(message_with_memory_limit(std::size_t{320} << 20, [&] { (void)data::read_libsvm(f, opt); }) ==
          "'" + f.string() + "': not enough memory for 50000001 columns; the largest feature index is 50000000 "
                             "(line 1): check it, or set num_features");
  }
#endif
}

// ---- §4: scaling and label helpers -------------------------------------------------------------

TEST_CASE("scaling: empty label sets, NaN classes and unknown enum values are refused") {
  data::Dataset empty;
  empty.source = "empty.libsvm";
  CHECK(message_of([&] { (void)data::scale_labels(empty, data::Range::ZeroOne); }) ==
        "'empty.libsvm': no labels to scale");

  auto ds = small(5, 3, 2);
  ds.labels(2) = std::numeric_limits<float>::quiet_NaN();
  CHECK(message_of([&] { (void)data::classes(ds); }) == "'s.libsvm': row 3: label nan is not a class");

  CHECK(message_of([] {
          (void)data::MinMaxScaler::from_state(static_cast<data::Range>(7), data::Axis::Rows, {}, {});
        }) == "MinMaxScaler: unknown feature range");
  CHECK(message_of([] {
          (void)data::MinMaxScaler::from_state(data::Range::ZeroOne, static_cast<data::Axis>(9), {}, {}, "W");
        }) == "W: unknown scaling axis");
}

// ---- §5: packing ---------------------------------------------------------------------------

TEST_CASE("packing: samples without columns are refused") {
  data::Dataset ds;
  ds.source = "nocols";
  ds.features = xt::zeros<float>({std::size_t{3}, std::size_t{0}});
  ds.labels = xt::zeros<float>({std::size_t{3}});
  CHECK(message_of([&] { (void)stream::pack<Float32>(ds); }) ==
        "packing: dimension 0 (with bias) is outside the stream's 32-bit field, 1 to 4294967295");
}

// ---- §6: training ----------------------------------------------------------------------------

namespace {
//! A backend that computes nothing and runs only the arithmetic `A`.
template <Arithmetic A>
struct OnlyBackend {
  static constexpr std::string_view name = A == Arithmetic::Float ? "float-only" : "engine-only";
  static constexpr bool supports(Arithmetic a) noexcept { return a == A; }
  template <class M>
  void run_epoch(const M&, const TrainJob&, std::size_t, ModelState&) {}
};

//! The L2-SVM loss declared as a regression model: the engine cannot run it.
struct SvmAsRegression : L2Svm {
  static constexpr std::string_view name = "svm-as-regression";
  static constexpr bool is_classifier = false;
};
} // namespace

TEST_CASE("training: options, costs, classes and backends are checked with their values") {
  const auto ds = small(40, 4, 2);
  auto fit = [&](Options o, L2Svm m = {}) {
    return message_of([&] { Sgd<L2Svm, Float32, Cpu>(o, m).fit(ds); });
  };
  Options o;
  o.decay_interval = 0;
  CHECK(fit(o) == "decay interval must be 1..255 epochs, got 0");
  o.decay_interval = 256;
  CHECK(fit(o) == "decay interval must be 1..255 epochs, got 256");
  o = {};
  o.l2 = -0.5f;
  CHECK(fit(o) == "l2 must be >= 0, got -0.5");
  o.l2 = std::numeric_limits<float>::quiet_NaN();
  CHECK(fit(o) == "l2 must be >= 0, got nan");
  o = {};
  o.epochs = std::size_t{1} << 32;
  CHECK(fit(o) == "epochs 4294967296 do not fit the stream's 32-bit field (at most 4294967295)");
  o = {};
  o.step = -0x1p-40f; // shown exactly, not as "-0.000000"
  CHECK(fit(o) == "step must be a positive number, got -9.094947e-13");
  o = {};
  o.arithmetic = Arithmetic::Engine;
  o.step = 0x1p-40f;
  CHECK(fit(o) == "step (x cost) 9.094947e-13 is outside the engine's range [2^-34, 2^8)");
  o = {};
  CHECK(fit(o, L2Svm{-1.0f, 1.5f}) == "step x cost must be positive and finite, got -0.00024414062: check the class costs");
  o.step = 1e30f;
  CHECK(fit(o, L2Svm{1e10f, 1.0f}) == "step x cost must be positive and finite, got inf: check the class costs");

  // 1025 distinct labels, one sample each: regression data given to a classifier.
  auto many = small(1025, 3, 1025, "years.libsvm");
  CHECK(message_of([&] { Sgd<Logistic, Float32, Cpu>().fit(many); }) ==
        "years.libsvm: 1025 distinct labels in 1025 samples (fewer than 5 per label) look like a continuous target, "
        "not classes: train the least-squares model (zipml-train --model least-squares)");
  // 1025 classes of 5 samples each: classes, but more than the lanes a classifier takes.
  auto classes = small(5 * 1025, 3, 1025, "years.libsvm");
  CHECK(message_of([&] { Sgd<Logistic, Float32, Cpu>().fit(classes); }) ==
        "years.libsvm: 1025 distinct labels: a classifier takes at most 1024 classes (is this regression data?)");

  // A backend that cannot run the arithmetic asked for says so before anything is packed.
  Options engine;
  engine.arithmetic = Arithmetic::Engine;
  CHECK(message_of([&] { Sgd<L2Svm, Float32, OnlyBackend<Arithmetic::Float>>(engine).fit(ds); }) ==
        "float-only backend cannot run the engine arithmetic");
  CHECK(message_of([&] { Sgd<L2Svm, Float32, OnlyBackend<Arithmetic::Engine>>().fit(ds); }) ==
        "engine-only backend runs only the engine arithmetic: use --arithmetic engine");

  // A user-defined model policy with a classifier's loss but no classes.
  CHECK(message_of([&] { Sgd<SvmAsRegression, Quantized<8>, Cpu>(engine).fit(ds); }) ==
        "model 'svm-as-regression' has a classifier's loss but is_classifier is false: the engine's classifiers "
        "need binarized labels");
}

TEST_CASE("cpu backend: a job without data, a mismatched state and foreign configuration words are refused") {
  const auto ds = small(2, 3, 2);
  const auto packed = stream::pack<Quantized<4>>(ds);
  TrainJob job;
  job.arithmetic = Arithmetic::Engine;
  ModelState st;
  st.reset(Arithmetic::Engine, 1, 3);
  const auto run = [&] { return message_of([&] { Cpu{}.run_epoch(LeastSquares{}, job, 0, st); }); };
  CHECK(run() == "cpu backend: no packed data in the job");
  job.data = &packed;
  st.reset(Arithmetic::Float, 1, 3);
  CHECK(run() == "cpu backend: model state does not match the job (lanes, dimension or arithmetic)");
  st.reset(Arithmetic::Engine, 1, 3);
  job.config.dim = 4;
  CHECK(run() == "cpu backend: the configuration words do not describe the packed data (dimension, precision, range "
                 "or double sampling differ)");
}

TEST_CASE("LinearModel: an empty model, a width mismatch and lanes without classes are refused") {
  const auto ds = small(6, 4, 2);
  CHECK(message_of([&] { (void)LinearModel{}.predict(ds); }) ==
        "model: no weights (train it with fit(), or load a saved model)");
  const LinearModel narrow(xt::zeros<float>({std::size_t{1}, std::size_t{3}}), false);
  CHECK(message_of([&] { (void)narrow.predict(ds); }) == "s.libsvm: 4 features (with bias), the model has 3");
  CHECK(message_of([&] { (void)narrow.score(ds); }) == "s.libsvm: 4 features (with bias), the model has 3");
  CHECK(message_of([] { LinearModel(xt::zeros<float>({std::size_t{3}, std::size_t{4}}), true, {0.0f, 1.0f}); }) ==
        "LinearModel: 3 lanes but 2 class labels");
}

// ---- §8: saved models whose fields contradict each other ----------------------------------------

namespace {
//! A valid hand-built model file: a 3-class L2-SVM on d = 3 (bias included).
io::ModelFile classifier_file() {
  io::ModelFile m;
  m.model = "l2svm";
  m.precision = "q4";
  m.rounding = "nearest";
  m.arithmetic = "float";
  m.weights = LinearModel(ones(3), true, {0.0f, 1.0f, 2.0f}, {0.0f, 1.0f, 2.0f});
  return m;
}

//! A valid least-squares model on d = 3.
io::ModelFile regression_file() {
  io::ModelFile m = classifier_file();
  m.model = "least-squares";
  m.weights = LinearModel(ones(1), false);
  return m;
}

std::string save_error(const io::ModelFile& m) {
  return message_of([&] { (void)io::serialize_model(m, "m.zml"); });
}
} // namespace

TEST_CASE("saved models: contradicting fields are refused one by one") {
  REQUIRE(save_error(classifier_file()) == "(no error)");
  REQUIRE(save_error(regression_file()) == "(no error)");

  auto m = classifier_file();
  m.weights = LinearModel(ones(1), false);
  CHECK(save_error(m) == "m.zml: model 'l2svm' is a classifier but the weights are a regression model");

  m = regression_file();
  m.weights = LinearModel(ones(1), true, {1.0f}, {0.0f, 1.0f});
  CHECK(save_error(m) == "m.zml: a least-squares classifier needs options.positive_label");
  m = regression_file();
  m.options.positive_label = 1.0f;
  CHECK(save_error(m) == "m.zml: options.positive_label is set but the weights are a regression model");
  m = regression_file();
  m.weights = LinearModel(ones(2), false);
  CHECK(save_error(m) == "m.zml: a regression model has one lane, this one has 2");
  m = regression_file();
  m.weights = LinearModel(ones(1), false, {1.0f}, {0.0f, 1.0f});
  CHECK(save_error(m) == "m.zml: a regression model has no classes");

  m = classifier_file();
  m.weights = LinearModel(ones(3), true, {0.0f, 5.0f, 2.0f}, {0.0f, 1.0f, 2.0f});
  CHECK(save_error(m) == "m.zml: lane class 5 is not one of the model's classes");
  m.weights = LinearModel(ones(3), true, {0.0f, 1.0f, 2.0f}, {0.0f, 2.0f, 1.0f});
  CHECK(save_error(m) == "m.zml: the classes are not sorted and distinct");
  m.weights = LinearModel(ones(3), true, {0.0f, 1.0f, 2.0f}, {0.0f, 1.0f, 1.0f});
  CHECK(save_error(m) == "m.zml: the classes are not sorted and distinct");
  m.weights = LinearModel(ones(3), true, {0.0f, 1.0f, std::numeric_limits<float>::infinity()});
  CHECK(save_error(m) == "m.zml: a class label is not finite");
  m = classifier_file();
  m.options.positive_label = 1.0f;
  CHECK(save_error(m) == "m.zml: options.positive_label is 1 but the model has 3 lanes for class 0");
  m.options.positive_label = std::numeric_limits<float>::quiet_NaN();
  CHECK(save_error(m) == "m.zml: option positive_label nan is not finite");

  // Scalers that do not fit the model.
  m = regression_file();
  m.scaler = data::MinMaxScaler::from_state(data::Range::ZeroOne, data::Axis::Columns, {1.0f, 0.0f}, {1.0f, 1.0f});
  CHECK(save_error(m) == "m.zml: the feature scaler was fit on 2 columns, the model has 3");
  m = regression_file();
  m.label_scaler = data::LabelScaler{std::numeric_limits<float>::quiet_NaN(), 1.0f};
  CHECK(save_error(m) == "m.zml: label scaler range [nan, 1] is not a finite interval");
  m.label_scaler = data::LabelScaler{2.0f, 1.0f};
  CHECK(save_error(m) == "m.zml: label scaler range [2, 1] is not a finite interval");
  m.label_scaler = data::LabelScaler{0.0f, 1.0f, static_cast<data::Range>(5)};
  CHECK(save_error(m) == "m.zml: label scaler has an unknown range");
}

TEST_CASE("saved models: a forged feature scaler is refused on load with the column and range") {
  // The scaler's checks run on load too: a column range made NaN, with a valid checksum.
  auto m = regression_file();
  const float marker = 0.123456789f; // a bit pattern that occurs once in the file
  m.scaler = data::MinMaxScaler::from_state(data::Range::ZeroOne, data::Axis::Columns, {1.0f, marker, 0.0f},
                                            {1.0f, 1.0f, 1.0f});
  auto bytes = io::serialize_model(m);
  unsigned char pattern[4];
  std::memcpy(pattern, &marker, 4); // little-endian hosts, as the format
  const auto at = std::search(bytes.begin(), bytes.end(), pattern, pattern + 4);
  REQUIRE(at != bytes.end());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&*at, &nan, 4);
  const std::uint32_t crc = io::detail::crc32_of(std::span<const unsigned char>(bytes).first(bytes.size() - 4));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(crc >> (8 * i));
  CHECK(message_of([&] { (void)io::parse_model(bytes, "forged.zml"); }) ==
        "'forged.zml': feature scaler: column 1 has the range [nan, 1], not a finite interval");
}

TEST_CASE("saved models: an empty path and a FIFO are refused, and the FIFO stays a FIFO") {
  TempDir dir;
  const auto m = regression_file();
  CHECK(message_of([&] { io::save_model("", m); }) == "cannot save the model to '': the path is empty");
  // Renaming a temporary over a device or a FIFO would replace the node itself.
  const fs::path fifo = dir.path / "pipe.zml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(message_of([&] { io::save_model(fifo, m); }) ==
        "cannot save the model to '" + fifo.string() +
            "': it is not a regular file (a device, FIFO or socket); give a file name");
  CHECK(fs::is_fifo(fifo));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1); // no temporary left
}
