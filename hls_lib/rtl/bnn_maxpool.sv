// bnn_maxpool: max-pool. IN_B == 1 (binary): the max of +1/-1 values is the OR of their
// encodings, so each output channel is the OR over the KH x KW window. IN_B > 1: channel c is
// the IN_B-bit two's complement field [c*IN_B +: IN_B], and the output is its signed maximum
// over the window.
//
// PAD_T/L/B/R: the window walks the map padded on each side (a ResNet stem's MaxPool2d(3, 2,
// 1); ceil_mode's partial windows are bottom / right padding). A padded position never wins:
// it holds the identity of the reduction (bit 0 = -1 for the OR, the most negative field for
// the max).
// MIN_CH: channels whose output is the minimum over the window instead (the source pools the
// accumulators before a quantizer that falls on that channel). ~v reverses the order of two's
// complement fields and of sign bits, so those channels are complemented on the way in and on
// the way out and pooled by the same max (the pad is the identity in the complemented domain).
//
// The walk, the line buffer, the history and the handshakes are bnn_window's (read it first);
// this block's reduction combines (OR / max) the KH pixels of a column into one pixel, and at
// an output the current column's with the KW-1 kept ones. Interval: one padded position per
// cycle, (H+PAD_T+PAD_B)*(W+PAD_L+PAD_R) per frame.
module bnn_maxpool #(
    parameter int C = 1,
    parameter int H = 4,
    parameter int W = 4,
    parameter int KH = 2,
    parameter int KW = 2,
    parameter int SH = 2,
    parameter int SW = 2,
    parameter int IN_B = 1,
    parameter int PAD_T = 0,
    parameter int PAD_L = 0,
    parameter int PAD_B = 0,
    parameter int PAD_R = 0,
    parameter logic [C-1:0] MIN_CH = '0
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic [C*IN_B-1:0] s_tdata,
    input  logic              s_tvalid,
    output logic              s_tready,
    output logic [C*IN_B-1:0] m_tdata,
    output logic              m_tvalid,
    input  logic              m_tready
);
    localparam int PW = C * IN_B;  // pixel width

    // The complement mask of the MIN_CH channels, and the max's identity per field (0 / 10..0).
    function automatic [PW-1:0] spread(input [C-1:0] m);
        for (int c = 0; c < C; c++) spread[c*IN_B +: IN_B] = {IN_B{m[c]}};
    endfunction
    function automatic [PW-1:0] identity(input int b);
        for (int c = 0; c < C; c++) identity[c*IN_B +: IN_B] = (b == 1) ? IN_B'(0) : IN_B'(1) << (b - 1);
    endfunction
    localparam logic [PW-1:0] FLIP = spread(MIN_CH);
    localparam logic [PW-1:0] NEUTRAL = identity(IN_B);
    localparam int PADDED = (PAD_T + PAD_L + PAD_B + PAD_R) > 0 ? 1 : 0;

    // Element-wise combine of two pixels: OR (binary) or signed max per IN_B-bit field.
    function automatic [PW-1:0] combine(input [PW-1:0] a, input [PW-1:0] b);
        if (IN_B == 1) begin
            combine = a | b;
        end else begin
            for (int c = 0; c < C; c++) begin
                combine[c*IN_B +: IN_B] = ($signed(a[c*IN_B +: IN_B]) >= $signed(b[c*IN_B +: IN_B]))
                    ? a[c*IN_B +: IN_B] : b[c*IN_B +: IN_B];
            end
        end
    endfunction

    logic [KH*PW-1:0] column;
    logic [(KW > 1 ? KW - 1 : 1)*PW-1:0] hist;
    logic [PW-1:0] col_max, pooled;

    always_comb begin
        col_max = column[(KH-1)*PW +: PW];  // the new pixel
        for (int ky = 0; ky < KH - 1; ky++) col_max = combine(col_max, column[ky*PW +: PW]);
        pooled = col_max;
        for (int kx = 0; kx < KW - 1; kx++) pooled = combine(pooled, hist[kx*PW +: PW]);
    end

    /* verilator lint_off PINCONNECTEMPTY */  // the hooks this reduction does not need
    bnn_window #(
        .C(C), .IN_B(IN_B), .H(H), .W(W), .KH(KH), .KW(KW), .SH(SH), .SW(SW),
        .PAD_T(PAD_T), .PAD_L(PAD_L), .PAD_B(PAD_B), .PAD_R(PAD_R),
        .COL_W(PW), .OUT_W(PW), .BUFFER(1), .USER(0), .PAD_FIXED(PADDED), .PAD_PIX(NEUTRAL)
    ) u_walk (
        .clk(clk), .rst_n(rst_n), .s_tdata(s_tdata ^ FLIP), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .column(column), .col_red(col_max), .hist(hist), .step(), .emit(), .result(pooled ^ FLIP),
        .m_tdata(m_tdata), .m_tuser(), .m_tvalid(m_tvalid), .m_tready(m_tready)
    );
    /* verilator lint_on PINCONNECTEMPTY */
endmodule
