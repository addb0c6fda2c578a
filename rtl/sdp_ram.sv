// zipml — simple dual-port RAM: one write port, one registered read port (block RAM).
//
// Written in the template Yosys maps to RAMB18E1/RAMB36E1 (and Vivado to BRAM): no reset of
// the array, synchronous read. A read of the address written in the same cycle returns the
// old word (read-first); the engine never relies on it (docs/RTL.md, "hazards").
module sdp_ram #(
  // bits per word
  parameter int WIDTH = 32,
  // words; need not be a power of two
  parameter int DEPTH = 1024,
  // address bits, >= $clog2(DEPTH)
  parameter int ADDR_W = 10,
  // 1: ask for block RAM even when the array is shallow (Yosys and Vivado read the
  // ram_style attribute); 0: let the tool choose (LUT RAM for shallow arrays)
  parameter int BLOCK = 0
) (
  input  logic              clk,
  // write port
  input  logic              we_i,
  input  logic [ADDR_W-1:0] waddr_i,
  input  logic [WIDTH-1:0]  wdata_i,
  // read port: rdata_o holds mem[raddr_i] one cycle after re_i, and keeps it otherwise
  input  logic              re_i,
  input  logic [ADDR_W-1:0] raddr_i,
  output logic [WIDTH-1:0]  rdata_o
);

  logic [WIDTH-1:0] rdata_q;

  if (BLOCK != 0) begin : g_block
    (* ram_style = "block" *) logic [WIDTH-1:0] mem [0:DEPTH-1];
    always_ff @(posedge clk) begin
      if (we_i) mem[waddr_i] <= wdata_i;
      if (re_i) rdata_q <= mem[raddr_i];
    end
  end else begin : g_auto
    logic [WIDTH-1:0] mem [0:DEPTH-1];
    always_ff @(posedge clk) begin
      if (we_i) mem[waddr_i] <= wdata_i;
      if (re_i) rdata_q <= mem[raddr_i];
    end
  end

  assign rdata_o = rdata_q;

endmodule
