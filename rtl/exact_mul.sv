// zipml — an exact signed product x * a of a wide word and a narrow feature A.
//
// Combinational. Features of at most 3 bits (1- and 2-bit samples, A in Q + 1 bits) are
// multiplied by shift-and-add, which costs a few LUTs and no DSP48E1; wider ones by `*`,
// which Yosys maps to DSP48E1 slices (25 x 18). A 32-bit x with a feature of 4 to 9 bits
// (the 4- and 8-bit dot products) would take two DSP48E1s; it takes one for its low 24 bits
// and shift-and-add for the high ones, so that more model lanes fit the device's 220 DSPs.
// The result is exact: PW >= XW + AW.
// (A generate branch, not a function: Yosys 0.23 mis-elaborates a function whose branches
// depend on a parameter and drops the multiplier; tests/cosim/test_netlist catches that.)
module exact_mul #(
  parameter int XW = 32,           // width of x (signed)
  parameter int AW = 9,            // width of a (signed)
  parameter int PW = XW + AW       // width of the product, >= XW + AW
) (
  input  logic [XW-1:0] x_i,
  input  logic [AW-1:0] a_i,
  output logic [PW-1:0] p_o
);

  if (AW <= 3) begin : g_shift_add
    logic signed [PW-1:0] x_wide;
    assign x_wide = {{(PW-XW){x_i[XW-1]}}, x_i};
    always_comb begin
      p_o = '0;
      for (int b = 0; b < AW - 1; b++) begin
        if (a_i[b]) p_o = p_o + (x_wide <<< b);
      end
      if (a_i[AW-1]) p_o = p_o - (x_wide <<< (AW - 1)); // the sign bit weighs -2^(AW-1)
    end
  end else if (XW > 25 && AW <= 9) begin : g_split
    // x = xh * 2^24 + xl, xl unsigned: xl * a in one DSP48E1, xh * a (XW - 24 bits) in LUTs
    localparam int QW = XW - 24 + AW; // exact xh * a
    logic signed [PW-1:0] lo;
    logic signed [QW-1:0] xh, hi;
    assign lo = $signed({1'b0, x_i[23:0]}) * $signed(a_i);
    assign xh = {{AW{x_i[XW-1]}}, x_i[XW-1:24]};
    always_comb begin
      hi = '0;
      for (int b = 0; b < AW - 1; b++) begin
        if (a_i[b]) hi = hi + (xh <<< b);
      end
      if (a_i[AW-1]) hi = hi - (xh <<< (AW - 1));
    end
    assign p_o = lo + {{(PW-QW-24){hi[QW-1]}}, hi, 24'd0};
  end else begin : g_multiply
    assign p_o = PW'($signed(x_i) * $signed(a_i));
  end

endmodule
