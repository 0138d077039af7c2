// bnn_maxpool: max-pool, no padding. IN_B == 1 (binary): the max of +1/-1 values is the OR of
// their encodings, so each output channel is the OR over the KH x KW window. IN_B > 1: channel
// c is the IN_B-bit two's complement field [c*IN_B +: IN_B], and the output is its signed
// maximum over the window.
//
// The walk, the line buffer, the history and the handshakes are bnn_window's (read it first);
// this block's reduction combines (OR / max) the KH pixels of a column into one pixel, and at
// an output the current column's with the KW-1 kept ones. Interval: one input pixel per cycle.
module bnn_maxpool #(
    parameter int C = 1,
    parameter int H = 4,
    parameter int W = 4,
    parameter int KH = 2,
    parameter int KW = 2,
    parameter int SH = 2,
    parameter int SW = 2,
    parameter int IN_B = 1
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
        .COL_W(PW), .OUT_W(PW), .BUFFER(1), .USER(0)
    ) u_walk (
        .clk(clk), .rst_n(rst_n), .s_tdata(s_tdata), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .column(column), .col_red(col_max), .hist(hist), .step(), .emit(), .result(pooled),
        .m_tdata(m_tdata), .m_tuser(), .m_tvalid(m_tvalid), .m_tready(m_tready)
    );
    /* verilator lint_on PINCONNECTEMPTY */
endmodule
