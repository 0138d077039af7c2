// bnn_sumpool: sum pooling, no padding: per channel, the integer sum over each KH x KW window.
// The source's average pool is this sum divided by KH*KW; the divisor is folded into what
// follows (thresholds, a layer's scale, the output head), so the datapath stays exact.
//
// Input elements (channel c at [c*B +: B]): B == 1: a sign bit (1 = +1, 0 = -1); B > 1: a B-bit
// two's complement integer (SIGNED = 1) or an unsigned one (SIGNED = 0: popcounts of the last
// binary layer). Output: channel c at [c*OB +: OB], an OB-bit two's complement sum (the caller
// sizes OB for the window's range; the sums cannot overflow it).
//
// Global pooling (KH == H and KW == W): one accumulator per channel adds every pixel of the
// frame and the sum leaves with the last one. Windowed pooling walks the frame as bnn_maxpool
// does (self-contained, so the file lints and builds on its own): a line buffer keeps the
// KH-1 previous rows of input pixels, the KH pixels of the current column are summed, and the
// last KW-1 column sums are kept in a shift register. An output is produced at
// (KH-1 + oy*SH, KW-1 + ox*SW) into a registered output.
//
// Handshakes: s_tready comes from a 2-entry input queue and m_tvalid from the output
// register (state only: no combinational path m_tready->s_tready or s_tvalid->m_tvalid).
// Interval: one input pixel per cycle.
module bnn_sumpool #(
    parameter int C = 1,
    parameter int H = 4,
    parameter int W = 4,
    parameter int KH = 2,
    parameter int KW = 2,
    parameter int SH = 2,
    parameter int SW = 2,
    parameter int B = 1,
    parameter int SIGNED = 1,
    parameter int OB = 4
) (
    input  logic            clk,
    input  logic            rst_n,
    input  logic [C*B-1:0]  s_tdata,
    input  logic            s_tvalid,
    output logic            s_tready,
    output logic [C*OB-1:0] m_tdata,
    output logic            m_tvalid,
    input  logic            m_tready
);
    localparam int YW = $clog2(H + SH + 1);
    localparam int PXW = (W > 1) ? $clog2(W) : 1;
    localparam int XW = $clog2(W + SW + 1);
    localparam int PW = C * B;   // input pixel width
    localparam int SPW = C * OB; // sum pixel width
    localparam bit GLOBAL = (KH == H) && (KW == W);

    // An input pixel as OB-bit two's complement fields.
    function automatic [SPW-1:0] widen(input [PW-1:0] p);
        for (int c = 0; c < C; c++) begin
            if (B == 1) begin
                widen[c*OB +: OB] = p[c*B] ? OB'(1) : {OB{1'b1}};
            end else if (SIGNED != 0) begin
                widen[c*OB +: OB] = OB'($signed(p[c*B +: B]));
            end else begin
                widen[c*OB +: OB] = OB'(p[c*B +: B]);
            end
        end
    endfunction

    // Field-wise sum of two OB-bit pixels.
    function automatic [SPW-1:0] add(input [SPW-1:0] a, input [SPW-1:0] b);
        for (int c = 0; c < C; c++) add[c*OB +: OB] = a[c*OB +: OB] + b[c*OB +: OB];
    endfunction

    // ---------------------------------------------------------------- input queue (2 entries)
    logic [PW-1:0] in_q [2];
    logic in_wr, in_rd;
    logic [1:0] in_count;
    logic in_pop;

    assign s_tready = (in_count != 2'd2);
    wire in_push = s_tvalid && s_tready;
    wire in_avail = (in_count != 2'd0);
    wire [PW-1:0] pixel = in_q[in_rd];

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            in_wr <= 1'b0;
            in_rd <= 1'b0;
            in_count <= 2'd0;
        end else begin
            if (in_push) in_wr <= ~in_wr;
            if (in_pop) in_rd <= ~in_rd;
            case ({in_push, in_pop})
                2'b10: in_count <= in_count + 2'd1;
                2'b01: in_count <= in_count - 2'd1;
                default: ;
            endcase
        end
    end

    always_ff @(posedge clk) begin
        if (in_push) in_q[in_wr] <= s_tdata;
    end

    // ---------------------------------------------------------------- frame walk
    logic [YW-1:0] py, ny;   // current row; row of the next output row
    logic [PXW-1:0] px;      // current column
    logic [XW-1:0] nx;       // column of the next output column
    logic [SPW-1:0] out_data;
    logic out_valid;

    wire row_last = (py == YW'(H - 1));
    wire col_last = (px == PXW'(W - 1));
    wire row_hit = (py == ny);
    wire col_hit = (XW'(px) == nx);
    wire emit = row_hit && col_hit;  // global: the frame's last pixel
    wire advance = in_avail && (!emit || !out_valid || m_tready);
    assign in_pop = advance;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            py <= '0;
            px <= '0;
            ny <= YW'(KH - 1);
            nx <= XW'(KW - 1);
        end else if (advance) begin
            if (col_last) begin
                px <= '0;
                nx <= XW'(KW - 1);
                if (row_last) begin
                    py <= '0;
                    ny <= YW'(KH - 1);
                end else begin
                    py <= py + 1'b1;
                    if (row_hit) ny <= ny + YW'(SH);
                end
            end else begin
                px <= px + 1'b1;
                if (col_hit) nx <= nx + XW'(SW);
            end
        end
    end

    wire [SPW-1:0] value = widen(pixel);
    logic [SPW-1:0] pooled;  // the window's sum at an emitting position

    if (GLOBAL) begin : g_global
        // ------------------------------------------------------------ one accumulator per channel
        logic [SPW-1:0] acc;
        assign pooled = add(acc, value);
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                acc <= '0;
            end else if (advance) begin
                acc <= emit ? '0 : pooled;
            end
        end
    end else begin : g_window
        // ------------------------------------------------------------ line buffer + column sum
        logic [SPW-1:0] col_sum;  // sum over rows py-(KH-1) .. py of column px

        if (KH > 1) begin : g_lines
            localparam int LB_W = (KH - 1) * PW;
            logic [LB_W-1:0] lb_rd;  // line-buffer entry of column px (prefetched: registered read)
            wire [KH*PW-1:0] column = {pixel, lb_rd};
            always_comb begin
                col_sum = value;
                for (int ky = 0; ky < KH - 1; ky++) col_sum = add(col_sum, widen(column[ky*PW +: PW]));
            end
            if (W > 1) begin : g_mem
                logic [LB_W-1:0] lb [W];
                wire [PXW-1:0] px_next = col_last ? '0 : px + 1'b1;
                always_ff @(posedge clk) begin
                    if (advance) begin
                        lb[px] <= column[KH*PW-1:PW];
                        lb_rd <= lb[px_next];
                    end
                end
            end else begin : g_reg
                always_ff @(posedge clk) begin
                    if (advance) lb_rd <= column[KH*PW-1:PW];
                end
            end
        end else begin : g_no_lines
            assign col_sum = value;
        end

        // ------------------------------------------------------------ last KW-1 column sums
        if (KW > 1) begin : g_hist
            logic [(KW-1)*SPW-1:0] hist;
            if (KW > 2) begin : g_shift
                always_ff @(posedge clk) begin
                    if (advance) hist <= {col_sum, hist[(KW-1)*SPW-1:SPW]};
                end
            end else begin : g_one
                always_ff @(posedge clk) begin
                    if (advance) hist <= col_sum;
                end
            end
            always_comb begin
                pooled = col_sum;
                for (int kx = 0; kx < KW - 1; kx++) pooled = add(pooled, hist[kx*SPW +: SPW]);
            end
        end else begin : g_no_hist
            assign pooled = col_sum;
        end
    end

    // ---------------------------------------------------------------- output register
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            out_valid <= 1'b0;
        end else if (advance && emit) begin
            out_valid <= 1'b1;
        end else if (m_tready) begin
            out_valid <= 1'b0;
        end
    end

    always_ff @(posedge clk) begin
        if (advance && emit) out_data <= pooled;
    end

    assign m_tdata = out_data;
    assign m_tvalid = out_valid;
endmodule
