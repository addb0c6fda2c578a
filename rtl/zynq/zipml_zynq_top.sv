// zipml_zynq_top: the SGD engine as the Vivado block design instantiates it on a Zynq.
//
// Between the engine and the block design: the engine's reset, which the AXI GPIO's channel 1
// bit 0 drives (the host writes 0 then 1) and the PS's peripheral reset also asserts, through
// two registers (both come from FCLK_CLK0's domain; the registers keep the reset path short);
// the AXI4-Stream TKEEP signals the AXI DMA has (input ignored: the host sends whole words;
// output all ones); and a status word for GPIO channel 2 that names the design, so a host can
// tell a zipml bitstream and its precision from another one. The streams are otherwise the
// engine's own (docs/RTL.md, docs/BOARD.md).
module zipml_zynq_top #(
  // 32 (float32 samples) or 1, 2, 4, 8 (Q-bit samples)
  parameter int PRECISION = 32,
  // largest d, features with the bias
  parameter int MAX_DIM = 4096,
  // model lanes
  parameter int LANES = 1
) (
  input  logic        clk,          // FCLK_CLK0, 100 MHz
  input  logic        periph_rst_n, // proc_sys_reset peripheral_aresetn
  input  logic [31:0] gpio_i,       // AXI GPIO channel 1 (bit 0: engine reset, active low)
  output logic [31:0] status_o,     // to AXI GPIO channel 2 (input)
  // from the AXI DMA's MM2S
  input  logic [63:0] s_axis_tdata,
  input  logic [7:0]  s_axis_tkeep,
  input  logic        s_axis_tvalid,
  output logic        s_axis_tready,
  input  logic        s_axis_tlast,
  // to the AXI DMA's S2MM
  output logic [31:0] m_axis_tdata,
  output logic [3:0]  m_axis_tkeep,
  output logic        m_axis_tvalid,
  input  logic        m_axis_tready,
  output logic        m_axis_tlast
);

  // "ZP" (0x5a50), the precision, the lanes: docs/BOARD.md
  localparam logic [15:0] SIGNATURE = 16'h5a50;

  logic [1:0] rst_q;
  always_ff @(posedge clk) begin
    rst_q <= {rst_q[0], periph_rst_n & gpio_i[0]};
  end

  assign status_o = {SIGNATURE, 8'(PRECISION), 8'(LANES)};
  assign m_axis_tkeep = 4'hf;

  sgd_engine #(
    .PRECISION(PRECISION),
    .MAX_DIM  (MAX_DIM),
    .LANES    (LANES)
  ) u_engine (
    .clk          (clk),
    .rst_n        (rst_q[1]),
    .s_axis_tdata (s_axis_tdata),
    .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready),
    .s_axis_tlast (s_axis_tlast),
    .m_axis_tdata (m_axis_tdata),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready),
    .m_axis_tlast (m_axis_tlast)
  );

  // the host sends whole 64-bit words; the GPIO's other bits are spare
  logic [38:0] unused_inputs;
  assign unused_inputs = {s_axis_tkeep, gpio_i[31:1]};

endmodule
