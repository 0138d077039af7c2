// bnn_vvau: folded vector-vector-activation unit of a depthwise convolution (PE x SIMD).
//
// One input transfer carries a whole window of a sliding window generator (bnn_swg): K = KH*KW
// taps of MH channels, element (k, c) at [(k*MH + c)*IN_B +: IN_B] (the (ky, kx, c) order),
// and its border class id in s_tuser. Output channel c is the dot product of channel c's K
// taps with its own K weights (MW = K: the fan-in per channel), then the activation of
// bnn_mvau (sign, multi-threshold or raw accumulator, thresholds per border class):
//   NF = MH/PE channel folds (outer) of SF = MW/SIMD tap steps (inner), PE channels and SIMD
//   taps per step: NF*SF cycles per window in steady state.
// Memories: the layouts of bnn_mvau with MH = channels and MW = taps (weights [NF*SF] words of
// PE*SIMD*W_B bits: lane pe, tap s of word nf*SF + sf is channel nf*PE + pe, tap sf*SIMD + s).
//
// The unit is bnn_mvau with DEPTHWISE=1, which gives each lane its own SIMD elements per
// step; this wrapper reorders the window (wiring only) into that step order:
//   core element ((nf*SF + sf)*PE + pe)*SIMD + s  <-  window element (sf*SIMD + s)*MH + nf*PE + pe
module bnn_vvau #(
    parameter int MW = 9,
    parameter int MH = 16,
    parameter int PE = 4,
    parameter int SIMD = 3,
    parameter int IN_B = 1,
    parameter int W_B = 1,
    parameter int BINARIZE = 1,
    parameter int LEVELS = 0,
    parameter int O_B = 1,
    parameter int OFFSET = 0,
    parameter int N_CLASSES = 1,
    parameter int USER_W = 1,
    parameter int ACC_W = (IN_B == 1 && W_B == 1) ? $clog2(MW + 1)
                        : $clog2(MW) + ((IN_B > 1) ? IN_B - 1 : 0) + ((W_B > 1) ? W_B - 1 : 0) + 2,
    parameter int THR_W = (IN_B == 1 && W_B == 1) ? $clog2(MW + 2) : ACC_W + 1,
    parameter WEIGHT_FILE = "vvau_weights.mem",
    parameter THRESH_FILE = "vvau_thresh.mem",
    parameter FLIP_FILE = "vvau_flip.mem",
    parameter int WBANK_D = 0
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [MW*MH*IN_B-1:0]  s_tdata,
    input  logic [USER_W-1:0]      s_tuser,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [((BINARIZE == 0) ? MH * ACC_W : (LEVELS >= 2) ? MH * O_B : MH)-1:0] m_tdata,
    output logic                   m_tvalid,
    input  logic                   m_tready
);
    localparam int NF = MH / PE;
    localparam int SF = MW / SIMD;

    logic [MW*MH*IN_B-1:0] x_steps;
    generate
        for (genvar nf = 0; nf < NF; nf++) begin : g_nf
            for (genvar sf = 0; sf < SF; sf++) begin : g_sf
                for (genvar pe = 0; pe < PE; pe++) begin : g_pe
                    for (genvar s = 0; s < SIMD; s++) begin : g_s
                        assign x_steps[(((nf*SF + sf)*PE + pe)*SIMD + s)*IN_B +: IN_B] =
                            s_tdata[((sf*SIMD + s)*MH + nf*PE + pe)*IN_B +: IN_B];
                    end
                end
            end
        end
    endgenerate

    bnn_mvau #(
        .MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .IN_B(IN_B), .W_B(W_B), .BINARIZE(BINARIZE), .LEVELS(LEVELS),
        .O_B(O_B), .OFFSET(OFFSET), .DEPTHWISE(1), .N_CLASSES(N_CLASSES), .USER_W(USER_W), .ACC_W(ACC_W),
        .THR_W(THR_W), .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE), .FLIP_FILE(FLIP_FILE), .WBANK_D(WBANK_D)
    ) u_unit (
        .clk(clk), .rst_n(rst_n), .s_tdata(x_steps), .s_tuser(s_tuser), .s_tvalid(s_tvalid), .s_tready(s_tready),
        .m_tdata(m_tdata), .m_tvalid(m_tvalid), .m_tready(m_tready)
    );
endmodule
