// bnn_mvau: folded matrix-vector-activation unit (PE x SIMD).
//
// One input transfer carries a whole input vector of MW elements (element i at
// [i*IN_B +: IN_B]) and its border class id in s_tuser. For each vector the unit runs
// NF = MH/PE output folds (outer) of SF = MW/SIMD column steps (inner). Each step, PE lanes
// each consume SIMD elements:
//   IN_B == 1: acc += popcount(~(x ^ w))               (unsigned)
//   IN_B >  1: acc += sum_s (w[s] ? x[s] : -x[s])       (signed)
// At the end of fold nf, lane pe gives output channel o = nf*PE + pe:
//   BINARIZE=1: bit o = (acc >= thr[cls][o]) ^ flip[o]  (unsigned / signed compare)
//   BINARIZE=0: field [o*ACC_W +: ACC_W] = acc
// The complete output word is sent after the last fold.
//
// Pipeline (every stage freezes together on `stall`):
//   issue : step counters, current input vector (rotated by SIMD elements per step),
//           weight ROM address. The next vector is accepted in the cycle the current one's
//           last step issues, so consecutive vectors run back to back.
//   s1    : registered weight ROM word and input chunk -> per-lane partial sums into acc;
//           threshold/flip ROM read (registered) for folds that end here.
//   s2    : compare acc with the threshold (or take acc raw), shift the fold into the
//           output word; after the last fold write the word into a 2-entry output queue.
// Interval: NF*SF cycles per vector in steady state (1 when PE=MH and SIMD=MW).
//
// Handshakes: m_tvalid comes from the output queue's registered count. `stall` (the s2 stage
// holds a finished word and the queue is full) depends on registers only, and s_tready is a
// function of `stall` and the issue registers: no path m_tready -> s_tready and none
// s_tvalid -> m_tvalid. With m_tready held high the queue never fills, so there are no
// bubbles.
module bnn_mvau #(
    parameter int MW = 32,
    parameter int MH = 16,
    parameter int PE = 4,
    parameter int SIMD = 8,
    parameter int IN_B = 1,
    parameter int BINARIZE = 1,
    parameter int N_CLASSES = 1,
    parameter int USER_W = 1,
    parameter int ACC_W = (IN_B == 1) ? $clog2(MW + 1) : $clog2(MW) + IN_B + 1,
    parameter int THR_W = (IN_B == 1) ? $clog2(MW + 2) : ACC_W + 1,
    parameter WEIGHT_FILE = "mvau_weights.mem",
    parameter THRESH_FILE = "mvau_thresh.mem",
    parameter FLIP_FILE = "mvau_flip.mem"
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [MW*IN_B-1:0]  s_tdata,
    input  logic [USER_W-1:0]   s_tuser,
    input  logic                s_tvalid,
    output logic                s_tready,
    output logic [((BINARIZE != 0) ? MH : MH * ACC_W)-1:0] m_tdata,
    output logic                m_tvalid,
    input  logic                m_tready
);
    localparam int NF = MH / PE;
    localparam int SF = MW / SIMD;
    localparam int XW = MW * IN_B;
    localparam int CHUNK = SIMD * IN_B;
    localparam int OUT_W = (BINARIZE != 0) ? MH : MH * ACC_W;
    localparam int FOLD_W = (BINARIZE != 0) ? PE : PE * ACC_W;  // output bits per fold
    localparam int WD = NF * SF;  // weight ROM depth
    localparam int TD = N_CLASSES * NF;  // threshold ROM depth
    localparam int NFW = (NF <= 1) ? 1 : $clog2(NF);
    localparam int SFW = (SF <= 1) ? 1 : $clog2(SF);
    localparam int WAW = (WD <= 1) ? 1 : $clog2(WD);
    localparam int TAW = (TD <= 1) ? 1 : $clog2(TD);
    // Compare width: both operands extended (sign- or zero-) to one width.
    localparam int CMP_W = ((ACC_W > THR_W) ? ACC_W : THR_W) + 1;

    generate
        if (MH % PE != 0) begin : g_bad_pe
            $error("bnn_mvau: MH must be a multiple of PE");
        end
        if (MW % SIMD != 0) begin : g_bad_simd
            $error("bnn_mvau: MW must be a multiple of SIMD");
        end
    endgenerate

    // ------------------------------------------------------------------ weight ROM
    logic [PE*SIMD-1:0] wmem [WD];
    initial $readmemh(WEIGHT_FILE, wmem);

    // ------------------------------------------------------------------ issue stage
    logic              run;      // cur_x holds a vector with steps left to issue
    logic [SFW-1:0]    sf_i;
    logic [NFW-1:0]    nf_i;
    logic [WAW-1:0]    waddr;    // = nf_i*SF + sf_i
    logic [XW-1:0]     cur_x;    // rotated right by CHUNK each step: chunk sf_i is at the bottom
    logic [USER_W-1:0] cur_cls;
    logic              stall;

    wire last_sf = (sf_i == SFW'(SF - 1));
    wire last_nf = (nf_i == NFW'(NF - 1));
    wire last_step = run && last_sf && last_nf;
    wire issue = run && !stall;
    wire load = s_tvalid && s_tready;

    assign s_tready = !stall && (!run || (last_sf && last_nf));

    logic [XW-1:0] x_rot;
    generate
        if (SF == 1) begin : g_rot1
            assign x_rot = cur_x;
        end else begin : g_rot
            assign x_rot = {cur_x[CHUNK-1:0], cur_x[XW-1:CHUNK]};
        end
    endgenerate

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            run <= 1'b0;
            sf_i <= '0;
            nf_i <= '0;
            waddr <= '0;
        end else if (!stall) begin
            if (run) begin
                sf_i <= last_sf ? '0 : sf_i + 1'b1;
                if (last_sf) nf_i <= last_nf ? '0 : nf_i + 1'b1;
                waddr <= last_step ? '0 : waddr + 1'b1;
            end
            if (load) run <= 1'b1;
            else if (last_step) run <= 1'b0;
        end
    end

    always_ff @(posedge clk) begin
        if (load) begin
            cur_x <= s_tdata;
            cur_cls <= s_tuser;
        end else if (issue) begin
            cur_x <= x_rot;
        end
    end

    // ------------------------------------------------------------------ stage 1: accumulate
    logic               s1_valid, s1_first, s1_last_sf, s1_last_v;
    logic [NFW-1:0]     s1_nf;
    logic [TAW-1:0]     s1_taddr;
    logic [PE*SIMD-1:0] w_r;   // registered weight ROM read
    logic [CHUNK-1:0]   x_r;
    logic [PE*ACC_W-1:0] acc;

    always_ff @(posedge clk) begin
        if (!rst_n) s1_valid <= 1'b0;
        else if (!stall) s1_valid <= run;
    end

    always_ff @(posedge clk) begin
        if (issue) w_r <= wmem[waddr];
    end

    always_ff @(posedge clk) begin
        if (issue) begin
            x_r <= cur_x[CHUNK-1:0];
            s1_first <= (sf_i == '0);
            s1_last_sf <= last_sf;
            s1_last_v <= last_sf && last_nf;
            s1_nf <= nf_i;
            s1_taddr <= TAW'(32'(cur_cls) * NF + 32'(nf_i));
        end
    end

    // Per-lane sum of this step's SIMD products.
    logic [PE*ACC_W-1:0] psum;
    always_comb begin
        for (int pe = 0; pe < PE; pe++) begin
            logic [ACC_W-1:0] s_acc;
            s_acc = '0;
            for (int s = 0; s < SIMD; s++) begin
                if (IN_B == 1) begin
                    logic match;
                    match = x_r[s*IN_B] ~^ w_r[pe*SIMD + s];
                    s_acc = s_acc + ACC_W'(match);
                end else begin
                    logic signed [ACC_W-1:0] xe;
                    xe = ACC_W'($signed(x_r[s*IN_B +: IN_B]));
                    s_acc = w_r[pe*SIMD + s] ? s_acc + xe : s_acc - xe;
                end
            end
            psum[pe*ACC_W +: ACC_W] = s_acc;
        end
    end

    always_ff @(posedge clk) begin
        if (!stall && s1_valid) begin
            for (int pe = 0; pe < PE; pe++) begin
                acc[pe*ACC_W +: ACC_W] <= (s1_first ? '0 : acc[pe*ACC_W +: ACC_W]) + psum[pe*ACC_W +: ACC_W];
            end
        end
    end

    // ------------------------------------------------------------------ stage 2: activate
    logic s2_valid, s2_last_v;
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            s2_valid <= 1'b0;
            s2_last_v <= 1'b0;
        end else if (!stall) begin
            s2_valid <= s1_valid && s1_last_sf;
            s2_last_v <= s1_valid && s1_last_v;
        end
    end

    logic [FOLD_W-1:0] fold;  // this fold's output field, valid while s2_valid
    generate
        if (BINARIZE != 0) begin : g_thr
            logic [PE*THR_W-1:0] tmem [TD];
            logic [PE-1:0] fmem [NF];
            initial $readmemh(THRESH_FILE, tmem);
            initial $readmemh(FLIP_FILE, fmem);

            logic [PE*THR_W-1:0] thr_q;
            logic [PE-1:0] flip_q;
            wire rd = !stall && s1_valid && s1_last_sf;
            always_ff @(posedge clk) begin
                if (rd) thr_q <= tmem[s1_taddr];
            end
            always_ff @(posedge clk) begin
                if (rd) flip_q <= fmem[s1_nf];
            end

            always_comb begin
                for (int pe = 0; pe < PE; pe++) begin
                    logic ge;
                    if (IN_B == 1) begin
                        ge = CMP_W'(acc[pe*ACC_W +: ACC_W]) >= CMP_W'(thr_q[pe*THR_W +: THR_W]);
                    end else begin
                        logic signed [ACC_W-1:0] a_s;
                        logic signed [THR_W-1:0] t_s;
                        a_s = acc[pe*ACC_W +: ACC_W];
                        t_s = thr_q[pe*THR_W +: THR_W];
                        ge = CMP_W'(a_s) >= CMP_W'(t_s);
                    end
                    fold[pe] = ge ^ flip_q[pe];
                end
            end
        end else begin : g_raw
            assign fold = acc;
            logic unused_cls;
            assign unused_cls = ^{s1_taddr, s1_nf};
        end
    endgenerate

    // Fold nf ends up at [nf*FOLD_W +: FOLD_W]: folds shift in from the top, and obuf holds
    // the folds so far (the word without its lowest fold).
    logic [OUT_W-1:0] word;
    generate
        if (NF == 1) begin : g_word1
            assign word = fold;
        end else begin : g_word
            logic [OUT_W-FOLD_W-1:0] obuf;
            assign word = {fold, obuf};
            always_ff @(posedge clk) begin
                if (!stall && s2_valid) obuf <= word[OUT_W-1:FOLD_W];
            end
        end
    endgenerate

    // ------------------------------------------------------------------ output queue (2 entries)
    logic [OUT_W-1:0] omem [2];
    logic wr_ptr, rd_ptr;
    logic [1:0] count;

    assign stall = s2_valid && s2_last_v && (count == 2'd2);
    wire do_write = s2_valid && s2_last_v && (count != 2'd2);
    wire do_read = m_tvalid && m_tready;

    assign m_tdata = omem[rd_ptr];
    assign m_tvalid = (count != 2'd0);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= 1'b0;
            rd_ptr <= 1'b0;
            count <= '0;
        end else begin
            if (do_write) wr_ptr <= !wr_ptr;
            if (do_read) rd_ptr <= !rd_ptr;
            case ({do_write, do_read})
                2'b10: count <= count + 1'b1;
                2'b01: count <= count - 1'b1;
                default: ;
            endcase
        end
    end

    always_ff @(posedge clk) begin
        if (do_write) omem[wr_ptr] <= word;
    end
endmodule
