// bnn_sumpool: sum pooling, no padding: per channel, the integer sum over each KH x KW window.
// The source's average pool is this sum divided by KH*KW; the divisor is folded into what
// follows (thresholds, a layer's scale, the output head), so the datapath stays exact.
//
// Input elements (channel c at [c*IN_B +: IN_B]): IN_B == 1: a sign bit (1 = +1, 0 = -1);
// IN_B > 1: an IN_B-bit two's complement integer (SIGNED = 1) or an unsigned one (SIGNED = 0:
// popcounts of the last binary layer). Output: channel c at [c*O_B +: O_B], an O_B-bit two's
// complement sum (the caller sizes O_B for the window's range; the sums cannot overflow it).
//
// The walk, the line buffer, the history and the handshakes are bnn_window's (read it
// first); this block's reduction sums. Windowed: the KH pixels of a column are summed and at
// an output the current column sum is added to the KW-1 kept ones. A column sum is kept at
// its exact width, CB bits per channel, not O_B: for sign bits the count of +1s (0..KH; the
// window's sum is then 2*count - KH*KW), for IN_B-bit fields IN_B + clog2(KH) bits. The walker
// is a module of its own, so yosys cannot see through its history that the low bit of a sum
// of +-1s or the top bits of a short sum are constant: a narrow column keeps those FFs and
// adder bits out. Global (KH == H and KW == W): the walker keeps no buffers (BUFFER = 0); one
// accumulator per channel adds every pixel of the frame and the sum leaves with the last one.
// Interval: one input pixel per cycle.
module bnn_sumpool #(
    parameter int C = 1,
    parameter int H = 4,
    parameter int W = 4,
    parameter int KH = 2,
    parameter int KW = 2,
    parameter int SH = 2,
    parameter int SW = 2,
    parameter int IN_B = 1,
    parameter int SIGNED = 1,
    parameter int O_B = 4
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic [C*IN_B-1:0] s_tdata,
    input  logic              s_tvalid,
    output logic              s_tready,
    output logic [C*O_B-1:0]  m_tdata,
    output logic              m_tvalid,
    input  logic              m_tready
);
    localparam int PW = C * IN_B;  // input pixel width
    localparam int SPW = C * O_B;  // sum pixel width
    localparam bit GLOBAL = (KH == H) && (KW == W);
    localparam int ROWS = GLOBAL ? 1 : KH;  // pixels in the walker's column
    localparam int CB = (IN_B == 1) ? $clog2(KH + 1) : IN_B + $clog2(KH);  // bits of a column sum
    localparam bit CSIGNED = (IN_B > 1) && (SIGNED != 0);                  // ... two's complement
    localparam int CPW = C * CB;   // column sum width

    // An input pixel as O_B-bit two's complement fields.
    function automatic [SPW-1:0] widen(input [PW-1:0] p);
        for (int c = 0; c < C; c++) begin
            if (IN_B == 1) begin
                widen[c*O_B +: O_B] = p[c*IN_B] ? O_B'(1) : {O_B{1'b1}};
            end else if (SIGNED != 0) begin
                widen[c*O_B +: O_B] = O_B'($signed(p[c*IN_B +: IN_B]));
            end else begin
                widen[c*O_B +: O_B] = O_B'(p[c*IN_B +: IN_B]);
            end
        end
    endfunction

    // Field-wise sum of two O_B-bit pixels.
    function automatic [SPW-1:0] add(input [SPW-1:0] a, input [SPW-1:0] b);
        for (int c = 0; c < C; c++) add[c*O_B +: O_B] = a[c*O_B +: O_B] + b[c*O_B +: O_B];
    endfunction

    // The column sum of KH input pixels (row ky at [ky*PW +: PW]), CB bits per channel.
    function automatic [CPW-1:0] column_sum(input [KH*PW-1:0] col);
        for (int c = 0; c < C; c++) begin
            logic [CB-1:0] s;
            s = '0;
            for (int ky = 0; ky < KH; ky++) begin
                if (IN_B == 1) s = s + CB'(col[ky*PW + c]);
                else if (CSIGNED) s = s + CB'($signed(col[ky*PW + c*IN_B +: IN_B]));
                else s = s + CB'(col[ky*PW + c*IN_B +: IN_B]);
            end
            column_sum[c*CB +: CB] = s;
        end
    endfunction

    // Column sums as O_B-bit fields.
    function automatic [SPW-1:0] widen_col(input [CPW-1:0] s);
        for (int c = 0; c < C; c++) begin
            widen_col[c*O_B +: O_B] = CSIGNED ? O_B'($signed(s[c*CB +: CB])) : O_B'(s[c*CB +: CB]);
        end
    endfunction

    // The window's sums from the sum of its column sums: for sign bits that is the count of +1s.
    function automatic [SPW-1:0] window_sum(input [SPW-1:0] total);
        for (int c = 0; c < C; c++) begin
            window_sum[c*O_B +: O_B] = (IN_B == 1) ? O_B'(2 * total[c*O_B +: O_B] - KH * KW) : total[c*O_B +: O_B];
        end
    endfunction

    logic [ROWS*PW-1:0] column;
    logic [CPW-1:0] col_sum;
    logic [SPW-1:0] pooled;
    /* verilator lint_off UNUSEDSIGNAL */  // the global sum reads step/emit, the windowed one hist
    logic [(!GLOBAL && KW > 1 ? KW - 1 : 1)*CPW-1:0] hist;
    logic step, emit;
    /* verilator lint_on UNUSEDSIGNAL */

    if (GLOBAL) begin : g_global
        // one accumulator per channel; `pooled` (the frame's sum) leaves at the last pixel
        logic [SPW-1:0] acc;
        assign col_sum = '0;  // no history
        assign pooled = add(acc, widen(column));
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                acc <= '0;
            end else if (step) begin
                acc <= emit ? '0 : pooled;
            end
        end
    end else begin : g_window
        logic [SPW-1:0] total;
        always_comb begin
            col_sum = column_sum(column);
            total = widen_col(col_sum);
            for (int kx = 0; kx < KW - 1; kx++) total = add(total, widen_col(hist[kx*CPW +: CPW]));
            pooled = window_sum(total);
        end
    end

    /* verilator lint_off PINCONNECTEMPTY */  // the hooks this reduction does not need
    bnn_window #(
        .C(C), .IN_B(IN_B), .H(H), .W(W), .KH(KH), .KW(KW), .SH(SH), .SW(SW),
        .COL_W(CPW), .OUT_W(SPW), .BUFFER(GLOBAL ? 0 : 1), .USER(0)
    ) u_walk (
        .clk(clk), .rst_n(rst_n), .s_tdata(s_tdata), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .column(column), .col_red(col_sum), .hist(hist), .step(step), .emit(emit), .result(pooled),
        .m_tdata(m_tdata), .m_tuser(), .m_tvalid(m_tvalid), .m_tready(m_tready)
    );
    /* verilator lint_on PINCONNECTEMPTY */
endmodule
