// zipml — the simulated board's engine: the Verilated RTL engine (rtl/sgd_engine) behind the
// simulated AXI DMA's streams, clocked by the simulated board. Uses the Verilator backend's
// harness (clock, reset port, trace); the board drives the ports beat by beat. Every precision
// is Verilated with one lane and with verilator::kLanes lanes (rtl/meson.build); which one the
// simulated board holds stands for the bitstream loaded (docs/BOARD.md "Model lanes").
#ifndef ZIPML_BACKEND_PYNQ_SIM_VERILATED_HPP
#define ZIPML_BACKEND_PYNQ_SIM_VERILATED_HPP

#include <memory>
#include <string>

#include "zipml/backend/pynq/sim/board.hpp"
#include "zipml/backend/verilator/harness.hpp"
#include "zipml/error.hpp"

#include "zipml/backend/verilator.hpp"

#include "Vsgd_engine_f32.h"
#include "Vsgd_engine_f32_lanes.h"
#include "Vsgd_engine_q1.h"
#include "Vsgd_engine_q1_lanes.h"
#include "Vsgd_engine_q2.h"
#include "Vsgd_engine_q2_lanes.h"
#include "Vsgd_engine_q4.h"
#include "Vsgd_engine_q4_lanes.h"
#include "Vsgd_engine_q8.h"
#include "Vsgd_engine_q8_lanes.h"

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

template <class Model, unsigned Bits>
std::unique_ptr<StreamEngine> engine(const std::string& trace) {
  return std::make_unique<VerilatedEngine<Model, Bits>>(trace);
}

//! The Verilated engine for `bits`-bit samples (32 = float32) with `lanes` model lanes: 1 (the
//! original's engines) or verilator::kLanes (the multi-lane engines, the default).
[[nodiscard]] inline std::unique_ptr<StreamEngine> make_verilated_engine(unsigned bits,
                                                                        std::size_t lanes = verilator::kLanes,
                                                                        const std::string& trace = {}) {
  if (lanes != 1 && lanes != verilator::kLanes)
    throw Error("simulated board: its engines have 1 or " + std::to_string(verilator::kLanes) + " lanes, not " +
                std::to_string(lanes) + " (sim::ReferenceEngine takes any number)");
  const bool multi = lanes > 1;
  switch (bits) {
    case 32: return multi ? engine<Vsgd_engine_f32_lanes, 32>(trace) : engine<Vsgd_engine_f32, 32>(trace);
    case 1: return multi ? engine<Vsgd_engine_q1_lanes, 1>(trace) : engine<Vsgd_engine_q1, 1>(trace);
    case 2: return multi ? engine<Vsgd_engine_q2_lanes, 2>(trace) : engine<Vsgd_engine_q2, 2>(trace);
    case 4: return multi ? engine<Vsgd_engine_q4_lanes, 4>(trace) : engine<Vsgd_engine_q4, 4>(trace);
    case 8: return multi ? engine<Vsgd_engine_q8_lanes, 8>(trace) : engine<Vsgd_engine_q8, 8>(trace);
    default: throw Error("simulated board: no engine for " + std::to_string(bits) + "-bit samples");
  }
}

} // namespace zipml::pynq::sim

#endif
