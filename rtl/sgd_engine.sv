// zipml — the SGD engine: ZipML-PYNQ stream in, models out (docs/RTL.md, docs/ENGINE.md).
//
// 64-bit AXI4-Stream sink for the host's words, 32-bit AXI4-Stream source for the answers
// (the SEND_CONFIG echo, loopback echoes, the model after each THE_END, one-word error
// packets). Synchronous active-low reset rst_n (the board's GPIO writes 0 then 1); after
// reset the engine zeroes its memories, then waits for a configuration.
//
// Staleness 1 (docs/ENGINE.md §6): while row i streams, the beat that reads model line j for
// sample i's dot product first applies sample i-2's update to that line (read, update,
// forward, write back); sample i-1's gradient is being computed meanwhile. A row whose
// gradient two rows back is not ready yet waits at its first word. At THE_END the two pending
// updates are applied line by line ("drain") before the model is written back.
//
// Model lanes (LANES): every lane sees every data word. Without LANE_LABEL every lane
// binarizes (MAGIC1 bit 49) against the MAGIC3 label and all LANES models are written back,
// as with one lane; after LANE_LABEL words with K > 0, lane k < K binarizes against its own
// label instead (one-vs-rest) and the write-back sends lanes 0..K-1, one packet. ENGINE_INFO
// answers LANES, K, the precision and MAX_DIM.
module sgd_engine #(
  // sample precision this engine is built for: 32 (float32) or 1, 2, 4, 8 bits
  parameter int PRECISION = 32,
  // largest d (features including the bias), <= 32768
  parameter int MAX_DIM = 4096,
  // model lanes sharing every data word, 1..255 (LANE_LABEL gives each its positive label)
  parameter int LANES = 1
) (
  input  logic        clk,
  input  logic        rst_n,
  // AXI4-Stream sink: host words (tlast is not needed: passes are framed by the configuration)
  input  logic [63:0] s_axis_tdata,
  input  logic        s_axis_tvalid,
  output logic        s_axis_tready,
  input  logic        s_axis_tlast,
  // AXI4-Stream source: 32-bit answers
  output logic [31:0] m_axis_tdata,
  output logic        m_axis_tvalid,
  input  logic        m_axis_tready,
  output logic        m_axis_tlast
);

  localparam int V       = (PRECISION == 32) ? 2 : 64 / PRECISION;
  localparam int AW      = (PRECISION == 32) ? 18 : PRECISION + 1;
  localparam int STORE_W = (PRECISION == 32) ? 36 : 64;
  localparam int LINES   = (MAX_DIM + V - 1) / V;
  localparam int LINE_W  = (LINES > 1) ? $clog2(LINES) : 1;
  localparam int FB_DEPTH = 3 << LINE_W; // three rows: i (written), i-1, i-2 (read)
  localparam int LANE_W  = (LANES > 1) ? $clog2(LANES) : 1;

