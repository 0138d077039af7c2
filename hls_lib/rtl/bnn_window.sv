// bnn_window: the window walker that bnn_swg, bnn_maxpool and bnn_sumpool share. Each of them
// instantiates it and supplies its own reduction through two combinational hooks, as
// finn-hlslib's pooling functions share one window buffer and differ in their pool function.
//
// The walker reads C*IN_B-bit pixels in raster order (frames back to back, no delimiter)
// through a bnn_in_queue and walks the padded frame (H+PAD_T+PAD_B) x (W+PAD_L+PAD_R), one
// position per cycle: an in-bounds position pops an input pixel, a pad position injects the
// pad pixel instead (binary: the FBNA pattern, bit c = +1 where (y + x + c) is even in image
// coordinates; multi-bit: 0; with PAD_FIXED = 1, PAD_PIX everywhere: bnn_maxpool's identity
// of its reduction). At every position:
//   - `column` is the KH pixels of padded rows py-(KH-1) .. py at column px (row ky at
//     [ky*PIX_W +: PIX_W]): the new pixel on top of KH-1 older ones from the line buffer (one
//     entry per padded column, KH-1 rows wide, registered read).
//   - the owner reduces `column` to COL_W bits and returns it on `col_red` (bnn_swg: the
//     column itself; bnn_maxpool: its OR / max; bnn_sumpool: its sum). The walker keeps the
//     last KW-1 of those in `hist` (column px-(KW-1)+j at [j*COL_W +: COL_W]).
//   - at padded position (KH-1 + oy*SH, KW-1 + ox*SW) (`emit`), the owner's `result`, made from
//     `col_red` and `hist`, goes to the output register, with the border class id in m_tuser.
// Reducing each column before it is kept (instead of the whole window at the end) keeps the
// history COL_W bits per column and the reduction (KH-1)+(KW-1) operations deep.
//
// BUFFER = 0 leaves out the line buffer and the history (a global pool keeps its own state:
// it reads `column` = the pixel and accumulates on `step`; KH x KW only places `emit`).
// USER = 0 leaves out the border classes and m_tuser (the pools have none).
//
// Handshakes: s_tready comes from the input queue and m_tvalid from the output register, both
// state only, so there is no combinational path m_tready->s_tready or s_tvalid->m_tvalid.
// Steady state: one padded position per cycle when input is available and the output is not
// stalled; frames follow each other without bubbles.
module bnn_window #(
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
    parameter int COL_W = KH * C * IN_B,
    parameter int OUT_W = KH * KW * C * IN_B,
    parameter int BUFFER = 1,
    parameter int USER = 1,
    parameter int N_COL_CLASSES = 1,
    parameter int CLS_W = 1,
    parameter int USER_W = 1,
    parameter int PAD_FIXED = 0,
    parameter logic [C*IN_B-1:0] PAD_PIX = '0,
    localparam int OH = (H + PAD_T + PAD_B - KH) / SH + 1,
    localparam int OW = (W + PAD_L + PAD_R - KW) / SW + 1,
    parameter logic [OH*CLS_W-1:0] ROW_CLASS = '0,
    parameter logic [OW*CLS_W-1:0] COL_CLASS = '0,
    localparam int PIX_W = C * IN_B,
    localparam int COL_ROWS = BUFFER != 0 ? KH : 1,
    localparam int HIST_N = (BUFFER != 0 && KW > 1) ? KW - 1 : 1
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [PIX_W-1:0]          s_tdata,
    input  logic                      s_tvalid,
    output logic                      s_tready,
    // the owner's reduction
    output logic [COL_ROWS*PIX_W-1:0] column,
    /* verilator lint_off UNUSEDSIGNAL */    // unread without a history (KW = 1, BUFFER = 0)
    input  logic [COL_W-1:0]          col_red,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic [HIST_N*COL_W-1:0]   hist,
    output logic                      step,     // the walk moves on this cycle
    output logic                      emit,     // ... and the current position ends a window
    input  logic [OUT_W-1:0]          result,
    // the output stream
    output logic [OUT_W-1:0]          m_tdata,
    output logic [USER_W-1:0]         m_tuser,
    output logic                      m_tvalid,
    input  logic                      m_tready
);
    localparam int HP = H + PAD_T + PAD_B;
    localparam int WP = W + PAD_L + PAD_R;
    // Counter widths: py/px index the padded frame; ny/nx (next output row/column) reach at most
    // KH-1 + OH*SH <= HP-1 + SH (resp. columns).
    localparam int YW = $clog2(HP + SH + 1);
    localparam int PXW = (WP > 1) ? $clog2(WP) : 1;
    localparam int XW = $clog2(WP + SW + 1);
    localparam int PAD_PAR = (PAD_T + PAD_L) % 2;

    // Binary pad pixel where (y + x) is even: bit c = (c % 2 == 0).
    // PAD_FIXED: PAD_PIX at every pad position.
    localparam logic [PIX_W-1:0] PAD_EVEN = (PAD_FIXED != 0) ? PAD_PIX : (IN_B == 1) ? PIX_W'({PIX_W{2'b01}}) : '0;
    localparam logic [PIX_W-1:0] PAD_ODD = (PAD_FIXED != 0) ? PAD_PIX : (IN_B == 1) ? ~PAD_EVEN : '0;

    localparam bit PADDED = (PAD_T + PAD_L + PAD_B + PAD_R) > 0;

    // ---------------------------------------------------------------- input queue
    // `pixel` is the queue's head, or at a pad position the pad pixel (the queue's fill).
    logic [PIX_W-1:0] pixel;
    logic in_avail, in_pop, in_bounds, pad_odd;

    bnn_in_queue #(.WIDTH(PIX_W), .FILL(PADDED ? 1 : 0), .FILL_EVEN(PAD_EVEN), .FILL_ODD(PAD_ODD)) u_in (
        .clk(clk), .rst_n(rst_n), .s_tdata(s_tdata), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .head(pixel), .avail(in_avail), .pop(in_pop), .fill(PADDED && !in_bounds), .fill_odd(PADDED && pad_odd)
    );

    // ---------------------------------------------------------------- padded-frame walk
    logic [YW-1:0] py, ny;                  // current padded row; padded row of the next output row
    logic [PXW-1:0] px;                     // current padded column
    logic [XW-1:0] nx;                      // padded column of the next output column
    logic row_in, col_in;                   // current row/column lies inside the image
    logic out_valid;

    assign in_bounds = row_in && col_in;
    // The walk's compares are registers, computed from the next position: `emit` gates
    // `step`, and `step` the enables of the window and output registers (a py == ny compare
    // in front of them was the depthwise test net's critical path on ECP5).
    logic row_last, col_last, row_hit, col_hit;  // = py == HP-1, px == WP-1, py == ny, px == nx
    assign emit = row_hit && col_hit;
    assign step = (!in_bounds || in_avail) && (!emit || !out_valid || m_tready);
    assign in_pop = step && in_bounds;

    assign pad_odd = py[0] ^ px[0] ^ PAD_PAR[0];  // the pad pixel of (y + x) odd

    // The position after a step (py_s, px_s, ny_s, nx_s) and its flags are computed from the
    // registers alone; `step` only enables the registers that take them. `step` follows the
    // consumer's m_tready, so the compares stay off the path m_tready -> step (the residual
    // demo's critical path ran from its MVAU's stall through step and the row compare).
    logic [YW-1:0] py_s, ny_s;
    logic [PXW-1:0] px_s;
    logic [XW-1:0] nx_s;
    always_comb begin
        py_s = py;
        px_s = px;
        ny_s = ny;
        nx_s = nx;
        if (col_last) begin
            px_s = '0;
            nx_s = XW'(KW - 1);
            if (row_last) begin
                py_s = '0;
                ny_s = YW'(KH - 1);
            end else begin
                py_s = py + 1'b1;
                if (row_hit) ny_s = ny + YW'(SH);
            end
        end else begin
            px_s = px + 1'b1;
            if (col_hit) nx_s = nx + XW'(SW);
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            py <= '0;
            px <= '0;
            ny <= YW'(KH - 1);
            nx <= XW'(KW - 1);
            row_last <= (HP == 1);
            col_last <= (WP == 1);
            row_hit <= (KH == 1);
            col_hit <= (KW == 1);
        end else if (step) begin
            py <= py_s;
            px <= px_s;
            ny <= ny_s;
            nx <= nx_s;
            row_last <= (py_s == YW'(HP - 1));
            col_last <= (px_s == PXW'(WP - 1));
            row_hit <= (py_s == ny_s);
            col_hit <= (XW'(px_s) == nx_s);
        end
    end

    // Inside-the-image flags, only where that side is padded (an unpadded walk is always in),
    // and their values after a step (row_in_s, col_in_s: from registers only, like py_s).
    logic row_in_s, col_in_s;
    localparam bit ROW_IN0 = (PAD_T == 0);  // at reset and at the top of a frame
    localparam bit COL_IN0 = (PAD_L == 0);
    if (PAD_T + PAD_B > 0) begin : g_row_in
        always_comb begin
            row_in_s = row_in;
            if (col_last) begin
                if (row_last) row_in_s = ROW_IN0;
                else if (py + 1'b1 == YW'(PAD_T)) row_in_s = 1'b1;
                else if (py + 1'b1 == YW'(PAD_T + H)) row_in_s = 1'b0;
            end
        end
        always_ff @(posedge clk) begin
            if (!rst_n) row_in <= ROW_IN0;
            else if (step) row_in <= row_in_s;
        end
    end else begin : g_row_all
        assign row_in = 1'b1;
        assign row_in_s = 1'b1;
    end
    if (PAD_L + PAD_R > 0) begin : g_col_in
        always_comb begin
            col_in_s = col_in;
            if (col_last) col_in_s = COL_IN0;
            else if (px + 1'b1 == PXW'(PAD_L)) col_in_s = 1'b1;
            else if (px + 1'b1 == PXW'(PAD_L + W)) col_in_s = 1'b0;
        end
        always_ff @(posedge clk) begin
            if (!rst_n) col_in <= COL_IN0;
            else if (step) col_in <= col_in_s;
        end
    end else begin : g_col_all
        assign col_in = 1'b1;
        assign col_in_s = 1'b1;
    end

    // ---------------------------------------------------------------- banked step
    // The wide registers (line buffer, history, output register: thousands of bits for a
    // 256-channel 3x3 window) move in banks of BANK bits, each on its own copy of `step`: one
    // LUT of the bank's own copy of out_valid, the registers in_bounds_q and emit_q and the
    // handshake inputs (in_avail, m_tready). m_tready then reaches one LUT per bank, never an
    // enable net of every bit: CNV_1W1A's conv5 MVAU ready -> its window's 2,304-bit output
    // register enable was 13.2 ns of routing on ECP5. (The copy keeps yosys from merging the
    // banks' LUTs back into one; in_bounds_q and emit_q are registers, not the compares after
    // a step, which broadcast to the banks were the residual net's path, 2.6 + 5.9 ns.)
    localparam int BANK = 64;
    logic in_bounds_q, emit_q;  // = in_bounds, emit
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            in_bounds_q <= ROW_IN0 && COL_IN0;
            emit_q <= (KH == 1) && (KW == 1);
        end else if (step) begin
            in_bounds_q <= row_in_s && col_in_s;
            emit_q <= (py_s == ny_s) && (XW'(px_s) == nx_s);
        end
    end
    function automatic logic bank_step(input logic valid_c);  // = step, from a bank's copy of out_valid
        bank_step = (!in_bounds_q || in_avail) && (!emit_q || !valid_c || m_tready);
    endfunction
    // a bank's copy of out_valid after this cycle
    function automatic logic valid_next(input logic valid_c);
        if (bank_step(valid_c) && emit_q) valid_next = 1'b1;
        else if (m_tready) valid_next = 1'b0;
        else valid_next = valid_c;
    endfunction

    // ---------------------------------------------------------------- line buffer + history
    if (BUFFER != 0 && KH > 1) begin : g_lines
        localparam int LB_W = (KH - 1) * PIX_W;
        // lb_rd holds the line-buffer entry of column px (prefetched, so the memory has a
        // registered read port).
        logic [LB_W-1:0] lb_rd;
        assign column = {pixel, lb_rd};
        for (genvar b = 0; b < (LB_W + BANK - 1) / BANK; b++) begin : g_bank
            localparam int LO = b * BANK;
            localparam int BW = (LB_W - LO < BANK) ? LB_W - LO : BANK;
            logic valid_c;
            (* keep *) always_ff @(posedge clk) begin
                if (!rst_n) valid_c <= 1'b0;
                else valid_c <= valid_next(valid_c);
            end
            wire step_b = bank_step(valid_c);
            if (WP > 1) begin : g_mem
                logic [BW-1:0] lb [WP];
                always_ff @(posedge clk) begin
                    if (step_b) begin
                        lb[px] <= column[PIX_W + LO +: BW];
                        lb_rd[LO +: BW] <= lb[px_s];  // the column after this step
                    end
                end
            end else begin : g_reg
                always_ff @(posedge clk) begin
                    if (step_b) lb_rd[LO +: BW] <= column[PIX_W + LO +: BW];
                end
            end
        end
    end else begin : g_no_lines
        assign column = pixel;
    end

    if (BUFFER != 0 && KW > 1) begin : g_hist
        localparam int HW = (KW - 1) * COL_W;
        logic [HW-1:0] hist_next;
        if (KW > 2) begin : g_shift
            assign hist_next = {col_red, hist[HW-1:COL_W]};
        end else begin : g_one
            assign hist_next = col_red;
        end
        for (genvar b = 0; b < (HW + BANK - 1) / BANK; b++) begin : g_bank
            localparam int LO = b * BANK;
            localparam int BW = (HW - LO < BANK) ? HW - LO : BANK;
            logic valid_c;
            (* keep *) always_ff @(posedge clk) begin
                if (!rst_n) valid_c <= 1'b0;
                else valid_c <= valid_next(valid_c);
            end
            always_ff @(posedge clk) begin
                if (bank_step(valid_c)) hist[LO +: BW] <= hist_next[LO +: BW];
            end
        end
    end else begin : g_no_hist
        assign hist = '0;
    end

    // ---------------------------------------------------------------- border class
    // The row's part of a border class id, rc * N_COL_CLASSES * 2, per output row, computed at
    // elaboration: a `*` of the row class in the fabric became a DSP block on ECP5 and the
    // depthwise test net's critical path.
    function automatic logic [OH*USER_W-1:0] row_bases(input logic [OH*CLS_W-1:0] cls);
        row_bases = '0;
        for (int i = 0; i < OH; i++) begin
            row_bases[i*USER_W +: USER_W] = USER_W'(int'(cls[i*CLS_W +: CLS_W]) * N_COL_CLASSES * 2);
        end
    endfunction

    if (USER != 0) begin : g_user
        // The row's part of the class id, precomputed per output row (row_bases).
        localparam logic [OH*USER_W-1:0] ROW_BASE = row_bases(ROW_CLASS);
        logic [OH*USER_W-1:0] row_base;     // current output row's rc * N_COL_CLASSES * 2 in the low bits
        logic [OW*CLS_W-1:0] col_cls;
        logic row_par, col_par;             // (SH*oy) % 2, (SW*ox) % 2
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                row_base <= ROW_BASE;
                col_cls <= COL_CLASS;
                row_par <= 1'b0;
                col_par <= 1'b0;
            end else if (step) begin
                if (col_last) begin
                    col_cls <= COL_CLASS;
                    col_par <= 1'b0;
                    if (row_last) begin
                        row_base <= ROW_BASE;
                        row_par <= 1'b0;
                    end else if (row_hit) begin
                        row_base <= row_base >> USER_W;
                        row_par <= row_par ^ SH[0];
                    end
                end else if (col_hit) begin
                    col_cls <= col_cls >> CLS_W;
                    col_par <= col_par ^ SW[0];
                end
            end
        end
        wire [CLS_W-1:0] cc = col_cls[CLS_W-1:0];
        wire parity = row_par ^ col_par;
        // (rc * N_COL_CLASSES + cc) * 2 + parity
        wire [USER_W-1:0] class_id = row_base[USER_W-1:0] + USER_W'((int'(cc) << 1) | int'(parity));
        logic [USER_W-1:0] out_user;
        always_ff @(posedge clk) begin
            if (step && emit) out_user <= class_id;
        end
        assign m_tuser = out_user;
    end else begin : g_no_user
        assign m_tuser = '0;
    end

    // ---------------------------------------------------------------- output register
    logic [OUT_W-1:0] out_data;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            out_valid <= 1'b0;
        end else if (step && emit) begin
            out_valid <= 1'b1;
        end else if (m_tready) begin
            out_valid <= 1'b0;
        end
    end

    for (genvar b = 0; b < (OUT_W + BANK - 1) / BANK; b++) begin : g_out_bank
        localparam int LO = b * BANK;
        localparam int BW = (OUT_W - LO < BANK) ? OUT_W - LO : BANK;
        logic valid_c;
        (* keep *) always_ff @(posedge clk) begin
            if (!rst_n) valid_c <= 1'b0;
            else valid_c <= valid_next(valid_c);
        end
        always_ff @(posedge clk) begin
            if (bank_step(valid_c) && emit_q) out_data[LO +: BW] <= result[LO +: BW];  // = step && emit
        end
    end

    assign m_tdata = out_data;
    assign m_tvalid = out_valid;
endmodule
