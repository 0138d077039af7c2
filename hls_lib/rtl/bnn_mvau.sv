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
// Pipeline (every stage freezes together on `stall`; one step per cycle):
//   issue : step counters, current input vector (rotated by SIMD elements per step),
//           weight ROM address. The next vector is accepted in the cycle the current one's
//           last step issues, so consecutive vectors run back to back.
//   read  : weight ROM word (the ROM's read register) and the input chunk;
//   rq    : both registered twice more (a block RAM's clk-to-q is long: the first is for its
//           output register, the second for the route to the popcount logic);
//   tree  : TL registered levels of per-lane partial sums (popcount: byte counts, then
//           4-way sums, TL = 1 for SIMD <= 8; signed: the products, then pairwise sums,
//           TL = 1 + clog2(SIMD));
//   acc   : the lane sums accumulated over the fold's steps; threshold/flip ROM read (plus
//           one register) for folds that end here, timed to arrive with the fold's sum;
//   act   : compare acc with the thresholds (or take acc raw), registered;
//   word  : multi-threshold count, shift the fold into the output word; after the last fold
//           write the word into a 3-entry output queue.
// Latency: 6 + TL cycles from a step's issue to its output word's queue write (3 before
// pipelining); bnn2hls/hw/blocks/mvau.py mvau_pipeline_latency mirrors it.
// Interval: NF*SF cycles per vector in steady state (1 when PE=MH and SIMD=MW).
//
// DEPTHWISE=1 (the vector-vector unit, wrapped by bnn_vvau): output channel o dots its own
// MW-element vector with its own weights. The input then holds MH*MW elements in step order:
// step (nf, sf) reads the next PE*SIMD elements, lane pe the SIMD at [pe*SIMD +: SIMD] (the
// elements of channel nf*PE + pe, taps sf*SIMD ...); bnn_vvau reorders the window into it.
//
// Handshakes: m_tvalid comes from the output queue's registered count. `stall` (the output
// queue held two words a cycle ago) is a register loaded from the count, and s_tready is a
// function of registers: no path m_tready -> s_tready and none s_tvalid -> m_tvalid. With
// m_tready held high the queue never fills, so there are no bubbles.
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
    parameter FLIP_FILE = "mvau_flip.mem",
    parameter int WBANK_D = 0  // 0: one bank; else a power of two, the words per bank (see the ROM)
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

    // Product / popcount tree: level 0 sums groups of G0 products per lane, every further
    // level groups of FAN nodes, each level one registered stage (TL levels). Popcount
    // groups are bytes (a 4-bit count) and 4-way sums; a signed product (a conditional
    // negate, or W_B shift-adds: one carry chain each) is registered alone, then the
    // products are summed in pairs, one ACC_W-bit adder per stage.
    localparam int G0 = (POPCOUNT != 0) ? 8 : 1;
    localparam int FAN = (POPCOUNT != 0) ? 4 : 2;
    localparam int N0 = (SIMD + G0 - 1) / G0;  // level-0 nodes per lane
    localparam int TW = (POPCOUNT != 0) ? $clog2(SIMD + 1) : ACC_W;  // node width
    // (no `return`: yosys 0.70 does not parse it here)
    function automatic int tree_nodes(input int level);  // nodes per lane at `level`
        tree_nodes = N0;
        for (int i = 0; i < level; i++) tree_nodes = (tree_nodes + FAN - 1) / FAN;
    endfunction
    function automatic int tree_levels(input int n0);  // levels until one node per lane
        int n;
        n = n0;
        tree_levels = 1;
        for (int i = 0; i < 32; i++) begin
            if (n > 1) begin
                n = (n + FAN - 1) / FAN;
                tree_levels = tree_levels + 1;
            end
        end
    endfunction
    localparam int TL = tree_levels(N0);

    generate
        if (MH % PE != 0) begin : g_bad_pe
            $error("bnn_mvau: MH must be a multiple of PE");
        end
        if (MW % SIMD != 0) begin : g_bad_simd
            $error("bnn_mvau: MW must be a multiple of SIMD");
        end
        if (WBANK_D != 0 && (WBANK_D & (WBANK_D - 1)) != 0) begin : g_bad_bank
            $error("bnn_mvau: WBANK_D must be 0 or a power of two");
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
    // A ROM deeper than one block RAM is stored in WB banks of WBANK_D words side by side
    // (line a of WEIGHT_FILE holds words a, WBANK_D + a, ...: bank b at [b*WROW +: WROW]),
    // so one read fetches the addressed word of every bank through the block RAMs' own
    // output registers and a registered select picks one. Left to yosys, a deep ROM is
    // cascaded block RAMs whose select follows the RAM outputs in the same cycle: CNV's
    // dense1 (32,768 words, 16 DP16KD) read through a 16-way select in 12.5 ns.
    localparam int WROW = PE * WLANE;  // bits per weight word
    localparam int WB = (WBANK_D == 0) ? 1 : (WD + WBANK_D - 1) / WBANK_D;
    localparam int WBD = (WB == 1) ? WD : WBANK_D;  // words per bank
    localparam int WBAW = (WBD <= 1) ? 1 : $clog2(WBD);
    localparam int WBSW = (WB <= 1) ? 1 : $clog2(WB);

    // ------------------------------------------------------------------ issue stage
    logic              run;      // cur_x holds a vector with steps left to issue
    logic [SFW-1:0]    sf_i;
    logic [NFW-1:0]    nf_i;
    logic [WAW-1:0]    waddr;    // = nf_i*SF + sf_i
    logic [XW-1:0]     cur_x;    // rotated right by CHUNK each step: chunk sf_i is at the bottom
    logic [USER_W-1:0] cur_cls;
    logic              stall;        // the pipeline freezes (see the output queue)
    logic              stall_issue;  // = stall, the issue stage's own copy
    logic              stall_next;   // stall in the next cycle: a function of registers only

    // The "last step" flags are registers, set one step ahead: they gate the load and
    // rotate enables of cur_x (the whole input vector, thousands of bits in a dense layer
    // after a flatten), and a counter compare in front of that fanout was the critical path
    // on ECP5 (sf_i -> x_rot, 10.1 ns on the residual demo's dense0). sf_pen / nf_pen say the
    // counter is at its last-but-one value, so the flags' next values need no compare either.
    logic last_sf, last_nf, last_v;  // = (sf_i == SF-1), (nf_i == NF-1), both
    logic sf_pen, nf_pen;            // = (sf_i == SF-2), (nf_i == NF-2)
    wire last_step = run && last_v;
    wire load = s_tvalid && s_tready;

    assign s_tready = !stall_issue && (!run || last_v);

    logic [XW-1:0] x_rot;
    generate
        if (X_STEPS == 1) begin : g_rot1
            assign x_rot = cur_x;
        end else begin : g_rot
            assign x_rot = {cur_x[CHUNK-1:0], cur_x[XW-1:CHUNK]};
        end
    endgenerate

    // The issue state's next value, from its current value, `stall` and the input handshake:
    // one function, evaluated by the issue stage and again by every bank of cur_x below on its
    // own copies of the state.
    function automatic logic [2:0] issue_next(input logic [2:0] st, input logic stalled, input logic valid_in,
                                              input logic sf_p, input logic nf_p);
        // st = {run, last_sf, last_nf}; returns the same
        logic r, ls, ln;
        {r, ls, ln} = st;
        issue_next = st;
        if (!stalled) begin
            if (r) begin
                if (ls) begin
                    issue_next[1] = (SF == 1);
                    issue_next[0] = ln ? (NF == 1) : nf_p;
                end else begin
                    issue_next[1] = sf_p;
                end
            end
            if (valid_in && (!r || (ls && ln))) issue_next[2] = 1'b1;  // load
            else if (r && ls && ln) issue_next[2] = 1'b0;             // last step
        end
    endfunction

    wire [2:0] issue_d = issue_next({run, last_sf, last_nf}, stall_issue, s_tvalid, sf_pen, nf_pen);
    wire [SFW-1:0] sf_next = last_sf ? '0 : sf_i + 1'b1;
    wire [NFW-1:0] nf_next = last_nf ? '0 : nf_i + 1'b1;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            run <= 1'b0;
            sf_i <= '0;
            nf_i <= '0;
            waddr <= '0;
            last_sf <= (SF == 1);
            last_nf <= (NF == 1);
            last_v <= (SF == 1) && (NF == 1);
            sf_pen <= (SF == 2);
            nf_pen <= (NF == 2);
        end else begin
            {run, last_sf, last_nf} <= issue_d;
            last_v <= issue_d[1] && issue_d[0];
            if (!stall_issue && run) begin
                sf_i <= sf_next;
                sf_pen <= (sf_next == SFW'(SF - 2));
                if (last_sf) begin
                    nf_i <= nf_next;
                    nf_pen <= (nf_next == NFW'(NF - 2));
                end
                waddr <= last_step ? '0 : waddr + 1'b1;
            end
        end
    end

    always_ff @(posedge clk) begin
        if (load) cur_cls <= s_tuser;
    end

    // cur_x in banks of XBANK bits, each bank's load and rotate enables computed from its own
    // copy of the issue state (run, the last-step flags, stall), one LUT from registers to
    // XBANK flip-flops, not one net to every bit of a vector that may be thousands wide (the
    // enable of conv4's 576-bit window register was the residual demo's critical path, 9.2 ns
    // of routing). Each copy computes its own next value (issue_next) from itself and from
    // registers broadcast to the banks (s_tvalid, sf_pen, nf_pen, stall_next): a central next
    // value routed to 49 banks of a 3,136-bit register was 8.3 ns of routing. `keep` on each
    // copy's process: yosys merges identical flip-flops otherwise (a keep on the wires does
    // not stop it).
    localparam int XBANK = 64;
    localparam int NXB = (XW + XBANK - 1) / XBANK;
    generate
        for (genvar b = 0; b < NXB; b++) begin : g_xbank
            localparam int LO = b * XBANK;
            localparam int BW = (XW - LO < XBANK) ? XW - LO : XBANK;
            logic run_c, last_sf_c, last_nf_c, full_c;
            (* keep *) always_ff @(posedge clk) begin
                if (!rst_n) begin
                    {run_c, last_sf_c, last_nf_c} <= {1'b0, SF == 1, NF == 1};
                    full_c <= 1'b0;
                end else begin
                    {run_c, last_sf_c, last_nf_c} <= issue_next({run_c, last_sf_c, last_nf_c}, full_c, s_tvalid, sf_pen, nf_pen);
                    full_c <= stall_next;
                end
            end
            // A bank takes s_tdata whenever the unit could accept a vector (= s_tready), valid
            // or not: without a valid one, run stays low and the next cycle takes it again.
            // s_tvalid then reaches only the banks' run copies, not their load enables (the
            // residual demo's flatten valid -> 49 banks' enables: 7.2 ns of routing).
            wire load_b = !full_c && (!run_c || (last_sf_c && last_nf_c));  // = s_tready
            wire issue_b = run_c && !full_c;  // = run && !stall
            always_ff @(posedge clk) begin
                if (load_b) cur_x[LO +: BW] <= s_tdata[LO +: BW];
                else if (issue_b) cur_x[LO +: BW] <= x_rot[LO +: BW];
            end
        end
    endgenerate

    // ------------------------------------------------------------------ pipeline control
    // Every stage below moves on !stall. ctl_* [k] describes the step held by stage k:
    // k = 0 the read stage (weight ROM read register), 1 the weight ROM output register,
    // 2 a fabric register after it, 3 .. 2+TL the TL levels of the product/popcount tree.
    // Stage ACC then holds the accumulators and stage ACT the activated fold.
    localparam int NS = 3 + TL;  // stages before ACC
    logic [NS-1:0] ctl_valid, ctl_first, ctl_last_sf, ctl_last_v;
    logic [TAW-1:0] ctl_taddr [NS-1];  // needed up to stage NS-2 (the threshold read)
    logic [NFW-1:0] ctl_nf [NS-1];

    // cur_cls * NF as shifts and adds of the constant (a `*` here became a DSP on ECP5)
    logic [31:0] cls_base;
    always_comb begin
        cls_base = '0;
        for (int b = 0; b < USER_W; b++) begin
            if (cur_cls[b]) cls_base = cls_base + (32'(NF) << b);
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) ctl_valid <= '0;
        else if (!stall) ctl_valid <= {ctl_valid[NS-2:0], run};
    end

    always_ff @(posedge clk) begin
        if (!stall) begin
            ctl_first <= {ctl_first[NS-2:0], sf_i == '0};
            ctl_last_sf <= {ctl_last_sf[NS-2:0], last_sf};
            ctl_last_v <= {ctl_last_v[NS-2:0], last_v};
            ctl_taddr[0] <= TAW'(cls_base + 32'(nf_i));
            ctl_nf[0] <= nf_i;
            for (int k = 1; k < NS - 1; k++) begin
                ctl_taddr[k] <= ctl_taddr[k-1];
                ctl_nf[k] <= ctl_nf[k-1];
            end
        end
    end

    // ------------------------------------------------------------------ weight read (3 registers)
    // w_r: the ROM's own read register; w_o: a register right after it, which an ECP5 flow
    // folds into the block RAM's output register (bnn2hls/estimate/ecp5_outreg.py; without
    // it the RAM's clk-to-q is 5.8 ns); w_q: a fabric register the placer can put next to
    // the RAM (its outputs then reach the popcount logic spread over the fabric in a cycle
    // of their own). The input chunk is delayed alongside.
    // With banks, w_r and w_o hold one word of every bank and w_q takes the addressed one.
    logic [WB*WROW-1:0] w_r, w_o;
    logic [WROW-1:0]    w_q;
    logic [CHUNK-1:0]   x_r, x_o, x_q;

    logic [WROW-1:0] w_sel;  // the addressed word of w_o
    generate
        if (WB == 1) begin : g_wone
            assign w_sel = w_o;
        end else begin : g_wbanks
            logic [WBSW-1:0] wsel_r, wsel_o;
            assign w_sel = w_o[wsel_o*WROW +: WROW];
            always_ff @(posedge clk) begin
                if (!stall) begin
                    wsel_r <= waddr[WAW-1:WBAW];
                    wsel_o <= wsel_r;
                end
            end
        end
    endgenerate

    // The read in slices of WSLICE bits (if wider), each with its own copy of the word's
    // address within its bank, loaded from waddr's next value: one address net to a
    // 1,024-bit LUT ROM (CNV's conv1, 36 words: ~3,800 LUT4s) was CNV's critical path on
    // ECP5 (waddr -> w_r, 1.5 + 9.1 ns of routing), and to TFC's 22 weight block RAMs 2.6 +
    // 5.4 ns. 72 bits is a whole number of words of every block RAM shape (ECP5 DP16KD,
    // Xilinx RAMB18/36), so a block RAM ROM takes as many blocks sliced as whole; yosys keeps
    // only the bits a slice reads (a slice's copy of wmem costs simulation memory, not
    // hardware). `keep` on each copy's process: yosys merges identical flip-flops otherwise.
    localparam int WSLICE = 72;
    localparam int NWS = (WB * WROW + WSLICE - 1) / WSLICE;
    generate
        if (NWS == 1 || WBD == 1) begin : g_wread
            logic [WB*WROW-1:0] wmem [WBD];
            initial $readmemh(WEIGHT_FILE, wmem);
            always_ff @(posedge clk) begin
                if (!stall) w_r <= wmem[waddr[WBAW-1:0]];
            end
        end else begin : g_wread_sliced
            // the next value of waddr's row bits (banks are a power of two deep), which every
            // slice's copy loads
            wire [WBAW-1:0] wrow = waddr[WBAW-1:0];
            wire [WBAW-1:0] wrow_d = !rst_n ? '0 : (!stall_issue && run) ? (last_step ? '0 : wrow + 1'b1) : wrow;
            for (genvar s = 0; s < NWS; s++) begin : g_wslice
                localparam int LO = s * WSLICE;
                localparam int SW = (WB * WROW - LO < WSLICE) ? WB * WROW - LO : WSLICE;
                logic [WB*WROW-1:0] wm [WBD];
                initial $readmemh(WEIGHT_FILE, wm);
                logic [WBAW-1:0] wrow_c;  // = waddr[WBAW-1:0], this slice's copy
                (* keep *) always_ff @(posedge clk) wrow_c <= wrow_d;
                always_ff @(posedge clk) begin
                    if (!stall) w_r[LO +: SW] <= wm[wrow_c][LO +: SW];
                end
            end
        end
    endgenerate

    always_ff @(posedge clk) begin
        if (!stall) begin
            w_o <= w_r;
            w_q <= w_sel;
            x_r <= cur_x[CHUNK-1:0];
            x_o <= x_r;
            x_q <= x_o;
        end
    end

    // ------------------------------------------------------------------ product / popcount tree
    // Level 0: per lane, N0 sums of G0 products each (popcount: byte counts); level l > 0:
    // sums of FAN nodes of level l-1; every level registered. Nodes are TW bits (unused high
    // bits are constant 0 and trimmed by synthesis).
    logic [PE*N0*TW-1:0] leaf;
    always_comb begin
        for (int pe = 0; pe < PE; pe++) begin
            for (int g = 0; g < N0; g++) begin
                logic [TW-1:0] s_acc;
                s_acc = '0;
                for (int k = 0; k < G0; k++) begin
                    if (g*G0 + k < SIMD) begin
                        if (POPCOUNT != 0) begin
                            logic match;
                            match = x_q[(pe*LANE_X + g*G0 + k)*IN_B] ~^ w_q[pe*SIMD + g*G0 + k];
                            s_acc = s_acc + TW'(match);
                        end else if (W_B == 1) begin
                            // multi-bit x, binary w: +x / -x
                            logic signed [TW-1:0] xe;
                            xe = TW'($signed(x_q[(pe*LANE_X + g*G0 + k)*IN_B +: IN_B]));
                            s_acc = w_q[pe*SIMD + g*G0 + k] ? s_acc + xe : s_acc - xe;
                        end else if (IN_B == 1) begin
                            // binary x, multi-bit w: +w / -w
                            logic signed [TW-1:0] we;
                            we = TW'($signed(w_q[(pe*SIMD + g*G0 + k)*W_B +: W_B]));
                            s_acc = x_q[(pe*LANE_X + g*G0 + k)*IN_B] ? s_acc + we : s_acc - we;
                        end else begin
                            // multi-bit x and w: sum over weight bits j of w[j] * (x << j), the top bit negative
                            logic signed [TW-1:0] xe;
                            logic [W_B-1:0] wf;
                            xe = TW'($signed(x_q[(pe*LANE_X + g*G0 + k)*IN_B +: IN_B]));
                            wf = w_q[(pe*SIMD + g*G0 + k)*W_B +: W_B];
                            for (int j = 0; j < W_B; j++) begin
                                if (wf[j]) s_acc = (j == W_B - 1) ? s_acc - (xe <<< j) : s_acc + (xe <<< j);
                            end
                        end
                    end
                end
                leaf[(pe*N0 + g)*TW +: TW] = s_acc;
            end
        end
    end

    // tree[l]: level l's nodes, PE*N0 slots of TW bits (node j of lane pe at (pe*N0 + j)*TW).
    logic [PE*N0*TW-1:0] tree [TL];
    always_ff @(posedge clk) begin
        if (!stall) tree[0] <= leaf;
    end
    generate
        for (genvar l = 1; l < TL; l++) begin : g_level
            localparam int NPREV = tree_nodes(l - 1);
            localparam int NCUR = tree_nodes(l);
            always_ff @(posedge clk) begin
                if (!stall) begin
                    for (int pe = 0; pe < PE; pe++) begin
                        for (int j = 0; j < N0; j++) begin
                            logic [TW-1:0] s_acc;
                            s_acc = '0;
                            if (j < NCUR) begin
                                for (int k = 0; k < FAN; k++) begin
                                    if (j*FAN + k < NPREV) s_acc = s_acc + tree[l-1][(pe*N0 + j*FAN + k)*TW +: TW];
                                end
                            end
                            tree[l][(pe*N0 + j)*TW +: TW] <= s_acc;
                        end
                    end
                end
            end
        end
    endgenerate

    // ------------------------------------------------------------------ accumulate
    logic acc_valid, acc_last_sf, acc_last_v;
    logic [PE*ACC_W-1:0] acc;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            acc_valid <= 1'b0;
        end else if (!stall) begin
            acc_valid <= ctl_valid[NS-1];
        end
    end

    always_ff @(posedge clk) begin
        if (!stall) begin
            acc_last_sf <= ctl_last_sf[NS-1];
            acc_last_v <= ctl_last_v[NS-1];
        end
    end

    always_ff @(posedge clk) begin
        if (!stall && ctl_valid[NS-1]) begin
            for (int pe = 0; pe < PE; pe++) begin
                logic [ACC_W-1:0] t;
                if (POPCOUNT != 0) t = ACC_W'(tree[TL-1][pe*N0*TW +: TW]);
                else t = ACC_W'($signed(tree[TL-1][pe*N0*TW +: TW]));
                acc[pe*ACC_W +: ACC_W] <= (ctl_first[NS-1] ? '0 : acc[pe*ACC_W +: ACC_W]) + t;
            end
        end
    end

    // ------------------------------------------------------------------ activate
    // Thresholds and flips are read for the fold's last step two stages before ACC holds the
    // fold's sum (ROM read register + one more), then compared into act_r.
    logic act_valid, act_last_v;
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            act_valid <= 1'b0;
            act_last_v <= 1'b0;
        end else if (!stall) begin
            act_valid <= acc_valid && acc_last_sf;
            act_last_v <= acc_valid && acc_last_v;
        end
    end

    logic [FOLD_W-1:0] fold;  // this fold's output field, valid while act_valid
    generate
        if (BINARIZE != 0) begin : g_thr
            logic [PE*NT*THR_W-1:0] tmem [TD];
            logic [PE-1:0] fmem [NF];
            initial $readmemh(THRESH_FILE, tmem);
            initial $readmemh(FLIP_FILE, fmem);

            logic [PE*NT*THR_W-1:0] thr_r, thr_q;
            logic [PE-1:0] flip_r, flip_q;
            wire rd = !stall && ctl_valid[NS-2] && ctl_last_sf[NS-2];
            wire rd_q = !stall && ctl_valid[NS-1] && ctl_last_sf[NS-1];
            always_ff @(posedge clk) begin
                if (rd) thr_r <= tmem[ctl_taddr[NS-2]];
            end
            always_ff @(posedge clk) begin
                if (rd) flip_r <= fmem[ctl_nf[NS-2]];
            end
            always_ff @(posedge clk) begin
                if (rd_q) begin
                    thr_q <= thr_r;
                    flip_q <= flip_r;
                end
            end

            // ge[pe*NT + i]: acc of lane pe passes its threshold i (flip applied).
            logic [PE*NT-1:0] ge, ge_r;
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
            always_ff @(posedge clk) begin
                if (!stall && acc_valid && acc_last_sf) ge_r <= ge;
            end

            if (MULTI != 0) begin : g_levels
                // OFFSET + number of thresholds passed, modulo 2^O_B (O_B >= clog2(LEVELS)).
                localparam int CNT_W = $clog2(LEVELS);
                always_comb begin
                    for (int pe = 0; pe < PE; pe++) begin
                        logic [CNT_W-1:0] cnt;
                        cnt = '0;
                        for (int i = 0; i < NT; i++) cnt = cnt + CNT_W'(ge_r[pe*NT + i]);
                        fold[pe*O_B +: O_B] = O_B'(OFFSET) + O_B'(cnt);
                    end
                end
            end else begin : g_sign
                assign fold = ge_r;
            end
        end else begin : g_raw
            logic [PE*ACC_W-1:0] acc_r;
            always_ff @(posedge clk) begin
                if (!stall && acc_valid && acc_last_sf) acc_r <= acc;
            end
            assign fold = acc_r;
            logic unused_cls;
            assign unused_cls = ^{ctl_taddr[NS-2], ctl_nf[NS-2]};
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
                if (!stall && act_valid) obuf <= word[OUT_W-1:FOLD_W];
            end
        end
    endgenerate

    // ------------------------------------------------------------------ output queue (3 entries)
    // The pipeline freezes one cycle after the queue holds two words: `stall` is a register
    // loaded from the count alone, never from m_tready, so `stall` and its copies (the issue
    // stage's, each cur_x bank's) are registers of registers, with nothing from the consumer
    // in front of them. The third entry takes the word a step may write in the cycle the queue
    // reaches two. With m_tready held high the queue holds at most one word: no bubbles.
    logic [OUT_W-1:0] omem [3];
    logic [1:0] wr_ptr, rd_ptr;
    logic [1:0] count;

    assign stall_next = (count >= 2'd2);
    // Copies of `stall` (each process `keep`: yosys merges identical flip-flops, and a merge
    // hands the pipeline's fanout to whichever copy survives; `stall` itself had been folded
    // into one cur_x bank's copy): `stall` enables the pipeline (hundreds of flip-flops and
    // more), `stall_issue` the issue stage, `stall_out` the queue's own write, so the count's
    // next value starts at a register with a fanout of a few (from the pipeline's copy it was
    // the residual demo's critical path on ECP5: conv4 stall -> count, 1.2 + 7.2 ns).
    logic stall_out;
    wire do_write = act_valid && act_last_v && !stall_out;
    wire do_read = m_tvalid && m_tready;

    function automatic logic [1:0] next_ptr(input logic [1:0] p);
        if (p == 2'd2) next_ptr = 2'd0;
        else next_ptr = p + 1'b1;
    endfunction

    assign m_tdata = omem[rd_ptr];
    assign m_tvalid = (count != 2'd0);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count <= '0;
        end else begin
            if (do_write) wr_ptr <= next_ptr(wr_ptr);
            if (do_read) rd_ptr <= next_ptr(rd_ptr);
            case ({do_write, do_read})
                2'b10: count <= count + 1'b1;
                2'b01: count <= count - 1'b1;
                default: ;
            endcase
        end
    end

    (* keep *) always_ff @(posedge clk) begin
        if (!rst_n) stall <= 1'b0;
        else stall <= stall_next;
    end
    (* keep *) always_ff @(posedge clk) begin
        if (!rst_n) stall_issue <= 1'b0;
        else stall_issue <= stall_next;
    end
    (* keep *) always_ff @(posedge clk) begin
        if (!rst_n) stall_out <= 1'b0;
        else stall_out <= stall_next;
    end

    always_ff @(posedge clk) begin
        if (do_write) omem[wr_ptr] <= word;
    end
endmodule
