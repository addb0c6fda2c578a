// zipml — the sample unpacker: one 64-bit feature word to a stored line and the integers A.
//
// Q-bit: the V = 64/Q fields past the last valid value are zeroed (padding is ignored,
// docs/ENGINE.md §2) and the word is kept as it is; float32: both halves are converted to
// sat_18(floor(a * 2^16 + 1/2)) (a padding half gives 0). out_line_o is what the engine stores
// for the update copy, out_a_o the decoded values (feature_decode) for the dot product.
// One pipeline register, valid/ready on both sides (ready does not depend on valid).
module feature_unpack #(
  parameter int PRECISION = 32,
  parameter int V = (PRECISION == 32) ? 2 : 64 / PRECISION,
  parameter int AW = (PRECISION == 32) ? 18 : PRECISION + 1,
  parameter int STORE_W = (PRECISION == 32) ? 36 : 64
) (
  input  logic               clk,
  input  logic               rst_n,
  input  logic               minus_one_one_i, // [-1, 1] mode (Q-bit only)
  // words in
  input  logic               in_valid_i,
  output logic               in_ready_o,
  input  logic [63:0]        in_word_i,
  input  logic [6:0]         in_lanes_i,      // values in use in this word, 1..V
  // lines out
  output logic               out_valid_o,
  input  logic               out_ready_i,
  output logic [STORE_W-1:0] out_line_o,
  output logic [V*AW-1:0]    out_a_o
);

  logic               valid_q;
  logic [STORE_W-1:0] line_q, line_d;

  if (PRECISION == 32) begin : g_float
    logic [17:0] lo, hi;
    float_to_fixed #(.FRAC(16), .WIDTH(18)) u_lo (.f_i(in_word_i[31:0]), .x_o(lo));
    float_to_fixed #(.FRAC(16), .WIDTH(18)) u_hi (.f_i(in_word_i[63:32]), .x_o(hi));
    // value 1 is padding when only one value is in use
    assign line_d = {(in_lanes_i >= 7'd2) ? hi : 18'd0, lo};
  end else begin : g_quantized
    always_comb begin
      for (int v = 0; v < V; v++) begin
        line_d[v*PRECISION +: PRECISION] =
            (7'(v) < in_lanes_i) ? in_word_i[v*PRECISION +: PRECISION] : '0;
      end
    end
  end

  assign in_ready_o = !valid_q || out_ready_i;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      valid_q <= 1'b0;
    end else if (in_ready_o) begin
      valid_q <= in_valid_i;
    end
  end

  always_ff @(posedge clk) begin
    if (in_ready_o && in_valid_i) line_q <= line_d;
  end

  assign out_valid_o = valid_q;
  assign out_line_o  = line_q;

  feature_decode #(.PRECISION(PRECISION)) u_decode (
    .line_i          (line_q),
    .minus_one_one_i (minus_one_one_i),
    .a_o             (out_a_o)
  );

endmodule
