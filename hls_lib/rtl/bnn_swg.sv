// bnn_swg: sliding-window generator with padding and border classes.
//
// Input: unpadded pixels (C*B bits: element c at [c*B +: B]) in raster order, frames back to
// back with no delimiter. Output: one window word per output position in raster order, element
// (ky, kx, c) at [((ky*KW + kx)*C + c)*B +: B], with the border class id in m_tuser.
//
// The core walks the padded frame (H+PAD_T+PAD_B) x (W+PAD_L+PAD_R) one position per cycle. An
// in-bounds position consumes an input pixel; a pad position injects the pad pixel (FBNA
// pattern for binary, zero for multi-bit). Each position's KH-pixel column is the new pixel
// plus KH-1 older pixels from the line buffer (one entry per padded column, KH-1 rows wide);
// the last KW-1 columns are kept in a shift register. A window is emitted at padded position
// (KH-1 + oy*SH, KW-1 + ox*SW).
//
// Handshakes: s_tready comes from a 2-entry input queue and m_tvalid from the output register,
// both state only, so there is no combinational path m_tready->s_tready or s_tvalid->m_tvalid.
// Steady state: one padded position per cycle when input is available and the output is not
// stalled; frames follow each other without bubbles.
module bnn_swg #(
    parameter int C = 1,
    parameter int B = 1,
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
    input  logic [C*B-1:0]            s_tdata,
    input  logic                      s_tvalid,
    output logic                      s_tready,
    output logic [KH*KW*C*B-1:0]      m_tdata,
    output logic [USER_W-1:0]         m_tuser,
    output logic                      m_tvalid,
    input  logic                      m_tready
);
    localparam int PIX_W = C * B;
    localparam int HP = H + PAD_T + PAD_B;
    localparam int WP = W + PAD_L + PAD_R;
    localparam int WIN_W = KH * KW * PIX_W;
    // Counter widths: py/px index the padded frame; ny/nx (next output row/column) reach at most
    // KH-1 + OH*SH <= HP-1 + SH (resp. columns).
    localparam int YW = $clog2(HP + SH + 1);
    localparam int PXW = (WP > 1) ? $clog2(WP) : 1;
    localparam int XW = $clog2(WP + SW + 1);
    localparam int PAD_PAR = (PAD_T + PAD_L) % 2;

    // Binary pad pixel where (y + x) is even: bit c = (c % 2 == 0).
    localparam logic [PIX_W-1:0] PAD_EVEN = (B == 1) ? PIX_W'({PIX_W{2'b01}}) : '0;
    localparam logic [PIX_W-1:0] PAD_ODD = (B == 1) ? ~PAD_EVEN : '0;

    // ---------------------------------------------------------------- input queue (2 entries)
    logic [PIX_W-1:0] in_q [2];
    logic in_wr, in_rd;
    logic [1:0] in_count;
    logic in_pop;

    assign s_tready = (in_count != 2'd2);
    wire in_push = s_tvalid && s_tready;
    wire in_avail = (in_count != 2'd0);
    wire [PIX_W-1:0] in_head = in_q[in_rd];

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

    // ---------------------------------------------------------------- padded-frame walk
    logic [YW-1:0] py, ny;                  // current padded row; padded row of the next output row
    logic [PXW-1:0] px;                     // current padded column
    logic [XW-1:0] nx;                      // padded column of the next output column
    logic row_in, col_in;                   // current row/column lies inside the image
    logic [OH*CLS_W-1:0] row_cls;           // current output row's class in the low bits
    logic [OW*CLS_W-1:0] col_cls;
    logic row_par, col_par;                 // (SH*oy) % 2, (SW*ox) % 2
    logic [WIN_W-1:0] out_data;
    logic [USER_W-1:0] out_user;
    logic out_valid;

    wire in_bounds = row_in && col_in;
    wire row_last = (py == YW'(HP - 1));
    wire col_last = (px == PXW'(WP - 1));
    wire row_hit = (py == ny);
    wire col_hit = (XW'(px) == nx);
    wire emit = row_hit && col_hit;
    wire advance = (!in_bounds || in_avail) && (!emit || !out_valid || m_tready);
    assign in_pop = advance && in_bounds;

    wire pad_odd = py[0] ^ px[0] ^ PAD_PAR[0];
    wire [PIX_W-1:0] pixel = in_bounds ? in_head : (pad_odd ? PAD_ODD : PAD_EVEN);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            py <= '0;
            px <= '0;
            ny <= YW'(KH - 1);
            nx <= XW'(KW - 1);
            row_in <= (PAD_T == 0);
            col_in <= (PAD_L == 0);
            row_cls <= ROW_CLASS;
            col_cls <= COL_CLASS;
            row_par <= 1'b0;
            col_par <= 1'b0;
        end else if (advance) begin
            if (col_last) begin
                px <= '0;
                col_in <= (PAD_L == 0);
                nx <= XW'(KW - 1);
                col_cls <= COL_CLASS;
                col_par <= 1'b0;
                if (row_last) begin
                    py <= '0;
                    row_in <= (PAD_T == 0);
                    ny <= YW'(KH - 1);
                    row_cls <= ROW_CLASS;
                    row_par <= 1'b0;
                end else begin
                    py <= py + 1'b1;
                    if (py + 1'b1 == YW'(PAD_T)) row_in <= 1'b1;
                    if (py + 1'b1 == YW'(PAD_T + H)) row_in <= 1'b0;
                    if (row_hit) begin
                        ny <= ny + YW'(SH);
                        row_cls <= row_cls >> CLS_W;
                        row_par <= row_par ^ SH[0];
                    end
                end
            end else begin
                px <= px + 1'b1;
                if (px + 1'b1 == PXW'(PAD_L)) col_in <= 1'b1;
                if (px + 1'b1 == PXW'(PAD_L + W)) col_in <= 1'b0;
                if (col_hit) begin
                    nx <= nx + XW'(SW);
                    col_cls <= col_cls >> CLS_W;
                    col_par <= col_par ^ SW[0];
                end
            end
        end
    end

    // ---------------------------------------------------------------- line buffer + window
    // column[ky]: the pixel at padded (py - (KH-1) + ky, px).
    logic [KH*PIX_W-1:0] column;
    logic [WIN_W-1:0] window;

    if (KH > 1) begin : g_lines
        localparam int LB_W = (KH - 1) * PIX_W;
        // lb_rd holds the line-buffer entry of column px (prefetched, so the memory has a
        // registered read port).
        logic [LB_W-1:0] lb_rd;
        assign column = {pixel, lb_rd};
        if (WP > 1) begin : g_mem
            logic [LB_W-1:0] lb [WP];
            wire [PXW-1:0] px_next = col_last ? '0 : px + 1'b1;
            always_ff @(posedge clk) begin
                if (advance) begin
                    lb[px] <= column[KH*PIX_W-1:PIX_W];
                    lb_rd <= lb[px_next];
                end
            end
        end else begin : g_reg
            always_ff @(posedge clk) begin
                if (advance) lb_rd <= column[KH*PIX_W-1:PIX_W];
            end
        end
    end else begin : g_no_lines
        assign column = pixel;
    end

    // hist column j (j = 0..KW-2) holds padded column px - (KW-1) + j, row ky at [(j*KH + ky)*PIX_W].
    if (KW > 1) begin : g_hist
        logic [(KW-1)*KH*PIX_W-1:0] hist;
        if (KW > 2) begin : g_shift
            always_ff @(posedge clk) begin
                if (advance) hist <= {column, hist[(KW-1)*KH*PIX_W-1:KH*PIX_W]};
            end
        end else begin : g_one
            always_ff @(posedge clk) begin
                if (advance) hist <= column;
            end
        end
        for (genvar ky = 0; ky < KH; ky++) begin : g_y
            for (genvar kx = 0; kx < KW - 1; kx++) begin : g_x
                assign window[(ky*KW + kx)*PIX_W +: PIX_W] = hist[(kx*KH + ky)*PIX_W +: PIX_W];
            end
            assign window[(ky*KW + KW - 1)*PIX_W +: PIX_W] = column[ky*PIX_W +: PIX_W];
        end
    end else begin : g_no_hist
        assign window = column;  // KW = 1: the window is the column, ky-major already
    end

    // ---------------------------------------------------------------- output register
    wire [CLS_W-1:0] rc = row_cls[CLS_W-1:0];
    wire [CLS_W-1:0] cc = col_cls[CLS_W-1:0];
    wire parity = row_par ^ col_par;
    wire [USER_W-1:0] class_id = USER_W'((int'(rc) * N_COL_CLASSES + int'(cc)) * 2 + int'(parity));

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
        if (advance && emit) begin
            out_data <= window;
            out_user <= class_id;
        end
    end

    assign m_tdata = out_data;
    assign m_tuser = out_user;
    assign m_tvalid = out_valid;
endmodule
