// zipml — the exact dot product of one model lane with one row (docs/ENGINE.md §3).
//
// Each beat carries one model line (V signed 32-bit words) and the V features A of the same
// slots; the row's last beat has in_last_i set. The products are exact, summed by a balanced
// adder tree (registered after its third level) and accumulated in 64 bits, so the sum D is
// exact and independent of the order. One result per row, valid/ready on both sides; the whole
// pipeline holds while a result waits (in_ready_o = !out_valid_o || out_ready_i).
// Latency from the last beat to the result: 3 cycles for V <= 8, 4 for V >= 16 (a second
// tree register after level 3).
module dot_product #(
  parameter int PRECISION = 32,
  parameter int V = (PRECISION == 32) ? 2 : 64 / PRECISION,
  parameter int AW = (PRECISION == 32) ? 18 : PRECISION + 1
) (
  input  logic              clk,
  input  logic              rst_n,
  // beats in
  input  logic              in_valid_i,
  output logic              in_ready_o,
  input  logic [32*V-1:0]   in_x_i,
  input  logic [V*AW-1:0]   in_a_i,
  input  logic              in_last_i,
  // sums out
  output logic              out_valid_o,
  input  logic              out_ready_i,
  output logic [63:0]       out_sum_o
);

  localparam int LOG2V = $clog2(V);
  localparam int L1 = (LOG2V < 3) ? LOG2V : 3; // tree levels before the middle register
  localparam int N1 = V >> L1;                 // partial sums after them
  localparam int PW = 32 + AW;                 // exact product width
  localparam int TW = PW + LOG2V;              // exact tree width


  logic adv;
  logic v1_q, v2_q, v3_q, last1_q, last2_q, last3_q;
  logic signed [PW-1:0] prod_q [0:V-1];
  logic signed [TW-1:0] part_q [0:N1-1];
  logic signed [TW-1:0] sum_q;
  logic signed [TW-1:0] w1 [0:V-1];
  logic signed [TW-1:0] w2 [0:N1-1];
  logic signed [63:0]   acc_q, total;
  logic                 out_valid_q;
  logic [63:0]          out_sum_q;

  assign adv        = !out_valid_q || out_ready_i;
  assign in_ready_o = adv;

  // x * a exactly (exact_mul: shift-and-add for 1- and 2-bit samples, DSP48E1 otherwise).
  // The products and their registers are exactly PW bits, sign-extended only in the tree:
  // with wider product registers Yosys 0.23's synth_xilinx drops the DSP48E1s of the 4- and
  // 8-bit dot products altogether (depending on which other files it read).
  logic [PW-1:0] prod_d [0:V-1];
  for (genvar v = 0; v < V; v++) begin : g_mul
    exact_mul #(.XW(32), .AW(AW), .PW(PW)) u_mul (
      .x_i(in_x_i[32*v +: 32]), .a_i(in_a_i[AW*v +: AW]), .p_o(prod_d[v]));
  end

  // tree levels 1..L1 (in place: level l's node i is the sum of level l-1's nodes 2i, 2i+1)
  always_comb begin
    for (int i = 0; i < V; i++) w1[i] = {{(TW-PW){prod_q[i][PW-1]}}, prod_q[i]};
    for (int l = 1; l <= L1; l++) begin
      for (int i = 0; i < (V >> l); i++) w1[i] = w1[2*i] + w1[2*i+1];
    end
  end

  // the remaining levels
  always_comb begin
    for (int i = 0; i < N1; i++) w2[i] = part_q[i];
    for (int l = 1; l <= LOG2V - L1; l++) begin
      for (int i = 0; i < (N1 >> l); i++) w2[i] = w2[2*i] + w2[2*i+1];
    end
  end

  // V <= 8: the tree is complete after the first tree register
  logic signed [TW-1:0] tree;
  logic                 tree_valid, tree_last;
  if (LOG2V > 3) begin : g_two_tree_stages
    assign tree       = sum_q;
    assign tree_valid = v3_q;
    assign tree_last  = last3_q;
  end else begin : g_one_tree_stage
    assign tree       = part_q[0];
    assign tree_valid = v2_q;
    assign tree_last  = last2_q;
    logic unused_stage;
    assign unused_stage = v3_q ^ last3_q ^ (^sum_q) ^ (^w2[0]);
  end

  assign total = acc_q + {{(64-TW){tree[TW-1]}}, tree};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      v1_q        <= 1'b0;
      v2_q        <= 1'b0;
      v3_q        <= 1'b0;
      acc_q       <= '0;
      out_valid_q <= 1'b0;
    end else begin
      if (out_valid_q && out_ready_i) out_valid_q <= 1'b0;
      if (adv) begin
        v1_q <= in_valid_i;
        v2_q <= v1_q;
        v3_q <= v2_q && LOG2V > 3;
        if (tree_valid) begin
          if (tree_last) begin
            acc_q       <= '0;
            out_valid_q <= 1'b1;
          end else begin
            acc_q <= total;
          end
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (adv) begin
      if (in_valid_i) begin
        for (int v = 0; v < V; v++) prod_q[v] <= $signed(prod_d[v]);
        last1_q <= in_last_i;
      end
      if (v1_q) begin
        for (int i = 0; i < N1; i++) part_q[i] <= w1[i];
        last2_q <= last1_q;
      end
      if (v2_q) begin
        sum_q   <= w2[0];
        last3_q <= last2_q;
      end
      if (tree_valid && tree_last) out_sum_q <= total;
    end
  end

  assign out_valid_o = out_valid_q;
  assign out_sum_o   = out_sum_q;

endmodule