`ifndef SYNTHESIS
  initial begin
    if (!(PRECISION == 32 || PRECISION == 1 || PRECISION == 2 || PRECISION == 4 || PRECISION == 8))
      $error("sgd_engine: PRECISION must be 32, 1, 2, 4 or 8 (got %0d)", PRECISION);
    if (MAX_DIM < 1 || MAX_DIM > 32768)
      $error("sgd_engine: MAX_DIM must be 1..32768 (got %0d)", MAX_DIM);
    if (LANES < 1 || LANES > 255) $error("sgd_engine: LANES must be 1..255 (got %0d)", LANES);
  end
`endif

  logic unused_tlast;
  assign unused_tlast = s_axis_tlast;

  // ================= stream decoder =================
  logic              busy;
  logic              dec_valid, dec_ready, dec_copy, dec_first, dec_last;
  logic [3:0]        dec_kind;
  logic [63:0]       dec_data;
  logic [LINE_W-1:0] dec_line;
  zipml_pkg::cfg_t   cfg;
  logic              cfg_ok;
  logic [2:0]        echo_precision, own_precision;
  logic [LINE_W:0]   lines;
  logic [6:0]        last_lanes;
  logic [32*LANES-1:0] lane_labels;

  stream_decoder #(.PRECISION(PRECISION), .MAX_DIM(MAX_DIM), .LINE_W(LINE_W), .LANES(LANES)) u_decoder (
    .clk              (clk),
    .rst_n            (rst_n),
    .s_axis_tdata     (s_axis_tdata),
    .s_axis_tvalid    (s_axis_tvalid),
    .s_axis_tready    (s_axis_tready),
    .busy_i           (busy),
    .out_valid_o      (dec_valid),
    .out_ready_i      (dec_ready),
    .out_kind_o       (dec_kind),
    .out_data_o       (dec_data),
    .out_line_o       (dec_line),
    .out_copy_o       (dec_copy),
    .out_first_o      (dec_first),
    .out_last_o       (dec_last),
    .cfg_o            (cfg),
    .cfg_ok_o         (cfg_ok),
    .echo_precision_o (echo_precision),
    .own_precision_o  (own_precision),
    .lines_o          (lines),
    .last_lanes_o     (last_lanes),
    .lane_labels_o    (lane_labels)
  );

  // ---- the configuration as the datapath needs it ----
  logic       least_squares;
  logic [1:0] loss;
  logic [4:0] frac;
  logic [6:0] halvings;
  logic [7:0] interval;
  logic       unused_cfg;
  logic       lane_mode;        // LANE_LABEL gave K > 0: lane k binarizes against label k
  logic [LANE_W-1:0] last_lane; // the write-back's last lane

  assign least_squares = cfg.step_cost_neg == zipml_pkg::LEAST_SQUARES_MARKER &&
                         cfg.step_cost_pos == zipml_pkg::LEAST_SQUARES_MARKER;
  assign loss = least_squares ? zipml_pkg::LOSS_LEAST_SQUARES :
                cfg.logistic  ? zipml_pkg::LOSS_LOGISTIC : zipml_pkg::LOSS_L2SVM;
  if (PRECISION == 32) begin : g_frac_float
    assign frac = 5'd16;
  end else if (PRECISION == 1) begin : g_frac_q1
    assign frac = 5'd0;      // [-1, 1] is refused for 1-bit samples
  end else begin : g_frac_q
    assign frac = cfg.minus_one_one ? 5'(PRECISION - 2) : 5'(PRECISION - 1);
  end
  assign interval = (cfg.decay_interval == 8'd0) ? 8'd1 : cfg.decay_interval;
  assign unused_cfg = cfg_ok ^ (^cfg.precision); // the decoder checks both
  assign lane_mode  = cfg.lanes != 8'd0;
  // K <= LANES while the configuration is valid (the decoder refuses more)
  assign last_lane  = lane_mode ? LANE_W'(cfg.lanes - 8'd1) : LANE_W'(LANES - 1);

  // ================= control =================
  typedef enum logic [2:0] {
    C_CLEAR,  // zeroing the memories (after reset and MAGIC1)
    C_IDLE,   // taking beats from the decoder
    C_ECHO,   // sending the nine SEND_CONFIG words, or the three ENGINE_INFO words
    C_DRAIN,  // applying the pending updates after the last row
    C_OUT     // writing the model back
  } ctl_e;

  ctl_e              ctl_q;
  logic [LINE_W-1:0] clear_line_q;
  logic [3:0]        echo_index_q;
  logic              echo_info_q;   // C_ECHO sends the ENGINE_INFO words
  logic [1:0]        drain_row_q;   // virtual rows n and n+1 done so far
  logic              drain_busy_q;
  logic [LINE_W-1:0] drain_line_q;
  logic [LANE_W-1:0] out_lane_q;
  logic [LINE_W-1:0] out_line_q;
  logic              out_count_pass_q; // the write-back ends a pass (count it for the decay)
  logic [1:0]        quiet_q;       // cycles since the last model beat, saturating at 3
  logic [1:0]        rows_q;        // rows of this pass so far, saturating at 2
  logic [15:0]       row_lo_q;      // row index mod 2^16
  logic [1:0]        slot_q;        // feature buffer slot of the current row
  logic [7:0]        interval_count_q;
  logic [6:0]        halvings_q;

  logic g_ready_all, quiet_ok, word_ready, line_ready;

  assign quiet_ok = quiet_q == 2'd3;
  assign busy     = ctl_q != C_IDLE;
  assign halvings = cfg.step_decay ? halvings_q : 7'd0;

  // ---- beats from the decoder ----
  logic take, is_feature, is_label, row_gate;

  assign is_feature = dec_kind == zipml_pkg::BEAT_FEATURE;
  assign is_label   = dec_kind == zipml_pkg::BEAT_LABEL;
  // a row starts when the gradient it applies (two rows back) is queued and the previous row's
  // write-back of each line lands before this row reads it: line j is written 3 cycles after
  // its read, so the first read of a row must come at least 5 - lines cycles after the
  // previous row's last read (nothing to wait for with 4 lines or more)
  logic row_quiet_ok;
  assign row_quiet_ok = 32'(lines) + 32'(quiet_q) >= 32'd4;
  assign row_gate     = !dec_first || ((rows_q != 2'd2 || g_ready_all) && row_quiet_ok);

  always_comb begin
    dec_ready = 1'b0;
    if (ctl_q == C_IDLE) begin
      case (dec_kind)
        zipml_pkg::BEAT_FEATURE:     dec_ready = row_gate;
        zipml_pkg::BEAT_LABEL:       dec_ready = 1'b1;
        zipml_pkg::BEAT_LOOP,
        zipml_pkg::BEAT_ERR_CONFIG,
        zipml_pkg::BEAT_ERR_FRAMING: dec_ready = word_ready;
        default:                     dec_ready = quiet_ok; // END, READBACK, CLEAR, CONFIG
      endcase
    end
  end

  assign take = dec_valid && dec_ready;

  // ---- drain: the virtual rows n and n+1 apply the updates of samples n-2 and n-1 ----
  logic              drain_start, drain_skip, drain_issue, drain_row_end;
  logic [LINE_W-1:0] drain_line;

  assign drain_start   = ctl_q == C_DRAIN && !drain_busy_q && drain_row_q != 2'd2 &&
                         rows_q == 2'd2 && g_ready_all && quiet_ok;
  assign drain_skip    = ctl_q == C_DRAIN && !drain_busy_q && drain_row_q != 2'd2 && rows_q != 2'd2;
  assign drain_issue   = drain_start || drain_busy_q;
  assign drain_line    = drain_busy_q ? drain_line_q : '0;
  assign drain_row_end = drain_issue && (LINE_W + 1)'(drain_line) == lines - (LINE_W + 1)'(1);

  // ---- write-back: one model line at a time to the output writer ----
  logic s1_out_q, s1_out_last_q;
  logic [LANE_W-1:0] s1_lane_q;
  logic out_issue, out_last;

  // one line in flight at a time; the last one ends the write-back (out_done)
  assign out_issue = ctl_q == C_OUT && line_ready && !s1_out_q;
  assign out_last  = out_lane_q == last_lane &&
                     (LINE_W + 1)'(out_line_q) == lines - (LINE_W + 1)'(1);

  // ================= c0: the beat enters the pipeline =================
  logic              c0_model, c0_store, c0_dot, c0_apply, c0_use_snap, c0_take_g, c0_first;
  logic [LINE_W-1:0] c0_line;
  logic [15:0]       apply_index;
  logic [1:0]        read_slot;

  assign c0_model    = (take && is_feature && !dec_copy) || drain_issue;
  assign c0_first    = drain_issue ? drain_start : dec_first;
  assign c0_line     = drain_issue ? drain_line : dec_line;
  assign c0_store    = take && is_feature && (dec_copy == cfg.double_sampled);
  assign c0_dot      = take && is_feature && !dec_copy;
  assign c0_apply    = rows_q == 2'd2;
  assign apply_index = row_lo_q - 16'd2;
  // mini-batch: sample i reads the snapshot unless sample i-2 ends a batch (or no mask)
  assign c0_use_snap = !drain_issue && c0_apply &&
                       (apply_index & cfg.minibatch_mask) != cfg.minibatch_mask;
  assign c0_take_g   = c0_model && c0_first && c0_apply;
  assign read_slot   = (slot_q == 2'd2) ? 2'd0 : slot_q + 2'd1; // the slot of row i-2

  // ================= feature unpacker and buffer =================
  logic               unpack_in_ready, unpack_valid;
  logic [STORE_W-1:0] unpack_line;
  logic [V*AW-1:0]    unpack_a;

  feature_unpack #(.PRECISION(PRECISION)) u_unpack (
    .clk             (clk),
    .rst_n           (rst_n),
    .minus_one_one_i (cfg.minus_one_one),
    .in_valid_i      (take && is_feature),
    .in_ready_o      (unpack_in_ready),
    .in_word_i       (dec_data),
    .in_lanes_i      (dec_last ? last_lanes : 7'(V)),
    .out_valid_o     (unpack_valid),
    .out_ready_i     (1'b1),
    .out_line_o      (unpack_line),
    .out_a_o         (unpack_a)
  );

  logic s1_model_q, s1_store_q, s1_dot_q, s1_last_q, s1_apply_q, s1_use_snap_q;
  logic [LINE_W-1:0] s1_line_q;
  logic [1:0]        s1_slot_q;
  logic [STORE_W-1:0] fb_rdata;
  logic [V*AW-1:0]    upd_a;

  sdp_ram #(.WIDTH(STORE_W), .DEPTH(FB_DEPTH), .ADDR_W(LINE_W + 2)) u_features (
    .clk     (clk),
    .we_i    (s1_store_q),
    .waddr_i ({s1_slot_q, s1_line_q}),
    .wdata_i (unpack_line),
    .re_i    (c0_model),
    .raddr_i ({read_slot, c0_line}),
    .rdata_o (fb_rdata)
  );

  feature_decode #(.PRECISION(PRECISION)) u_update_decode (
    .line_i          (fb_rdata),
    .minus_one_one_i (cfg.minus_one_one),
    .a_o             (upd_a)
  );

  // ================= labels =================
  logic [31:0] label_fixed;
  logic        label_valid_q;
  logic [31:0] label_bits_q, label_fixed_q;

  float_to_fixed #(.FRAC(23), .WIDTH(32)) u_label (
    .f_i (dec_data[31:0]),
    .x_o (label_fixed)
  );

  // ================= pipeline side band c1..c3 =================
  logic s2_model_q, s2_dot_q, s2_last_q, s2_use_snap_q;
  logic s3_model_q, s3_dot_q, s3_last_q, s3_use_snap_q;
  logic [LINE_W-1:0] s2_line_q, s3_line_q;
  logic [V*AW-1:0]   a2_q, a3_q;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      s1_model_q    <= 1'b0;
      s1_store_q    <= 1'b0;
      s1_dot_q      <= 1'b0;
      s1_out_q      <= 1'b0;
      s2_model_q    <= 1'b0;
      s2_dot_q      <= 1'b0;
      s3_model_q    <= 1'b0;
      s3_dot_q      <= 1'b0;
      label_valid_q <= 1'b0;
    end else begin
      s1_model_q    <= c0_model;
      s1_store_q    <= c0_store;
      s1_dot_q      <= c0_dot;
      s1_out_q      <= out_issue;
      s2_model_q    <= s1_model_q;
      s2_dot_q      <= s1_dot_q;
      s3_model_q    <= s2_model_q;
      s3_dot_q      <= s2_dot_q;
      label_valid_q <= take && is_label;
    end
  end

  always_ff @(posedge clk) begin
    s1_last_q     <= dec_last;
    s1_apply_q    <= c0_apply;
    s1_use_snap_q <= c0_use_snap;
    s1_line_q     <= c0_line;
    s1_slot_q     <= slot_q;
    s1_lane_q     <= out_lane_q;
    s1_out_last_q <= out_last;
    s2_last_q     <= s1_last_q;
    s2_use_snap_q <= s1_use_snap_q;
    s2_line_q     <= s1_line_q;
    s3_last_q     <= s2_last_q;
    s3_use_snap_q <= s2_use_snap_q;
    s3_line_q     <= s2_line_q;
    a2_q          <= unpack_a;
    a3_q          <= a2_q;
    label_bits_q  <= dec_data[31:0];
    label_fixed_q <= label_fixed;
  end

  // ================= lanes =================
  logic [LANES-1:0] g_ready;
  logic [32*V-1:0]  lane_model [0:LANES-1];
  // between the lanes and their shared gradient unit
  logic [LANES-1:0]    sum_valid, sum_take, g_valid;
  logic [64*LANES-1:0] lane_sums;
  logic [32*LANES-1:0] sum_labels;
  logic [24:0]         g_shared;

  assign g_ready_all = &g_ready;

  shared_gradient #(.LANES(LANES)) u_gradient (
    .clk        (clk),
    .rst_n      (rst_n),
    .frac_i     (frac),
    .loss_i     (loss),
    .step_i     (cfg.step),
    .step_pos_i (cfg.step_cost_pos),
    .step_neg_i (cfg.step_cost_neg),
    .halvings_i (halvings),
    .valid_i    (sum_valid),
    .sum_i      (lane_sums),
    .label_i    (sum_labels),
    .take_o     (sum_take),
    .g_valid_o  (g_valid),
    .g_o        (g_shared)
  );

  for (genvar k = 0; k < LANES; k++) begin : g_lane
    sgd_lane #(.PRECISION(PRECISION), .LINES(LINES), .LINE_W(LINE_W)) u_lane (
      .clk           (clk),
      .rst_n         (rst_n),
      .lambda_i      (cfg.lambda_shift),
      .frac_i        (frac),
      .binarize_i    (cfg.binarize),
      .positive_i    (lane_mode ? lane_labels[32*k +: 32] : cfg.binarize_label),
      .rd_i          (c0_model || out_issue),
      .rd_line_i     (out_issue ? out_line_q : c0_line),
      .take_g_i      (c0_take_g),
      .upd_valid_i   (s1_model_q),
      .upd_apply_i   (s1_apply_q),
      .upd_a_i       (upd_a),
      .model_o       (lane_model[k]),
      .wr_i          (s3_model_q),
      .wr_snap_i     (s3_model_q && !s3_use_snap_q),
      .wr_line_i     (s3_line_q),
      .use_snap_i    (s3_use_snap_q),
      .dot_valid_i   (s3_dot_q),
      .dot_last_i    (s3_last_q),
      .dot_a_i       (a3_q),
      .clear_i       (ctl_q == C_CLEAR),
      .clear_line_i  (clear_line_q),
      .label_valid_i (label_valid_q),
      .label_bits_i  (label_bits_q),
      .label_fixed_i (label_fixed_q),
      .sum_valid_o   (sum_valid[k]),
      .sum_o         (lane_sums[64*k +: 64]),
      .sum_label_o   (sum_labels[32*k +: 32]),
      .sum_take_i    (sum_take[k]),
      .g_valid_i     (g_valid[k]),
      .g_i           (g_shared),
      .g_ready_o     (g_ready[k])
    );
  end

  // ================= output writer =================
  logic        word_valid, word_last;
  logic [31:0] word_data;
  logic [31:0] flags, info_build;
  logic        echo_last;

  assign echo_last = echo_index_q == (echo_info_q ? 4'd2 : 4'd8);

  assign flags = {cfg.decay_interval, echo_precision, cfg.minus_one_one, cfg.logistic,
                  cfg.double_sampled, cfg.binarize, cfg.step_decay, cfg.minibatch_mask};
  // ENGINE_INFO word 1: 7..0 LANES, 15..8 K in use, 18..16 the engine's own precision code
  assign info_build = {13'd0, own_precision, cfg.lanes, 8'(LANES)};

  always_comb begin
    word_valid = 1'b0;
    word_last  = 1'b1;
    word_data  = dec_data[31:0];
    if (ctl_q == C_ECHO && echo_info_q) begin
      word_valid = 1'b1;
      word_last  = echo_last;
      case (echo_index_q)
        4'd0:    word_data = zipml_pkg::INFO_SIGNATURE;
        4'd1:    word_data = info_build;
        default: word_data = 32'(MAX_DIM);
      endcase
    end else if (ctl_q == C_ECHO) begin
      word_valid = 1'b1;
      word_last  = echo_last;
      case (echo_index_q)
        4'd0:    word_data = cfg.lambda_shift;
        4'd1:    word_data = flags;
        4'd2:    word_data = cfg.step_cost_neg;
        4'd3:    word_data = cfg.step_cost_pos;
        4'd4:    word_data = cfg.binarize_label;
        4'd5:    word_data = cfg.dim;
        4'd6:    word_data = cfg.samples;
        4'd7:    word_data = cfg.epochs;
        default: word_data = cfg.step;
      endcase
    end else if (ctl_q == C_IDLE && dec_valid) begin
      case (dec_kind)
        zipml_pkg::BEAT_LOOP: word_valid = 1'b1;
        zipml_pkg::BEAT_ERR_CONFIG: begin
          word_valid = 1'b1;
          word_data  = zipml_pkg::ERROR_NOT_CONFIGURED;
        end
        zipml_pkg::BEAT_ERR_FRAMING: begin
          word_valid = 1'b1;
          word_data  = zipml_pkg::ERROR_FRAMING;
        end
        default: ;
      endcase
    end
  end

  output_writer #(.V(V)) u_writer (
    .clk           (clk),
    .rst_n         (rst_n),
    .word_valid_i  (word_valid),
    .word_ready_o  (word_ready),
    .word_data_i   (word_data),
    .word_last_i   (word_last),
    .line_valid_i  (s1_out_q),
    .line_ready_o  (line_ready),
    .line_data_i   (lane_model[s1_lane_q]),
    .line_last_i   (s1_out_last_q),
    .m_axis_tdata  (m_axis_tdata),
    .m_axis_tvalid (m_axis_tvalid),
    .m_axis_tready (m_axis_tready),
    .m_axis_tlast  (m_axis_tlast)
  );

  // ================= control state =================
  logic row_advance, out_done;

  // a row ends: its label beat, or a virtual row of the drain
  assign row_advance = (take && is_label) || drain_row_end || drain_skip;
  assign out_done    = s1_out_q && s1_out_last_q;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      ctl_q            <= C_CLEAR;
      clear_line_q     <= '0;
      echo_index_q     <= '0;
      echo_info_q      <= 1'b0;
      drain_row_q      <= '0;
      drain_busy_q     <= 1'b0;
      drain_line_q     <= '0;
      out_lane_q       <= '0;
      out_line_q       <= '0;
      out_count_pass_q <= 1'b0;
      quiet_q          <= '0;
      rows_q           <= '0;
      row_lo_q         <= '0;
      slot_q           <= '0;
      interval_count_q <= '0;
      halvings_q       <= '0;
    end else begin
      // cycles since the last model beat
      if (c0_model) quiet_q <= '0;
      else if (!quiet_ok) quiet_q <= quiet_q + 2'd1;

      if (row_advance) begin
        if (rows_q != 2'd2) rows_q <= rows_q + 2'd1;
        row_lo_q <= row_lo_q + 16'd1;
        slot_q   <= (slot_q == 2'd2) ? 2'd0 : slot_q + 2'd1;
      end

      case (ctl_q)
        C_CLEAR: begin
          clear_line_q <= clear_line_q + 1'b1;
          if (32'(clear_line_q) == 32'(LINES - 1)) begin
            clear_line_q     <= '0;
            interval_count_q <= '0;
            halvings_q       <= '0;
            rows_q           <= '0;
            row_lo_q         <= '0;
            slot_q           <= '0;
            ctl_q            <= C_IDLE;
          end
        end

        C_IDLE: begin
          if (take) begin
            case (dec_kind)
              zipml_pkg::BEAT_CLEAR:  ctl_q <= C_CLEAR;
              zipml_pkg::BEAT_CONFIG, zipml_pkg::BEAT_INFO: begin
                echo_index_q <= '0;
                echo_info_q  <= dec_kind == zipml_pkg::BEAT_INFO;
                ctl_q        <= C_ECHO;
              end
              zipml_pkg::BEAT_END: begin
                drain_row_q      <= '0;
                drain_busy_q     <= 1'b0;
                out_count_pass_q <= 1'b1;
                ctl_q            <= C_DRAIN;
              end
              zipml_pkg::BEAT_READBACK: begin
                out_lane_q       <= '0;
                out_line_q       <= '0;
                out_count_pass_q <= 1'b0;
                ctl_q            <= C_OUT;
              end
              default: ;
            endcase
          end
        end

        C_ECHO: begin
          if (word_ready) begin
            echo_index_q <= echo_index_q + 4'd1;
            if (echo_last) ctl_q <= C_IDLE;
          end
        end

        C_DRAIN: begin
          if (drain_issue) begin
            drain_line_q <= drain_line + 1'b1;
            drain_busy_q <= !drain_row_end;
          end
          if (drain_row_end || drain_skip) drain_row_q <= drain_row_q + 2'd1;
          if (drain_row_q == 2'd2 && !drain_busy_q && quiet_ok) begin
            out_lane_q <= '0;
            out_line_q <= '0;
            ctl_q      <= C_OUT;
          end
        end

        default: begin // C_OUT
          if (out_issue) begin
            if ((LINE_W + 1)'(out_line_q) == lines - (LINE_W + 1)'(1)) begin
              out_line_q <= '0;
              out_lane_q <= out_lane_q + 1'b1;
            end else begin
              out_line_q <= out_line_q + 1'b1;
            end
          end
          if (out_done) begin
            rows_q   <= '0;
            row_lo_q <= '0;
            slot_q   <= '0;
            if (out_count_pass_q) begin
              if (interval_count_q + 8'd1 == interval) begin
                interval_count_q <= '0;
                if (halvings_q != 7'h7f) halvings_q <= halvings_q + 7'd1;
              end else begin
                interval_count_q <= interval_count_q + 8'd1;
              end
            end
            ctl_q <= C_IDLE;
          end
        end
      endcase
    end
  end

`ifdef VERILATOR
  // the schedule's invariants; a violation is an engine bug
  logic              hazard_read;
  logic [LINE_W-1:0] hazard_line;
  assign hazard_read = c0_model || out_issue;
  assign hazard_line = out_issue ? out_line_q : c0_line;
  always_ff @(posedge clk) begin
    if (rst_n) begin
      if (take && is_feature && !unpack_in_ready) $error("sgd_engine: unpacker beat dropped");
      // a model line is never read while its write-back is still in the pipeline
      if (hazard_read && ((s1_model_q && s1_line_q == hazard_line) ||
                          (s2_model_q && s2_line_q == hazard_line) ||
                          (s3_model_q && s3_line_q == hazard_line)))
        $error("sgd_engine: line %0d read before its write-back", hazard_line);
    end
  end
`endif

  logic unused_unpack_valid;
  assign unused_unpack_valid = unpack_valid;

endmodule
