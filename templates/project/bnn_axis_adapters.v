// bnn_axis_adapters: glue between the AXI DMA streams and the bnn_top accelerator in the
// Vivado block design (vivado.tcl instantiates both modules as module references).
// Copied by bnn2hls from templates/project/bnn_axis_adapters.v; do not edit.
//
// Host stream format: one accelerator word (input pixel / output word) occupies a whole
// number of DMA words, least significant DMA word first, zero padded at the top.
//
// bnn_axis_in:  S_W-bit words (DMA word(s) of one input pixel, after the width converter)
//               -> M_W-bit accelerator input; keeps the low M_W bits. Combinational.
// bnn_axis_out: S_W-bit accelerator output -> M_W-bit words (zero extended) with TKEEP all
//               ones and TLAST on the last word of every frame (FRAME_BEATS words), so the
//               DMA's S2MM channel completes one transfer per frame.
// Both keep the handshake combinational (tready passes straight through).

/* verilator lint_off DECLFILENAME */

module bnn_axis_in #(
    parameter integer S_W = 64,
    parameter integer M_W = 24
) (
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK" *)
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn" *)
    input  wire             aclk,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire             aresetn,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TDATA" *)
    input  wire [S_W-1:0]   s_axis_tdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TKEEP" *)
    input  wire [S_W/8-1:0] s_axis_tkeep,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TLAST" *)
    input  wire             s_axis_tlast,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TVALID" *)
    input  wire             s_axis_tvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TREADY" *)
    output wire             s_axis_tready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TDATA" *)
    output wire [M_W-1:0]   m_axis_tdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TVALID" *)
    output wire             m_axis_tvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TREADY" *)
    input  wire             m_axis_tready
);
    // aclk/aresetn only associate the interfaces; tkeep/tlast and the padding bits are not
    // needed (one pixel per word)
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused = &{1'b0, aclk, aresetn, s_axis_tkeep, s_axis_tlast, s_axis_tdata};
    /* verilator lint_on UNUSEDSIGNAL */
    assign m_axis_tdata = s_axis_tdata[M_W-1:0];
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;
endmodule

module bnn_axis_out #(
    parameter integer S_W = 64,
    parameter integer M_W = 64,
    parameter integer FRAME_BEATS = 1
) (
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK" *)
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn" *)
    input  wire             aclk,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire             aresetn,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TDATA" *)
    input  wire [S_W-1:0]   s_axis_tdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TVALID" *)
    input  wire             s_axis_tvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TREADY" *)
    output wire             s_axis_tready,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TDATA" *)
    output wire [M_W-1:0]   m_axis_tdata,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TKEEP" *)
    output wire [M_W/8-1:0] m_axis_tkeep,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TLAST" *)
    output wire             m_axis_tlast,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TVALID" *)
    output wire             m_axis_tvalid,
    (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 m_axis TREADY" *)
    input  wire             m_axis_tready
);
    reg [31:0] beat;  // words of the current frame already sent

    // M_W >= S_W (vivado.tcl checks); the padding bits are zero
    /* verilator lint_off UNUSEDSIGNAL */
    wire [M_W+S_W-1:0] extended = {{M_W{1'b0}}, s_axis_tdata};
    /* verilator lint_on UNUSEDSIGNAL */
    assign m_axis_tdata = extended[M_W-1:0];
    assign m_axis_tkeep = {(M_W/8){1'b1}};
    assign m_axis_tlast = (beat == FRAME_BEATS - 1);
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;

    always @(posedge aclk) begin
        if (!aresetn) begin
            beat <= 32'd0;
        end else if (s_axis_tvalid && m_axis_tready) begin
            beat <= (beat == FRAME_BEATS - 1) ? 32'd0 : beat + 32'd1;
        end
    end
endmodule
