// zipml — driving a Verilated engine's two AXI4-Stream ports, as the board's DMA does.
//
// The sink (s_axis_*, 64-bit) is fed from a list of words; the source (m_axis_*, 32-bit) is
// collected into beats. Optional random idle cycles on the input (tvalid low; once a word is
// offered it stays offered until taken, as AXI4-Stream requires) and random back-pressure on
// the output (tready low) exercise the engine's handshakes.
#ifndef ZIPML_BACKEND_VERILATOR_AXIS_HPP
#define ZIPML_BACKEND_VERILATOR_AXIS_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "zipml/backend/verilator/harness.hpp"
#include "zipml/random.hpp"

namespace zipml::verilator {

//! Random stalls on the two streams (probabilities per cycle, 0 = none).
struct StreamStalls {
  double input_gap = 0.0;      //!< tvalid low although a word is waiting
  double output_stall = 0.0;   //!< tready low
  std::uint64_t seed = 1;
};

//! One 32-bit output beat.
struct OutBeat {
  std::uint32_t data = 0;
  bool last = false;
  friend bool operator==(const OutBeat&, const OutBeat&) = default;
};

//! What one exchange produced.
struct Exchange {
  std::vector<OutBeat> beats;  //!< every output beat, in order
  std::size_t sent = 0;        //!< input words the engine took
  std::size_t packets = 0;     //!< beats with tlast among `beats`
  std::uint64_t cycles = 0;    //!< clock cycles the exchange took
  bool timed_out = false;      //!< the cycle budget ran out first
};

//! Feeds words to and collects beats from a Verilated engine (ports of sgd_engine).
template <class Model>
class AxisDriver {
 public:
  AxisDriver(Harness<Model>& harness, StreamStalls stalls)
      : h_(harness), stalls_(stalls), rng_(stalls.seed, 0xa715) {}

  //! Sends `words` (tlast on the last one) and collects output until `packets` tlast-terminated
  //! packets have arrived after all words were taken, or `max_cycles` have passed.
  //! `packets` = 0: stop as soon as every word is taken (and `idle_after` more cycles ran).
  Exchange exchange(std::span<const std::uint64_t> words, std::size_t packets, std::uint64_t max_cycles,
                    std::uint64_t idle_after = 0) {
    Exchange ex;
    auto& io = h_.io();
    const std::uint64_t start = h_.cycles();
    bool offering = false;
    std::uint64_t idle = 0;
    while (true) {
      const bool all_sent = ex.sent == words.size();
      if (all_sent && ex.packets >= packets && (packets > 0 || idle >= idle_after)) break;
      if (h_.cycles() - start >= max_cycles) {
        ex.timed_out = true;
        break;
      }
      if (all_sent) ++idle;
      // inputs for this cycle
      if (!offering && !all_sent) offering = !chance(stalls_.input_gap);
      io.s_axis_tvalid = offering ? 1 : 0;
      io.s_axis_tdata = offering ? words[ex.sent] : 0;
      io.s_axis_tlast = (offering && ex.sent + 1 == words.size()) ? 1 : 0;
      const bool ready = !chance(stalls_.output_stall);
      io.m_axis_tready = ready ? 1 : 0;
      h_.settle();
      // transfers happen at the coming edge
      const bool in_fire = offering && io.s_axis_tready;
      if (ready && io.m_axis_tvalid) {
        ex.beats.push_back({static_cast<std::uint32_t>(io.m_axis_tdata), io.m_axis_tlast != 0});
        if (io.m_axis_tlast) ++ex.packets;
      }
      h_.tick();
      if (in_fire) {
        ++ex.sent;
        offering = false;
      }
    }
    io.s_axis_tvalid = 0;
    io.s_axis_tlast = 0;
    io.m_axis_tready = 0;
    h_.settle();
    ex.cycles = h_.cycles() - start;
    return ex;
  }

 private:
  bool chance(double p) { return p > 0.0 && static_cast<double>(rng_.uniform()) < p; }

  Harness<Model>& h_;
  StreamStalls stalls_;
  SplitMix64 rng_;
};

} // namespace zipml::verilator

#endif
