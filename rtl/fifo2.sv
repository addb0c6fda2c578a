// zipml — a two-entry FIFO with valid/ready on both sides, optionally fall-through.
//
// The lanes queue a few small words (a row's dot sum, its label, the G that comes back) for a
// couple of rows; two entries are enough by the engine's schedule (docs/RTL.md), and the lane
// asserts that nothing arrives at a full queue rather than stalling its producers. A handshake
// happens when valid and ready are both high; either side may wait for the other.
//
// FALL_THROUGH = 1: an entry arriving at an empty queue is visible at the output in the same
// cycle and, if taken then, never enters (one lane keeps the latency it had without a queue).
// FALL_THROUGH = 0: an entry is visible from the cycle after it arrives.
module fifo2 #(
  parameter int WIDTH = 32,
  parameter bit FALL_THROUGH = 1'b1
) (
  input  logic             clk,
  input  logic             rst_n,
  input  logic             in_valid_i,
  output logic             in_ready_o,
  input  logic [WIDTH-1:0] in_data_i,
  output logic             out_valid_o,
  input  logic             out_ready_i,
  output logic [WIDTH-1:0] out_data_o
);

  logic [WIDTH-1:0] entry_q [0:1];
  logic [1:0]       count_q;
  logic             empty, pass, push, pop;

  assign empty = count_q == 2'd0;
  // an arriving entry that is taken at once (fall-through only)
  assign pass  = FALL_THROUGH && empty && in_valid_i && out_ready_i;
  assign push  = in_valid_i && in_ready_o && !pass;
  assign pop   = out_ready_i && !empty;

  assign in_ready_o  = count_q != 2'd2 || pop;
  assign out_valid_o = !empty || (FALL_THROUGH && in_valid_i);
  assign out_data_o  = (FALL_THROUGH && empty) ? in_data_i : entry_q[0];

  always_ff @(posedge clk) begin
    if (!rst_n) count_q <= '0;
    else        count_q <= count_q + 2'(push) - 2'(pop);
  end

  always_ff @(posedge clk) begin
    if (pop) entry_q[0] <= entry_q[1];
    // the free entry after this cycle's pop: 0 if the queue is (then) empty, else 1
    if (push) begin
      if (count_q - 2'(pop) == 2'd0) entry_q[0] <= in_data_i;
      else                           entry_q[1] <= in_data_i;
    end
  end

endmodule
