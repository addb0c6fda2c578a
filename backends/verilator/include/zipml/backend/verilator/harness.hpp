// zipml — a Verilated model with its clock and reset, and nothing else.
//
// As Verilator's examples/make_tracing_c: one VerilatedContext per model (never a file-scope
// static), optional FST trace, `final()` on destruction. Ports are driven by the caller through
// io(); the harness only toggles `clk`, drives `rst_n` and counts cycles.
#ifndef ZIPML_BACKEND_VERILATOR_HARNESS_HPP
#define ZIPML_BACKEND_VERILATOR_HARNESS_HPP

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <verilated.h>
#include <verilated_fst_c.h>

#include "zipml/error.hpp"

namespace zipml::verilator {

//! Makes `context` the calling thread's Verilator context (Verilated::threadContextp), which
//! $error, $finish and a model's destructor report to. Defined in
//! backends/verilator/src/thread_context.cpp, part of the Verilator runtime library.
void bind_thread_context(VerilatedContext* context) noexcept;

//! Owns one Verilated model `Model` (with ports `clk` and `rst_n`): clock, reset, trace.
template <class Model>
class Harness {
 public:
  //! `trace_path` non-empty: write an FST waveform there (the model must be Verilated with
  //! --trace-fst, which rtl/meson.build does).
  explicit Harness(std::string trace_path = {}) : trace_path_(std::move(trace_path)) {
    context_ = std::make_unique<VerilatedContext>();
    context_->randReset(0); // registers without reset start at 0: runs are repeatable
    if (!trace_path_.empty()) context_->traceEverOn(true);
    model_ = std::make_unique<Model>(context_.get(), "TOP");
    if (!trace_path_.empty()) {
      if constexpr (requires(Model& m, VerilatedFstC* t) { m.trace(t, 99); }) {
        trace_ = std::make_unique<VerilatedFstC>();
        model_->trace(trace_.get(), 99);
        trace_->open(trace_path_.c_str());
      } else {
        throw Error("verilator harness: this model was Verilated without --trace-fst; no trace " + trace_path_);
      }
    }
    model_->clk = 0;
    model_->rst_n = 0;
    settle();
  }

  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  ~Harness() {
    // Verilator 5.006 unregisters a model's scopes from the *thread's* current context
    // (Verilated::threadContextp()); with several models in one thread that must be ours,
    // or the destructor waits forever on another (possibly freed) context's mutex.
    bind_thread_context(context_.get());
    model_->final();
    if (trace_) trace_->close();
    trace_.reset();
    model_.reset();
  }

  //! The model's ports.
  [[nodiscard]] Model& io() noexcept { return *model_; }

  //! Re-evaluates the logic after the caller changed inputs (clock low).
  void settle() {
    bind_thread_context(context_.get()); // $error & co. report to the thread's context
    model_->eval();
    if (trace_) trace_->dump(context_->time());
  }

  //! One clock cycle: rising edge (registers take their next values), then clock low again.
  //! Call settle() after changing inputs and before reading outputs that depend on them.
  void tick() {
    bind_thread_context(context_.get());
    context_->timeInc(1);
    model_->clk = 1;
    model_->eval();
    if (trace_) trace_->dump(context_->time());
    context_->timeInc(1);
    model_->clk = 0;
    ++cycles_;
  }

  //! Synchronous active-low reset held for `cycles` clock cycles (the board's GPIO: 0 then 1).
  void reset(unsigned cycles = 4) {
    model_->rst_n = 0;
    for (unsigned i = 0; i < cycles; ++i) {
      settle();
      tick();
    }
    model_->rst_n = 1;
    settle();
  }

  //! Clock cycles since construction.
  [[nodiscard]] std::uint64_t cycles() const noexcept { return cycles_; }

 private:
  std::string trace_path_;
  std::unique_ptr<VerilatedContext> context_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<VerilatedFstC> trace_;
  std::uint64_t cycles_ = 0;
};

} // namespace zipml::verilator

#endif
