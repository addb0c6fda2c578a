// zipml — a stored feature line to the engine's integers A (docs/ENGINE.md §2).
//
// The engine keeps a row's features in "line" form: Q-bit rows as the received word with the
// padding fields zeroed (64 bits), float32 rows already converted to two signed 18-bit values
// (36 bits). This module turns a line into V signed AW-bit values, value v in bits
// [v*AW +: AW]: Q-bit patterns read as unsigned ([0, 1] mode) or two's complement ([-1, 1]
// mode); float32 lines pass through. Combinational.
module feature_decode #(
  // 32 (float32) or 1, 2, 4, 8
  parameter int PRECISION = 32,
  // derived: values per word, bits per value, bits per stored line
  parameter int V = (PRECISION == 32) ? 2 : 64 / PRECISION,
  parameter int AW = (PRECISION == 32) ? 18 : PRECISION + 1,
  parameter int STORE_W = (PRECISION == 32) ? 36 : 64
) (
  input  logic [STORE_W-1:0] line_i,
  input  logic               minus_one_one_i,
  output logic [V*AW-1:0]    a_o
);

  if (PRECISION == 32) begin : g_float
    // already decoded by feature_unpack; minus_one_one_i only matters to Q-bit rows
    assign a_o = line_i;
    logic unused;
    assign unused = minus_one_one_i;
  end else begin : g_quantized
    always_comb begin
      for (int v = 0; v < V; v++) begin
        // 1-bit samples are [0, 1] only (the decoder refuses [-1, 1]): the sign is a constant 0,
        // which removes the subtractors of the dot product and the updater
        a_o[v*AW +: AW] = {(PRECISION > 1) & minus_one_one_i & line_i[v*PRECISION + PRECISION - 1],
                           line_i[v*PRECISION +: PRECISION]};
      end
    end
  end

endmodule
