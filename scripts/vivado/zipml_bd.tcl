# zipml — the Zynq block design around the engine (sourced by build.tcl inside a project).
#
#   PS7 (DDR, FIXED_IO; M_AXI_GP0 for registers; S_AXI_HP0 64-bit for the DMA; FCLK_CLK0)
#   AXI DMA, simple mode: MM2S 64-bit into the engine, S2MM 32-bit out of it, 23-bit lengths
#   AXI GPIO: channel 1 (outputs, reset value 0) bit 0 = engine reset; channel 2 (inputs) =
#             the design's status word (zipml_zynq_top: "ZP", precision, lanes)
#   the engine: zipml_zynq_top through a Verilog wrapper (module references need a Verilog top)
#
# The addresses, the length width, the lanes and MAX_DIM per precision and the clock below are
# the driver's constants (backends/pynq/include/zipml/backend/pynq/board.hpp);
# tests/pynq/test_pynq_linux.cpp checks that they agree. Inputs: the variable `precision` (32,
# 1, 2, 4 or 8); ZIPML_LANES and ZIPML_MAX_DIM in the environment override the table.
# Written for Vivado 2020.2 or later and NOT run here: Vivado is not installed on zipml's
# machines (docs/BOARD.md).

set dma_base         0x40400000
set dma_range        0x10000
set gpio_base        0x41200000
set gpio_range       0x10000
set dma_length_width 23
# Model lanes and MAX_DIM per precision: the largest LANES that Yosys fits on the xc7z020 with
# MAX_DIM = 1024 (d = 785 fits; docs/RTL.md "K model lanes" has the measurements).
set lanes_of(32)     35
set lanes_of(8)      10
set lanes_of(4)      6
set lanes_of(2)      2
set lanes_of(1)      2
set max_dim_of(32)   1024
set max_dim_of(8)    1024
set max_dim_of(4)    1024
set max_dim_of(2)    1024
set max_dim_of(1)    1024
set lanes   [expr {[info exists ::env(ZIPML_LANES)] ? $::env(ZIPML_LANES) : $lanes_of($precision)}]
set max_dim [expr {[info exists ::env(ZIPML_MAX_DIM)] ? $::env(ZIPML_MAX_DIM) : $max_dim_of($precision)}]
set fclk0_mhz        100

# The newest version of an IP in this Vivado.
proc zipml_ip {name} {
  set defs [lsort [get_ipdefs -all "xilinx.com:ip:${name}:*"]]
  if {[llength $defs] == 0} { error "zipml: IP $name is not in this Vivado" }
  return [lindex $defs end]
}

create_bd_design zipml

# --- the processing system ---
set ps [create_bd_cell -type ip -vlnv [zipml_ip processing_system7] ps7]
# the board's DDR and MIO settings when the board files are installed (PYNQ-Z1/Z2)
set preset [expr {[get_property BOARD_PART [current_project]] ne "" ? 1 : 0}]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
  -config [list make_external "FIXED_IO, DDR" apply_board_preset $preset Master Disable Slave Disable] $ps
set_property -dict [list \
  CONFIG.PCW_USE_M_AXI_GP0 {1} \
  CONFIG.PCW_USE_S_AXI_HP0 {1} \
  CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {64} \
  CONFIG.PCW_EN_CLK0_PORT {1} \
  CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $fclk0_mhz \
  CONFIG.PCW_EN_RST0_PORT {1}] $ps

# --- the DMA: simple mode, no data realignment (the driver sends 8-byte aligned buffers) ---
set dma [create_bd_cell -type ip -vlnv [zipml_ip axi_dma] dma]
set_property -dict [list \
  CONFIG.c_include_sg {0} \
  CONFIG.c_sg_length_width $dma_length_width \
  CONFIG.c_m_axi_mm2s_data_width {64} \
  CONFIG.c_m_axis_mm2s_tdata_width {64} \
  CONFIG.c_s_axis_s2mm_tdata_width {32} \
  CONFIG.c_m_axi_s2mm_data_width {32} \
  CONFIG.c_include_mm2s_dre {0} \
  CONFIG.c_include_s2mm_dre {0} \
  CONFIG.c_mm2s_burst_size {64} \
  CONFIG.c_s2mm_burst_size {16}] $dma

# --- the GPIO: reset out, status in ---
set gpio [create_bd_cell -type ip -vlnv [zipml_ip axi_gpio] gpio]
set_property -dict [list \
  CONFIG.C_GPIO_WIDTH {32} \
  CONFIG.C_ALL_OUTPUTS {1} \
  CONFIG.C_DOUT_DEFAULT {0x00000000} \
  CONFIG.C_IS_DUAL {1} \
  CONFIG.C_GPIO2_WIDTH {32} \
  CONFIG.C_ALL_INPUTS_2 {1}] $gpio

# --- the engine ---
set engine [create_bd_cell -type module -reference zipml_zynq_bd engine]
set_property -dict [list CONFIG.PRECISION $precision CONFIG.MAX_DIM $max_dim CONFIG.LANES $lanes] $engine

# --- registers: GP0 -> interconnect -> DMA, GPIO; memory: both DMA channels through HP0 to DDR
#     (the automation adds the interconnects and the reset block) ---
foreach {master slave pin} {
  /ps7/M_AXI_GP0  /dma/S_AXI_LITE  dma/S_AXI_LITE
  /ps7/M_AXI_GP0  /gpio/S_AXI      gpio/S_AXI
  /dma/M_AXI_MM2S /ps7/S_AXI_HP0   ps7/S_AXI_HP0
  /dma/M_AXI_S2MM /ps7/S_AXI_HP0   dma/M_AXI_S2MM
} {
  apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config [list Clk_master {/ps7/FCLK_CLK0} Clk_slave {Auto} Clk_xbar {Auto} Master $master Slave $slave] \
    [get_bd_intf_pins $pin]
}

# --- streams, reset, status, clock ---
connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins engine/s_axis]
connect_bd_intf_net [get_bd_intf_pins engine/m_axis] [get_bd_intf_pins dma/S_AXIS_S2MM]
connect_bd_net [get_bd_pins gpio/gpio_io_o] [get_bd_pins engine/gpio_i]
connect_bd_net [get_bd_pins engine/status_o] [get_bd_pins gpio/gpio2_io_i]
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins engine/clk]
connect_bd_net [get_bd_pins rst_ps7_${fclk0_mhz}M/peripheral_aresetn] [get_bd_pins engine/periph_rst_n]

# --- addresses: the driver's ---
assign_bd_address
set_property offset $dma_base [get_bd_addr_segs {ps7/Data/SEG_dma_Reg}]
set_property range $dma_range [get_bd_addr_segs {ps7/Data/SEG_dma_Reg}]
set_property offset $gpio_base [get_bd_addr_segs {ps7/Data/SEG_gpio_Reg}]
set_property range $gpio_range [get_bd_addr_segs {ps7/Data/SEG_gpio_Reg}]

validate_bd_design
save_bd_design
