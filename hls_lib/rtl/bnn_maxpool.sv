// bnn_maxpool: max-pool, no padding. B == 1 (binary): the max of +1/-1 values is the OR of
// their encodings, so each output channel is the OR over the KH x KW window. B > 1: channel c
// is the B-bit two's complement field [c*B +: B], and the output is its signed maximum over
// the window.
//
// Same walk as bnn_swg (self-contained, so the file lints and builds on its own): a line buffer
// keeps the KH-1 previous rows (one entry per column), the KH pixels of the current column
// are combined (OR / max) into one C*B-bit value, and the last KW-1 of those are kept in a shift register.
// An output is produced at (KH-1 + oy*SH, KW-1 + ox*SW) into a registered output.
//
// Handshakes: s_tready comes from a 2-entry input queue and m_tvalid from the output
// register (state only: no combinational path m_tready->s_tready or s_tvalid->m_tvalid).
// Interval: one input pixel per cycle.
module bnn_maxpool #(
    parameter int C = 1,
    parameter int H = 4,
    parameter int W = 4,
    parameter int KH = 2,
    parameter int KW = 2,
    parameter int SH = 2,
    parameter int SW = 2,
    parameter int B = 1
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic [C*B-1:0] s_tdata,
    input  logic         s_tvalid,
    output logic         s_tready,
    output logic [C*B-1:0] m_tdata,
    output logic         m_tvalid,
    input  logic         m_tready
);
    localparam int YW = $clog2(H + SH + 1);
    localparam int PXW = (W > 1) ? $clog2(W) : 1;
    localparam int XW = $clog2(W + SW + 1);
    localparam int PW = C * B;  // pixel width

    // Element-wise combine of two pixels: OR (binary) or signed max per B-bit field.
    function automatic [PW-1:0] combine(input [PW-1:0] a, input [PW-1:0] b);
        if (B == 1) begin
            combine = a | b;
        end else begin
            for (int c = 0; c < C; c++) begin
                combine[c*B +: B] = ($signed(a[c*B +: B]) >= $signed(b[c*B +: B])) ? a[c*B +: B] : b[c*B +: B];
            end
        end
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
    logic [PW-1:0] out_data;
    logic out_valid;

    wire row_last = (py == YW'(H - 1));
    wire col_last = (px == PXW'(W - 1));
    wire row_hit = (py == ny);
    wire col_hit = (XW'(px) == nx);
    wire emit = row_hit && col_hit;
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

    // ---------------------------------------------------------------- line buffer + column OR/max
    logic [PW-1:0] col_or;  // OR / max over rows py-(KH-1) .. py of column px

    if (KH > 1) begin : g_lines
        localparam int LB_W = (KH - 1) * PW;
        logic [LB_W-1:0] lb_rd;  // line-buffer entry of column px (prefetched: registered read)
        wire [KH*PW-1:0] column = {pixel, lb_rd};
        always_comb begin
            col_or = pixel;
            for (int ky = 0; ky < KH - 1; ky++) col_or = combine(col_or, column[ky*PW +: PW]);
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
        assign col_or = pixel;
    end

    // ---------------------------------------------------------------- last KW-1 column ORs/maxes
    logic [PW-1:0] pooled;

    if (KW > 1) begin : g_hist
        logic [(KW-1)*PW-1:0] hist;
        if (KW > 2) begin : g_shift
            always_ff @(posedge clk) begin
                if (advance) hist <= {col_or, hist[(KW-1)*PW-1:PW]};
            end
        end else begin : g_one
            always_ff @(posedge clk) begin
                if (advance) hist <= col_or;
            end
        end
        always_comb begin
            pooled = col_or;
            for (int kx = 0; kx < KW - 1; kx++) pooled = combine(pooled, hist[kx*PW +: PW]);
        end
    end else begin : g_no_hist
        assign pooled = col_or;
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
