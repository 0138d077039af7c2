// bnn_mvau: folded matrix-vector-activation unit (PE x SIMD).
//
// One input transfer carries a whole input vector of MW elements (element i at
// [i*IN_B +: IN_B]) and its border class id in s_tuser. For each vector the unit runs
// NF = MH/PE output folds (outer) of SF = MW/SIMD column steps (inner). Each step, PE lanes
// each consume SIMD elements x[s] with their weights w[s] (field [(pe*SIMD + s)*W_B +: W_B]):
//   IN_B == 1 && W_B == 1: acc += popcount(~(x ^ w))      (unsigned)
//   otherwise:             acc += sum_s x[s] * w[s]        (signed)
// where a 1-bit x or w means +1 (bit 1) / -1 (bit 0) and a wider one is two's complement.
// Products are shifts and adds: binary factors select +v / -v, and a multi-bit x times a
// multi-bit w is sum_j w[j] * (x << j) with the top weight bit negative (no `*`, no DSP).
// At the end of fold nf, lane pe gives output channel o = nf*PE + pe:
//   BINARIZE=1, LEVELS=0:  bit o = (acc >= thr[cls][o]) ^ flip[o]  (unsigned / signed compare)
//   BINARIZE=1, LEVELS>=2: field [o*O_B +: O_B] = OFFSET + sum_i ((acc >= thr[cls][o][i]) ^ flip[o]),
//                          i < LEVELS-1 (FINN MultiThreshold), O_B-bit two's complement
//   BINARIZE=0:            field [o*ACC_W +: ACC_W] = acc
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
// DEPTHWISE=1 (the vector-vector unit, wrapped by bnn_vvau): output channel o dots its own
// MW-element vector with its own weights. The input then holds MH*MW elements in step order:
// step (nf, sf) reads the next PE*SIMD elements, lane pe the SIMD at [pe*SIMD +: SIMD] (the
// elements of channel nf*PE + pe, taps sf*SIMD ...); bnn_vvau reorders the window into it.
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
    parameter int W_B = 1,
    parameter int BINARIZE = 1,
    parameter int LEVELS = 0,
    parameter int O_B = 1,
    parameter int OFFSET = 0,
    parameter int DEPTHWISE = 0,
    parameter int N_CLASSES = 1,
    parameter int USER_W = 1,
    parameter int ACC_W = (IN_B == 1 && W_B == 1) ? $clog2(MW + 1)
                        : $clog2(MW) + ((IN_B > 1) ? IN_B - 1 : 0) + ((W_B > 1) ? W_B - 1 : 0) + 2,
    parameter int THR_W = (IN_B == 1 && W_B == 1) ? $clog2(MW + 2) : ACC_W + 1,
    parameter WEIGHT_FILE = "mvau_weights.mem",
    parameter THRESH_FILE = "mvau_thresh.mem",
    parameter FLIP_FILE = "mvau_flip.mem"
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [((DEPTHWISE != 0) ? MH * MW : MW)*IN_B-1:0] s_tdata,
    input  logic [USER_W-1:0]   s_tuser,
    input  logic                s_tvalid,
    output logic                s_tready,
    output logic [((BINARIZE == 0) ? MH * ACC_W : (LEVELS >= 2) ? MH * O_B : MH)-1:0] m_tdata,
    output logic                m_tvalid,
    input  logic                m_tready
);
    localparam int NF = MH / PE;
    localparam int SF = MW / SIMD;
    localparam int XW = ((DEPTHWISE != 0) ? MH * MW : MW) * IN_B;
    localparam int LANE_X = (DEPTHWISE != 0) ? SIMD : 0;  // elements between two lanes' inputs
    localparam int CHUNK = ((DEPTHWISE != 0) ? PE * SIMD : SIMD) * IN_B;  // input bits per step
    localparam int X_STEPS = (DEPTHWISE != 0) ? NF * SF : SF;  // steps until the vector comes round
    localparam int MULTI = (BINARIZE != 0 && LEVELS >= 2) ? 1 : 0;  // multi-threshold output
    localparam int POPCOUNT = (IN_B == 1 && W_B == 1) ? 1 : 0;  // XNOR-popcount, unsigned domain
    localparam int NT = (MULTI != 0) ? LEVELS - 1 : 1;  // thresholds per channel
    localparam int LANE_W = (BINARIZE == 0) ? ACC_W : (MULTI != 0) ? O_B : 1;  // output bits per channel
    localparam int OUT_W = MH * LANE_W;
    localparam int FOLD_W = PE * LANE_W;  // output bits per fold
    localparam int WLANE = SIMD * W_B;  // weight bits per lane and step
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
        if (BINARIZE != 0 && LEVELS == 1) begin : g_bad_levels
            $error("bnn_mvau: LEVELS must be 0 (sign output) or at least 2");
        end
        if (MULTI != 0 && (O_B < 1 || O_B > 31 || OFFSET < -(1 << (O_B - 1))
                           || OFFSET + LEVELS - 1 > (1 << (O_B - 1)) - 1)) begin : g_bad_ob
            $error("bnn_mvau: OFFSET .. OFFSET+LEVELS-1 must fit O_B signed bits");
        end
    endgenerate

    // ------------------------------------------------------------------ weight ROM
    logic [PE*WLANE-1:0] wmem [WD];
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
        if (X_STEPS == 1) begin : g_rot1
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
    logic [PE*WLANE-1:0] w_r;  // registered weight ROM read
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
                if (POPCOUNT != 0) begin
                    logic match;
                    match = x_r[(pe*LANE_X + s)*IN_B] ~^ w_r[pe*SIMD + s];
                    s_acc = s_acc + ACC_W'(match);
                end else if (W_B == 1) begin
                    // multi-bit x, binary w: +x / -x
                    logic signed [ACC_W-1:0] xe;
                    xe = ACC_W'($signed(x_r[(pe*LANE_X + s)*IN_B +: IN_B]));
                    s_acc = w_r[pe*SIMD + s] ? s_acc + xe : s_acc - xe;
                end else if (IN_B == 1) begin
                    // binary x, multi-bit w: +w / -w
                    logic signed [ACC_W-1:0] we;
                    we = ACC_W'($signed(w_r[(pe*SIMD + s)*W_B +: W_B]));
                    s_acc = x_r[(pe*LANE_X + s)*IN_B] ? s_acc + we : s_acc - we;
                end else begin
                    // multi-bit x and w: sum over weight bits j of w[j] * (x << j), the top bit negative
                    logic signed [ACC_W-1:0] xe;
                    logic [W_B-1:0] wf;
                    xe = ACC_W'($signed(x_r[(pe*LANE_X + s)*IN_B +: IN_B]));
                    wf = w_r[(pe*SIMD + s)*W_B +: W_B];
                    for (int j = 0; j < W_B; j++) begin
                        if (wf[j]) s_acc = (j == W_B - 1) ? s_acc - (xe <<< j) : s_acc + (xe <<< j);
                    end
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
            logic [PE*NT*THR_W-1:0] tmem [TD];
            logic [PE-1:0] fmem [NF];
            initial $readmemh(THRESH_FILE, tmem);
            initial $readmemh(FLIP_FILE, fmem);

            logic [PE*NT*THR_W-1:0] thr_q;
            logic [PE-1:0] flip_q;
            wire rd = !stall && s1_valid && s1_last_sf;
            always_ff @(posedge clk) begin
                if (rd) thr_q <= tmem[s1_taddr];
            end
            always_ff @(posedge clk) begin
                if (rd) flip_q <= fmem[s1_nf];
            end

            // ge[pe*NT + i]: acc of lane pe passes its threshold i (flip applied).
            logic [PE*NT-1:0] ge;
            always_comb begin
                for (int pe = 0; pe < PE; pe++) begin
                    for (int i = 0; i < NT; i++) begin
                        logic g;
                        if (POPCOUNT != 0) begin
                            g = CMP_W'(acc[pe*ACC_W +: ACC_W]) >= CMP_W'(thr_q[(pe*NT + i)*THR_W +: THR_W]);
                        end else begin
                            logic signed [ACC_W-1:0] a_s;
                            logic signed [THR_W-1:0] t_s;
                            a_s = acc[pe*ACC_W +: ACC_W];
                            t_s = thr_q[(pe*NT + i)*THR_W +: THR_W];
                            g = CMP_W'(a_s) >= CMP_W'(t_s);
                        end
                        ge[pe*NT + i] = g ^ flip_q[pe];
                    end
                end
            end

            if (MULTI != 0) begin : g_levels
                // OFFSET + number of thresholds passed, modulo 2^O_B (O_B >= clog2(LEVELS)).
                localparam int CNT_W = $clog2(LEVELS);
                always_comb begin
                    for (int pe = 0; pe < PE; pe++) begin
                        logic [CNT_W-1:0] cnt;
                        cnt = '0;
                        for (int i = 0; i < NT; i++) cnt = cnt + CNT_W'(ge[pe*NT + i]);
                        fold[pe*O_B +: O_B] = O_B'(OFFSET) + O_B'(cnt);
                    end
                end
            end else begin : g_sign
                assign fold = ge;
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
