// zipml — the simulated board's engine: the Verilated RTL engine (rtl/sgd_engine) behind the
// simulated AXI DMA's streams, clocked by the simulated board. Uses the Verilator backend's
// harness (clock, reset port, trace); the board drives the ports beat by beat.
#ifndef ZIPML_BACKEND_PYNQ_SIM_VERILATED_HPP
#define ZIPML_BACKEND_PYNQ_SIM_VERILATED_HPP

#include <memory>
#include <string>

#include "zipml/backend/pynq/sim/board.hpp"
#include "zipml/backend/verilator/harness.hpp"
#include "zipml/error.hpp"

#include "Vsgd_engine_f32.h"
#include "Vsgd_engine_q1.h"
#include "Vsgd_engine_q2.h"
#include "Vsgd_engine_q4.h"
#include "Vsgd_engine_q8.h"

namespace zipml::pynq::sim {

template <class Model, unsigned Bits>
class VerilatedEngine final : public StreamEngine {
 public:
  explicit VerilatedEngine(const std::string& trace_path = {}) : h_(trace_path) {}
  Out cycle(const In& in) override {
    auto& io = h_.io();
    io.rst_n = in.rst_n ? 1 : 0;
    io.s_axis_tvalid = in.s_valid ? 1 : 0;
    io.s_axis_tdata = in.s_data;
    io.s_axis_tlast = in.s_last ? 1 : 0;
    io.m_axis_tready = in.m_ready ? 1 : 0;
    h_.settle();
    Out o;
    o.s_ready = io.s_axis_tready != 0;
    o.m_valid = io.m_axis_tvalid != 0;
    o.m_data = static_cast<std::uint32_t>(io.m_axis_tdata);
    o.m_last = io.m_axis_tlast != 0;
    h_.tick();
    return o;
  }
  [[nodiscard]] unsigned bits() const override { return Bits; }

 private:
  verilator::Harness<Model> h_;
};

//! The Verilated engine for `bits`-bit samples (32 = float32).
[[nodiscard]] inline std::unique_ptr<StreamEngine> make_verilated_engine(unsigned bits, const std::string& trace = {}) {
  switch (bits) {
    case 32: return std::make_unique<VerilatedEngine<Vsgd_engine_f32, 32>>(trace);
    case 1: return std::make_unique<VerilatedEngine<Vsgd_engine_q1, 1>>(trace);
    case 2: return std::make_unique<VerilatedEngine<Vsgd_engine_q2, 2>>(trace);
    case 4: return std::make_unique<VerilatedEngine<Vsgd_engine_q4, 4>>(trace);
    case 8: return std::make_unique<VerilatedEngine<Vsgd_engine_q8, 8>>(trace);
    default: throw Error("simulated board: no engine for " + std::to_string(bits) + "-bit samples");
  }
}

} // namespace zipml::pynq::sim

#endif
