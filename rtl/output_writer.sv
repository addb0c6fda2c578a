// zipml — the output writer: single words and model lines to the 32-bit AXI4-Stream source.
//
// Single words (the SEND_CONFIG echo, loopback echoes, error words) and model lines (V words,
// word 0 first) are queued in a four-entry FIFO that drives m_axis_* from registers: tvalid
// never depends on tready. A line is taken only when the previous one has been queued, so the
// model leaves at about one word per cycle while the sink is ready.
module output_writer #(
  // words per model line
  parameter int V = 2
) (
  input  logic              clk,
  input  logic              rst_n,
  // single words
  input  logic              word_valid_i,
  output logic              word_ready_o,
  input  logic [31:0]       word_data_i,
  input  logic              word_last_i,
  // model lines
  input  logic              line_valid_i,
  output logic              line_ready_o,
  input  logic [32*V-1:0]   line_data_i,
  input  logic              line_last_i,   // tlast on this line's last word
  // AXI4-Stream source
  output logic [31:0]       m_axis_tdata,
  output logic              m_axis_tvalid,
  input  logic              m_axis_tready,
  output logic              m_axis_tlast
);

  localparam int IW = (V > 1) ? $clog2(V) : 1;

  logic [32*V-1:0] line_q;
  logic            line_busy_q, line_last_q;
  logic [IW-1:0]   index_q;

  logic [32:0]     fifo_q [0:3];
  logic [1:0]      wr_q, rd_q;
  logic [2:0]      count_q;
  logic            full, push, pop, push_last, line_word;
  logic [31:0]     push_data;

  assign full         = count_q == 3'd4;
  assign line_ready_o = !line_busy_q;
  assign word_ready_o = !line_busy_q && !full;
  assign line_word    = line_busy_q && !full;
  assign push         = line_word || (word_valid_i && word_ready_o);
  assign push_data    = line_word ? line_q[32*index_q +: 32] : word_data_i;
  assign push_last    = line_word ? (line_last_q && index_q == IW'(V - 1)) : word_last_i;
  assign pop          = m_axis_tvalid && m_axis_tready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      line_busy_q <= 1'b0;
      index_q     <= '0;
      wr_q        <= '0;
      rd_q        <= '0;
      count_q     <= '0;
    end else begin
      if (line_word) begin
        index_q <= index_q + 1'b1;
        if (index_q == IW'(V - 1)) line_busy_q <= 1'b0;
      end
      if (line_valid_i && line_ready_o) begin
        line_busy_q <= 1'b1;
        index_q     <= '0;
      end
      if (push) wr_q <= wr_q + 2'd1;
      if (pop) rd_q <= rd_q + 2'd1;
      count_q <= count_q + 3'(push) - 3'(pop);
    end
  end

  always_ff @(posedge clk) begin
    if (line_valid_i && line_ready_o) begin
      line_q      <= line_data_i;
      line_last_q <= line_last_i;
    end
    if (push) fifo_q[wr_q] <= {push_last, push_data};
  end

  assign m_axis_tvalid = count_q != 3'd0;
  assign m_axis_tdata  = fifo_q[rd_q][31:0];
  assign m_axis_tlast  = fifo_q[rd_q][32];

endmodule
