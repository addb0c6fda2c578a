// zipml — float32 to signed fixed point: sat_WIDTH(floor(f * 2^FRAC + 1/2)), exactly.
//
// docs/ENGINE.md §2 (features: FRAC 16, WIDTH 18) and §4 (labels: FRAC 23, WIDTH 32).
// The value m * 2^(e - 150) is scaled by 2^FRAC and rounded half up with an arithmetic
// shift of the signed significand, so negative values round as the C++ floor(x + 1/2) does.
// Infinities and NaNs saturate by their sign (the host never sends them).
// Combinational.
module float_to_fixed #(
  // fraction bits of the result
  parameter int FRAC = 16,
  // width of the (signed) result, 8..40
  parameter int WIDTH = 18
) (
  input  logic [31:0]      f_i,
  output logic [WIDTH-1:0] x_o
);

  localparam int SW = WIDTH + 28; // holds the 25-bit signed significand shifted left < WIDTH

  logic              sign;
  logic [7:0]        biased;
  logic [23:0]       significand;
  logic signed [9:0] shift;        // result = significand * 2^shift
  logic [9:0]        right;        // -shift when shift < 0
  logic signed [SW-1:0] value, scaled, half;
  logic signed [SW-1:0] max_pos, max_neg;

  always_comb begin
    sign        = f_i[31];
    biased      = f_i[30:23];
    significand = {biased != 8'd0, f_i[22:0]};
    // denormals have the exponent of biased 1
    shift       = $signed({2'b00, (biased == 8'd0) ? 8'd1 : biased}) - 10'sd150 + 10'(FRAC);
    right       = 10'd0 - shift;
    value       = sign ? -$signed(SW'(significand)) : $signed(SW'(significand));
    max_pos     = $signed(SW'((64'd1 << (WIDTH - 1)) - 64'd1));
    max_neg     = -$signed(SW'(64'd1 << (WIDTH - 1)));
    half        = '0;
    scaled      = '0;
    if (biased == 8'hff) begin
      scaled = sign ? max_neg : max_pos;
    end else if (significand == 24'd0) begin
      scaled = '0;
    end else if (!shift[9]) begin
      // exact; anything shifted WIDTH or more places overflows
      if (shift >= 10'(WIDTH)) scaled = sign ? max_neg : max_pos;
      else scaled = value <<< shift[5:0];
    end else if (right > 10'd26) begin
      // |value| < 2^24 <= 2^(right - 2): rounds to zero for both signs
      scaled = '0;
    end else begin
      half   = $signed(SW'(64'd1)) <<< (right[4:0] - 5'd1);
      scaled = (value + half) >>> right[4:0];
    end
    if (scaled > max_pos) x_o = max_pos[WIDTH-1:0];
    else if (scaled < max_neg) x_o = max_neg[WIDTH-1:0];
    else x_o = scaled[WIDTH-1:0];
  end

endmodule
