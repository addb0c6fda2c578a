// zipml — the stream decoder: commands, configuration and pass framing.
//
// Takes the host's 64-bit words (AXI4-Stream sink) and hands the engine one beat per word
// that needs action (valid/ready, one output register). Outside a pass a word equal to a
// command constant is a command; after MAGIC1..5 the next word is that command's payload
// whatever its value. A pass is framed by the configuration: `samples` rows of `lines` (x2
// with double sampling) feature words plus one label word, every one of them data even if it
// equals a command constant. The word after the last row must be THE_END; anything else is a
// framing error, after which every word is dropped until reset.
//
// Where a pass starts: SEND_CONFIG with a valid configuration and epochs = E > 0 "arms" the
// decoder for E passes: the word after SEND_CONFIG, and the word after each THE_END but the
// last, is the first word of the next pass whatever its value (with samples = 0 it must be
// THE_END). Outside armed passes (E = 0, or after the E-th THE_END) the first word that is not
// a command starts a pass, as with the original engines.
//
// LANE_LABEL (zipml) sets one lane's positive label and K, the lanes in use (docs/STREAM.md);
// ENGINE_INFO (zipml) asks for the engine's build parameters. Both are commands like MAGIC1..5.
//
// A beat that needs the engine alone (END, READBACK, CLEAR, CONFIG, INFO, ERR_*) stops the input
// until the engine has taken it and has dropped busy_i again, so the configuration never
// changes under a pass, a drain or an echo.
module stream_decoder #(
  // 32 (float32) or 1, 2, 4, 8: the precision this engine was built for
  parameter int PRECISION = 32,
  // largest d accepted (features including the bias), <= 32768
  parameter int MAX_DIM = 4096,
  // bits of a line (feature word) index: $clog2(ceil(MAX_DIM / V)), at least 1
  parameter int LINE_W = 11,
  // model lanes of the engine (1..255): LANE_LABEL words for lanes 0..LANES-1 are kept
  parameter int LANES = 1
) (
  input  logic                clk,
  input  logic                rst_n,
  // AXI4-Stream sink: the host's words
  input  logic [63:0]         s_axis_tdata,
  input  logic                s_axis_tvalid,
  output logic                s_axis_tready,
  // the engine is busy with a beat that needs it alone
  input  logic                busy_i,
  // beats to the engine
  output logic                out_valid_o,
  input  logic                out_ready_i,
  output logic [3:0]          out_kind_o,    // zipml_pkg::BEAT_*
  output logic [63:0]         out_data_o,    // the word
  output logic [LINE_W-1:0]   out_line_o,    // feature beats: word index within the copy
  output logic                out_copy_o,    // feature beats: 1 = the second quantized copy
  output logic                out_first_o,   // feature beats: first word of the row
  output logic                out_last_o,    // feature beats: last word of the copy
  // configuration
  output zipml_pkg::cfg_t     cfg_o,
  output logic                cfg_ok_o,      // the configuration is valid for this engine
  output logic [2:0]          echo_precision_o, // precision field of the SEND_CONFIG echo
  output logic [2:0]          own_precision_o,  // the precision code this engine was built for
  output logic [LINE_W:0]     lines_o,       // feature words per copy, ceil(d / V)
  output logic [6:0]          last_lanes_o,  // values in use in the last feature word, 1..V
  output logic [32*LANES-1:0] lane_labels_o  // LANE_LABEL: lane k's positive label in 32k+31..32k
);

  localparam int V = (PRECISION == 32) ? 2 : 64 / PRECISION;
  localparam int LOG2V = $clog2(V);
  localparam logic [2:0] OWN_CODE =
      (PRECISION == 32) ? zipml_pkg::PREC_FLOAT32 :
      (PRECISION == 1)  ? zipml_pkg::PREC_Q1 :
      (PRECISION == 2)  ? zipml_pkg::PREC_Q2 :
      (PRECISION == 4)  ? zipml_pkg::PREC_Q4 : zipml_pkg::PREC_Q8;

  typedef enum logic [2:0] {
    ST_CMD,      // between passes: commands
    ST_ARMED,    // the next word starts a pass (armed by SEND_CONFIG for `epochs` passes)
    ST_PAYLOAD,  // the word after MAGICn
    ST_PASS,     // inside a pass: everything is data
    ST_END,      // after the last row: THE_END expected
    ST_LOOP,     // loopback: echo until UNLOOPBACK
    ST_ERROR     // framing error: drop everything until reset
  } state_e;

  state_e              state_q, state_d;
  logic [2:0]          which_q, which_d;    // MAGIC number whose payload comes next
  zipml_pkg::cfg_t     cfg_q, cfg_d;
  logic [LINE_W-1:0]   line_q, line_d;
  logic                copy_q, copy_d, label_q, label_d;
  logic [31:0]         row_q, row_d;
  logic [31:0]         passes_q, passes_d;  // armed passes left
  logic                lane_we;             // a LANE_LABEL payload is taken

  logic                out_valid_q, out_copy_q, out_first_q, out_last_q;
  logic [3:0]          out_kind_q;
  logic [63:0]         out_data_q;
  logic [LINE_W-1:0]   out_line_q;

  logic                emit, e_first, e_last, blocking, take;
  logic [3:0]          e_kind;
  logic [63:0]         word;

  // ---- configuration checks ----
  function automatic logic step_ok(input logic [31:0] g);
    // 0, or 2^-39 <= g < 2^8 (E = 150 - biased exponent in 16..62), as engine::step_factor_ok
    step_ok = (g[30:0] == 31'd0) || (!g[31] && g[30:23] >= 8'd88 && g[30:23] <= 8'd134);
  endfunction

  logic        least_squares, steps_ok, prec_bad, other_bad, cfg_ok;
  logic [16:0] dim_plus;
  logic [LOG2V-1:0] last_off; // (d - 1) mod V

  always_comb begin
    least_squares = cfg_q.step_cost_neg == zipml_pkg::LEAST_SQUARES_MARKER &&
                    cfg_q.step_cost_pos == zipml_pkg::LEAST_SQUARES_MARKER;
    steps_ok  = least_squares ? step_ok(cfg_q.step)
                              : step_ok(cfg_q.step_cost_neg) && step_ok(cfg_q.step_cost_pos);
    prec_bad  = cfg_q.precision != zipml_pkg::PREC_UNSTATED && cfg_q.precision != OWN_CODE;
    other_bad = cfg_q.dim == 32'd0 || cfg_q.dim > 32'(MAX_DIM) ||
                (PRECISION == 1 && cfg_q.minus_one_one) ||
                (PRECISION == 32 && cfg_q.double_sampled) || !steps_ok ||
                32'(cfg_q.lanes) > 32'(LANES);
    cfg_ok    = !prec_bad && !other_bad;
    dim_plus  = {1'b0, cfg_q.dim[15:0]} + 17'(V - 1);
    last_off  = cfg_q.dim[LOG2V-1:0] - 1'b1;
  end

  assign cfg_o            = cfg_q;
  assign cfg_ok_o         = cfg_ok;
  assign own_precision_o  = OWN_CODE;
  assign echo_precision_o = prec_bad ? OWN_CODE : other_bad ? zipml_pkg::PREC_REFUSED : cfg_q.precision;
  // only meaningful while cfg_ok (d <= MAX_DIM <= 32768)
  assign lines_o          = (LINE_W + 1)'(dim_plus >> LOG2V);
  assign last_lanes_o     = 7'(last_off) + 7'd1;

  // ---- input handshake ----
  always_comb begin
    case (out_kind_q)
      zipml_pkg::BEAT_FEATURE, zipml_pkg::BEAT_LABEL, zipml_pkg::BEAT_LOOP: blocking = 1'b0;
      default: blocking = 1'b1;
    endcase
  end

  assign s_axis_tready = rst_n && !busy_i && !(out_valid_q && blocking) && (!out_valid_q || out_ready_i);
  assign take = s_axis_tvalid && s_axis_tready;
  assign word = s_axis_tdata;

  // ---- word -> beat ----
  always_comb begin
    state_d = state_q;
    which_d = which_q;
    cfg_d   = cfg_q;
    line_d  = line_q;
    copy_d  = copy_q;
    label_d = label_q;
    row_d   = row_q;
    passes_d = passes_q;
    lane_we  = 1'b0;
    emit    = 1'b0;
    e_kind  = zipml_pkg::BEAT_FEATURE;
    e_first = 1'b0;
    e_last  = 1'b0;

    if (take) begin
      case (state_q)
        ST_CMD: begin
          if (word == zipml_pkg::MAGIC1) begin
            which_d = 3'd1;
            state_d = ST_PAYLOAD;
            emit    = 1'b1;
            e_kind  = zipml_pkg::BEAT_CLEAR;
          end else if (word == zipml_pkg::MAGIC2) begin
            which_d = 3'd2;
            state_d = ST_PAYLOAD;
          end else if (word == zipml_pkg::MAGIC3) begin
            which_d = 3'd3;
            state_d = ST_PAYLOAD;
          end else if (word == zipml_pkg::MAGIC4) begin
            which_d = 3'd4;
            state_d = ST_PAYLOAD;
          end else if (word == zipml_pkg::MAGIC5) begin
            which_d = 3'd5;
            state_d = ST_PAYLOAD;
          end else if (word == zipml_pkg::LANE_LABEL) begin
            which_d = 3'd6;
            state_d = ST_PAYLOAD;
          end else if (word == zipml_pkg::ENGINE_INFO) begin
            emit   = 1'b1;
            e_kind = zipml_pkg::BEAT_INFO;
          end else if (word == zipml_pkg::SEND_CONFIG) begin
            emit   = 1'b1;
            e_kind = zipml_pkg::BEAT_CONFIG;
            if (cfg_ok && cfg_q.epochs != 32'd0) begin
              passes_d = cfg_q.epochs;
              state_d  = ST_ARMED;
            end
          end else if (word == zipml_pkg::THE_END) begin
            emit   = 1'b1;
            e_kind = cfg_ok ? zipml_pkg::BEAT_READBACK : zipml_pkg::BEAT_ERR_CONFIG;
          end else if (word == zipml_pkg::LOOPBACK) begin
            state_d = ST_LOOP;
          end else if (word == zipml_pkg::UNLOOPBACK) begin
            state_d = ST_CMD;
          end else if (cfg_ok && cfg_q.samples != 32'd0) begin
            // the first word of a pass (line_q, copy_q, label_q and row_q are 0 here)
            emit    = 1'b1;
            e_kind  = zipml_pkg::BEAT_FEATURE;
            e_first = 1'b1;
            e_last  = lines_o == (LINE_W + 1)'(1);
            state_d = ST_PASS;
          end
          // else: a data word without a valid configuration is dropped
        end

        ST_PAYLOAD: begin
          state_d = ST_CMD;
          case (which_q)
            3'd1: begin
              cfg_d.lambda_shift   = word[31:0];
              cfg_d.minibatch_mask = word[47:32];
              cfg_d.step_decay     = word[48];
              cfg_d.binarize       = word[49];
              cfg_d.double_sampled = word[50];
              cfg_d.logistic       = word[51];
              cfg_d.decay_interval = word[59:52];
            end
            3'd2: begin
              cfg_d.step_cost_neg = word[31:0];
              cfg_d.step_cost_pos = word[63:32];
            end
            3'd3: begin
              cfg_d.binarize_label = word[31:0];
              cfg_d.dim            = word[63:32];
            end
            3'd4: begin
              cfg_d.samples = word[31:0];
              cfg_d.epochs  = word[63:32];
            end
            3'd6: begin
              // the label itself goes to lane word[39:32] (below)
              cfg_d.lanes = word[47:40];
              lane_we     = 1'b1;
            end
            default: begin
              cfg_d.step          = word[31:0];
              cfg_d.minus_one_one = word[32];
              cfg_d.precision     = word[35:33];
            end
          endcase
        end

        ST_ARMED: begin
          emit = 1'b1;
          if (cfg_q.samples == 32'd0) begin
            // an empty pass: THE_END right away
            if (word == zipml_pkg::THE_END) begin
              e_kind   = zipml_pkg::BEAT_END;
              passes_d = passes_q - 32'd1;
              state_d  = (passes_q > 32'd1) ? ST_ARMED : ST_CMD;
            end else begin
              e_kind  = zipml_pkg::BEAT_ERR_FRAMING;
              state_d = ST_ERROR;
            end
          end else begin
            e_kind  = zipml_pkg::BEAT_FEATURE;
            e_first = 1'b1;
            e_last  = lines_o == (LINE_W + 1)'(1);
            state_d = ST_PASS;
          end
        end

        ST_PASS: begin
          emit = 1'b1;
          if (label_q) begin
            e_kind = zipml_pkg::BEAT_LABEL;
          end else begin
            e_kind  = zipml_pkg::BEAT_FEATURE;
            e_first = line_q == '0 && !copy_q;
            e_last  = (LINE_W + 1)'(line_q) == lines_o - (LINE_W + 1)'(1);
          end
        end

        ST_END: begin
          emit = 1'b1;
          if (word == zipml_pkg::THE_END) begin
            e_kind = zipml_pkg::BEAT_END;
            if (passes_q != 32'd0) passes_d = passes_q - 32'd1;
            state_d = (passes_q > 32'd1) ? ST_ARMED : ST_CMD;
          end else begin
            e_kind  = zipml_pkg::BEAT_ERR_FRAMING;
            state_d = ST_ERROR;
          end
        end

        ST_LOOP: begin
          if (word == zipml_pkg::UNLOOPBACK) begin
            state_d = ST_CMD;
          end else begin
            emit   = 1'b1;
            e_kind = zipml_pkg::BEAT_LOOP;
          end
        end

        default: ; // ST_ERROR: drop
      endcase

      // advance the position within the pass
      if (emit && e_kind == zipml_pkg::BEAT_LABEL) begin
        label_d = 1'b0;
        if (row_q + 32'd1 == cfg_q.samples) begin
          row_d   = '0;
          state_d = ST_END;
        end else begin
          row_d   = row_q + 32'd1;
          state_d = ST_PASS;
        end
      end else if (emit && e_kind == zipml_pkg::BEAT_FEATURE) begin
        if (e_last) begin
          line_d = '0;
          if (cfg_q.double_sampled && !copy_q) begin
            copy_d = 1'b1;
          end else begin
            copy_d  = 1'b0;
            label_d = 1'b1;
          end
        end else begin
          line_d = line_q + 1'b1;
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state_q     <= ST_CMD;
      which_q     <= 3'd0;
      cfg_q       <= '0;
      line_q      <= '0;
      copy_q      <= 1'b0;
      label_q     <= 1'b0;
      row_q       <= '0;
      passes_q    <= '0;
      out_valid_q <= 1'b0;
    end else begin
      state_q <= state_d;
      which_q <= which_d;
      cfg_q   <= cfg_d;
      line_q  <= line_d;
      copy_q  <= copy_d;
      label_q <= label_d;
      row_q   <= row_d;
      passes_q <= passes_d;
      if (out_valid_q && out_ready_i) out_valid_q <= 1'b0;
      if (emit) out_valid_q <= 1'b1;
    end
  end

  // ---- lane labels: kept until the next LANE_LABEL for the same lane (datapath, not reset) ----
  for (genvar k = 0; k < LANES; k++) begin : g_lane_label
    logic [31:0] lane_label_q;
    always_ff @(posedge clk) begin
      if (lane_we && 32'(word[39:32]) == 32'(k)) lane_label_q <= word[31:0];
    end
    assign lane_labels_o[32*k +: 32] = lane_label_q;
  end

  always_ff @(posedge clk) begin
    if (emit) begin
      out_kind_q  <= e_kind;
      out_data_q  <= word;
      out_line_q  <= line_q;
      out_copy_q  <= copy_q;
      out_first_q <= e_first;
      out_last_q  <= e_last;
    end
  end

  assign out_valid_o = out_valid_q;
  assign out_kind_o  = out_kind_q;
  assign out_data_o  = out_data_q;
  assign out_line_o  = out_line_q;
  assign out_copy_o  = out_copy_q;
  assign out_first_o = out_first_q;
  assign out_last_o  = out_last_q;

endmodule
