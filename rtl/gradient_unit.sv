// zipml — the gradient unit: exact dot sum and label in, the per-sample scale G out.
//
// docs/ENGINE.md §3-§5, once per sample and model lane:
//   dot = sat_32(round_shift(D, F))                          Q9.23
//   s   = the loss's slope (least squares, L2-SVM margin, or the 16-chord PWL sigmoid)
//   G   = sat_25(round_shift(s * M, E + h)), 0 when E + h > 62 or the step factor is 0
// where M and E come from the float32 step factor the loss and the label's sign select, and h
// is the step decay's halvings. Five pipeline registers, valid/ready on both sides; the
// pipeline holds while a result waits.
module gradient_unit (
  input  logic        clk,
  input  logic        rst_n,
  // configuration (stable while samples are in flight)
  input  logic [4:0]  frac_i,      // F: fraction bits of the features (0..16)
  input  logic [1:0]  loss_i,      // zipml_pkg::LOSS_*
  input  logic [31:0] step_i,      // float32 step (least squares)
  input  logic [31:0] step_pos_i,  // float32 step x C+ (classifiers, B > 0)
  input  logic [31:0] step_neg_i,  // float32 step x C- (classifiers, B <= 0)
  input  logic [6:0]  halvings_i,  // h
  // samples in
  input  logic        in_valid_i,
  output logic        in_ready_o,
  input  logic [63:0] in_sum_i,    // D
  input  logic [31:0] in_label_i,  // B, Q9.23
  // gradients out
  output logic        out_valid_o,
  input  logic        out_ready_i,
  output logic [24:0] out_g_o
);

  localparam logic signed [33:0] ONE = 34'sd8388608; // 2^23

  // round(1 / (1 + e^(-k/2)) * 2^23), k = 0..16 (engine::kSigmoidKnots)
  function automatic logic [23:0] knot(input logic [4:0] k);
    case (k)
      5'd0:    knot = 24'd4194304;
      5'd1:    knot = 24'd5221567;
      5'd2:    knot = 24'd6132564;
      5'd3:    knot = 24'd6858312;
      5'd4:    knot = 24'd7388661;
      5'd5:    knot = 24'd7752263;
      5'd6:    knot = 24'd7990771;
      5'd7:    knot = 24'd8142719;
      5'd8:    knot = 24'd8237729;
      5'd9:    knot = 24'd8296443;
      5'd10:   knot = 24'd8332464;
      5'd11:   knot = 24'd8354465;
      5'd12:   knot = 24'd8367866;
      5'd13:   knot = 24'd8376015;
      5'd14:   knot = 24'd8380966;
      5'd15:   knot = 24'd8383971;
      default: knot = 24'd8385795;
    endcase
  endfunction

  function automatic logic signed [33:0] sext34(input logic [31:0] x);
    sext34 = {{2{x[31]}}, x};
  endfunction

  // the decoder refuses negative step factors
  logic unused_signs;
  assign unused_signs = step_i[31] ^ step_pos_i[31] ^ step_neg_i[31];

  logic adv;
  logic v1_q, v2_q, v3_q, v4_q, v5_q;

  // ---- stage 1: dot product in Q9.23, the step factor ----
  logic signed [64:0] rounded;
  logic signed [31:0] dot_d;
  logic [30:0]        gamma;   // the sign is refused by the decoder
  logic signed [9:0]  shift_d;
  logic signed [31:0] dot1_q, label1_q;
  logic [23:0]        mant1_q;
  logic [5:0]         shift1_q;
  logic               zero1_q;

  always_comb begin
    rounded = $signed({in_sum_i[63], in_sum_i});
    if (frac_i != 5'd0) rounded = (rounded + (65'sd1 <<< (frac_i - 5'd1))) >>> frac_i;
    if (rounded > 65'sh0_7fff_ffff) dot_d = 32'sh7fff_ffff;
    else if (rounded < -65'sh0_8000_0000) dot_d = -32'sh8000_0000;
    else dot_d = rounded[31:0];
    if (loss_i == zipml_pkg::LOSS_LEAST_SQUARES) gamma = step_i[30:0];
    else gamma = $signed(in_label_i) > 32'sd0 ? step_pos_i[30:0] : step_neg_i[30:0];
    // E + h, E = 150 - biased exponent
    shift_d = 10'sd150 - $signed({2'b00, gamma[30:23]}) + $signed({3'b000, halvings_i});
  end

  // ---- stage 2: sigmoid operands ----
  logic signed [31:0] dot2_q, label2_q;
  logic [23:0]        mant2_q;
  logic [5:0]         shift2_q;
  logic               zero2_q;
  logic               neg2_q, big2_q;
  logic [23:0]        y2_q;
  logic [20:0]        dy2_q;
  logic [21:0]        r2_q;
  logic [31:0]        mag;

  assign mag = dot1_q[31] ? 32'd0 - dot1_q : dot1_q; // |dot| < 2^32 also for -2^31

  // ---- stage 3: the slope ----
  logic signed [33:0] slope_d, slope3_q;
  logic [23:0]        mant3_q;
  logic [5:0]         shift3_q;
  logic               zero3_q;
  logic [42:0]        chord;
  logic [23:0]        sigma;
  logic signed [33:0] sig;
  logic               in_margin;

  always_comb begin
    chord = 43'(dy2_q) * 43'(r2_q);
    sigma = big2_q ? knot(5'd16) : y2_q + 24'((chord + 43'd2097152) >> 22);
    sig   = neg2_q ? ONE - $signed({10'd0, sigma}) : $signed({10'd0, sigma});
    in_margin = (label2_q > 32'sd0) ? (dot2_q < 32'sd8388608) : (dot2_q > -32'sd8388608);
    case (loss_i)
      zipml_pkg::LOSS_LEAST_SQUARES: slope_d = sext34(dot2_q) - sext34(label2_q);
      zipml_pkg::LOSS_LOGISTIC:      slope_d = sig - ((label2_q > 32'sd0) ? ONE : 34'sd0);
      default:                       slope_d = in_margin ? sext34(dot2_q) - sext34(label2_q) : 34'sd0;
    endcase
  end

  // ---- stage 4: s * M ----
  logic signed [57:0] prod4_q;
  logic [5:0]         shift4_q;
  logic               zero4_q;

  // ---- stage 5: round, shift, saturate ----
  logic signed [63:0] scaled;
  logic signed [24:0] g_d, g5_q;

  always_comb begin
    scaled = {{6{prod4_q[57]}}, prod4_q};
    if (shift4_q != 6'd0) scaled = (scaled + (64'sd1 <<< (shift4_q - 6'd1))) >>> shift4_q;
    if (zero4_q) g_d = '0;
    else if (scaled > 64'sd16777215) g_d = 25'sh0ff_ffff;
    else if (scaled < -64'sd16777216) g_d = -25'sh100_0000;
    else g_d = scaled[24:0];
  end

  assign adv        = !v5_q || out_ready_i;
  assign in_ready_o = adv;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      v1_q <= 1'b0;
      v2_q <= 1'b0;
      v3_q <= 1'b0;
      v4_q <= 1'b0;
      v5_q <= 1'b0;
    end else if (adv) begin
      v1_q <= in_valid_i;
      v2_q <= v1_q;
      v3_q <= v2_q;
      v4_q <= v3_q;
      v5_q <= v4_q;
    end
  end

  always_ff @(posedge clk) begin
    if (adv) begin
      if (in_valid_i) begin
        dot1_q   <= dot_d;
        label1_q <= in_label_i;
        mant1_q  <= {gamma[30:23] != 8'd0, gamma[22:0]};
        // E + h > 62 gives 0; the engine refuses E < 16, so the shift is never negative
        zero1_q  <= gamma[30:23] == 8'd0 || shift_d > 10'sd62;
        shift1_q <= shift_d[9] ? 6'd0 : shift_d[5:0];
      end
      if (v1_q) begin
        dot2_q   <= dot1_q;
        label2_q <= label1_q;
        mant2_q  <= mant1_q;
        shift2_q <= shift1_q;
        zero2_q  <= zero1_q;
        neg2_q   <= dot1_q[31];
        big2_q   <= mag >= 32'h0400_0000; // |dot| >= 8.0
        y2_q     <= knot({1'b0, mag[25:22]});
        dy2_q    <= 21'(knot({1'b0, mag[25:22]} + 5'd1) - knot({1'b0, mag[25:22]}));
        r2_q     <= mag[21:0];
      end
      if (v2_q) begin
        slope3_q <= slope_d;
        mant3_q  <= mant2_q;
        shift3_q <= shift2_q;
        zero3_q  <= zero2_q;
      end
      if (v3_q) begin
        prod4_q  <= slope3_q * $signed({1'b0, mant3_q});
        shift4_q <= shift3_q;
        zero4_q  <= zero3_q;
      end
      if (v4_q) g5_q <= g_d;
    end
  end

  assign out_valid_o = v5_q;
  assign out_g_o     = g5_q;

endmodule
