// bnn_swg: sliding-window generator with padding and border classes.
//
// Input: unpadded pixels (C*IN_B bits: element c at [c*IN_B +: IN_B]) in raster order, frames back to
// back with no delimiter. Output: one window word per output position in raster order, element
// (ky, kx, c) at [((ky*KW + kx)*C + c)*IN_B +: IN_B], with the border class id in m_tuser.
//
// The walk, the padding, the line buffer, the border classes and the handshakes are
// bnn_window's (read it first); this block's reduction keeps every pixel: a column is kept
// whole in the history, and the window is the last KW-1 columns plus the current one.
// Steady state: one padded position per cycle.
module bnn_swg #(
    parameter int C = 1,
    parameter int IN_B = 1,
    parameter int H = 4,
    parameter int W = 4,
    parameter int KH = 3,
    parameter int KW = 3,
    parameter int SH = 1,
    parameter int SW = 1,
    parameter int PAD_T = 0,
    parameter int PAD_L = 0,
    parameter int PAD_B = 0,
    parameter int PAD_R = 0,
    parameter int N_ROW_CLASSES = 1,
    parameter int N_COL_CLASSES = 1,
    parameter int CLS_W = ((N_ROW_CLASSES > N_COL_CLASSES ? N_ROW_CLASSES : N_COL_CLASSES) > 1)
        ? $clog2(N_ROW_CLASSES > N_COL_CLASSES ? N_ROW_CLASSES : N_COL_CLASSES) : 1,
    parameter int USER_W = (N_ROW_CLASSES * N_COL_CLASSES * 2 > 2) ? $clog2(N_ROW_CLASSES * N_COL_CLASSES * 2) : 1,
    localparam int OH = (H + PAD_T + PAD_B - KH) / SH + 1,
    localparam int OW = (W + PAD_L + PAD_R - KW) / SW + 1,
    parameter logic [OH*CLS_W-1:0] ROW_CLASS = '0,
    parameter logic [OW*CLS_W-1:0] COL_CLASS = '0
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [C*IN_B-1:0]         s_tdata,
    input  logic                      s_tvalid,
    output logic                      s_tready,
    output logic [KH*KW*C*IN_B-1:0]   m_tdata,
    output logic [USER_W-1:0]         m_tuser,
    output logic                      m_tvalid,
    input  logic                      m_tready
);
    localparam int PIX_W = C * IN_B;
    localparam int COL_W = KH * PIX_W;

    logic [COL_W-1:0] column;
    /* verilator lint_off UNUSEDSIGNAL */  // unread for KW = 1
    logic [(KW > 1 ? KW - 1 : 1)*COL_W-1:0] hist;  // column j: padded column px-(KW-1)+j
    /* verilator lint_on UNUSEDSIGNAL */
    logic [KH*KW*PIX_W-1:0] window;

    // The window in (ky, kx, c) order: columns 0..KW-2 from the history, column KW-1 the current.
    for (genvar ky = 0; ky < KH; ky++) begin : g_y
        for (genvar kx = 0; kx < KW - 1; kx++) begin : g_x
            assign window[(ky*KW + kx)*PIX_W +: PIX_W] = hist[(kx*KH + ky)*PIX_W +: PIX_W];
        end
        assign window[(ky*KW + KW - 1)*PIX_W +: PIX_W] = column[ky*PIX_W +: PIX_W];
    end

    /* verilator lint_off PINCONNECTEMPTY */  // the hooks this reduction does not need
    bnn_window #(
        .C(C), .IN_B(IN_B), .H(H), .W(W), .KH(KH), .KW(KW), .SH(SH), .SW(SW),
        .PAD_T(PAD_T), .PAD_L(PAD_L), .PAD_B(PAD_B), .PAD_R(PAD_R), .COL_W(COL_W), .OUT_W(KH*KW*PIX_W),
        .BUFFER(1), .USER(1), .N_COL_CLASSES(N_COL_CLASSES), .CLS_W(CLS_W),
        .USER_W(USER_W), .ROW_CLASS(ROW_CLASS), .COL_CLASS(COL_CLASS)
    ) u_walk (
        .clk(clk), .rst_n(rst_n), .s_tdata(s_tdata), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .column(column), .col_red(column), .hist(hist), .step(), .emit(), .result(window),
        .m_tdata(m_tdata), .m_tuser(m_tuser), .m_tvalid(m_tvalid), .m_tready(m_tready)
    );
    /* verilator lint_on PINCONNECTEMPTY */
endmodule
