// zipml — constants shared by the SGD engine's modules.
//
// Referenced as zipml_pkg::NAME (Yosys 0.23 reads no `import`). The command words and the
// configuration fields are the ZipML-PYNQ stream format (include/zipml/stream/format.hpp);
// the beat kinds, error words and refusal code are the engine's own (docs/RTL.md).
// Every module sees the whole package but uses only some of it.
/* verilator lint_off UNUSEDPARAM */
package zipml_pkg;

  // ---- command words of the 64-bit input stream ----
  localparam logic [63:0] MAGIC1      = 64'h39e9_0433_0f1a_0df2; // options; zeroes the model
  localparam logic [63:0] MAGIC2      = 64'hb209_505f_9f56_0afe; // step x cost (neg, pos)
  localparam logic [63:0] MAGIC3      = 64'h891e_bbfd_b9d5_f766; // binarize label, dimension
  localparam logic [63:0] MAGIC4      = 64'hc049_cea2_e9f6_957d; // samples, epochs
  localparam logic [63:0] MAGIC5      = 64'hfe91_34a9_b660_b182; // step, range, precision
  localparam logic [63:0] SEND_CONFIG = 64'habca_abca_abca_abca; // echo the nine config words
  localparam logic [63:0] THE_END     = 64'habcd_abcd_abcd_abcd; // end of a pass
  localparam logic [63:0] LOOPBACK    = 64'habab_abab_abab_abab; // echo low halves from now on
  localparam logic [63:0] UNLOOPBACK  = 64'hbaba_baba_baba_baba; // leave loopback mode
  // zipml's commands (the original engines have none of these)
  localparam logic [63:0] LANE_LABEL  = 64'h6c4e_3d2a_9b17_f583; // one lane's positive label, K
  localparam logic [63:0] ENGINE_INFO = 64'habcb_abcb_abcb_abcb; // answer the engine's build

  // first word of the ENGINE_INFO answer ("ZIP" and the answer's version, 1)
  localparam logic [31:0] INFO_SIGNATURE = 32'h5a49_5031;

  // float32 -1.0 in both step x cost fields selects least squares
  localparam logic [31:0] LEAST_SQUARES_MARKER = 32'hbf80_0000;

  // ---- precision codes (MAGIC5 bits 35..33, echoed in flags bits 23..21) ----
  localparam logic [2:0] PREC_UNSTATED = 3'd0;
  localparam logic [2:0] PREC_FLOAT32  = 3'd1;
  localparam logic [2:0] PREC_Q1       = 3'd2;
  localparam logic [2:0] PREC_Q2       = 3'd3;
  localparam logic [2:0] PREC_Q4       = 3'd4;
  localparam logic [2:0] PREC_Q8       = 3'd5;
  // echoed instead of the requested code when the engine refuses the configuration for a
  // reason other than the precision (a precision mismatch echoes the engine's own code)
  localparam logic [2:0] PREC_REFUSED  = 3'd7;

  // ---- one-word error packets (tlast set); a model packet is never shorter than 2 words ----
  localparam logic [31:0] ERROR_NOT_CONFIGURED = 32'hEEEE_0001; // THE_END without a valid config
  localparam logic [31:0] ERROR_FRAMING        = 32'hEEEE_0002; // no THE_END after the last row

  // ---- losses ----
  localparam logic [1:0] LOSS_LEAST_SQUARES = 2'd0;
  localparam logic [1:0] LOSS_L2SVM         = 2'd1;
  localparam logic [1:0] LOSS_LOGISTIC      = 2'd2;

  // ---- beats from the stream decoder to the engine ----
  localparam logic [3:0] BEAT_FEATURE      = 4'd0; // a feature word of a row
  localparam logic [3:0] BEAT_LABEL        = 4'd1; // the label word that ends a row
  localparam logic [3:0] BEAT_END          = 4'd2; // THE_END after the last row of a pass
  localparam logic [3:0] BEAT_READBACK     = 4'd3; // THE_END outside a pass: write the model back
  localparam logic [3:0] BEAT_CLEAR        = 4'd4; // MAGIC1: zero the model
  localparam logic [3:0] BEAT_CONFIG       = 4'd5; // SEND_CONFIG
  localparam logic [3:0] BEAT_LOOP         = 4'd6; // a word to echo in loopback mode
  localparam logic [3:0] BEAT_ERR_CONFIG   = 4'd7; // THE_END while not (validly) configured
  localparam logic [3:0] BEAT_ERR_FRAMING  = 4'd8; // the word after the last row is not THE_END
  localparam logic [3:0] BEAT_INFO         = 4'd9; // ENGINE_INFO

  // ---- the configuration the five MAGIC payloads carry ----
  typedef struct packed {
    logic [31:0] lambda_shift;   // MAGIC1 31..0
    logic [15:0] minibatch_mask; // MAGIC1 47..32
    logic        step_decay;     // MAGIC1 48
    logic        binarize;       // MAGIC1 49
    logic        double_sampled; // MAGIC1 50 (zipml)
    logic        logistic;       // MAGIC1 51 (zipml)
    logic [7:0]  decay_interval; // MAGIC1 59..52 (zipml)
    logic [31:0] step_cost_neg;  // MAGIC2 31..0
    logic [31:0] step_cost_pos;  // MAGIC2 63..32
    logic [31:0] binarize_label; // MAGIC3 31..0
    logic [31:0] dim;            // MAGIC3 63..32
    logic [31:0] samples;        // MAGIC4 31..0
    logic [31:0] epochs;         // MAGIC4 63..32
    logic [31:0] step;           // MAGIC5 31..0
    logic        minus_one_one;  // MAGIC5 32
    logic [2:0]  precision;      // MAGIC5 35..33 (zipml)
    logic [7:0]  lanes;          // LANE_LABEL 47..40 (zipml): K lanes in use; 0 = every lane
                                 // binarizes against binarize_label (the original's meaning)
  } cfg_t;

endpackage
/* verilator lint_on UNUSEDPARAM */
