// zipml — one model lane: its model memories, updater and dot product, and its queues to and
// from the gradient unit that the lanes share (shared_gradient).
//
// The engine drives every lane with the same beats (docs/RTL.md, "pipeline"):
//   c0  rd_i reads model line rd_line_i from both RAMs (the model and the mini-batch snapshot);
//       take_g_i (first beat of a row that applies an update) takes the oldest queued G;
//   c1  the line enters the updater with the update copy's features upd_a_i;
//   c3  the updated line is written back (wr_i, wr_snap_i) and, or the snapshot line
//       (use_snap_i), goes to the dot product with the row's features dot_a_i.
// Labels arrive as their float32 bits and their Q9.23 value; the lane binarizes against its
// own positive label. A row's exact dot sum and its label wait (two entries each) for the lane's
// turn at the shared gradient unit; the G that comes back is queued (two entries) until the
// row two rows later applies it.
module sgd_lane #(
  parameter int PRECISION = 32,
  // model lines (feature words per copy) the memories hold
  parameter int LINES = 2048,
  // bits of a line index, $clog2(LINES) (at least 1)
  parameter int LINE_W = 11,
  parameter int V = (PRECISION == 32) ? 2 : 64 / PRECISION,
  parameter int AW = (PRECISION == 32) ? 18 : PRECISION + 1
) (
  input  logic              clk,
  input  logic              rst_n,
  // configuration
  input  logic [31:0]       lambda_i,
  input  logic [4:0]        frac_i,
  input  logic              binarize_i,
  input  logic [31:0]       positive_i,     // float32 bits of this lane's positive label
  // c0
  input  logic              rd_i,
  input  logic [LINE_W-1:0] rd_line_i,
  input  logic              take_g_i,
  // c1
  input  logic              upd_valid_i,
  input  logic              upd_apply_i,
  input  logic [V*AW-1:0]   upd_a_i,
  output logic [32*V-1:0]   model_o,        // the model line read at c0
  // c3
  input  logic              wr_i,
  input  logic              wr_snap_i,
  input  logic [LINE_W-1:0] wr_line_i,
  input  logic              use_snap_i,
  input  logic              dot_valid_i,
  input  logic              dot_last_i,
  input  logic [V*AW-1:0]   dot_a_i,
  // zeroing the memories
  input  logic              clear_i,
  input  logic [LINE_W-1:0] clear_line_i,
  // labels
  input  logic              label_valid_i,
  input  logic [31:0]       label_bits_i,
  input  logic [31:0]       label_fixed_i,
  // to the shared gradient unit: the oldest (sum, label), taken when sum_take_i
  output logic              sum_valid_o,
  output logic [63:0]       sum_o,
  output logic [31:0]       sum_label_o,
  input  logic              sum_take_i,
  // from it: this lane's next G
  input  logic              g_valid_i,
  input  logic [24:0]       g_i,
  // a gradient is queued
  output logic              g_ready_o
);

  localparam logic [31:0] ONE = 32'h0080_0000;

  // ---- memories ----
  logic [32*V-1:0] main_rd, snap_rd, updated;
  logic            ram_we, snap_we;
  logic [LINE_W-1:0] ram_waddr;
  logic [32*V-1:0] ram_wdata;

  assign ram_we    = clear_i || wr_i;
  assign snap_we   = clear_i || wr_snap_i;
  assign ram_waddr = clear_i ? clear_line_i : wr_line_i;
  assign ram_wdata = clear_i ? '0 : updated;

  sdp_ram #(.WIDTH(32 * V), .DEPTH(LINES), .ADDR_W(LINE_W), .BLOCK(1)) u_model (
    .clk     (clk),
    .we_i    (ram_we),
    .waddr_i (ram_waddr),
    .wdata_i (ram_wdata),
    .re_i    (rd_i),
    .raddr_i (rd_line_i),
    .rdata_o (main_rd)
  );

  sdp_ram #(.WIDTH(32 * V), .DEPTH(LINES), .ADDR_W(LINE_W), .BLOCK(1)) u_snapshot (
    .clk     (clk),
    .we_i    (snap_we),
    .waddr_i (ram_waddr),
    .wdata_i (ram_wdata),
    .re_i    (rd_i),
    .raddr_i (rd_line_i),
    .rdata_o (snap_rd)
  );

  assign model_o = main_rd;

  // ---- gradient queue and the gradient of the row being applied ----
  // A G leaving the gradient unit in the cycle a row takes it falls through (g_ready_o).
  logic [24:0] g_head, g_cur_q;
  logic        g_in_ready;

  fifo2 #(.WIDTH(25), .FALL_THROUGH(1'b1)) u_g_queue (
    .clk         (clk),
    .rst_n       (rst_n),
    .in_valid_i  (g_valid_i),
    .in_ready_o  (g_in_ready),
    .in_data_i   (g_i),
    .out_valid_o (g_ready_o),
    .out_ready_i (take_g_i),
    .out_data_o  (g_head)
  );

  always_ff @(posedge clk) begin
    if (take_g_i) g_cur_q <= g_head;
  end

  // ---- updater: c1 -> c3 ----
  logic upd_out_valid;

  model_updater #(.PRECISION(PRECISION)) u_updater (
    .clk         (clk),
    .rst_n       (rst_n),
    .lambda_i    (lambda_i),
    .frac_i      (frac_i),
    .in_valid_i  (upd_valid_i),
    .in_apply_i  (upd_apply_i),
    .in_x_i      (main_rd),
    .in_a_i      (upd_a_i),
    .in_g_i      (g_cur_q),
    .out_valid_o (upd_out_valid),
    .out_x_o     (updated)
  );

  logic [32*V-1:0] snap2_q, snap3_q;
  always_ff @(posedge clk) begin
    snap2_q <= snap_rd;
    snap3_q <= snap2_q;
  end

  // ---- dot product: c3 -> sum ----
  logic        dot_in_ready, dot_out_valid, dot_out_ready;
  logic [63:0] dot_sum;

  dot_product #(.PRECISION(PRECISION)) u_dot (
    .clk         (clk),
    .rst_n       (rst_n),
    .in_valid_i  (dot_valid_i),
    .in_ready_o  (dot_in_ready),
    .in_x_i      (use_snap_i ? snap3_q : updated),
    .in_a_i      (dot_a_i),
    .in_last_i   (dot_last_i),
    .out_valid_o (dot_out_valid),
    .out_ready_i (dot_out_ready),
    .out_sum_o   (dot_sum)
  );

  // ---- sums and labels: two-entry queues until the lane's turn at the gradient unit ----
  // The dot product never waits for that turn. A sum taken in the cycle it leaves the dot
  // product falls through (one lane, or lane 0, keeps the latency of a gradient unit of its
  // own); at most two rows' labels wait for their sums.
  logic        sum_valid, sum_in_ready, label_valid, label_in_ready;
  logic [31:0] label_new;

  assign dot_out_ready = 1'b1;

  fifo2 #(.WIDTH(64), .FALL_THROUGH(1'b1)) u_sum_queue (
    .clk         (clk),
    .rst_n       (rst_n),
    .in_valid_i  (dot_out_valid),
    .in_ready_o  (sum_in_ready),
    .in_data_i   (dot_sum),
    .out_valid_o (sum_valid),
    .out_ready_i (sum_take_i),
    .out_data_o  (sum_o)
  );

  assign label_new = !binarize_i ? label_fixed_i :
                     (label_bits_i == positive_i) ? ONE : 32'd0 - ONE;

  fifo2 #(.WIDTH(32), .FALL_THROUGH(1'b0)) u_label_queue (
    .clk         (clk),
    .rst_n       (rst_n),
    .in_valid_i  (label_valid_i),
    .in_ready_o  (label_in_ready),
    .in_data_i   (label_new),
    .out_valid_o (label_valid),
    .out_ready_i (sum_take_i),
    .out_data_o  (sum_label_o)
  );

  assign sum_valid_o = sum_valid && label_valid;

`ifdef VERILATOR
  // the schedule's invariants (no producer here waits, no row takes what is not there); a
  // violation is an engine bug
  always_ff @(posedge clk) begin
    if (rst_n) begin
      if (dot_valid_i && !dot_in_ready) $error("sgd_lane: dot product beat dropped");
      if (g_valid_i && !g_in_ready) $error("sgd_lane: gradient queue overflow");
      if (take_g_i && !g_ready_o) $error("sgd_lane: gradient taken from an empty queue");
      if (dot_out_valid && !sum_in_ready) $error("sgd_lane: sum queue overflow");
      if (label_valid_i && !label_in_ready) $error("sgd_lane: label queue overflow");
      if (sum_take_i && !sum_valid_o) $error("sgd_lane: sum taken before both the sum and its label were there");
    end
  end
`endif

  logic unused_valid;
  assign unused_valid = upd_out_valid;

endmodule
