// zipml Python module (_core): what the bindings (module.cpp) and the per-backend trainers
// (fit_backend.cpp, one translation unit per backend) share. No pybind11 in here: the
// trainers see plain C++ (NumPy buffers arrive as pointers and sizes), so they compile as the
// library's own code does and can run with the GIL released.
#ifndef ZIPML_PYTHON_CORE_HPP
#define ZIPML_PYTHON_CORE_HPP

#include <cstddef>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "zipml/io/model_file.hpp"
#include "zipml/io/stream_file.hpp"
#include "zipml/zipml.hpp"

namespace zipml::python {

//! A float32 C-contiguous NumPy matrix (n x f, no bias column) and its labels as a RowSource:
//! row i is the bias 1 and the array's row, copied into the caller's buffer. The packer reads
//! the array in place: no copy of the matrix is made.
class ArrayRows {
 public:
  ArrayRows(const float* x, std::size_t n, std::size_t f, const float* labels, std::string name)
      : x_(x), n_(n), f_(f), labels_(labels), name_(std::move(name)) {}
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  [[nodiscard]] std::size_t dim() const noexcept { return f_ + 1; }
  [[nodiscard]] std::string name() const { return name_; }
  [[nodiscard]] const float* row(std::size_t i, float* buf) const noexcept {
    buf[0] = 1.0f;
    std::memcpy(buf + 1, x_ + i * f_, f_ * sizeof(float));
    return buf;
  }
  [[nodiscard]] float label(std::size_t i) const noexcept { return labels_ != nullptr ? labels_[i] : 0.0f; }
  [[nodiscard]] const float* data() const noexcept { return x_; }

 private:
  const float* x_;
  std::size_t n_, f_;
  const float* labels_;
  std::string name_;
};
static_assert(data::RowSource<ArrayRows>);

//! A RowSource's rows with other labels: the ones trained on (scaled targets, or class
//! indices in place of a classifier's labels). Views both.
template <data::RowSource Rows>
class WithLabels {
 public:
  WithLabels(const Rows& rows, const std::vector<float>& labels) noexcept : rows_(&rows), labels_(&labels) {}
  [[nodiscard]] std::size_t size() const noexcept { return rows_->size(); }
  [[nodiscard]] std::size_t dim() const noexcept { return rows_->dim(); }
  [[nodiscard]] std::string name() const { return rows_->name(); }
  [[nodiscard]] const float* row(std::size_t i, float* buf) const { return rows_->row(i, buf); }
  [[nodiscard]] float label(std::size_t i) const noexcept { return (*labels_)[i]; }

 private:
  const Rows* rows_;
  const std::vector<float>* labels_;
};

//! What an estimator asks for: its parameters, resolved to names the library knows (the
//! Python side checks the spellings and says what is allowed).
struct Spec {
  std::string model = "l2svm";        //!< l2svm | logistic | least-squares
  std::string precision = "float32";  //!< float32 | q8 | q4 | q2 | q1
  std::string rounding = "nearest";   //!< nearest | stochastic
  std::string backend = "cpu";        //!< cpu | verilator | pynq
  std::string board = "sim";          //!< pynq: sim (the simulated board) | hw (the board this runs on)
  std::string bitstream;              //!< pynq hw: a .bit, or a folder of zipml_<f32|qN>.bit
  std::string arithmetic = "auto";    //!< float | engine | auto (engine for the RTL backends)
  std::string scale = "auto";         //!< auto | rows | columns | none
  std::string range = "auto";         //!< auto | 0..1 | -1..1
  std::string scale_y = "none";       //!< none | 0..1 | -1..1 (regression targets)
  std::string order = "auto";         //!< auto | file | shuffle | shuffle-each-epoch
  float cost_pos = 1.0f, cost_neg = 1.5f;
  double step = 0.0;                  //!< <= 0: auto (tuning/step.hpp)
  std::size_t epochs = 0;             //!< 0: auto (tuning/stopping.hpp)
  double tol = -1.0;                  //!< < 0: auto (1e-3 with auto epochs, else 0)
  unsigned patience = 5;
  float l2 = 0.0f;
  std::size_t minibatch = 1;
  bool step_decay = false;
  bool double_sampling = false;
  bool requantize = false;
  unsigned threads = 0;
  std::uint64_t seed = 1;
  std::vector<float> classes;         //!< a classifier's classes, fixed (partial_fit); empty: from y
};

//! One epoch's figures, for the estimator's history and its verbose lines.
using EpochCallback = std::function<void(const EpochStats&)>;

//! The training rows, checked and with their scaling decided.
struct Prepared {
  std::optional<ArrayRows> rows;               //!< from an array (or none: a stream)
  const stream::PackedStream* stream = nullptr; //!< from a packed stream (view; not owned)
  const io::StreamFileInfo* stream_info = nullptr;
  std::optional<data::MinMaxScaler> scaler;      //!< applied to the rows as they are read
  data::Range range = data::Range::ZeroOne;
  std::optional<data::LabelScaler> label_scaler;
  std::vector<float> labels;                     //!< the labels trained on (scaled)
  std::string scaling;                           //!< what was decided, for the estimator's record

  [[nodiscard]] std::size_t size() const noexcept { return rows ? rows->size() : stream->rows; }
  [[nodiscard]] std::size_t dim() const noexcept { return rows ? rows->dim() : stream->layout.dim; }
};

//! A trained model and how it was trained: what an estimator keeps (and pickles: `file`).
struct Trained {
  io::ModelFile file;      //!< the model, its scalers and options (the saved-model format)
  ModelState state;        //!< the raw model words: a warm start (partial_fit) continues from them
  History history;
  double step = 0.0;       //!< the step it trained with
  bool step_auto = false;
  std::size_t stream_bytes = 0; //!< packed bytes per epoch
  double fit_seconds = 0.0;     //!< the C++ fit as a whole (checks, scaling, packing, epochs)
  std::string backend, scaling, ordering;
};

//! Trains `spec` on backend B from `data`; `previous` (partial_fit) gives the model to start
//! from, and its scaling, step and classes. Defined in fit_on.hpp, compiled once per backend.
template <class B>
Trained fit_on(const Spec& spec, const Prepared& data, const Trained* previous, const EpochCallback& on_epoch);

} // namespace zipml::python

#endif
