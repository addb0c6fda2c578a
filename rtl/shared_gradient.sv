// zipml — one gradient unit shared by the engine's model lanes, in turn.
//
// The lanes run in lock step, so each finishes one row's dot sum in the same cycle, and the
// next is hundreds of cycles away at d = 785 (a row is ceil(d / V) beats): a gradient unit per
// lane (about 1,200 LUTs and 6 DSP48E1s, docs/RTL.md) would sit idle almost all the time. This
// one takes lane 0's (sum, label), then lane 1's, ... lane LANES-1's, then lane 0's next, one
// per cycle, and hands each G back to the lane it came from. Both sides go strictly in turn:
// every lane produces exactly one sum per row, in row order, and the unit keeps the order, so
// a counter on each side says whose sum goes in and whose G comes out, and no lane index has
// to travel through the pipeline. A lane whose turn it is but whose sum is not there yet makes
// the others wait; with lanes in lock step that costs nothing.
module shared_gradient #(
  parameter int LANES = 1
) (
  input  logic                clk,
  input  logic                rst_n,
  // configuration (stable while samples are in flight)
  input  logic [4:0]          frac_i,
  input  logic [1:0]          loss_i,
  input  logic [31:0]         step_i,
  input  logic [31:0]         step_pos_i,
  input  logic [31:0]         step_neg_i,
  input  logic [6:0]          halvings_i,
  // each lane's oldest (sum, label); take_o[k]: lane k's pair enters the unit this cycle
  input  logic [LANES-1:0]    valid_i,
  input  logic [64*LANES-1:0] sum_i,
  input  logic [32*LANES-1:0] label_i,
  output logic [LANES-1:0]    take_o,
  // a gradient for lane k (g_valid_o[k]); the lanes' queues have room by construction
  output logic [LANES-1:0]    g_valid_o,
  output logic [24:0]         g_o
);

  localparam int LANE_W = (LANES > 1) ? $clog2(LANES) : 1;
  localparam logic [LANE_W-1:0] LAST = LANE_W'(LANES - 1);

  logic [LANE_W-1:0] in_turn_q, out_turn_q;
  logic              in_valid, in_ready, out_valid;
  logic [63:0]       in_sum;
  logic [31:0]       in_label;

  assign in_valid = valid_i[in_turn_q];
  assign in_sum   = sum_i[64*in_turn_q +: 64];
  assign in_label = label_i[32*in_turn_q +: 32];

  always_comb begin
    take_o    = '0;
    g_valid_o = '0;
    take_o[in_turn_q]     = in_valid && in_ready;
    g_valid_o[out_turn_q] = out_valid;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      in_turn_q  <= '0;
      out_turn_q <= '0;
    end else begin
      if (in_valid && in_ready) in_turn_q <= (in_turn_q == LAST) ? '0 : in_turn_q + 1'b1;
      if (out_valid) out_turn_q <= (out_turn_q == LAST) ? '0 : out_turn_q + 1'b1;
    end
  end

  gradient_unit u_gradient (
    .clk         (clk),
    .rst_n       (rst_n),
    .frac_i      (frac_i),
    .loss_i      (loss_i),
    .step_i      (step_i),
    .step_pos_i  (step_pos_i),
    .step_neg_i  (step_neg_i),
    .halvings_i  (halvings_i),
    .in_valid_i  (in_valid),
    .in_ready_o  (in_ready),
    .in_sum_i    (in_sum),
    .in_label_i  (in_label),
    .out_valid_o (out_valid),
    .out_ready_i (1'b1),
    .out_g_o     (g_o)
  );

endmodule
