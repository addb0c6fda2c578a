// zipml — the model updater: applies one sample's update to one model line (docs/ENGINE.md §6).
//
// For each of the V words of the line, when in_apply_i is set:
//   x <- sat_32(x - (x >> lambda) - round_shift(G * A, F))      (x >> lambda = 0 for lambda >= 32)
// and x unchanged otherwise (no pending update: not even the decay). Two pipeline registers
// (the first one right after the multipliers), no back-pressure: the engine's model pipeline
// never stalls once a beat is in it.
module model_updater #(
  parameter int PRECISION = 32,
  parameter int V = (PRECISION == 32) ? 2 : 64 / PRECISION,
  parameter int AW = (PRECISION == 32) ? 18 : PRECISION + 1
) (
  input  logic              clk,
  input  logic              rst_n,
  input  logic [31:0]       lambda_i,  // regularization shift; >= 32: off
  input  logic [4:0]        frac_i,    // F
  input  logic              in_valid_i,
  input  logic              in_apply_i,
  input  logic [32*V-1:0]   in_x_i,
  input  logic [V*AW-1:0]   in_a_i,    // the update copy's features of the line
  input  logic [24:0]       in_g_i,    // the sample's gradient scale G
  output logic              out_valid_o,
  output logic [32*V-1:0]   out_x_o
);

  localparam int PW = 25 + AW;                     // exact G * A
  localparam int SW = ((PW + 1 > 33) ? PW + 1 : 33) + 2; // x - decay - step, exact


  logic                  v1_q, v2_q;
  logic signed [PW-1:0]  prod1_q [0:V-1];
  logic signed [31:0]    decay1_q [0:V-1];
  logic signed [31:0]    x1_q [0:V-1];
  logic [32*V-1:0]       x2_q;
  logic signed [SW-1:0]  step, diff;
  logic [32*V-1:0]       x_d;
  logic                  decay_on;

  assign decay_on = lambda_i < 32'd32;

  // G * A exactly (exact_mul: shift-and-add for 1- and 2-bit samples, DSP48E1 otherwise)
  logic [PW-1:0] prod_d [0:V-1];
  for (genvar v = 0; v < V; v++) begin : g_mul
    exact_mul #(.XW(25), .AW(AW), .PW(PW)) u_mul (.x_i(in_g_i), .a_i(in_a_i[AW*v +: AW]), .p_o(prod_d[v]));
  end

  always_comb begin
    x_d  = '0;
    step = '0;
    diff = '0;
    for (int v = 0; v < V; v++) begin
      step = {{(SW-PW){prod1_q[v][PW-1]}}, prod1_q[v]};
      if (frac_i != 5'd0) step = (step + ($signed(SW'(1)) <<< (frac_i - 5'd1))) >>> frac_i;
      diff = {{(SW-32){x1_q[v][31]}}, x1_q[v]} - {{(SW-32){decay1_q[v][31]}}, decay1_q[v]} - step;
      // saturate: the bits above 31 must all equal the sign
      if (diff[SW-1:31] == '0 || diff[SW-1:31] == '1) x_d[32*v +: 32] = diff[31:0];
      else x_d[32*v +: 32] = diff[SW-1] ? 32'h8000_0000 : 32'h7fff_ffff;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      v1_q <= 1'b0;
      v2_q <= 1'b0;
    end else begin
      v1_q <= in_valid_i;
      v2_q <= v1_q;
    end
  end

  always_ff @(posedge clk) begin
    if (in_valid_i) begin
      for (int v = 0; v < V; v++) begin
        x1_q[v]     <= in_x_i[32*v +: 32];
        prod1_q[v]  <= in_apply_i ? $signed(prod_d[v]) : '0;
        decay1_q[v] <= (in_apply_i && decay_on) ? $signed(in_x_i[32*v +: 32]) >>> lambda_i[4:0] : 32'sd0;
      end
    end
    if (v1_q) x2_q <= x_d;
  end

  assign out_valid_o = v2_q;
  assign out_x_o     = x2_q;

endmodule
