// bnn_mvau.h: folded matrix-vector-activation unit, PE x SIMD (mirrors hls_lib/rtl/bnn_mvau.sv).
//
// One input word carries a whole vector of MW elements (element i at [i*IN_B +: IN_B]) and,
// for a conv with border classes, its class id. Per vector the unit runs NF = MH/PE output
// folds (outer) of SF = MW/SIMD column steps (inner), one step per iteration (II=1). Each
// step, PE lanes each consume SIMD elements x[s] with weights w[s] of W_B bits:
//   IN_B == 1 && W_B == 1: acc += popcount(~(x ^ w))     (unsigned)
//   otherwise:             acc += sum_s x[s] * w[s]       (signed)
// where a 1-bit x or w is +1 (bit 1) / -1 (bit 0) and a wider one is two's complement. Products
// are built from shifts and adds (binary factors select +v / -v; multi-bit x multi-bit is
// sum_j w[j] * (x << j) with the top weight bit negative): no `*`.
// At the end of fold nf, lane pe gives output channel o = nf*PE + pe:
//   sign (LEVELS=0):      bit o = (acc >= thr[cls][o]) ^ flip[o]            (MH bits)
//   multi (LEVELS>=2):    field [o*O_B +: O_B] = OFFSET + sum_{i<LEVELS-1} ((acc >= thr[cls][o][i]) ^ flip[o])
//                         (O_B-bit two's complement; MH*O_B bits)
//   raw (BINARIZE=0):     field [o*ACC_W +: ACC_W] = acc                     (MH*ACC_W bits)
// The output word is written after the last fold.
//
// Entry points: mvau_threshold / mvau_acc (binary weights, sign / raw: as before),
// mvau_threshold_w / mvau_acc_w (W_B-bit weights), mvau_multithreshold (LEVELS levels), and
// the general mvau<...> they all call.
//
// Memories (the layouts of hls_lib/rtl/README.md, stored as chunked constants, see rom<>):
//   weights    [NF*SF]         PE*SIMD*W_B bits; address nf*SF + sf, field
//                              [(pe*SIMD + s)*W_B +: W_B] holds the weight of output nf*PE + pe,
//                              column sf*SIMD + s (W_B == 1: 1 is +1; else two's complement).
//   thresholds [N_CLASSES*NF]  PE*T*THR_W bits, T = LEVELS-1 (1 for a sign); address cls*NF + nf,
//                              lane pe, level i at [(pe*T + i)*THR_W +: THR_W] (unsigned
//                              popcount thresholds for binary x binary, two's complement
//                              accumulator thresholds otherwise).
//   flips      [NF]            PE bits.
#ifndef BNN_MVAU_H
#define BNN_MVAU_H

#include "bnn_common.h"

namespace bnn {

// One step of one lane: the sum of the SIMD products of this step's inputs and weight bits w.
// Binary inputs use x (SIMD bits); multi-bit inputs use xe (the SIMD elements, signed).
template <int SIMD, int IN_B, int ACC_W>
ap_int<ACC_W + 1> lane_sum(const ap_uint<SIMD>& x, const ap_int<IN_B> xe[SIMD], const ap_uint<SIMD>& w) {
BNN_PRAGMA(HLS INLINE)
    if (IN_B == 1) {
        // XNOR-popcount: matches = SIMD - mismatches.
        return ap_int<ACC_W + 1>(SIMD) - ap_int<ACC_W + 1>(popcount<SIMD>(x ^ w));
    }
    ap_int<ACC_W + 1> sum = 0;
    for (int s = 0; s < SIMD; s++) {
BNN_PRAGMA(HLS UNROLL)
        if (w[s]) {
            sum += xe[s];
        } else {
            sum -= xe[s];
        }
    }
    return sum;
}

// One step of one lane with W_B-bit weights or binary inputs x multi-bit weights: the signed
// sum of the SIMD products x[s] * w[s], w[s] = bits [s*W_B +: W_B] of w. Shifts and adds only.
template <int SIMD, int IN_B, int W_B, int ACC_W>
ap_int<ACC_W + 1> lane_sum_w(const ap_uint<SIMD * IN_B>& x, const ap_uint<SIMD * W_B>& w) {
BNN_PRAGMA(HLS INLINE)
    ap_int<ACC_W + 1> sum = 0;
    for (int s = 0; s < SIMD; s++) {
BNN_PRAGMA(HLS UNROLL)
        const ap_uint<W_B> wf = w.range(s * W_B + W_B - 1, s * W_B);
        if (IN_B == 1) {
            // binary x: +w / -w
            const ap_int<ACC_W + 1> we = ap_int<W_B>(wf);
            if (x[s]) {
                sum += we;
            } else {
                sum -= we;
            }
        } else {
            const ap_int<ACC_W + 1> xe = ap_int<IN_B>(x.range(s * IN_B + IN_B - 1, s * IN_B));
            for (int j = 0; j < W_B; j++) {
BNN_PRAGMA(HLS UNROLL)
                if (wf[j]) {
                    const ap_int<ACC_W + 1> shifted = xe << j;
                    if (j == W_B - 1) {
                        sum -= shifted;
                    } else {
                        sum += shifted;
                    }
                }
            }
        }
    }
    return sum;
}

// Output word width of the general unit.
constexpr int mvau_out_width(int MH, int ACC_W, int BINARIZE, int LEVELS, int O_B) {
    return BINARIZE == 0 ? MH * ACC_W : (LEVELS >= 2 ? MH * O_B : MH);
}
// Thresholds per output channel in the threshold memory.
constexpr int mvau_thresholds_per_channel(int BINARIZE, int LEVELS) { return (BINARIZE != 0 && LEVELS >= 2) ? LEVELS - 1 : 1; }

// Elements of one input vector: MW, or MH*MW for the depthwise (vector-vector) unit.
constexpr int mvau_vector_elements(int MW, int MH, int DEPTHWISE) { return DEPTHWISE != 0 ? MH * MW : MW; }

// The depthwise unit's input in step order (bnn_vvau.sv's reordering): a window of MW taps x
// MH channels, element (k, c) at [(k*MH + c)*IN_B +: IN_B], to element
// ((nf*SF + sf)*PE + pe)*SIMD + s = channel nf*PE + pe, tap sf*SIMD + s.
template <int MW, int MH, int PE, int SIMD, int IN_B>
ap_uint<MW * MH * IN_B> vvau_step_order(const ap_uint<MW * MH * IN_B>& window) {
BNN_PRAGMA(HLS INLINE)
    ap_uint<MW * MH * IN_B> x = 0;
    for (int nf = 0; nf < MH / PE; nf++) {
        for (int sf = 0; sf < MW / SIMD; sf++) {
            for (int pe = 0; pe < PE; pe++) {
                for (int s = 0; s < SIMD; s++) {
BNN_PRAGMA(HLS UNROLL)
                    const int to = (((nf * (MW / SIMD) + sf) * PE + pe) * SIMD + s) * IN_B;
                    const int from = ((sf * SIMD + s) * MH + nf * PE + pe) * IN_B;
                    x.range(to + IN_B - 1, to) = window.range(from + IN_B - 1, from);
                }
            }
        }
    }
    return x;
}

// The general unit. BINARIZE selects thresholds + flips (1) or raw accumulators (0); with
// BINARIZE=1, LEVELS=0 gives a sign bit per channel and LEVELS>=2 an O_B-bit level.
// DEPTHWISE=1 is the vector-vector unit of a depthwise conv (bnn_vvau.h): the input is a
// window of MW taps x MH channels and output channel o dots its own channel's taps with its
// own weights; the window is put in step order when read, and each lane reads its own SIMD
// elements per step (lane pe at [pe*SIMD +: SIMD] of the step's PE*SIMD).
template <int DEPTHWISE, int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int BINARIZE, int LEVELS, int O_B, int OFFSET,
          int N_CLASSES, int ACC_W, int THR_W, int VECTORS, typename InT>
void mvau_unit(hls::stream<InT>& in, hls::stream<ap_uint<mvau_out_width(MH, ACC_W, BINARIZE, LEVELS, O_B)> >& out,
               const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K],
               const typename rom<PE * mvau_thresholds_per_channel(BINARIZE, LEVELS) * THR_W>::chunk_t
                   thresholds[][rom<PE * mvau_thresholds_per_channel(BINARIZE, LEVELS) * THR_W>::K],
               const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    const int NF = MH / PE;
    const int SF = MW / SIMD;
    const int XW = mvau_vector_elements(MW, MH, DEPTHWISE) * IN_B;
    const int LANE_X = DEPTHWISE != 0 ? SIMD : 0;  // elements between two lanes' inputs
    const int CHUNK = (DEPTHWISE != 0 ? PE * SIMD : SIMD) * IN_B;  // input bits per step
    const int X_STEPS = DEPTHWISE != 0 ? NF * SF : SF;  // steps until the vector comes round
    const bool MULTI = BINARIZE != 0 && LEVELS >= 2;
    const bool POPCOUNT = IN_B == 1 && W_B == 1;
    const int NT = mvau_thresholds_per_channel(BINARIZE, LEVELS);
    const int LANE_W = (BINARIZE == 0) ? ACC_W : (MULTI ? O_B : 1);  // output bits per channel
    const int OUT_W = MH * LANE_W;
    const int FOLD_W = PE * LANE_W;  // output bits per fold
    const int WLANE = SIMD * W_B;
    const int TROW = PE * NT * THR_W;
    static_assert(MH % PE == 0, "bnn::mvau: PE must divide MH");
    static_assert(MW % SIMD == 0, "bnn::mvau: SIMD must divide MW");
    static_assert(BINARIZE == 0 || LEVELS != 1, "bnn::mvau: LEVELS must be 0 (sign) or at least 2");
    static_assert(!MULTI || (OFFSET >= -(1 << (O_B - 1)) && OFFSET + LEVELS - 1 <= (1 << (O_B - 1)) - 1),
                  "bnn::mvau: OFFSET .. OFFSET+LEVELS-1 must fit O_B signed bits");
    // One memory word per cycle: each word's chunks side by side.
BNN_PRAGMA(HLS ARRAY_RESHAPE variable=weights complete dim=2)
BNN_PRAGMA(HLS ARRAY_RESHAPE variable=thresholds complete dim=2)
BNN_PRAGMA(HLS ARRAY_RESHAPE variable=flips complete dim=2)

    ap_uint<XW> cur = 0;  // the vector, rotated right by CHUNK per step: chunk sf at the bottom
    unsigned cls = 0;
    ap_int<ACC_W + 1> acc[PE];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=acc complete)
    ap_uint<OUT_W> word = 0;
    int sf = 0, nf = 0, addr = 0;

    for (int i = 0; i < VECTORS * NF * SF; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        if (sf == 0 && nf == 0) {
            const InT v = in.read();
            if (DEPTHWISE != 0) {
                cur = vvau_step_order<MW, MH, PE, SIMD, IN_B>(vector_data(v));
            } else {
                cur = vector_data(v);
            }
            cls = (N_CLASSES > 1) ? vector_class(v) : 0u;
        }
        const ap_uint<CHUNK> step_x = cur.range(CHUNK - 1, 0);
        for (int pe = 0; pe < PE; pe++) {
BNN_PRAGMA(HLS UNROLL)
            // this lane's SIMD elements (the same for every lane but in the depthwise unit)
            const ap_uint<SIMD * IN_B> x = step_x.range((pe * LANE_X + SIMD) * IN_B - 1, pe * LANE_X * IN_B);
            ap_int<IN_B> xe[SIMD];  // multi-bit inputs: the elements
BNN_PRAGMA(HLS ARRAY_PARTITION variable=xe complete)
            for (int s = 0; s < SIMD; s++) {
BNN_PRAGMA(HLS UNROLL)
                xe[s] = (IN_B > 1) ? ap_int<IN_B>(x.range(s * IN_B + IN_B - 1, s * IN_B)) : ap_int<IN_B>(0);
            }
            ap_int<ACC_W + 1> psum;
            if (W_B == 1) {
                // binary weights: XNOR-popcount or +x / -x (as before)
                const ap_uint<SIMD> w_pe = rom_bits<PE * SIMD * W_B, SIMD>(weights[addr], pe * SIMD);
                psum = lane_sum<SIMD, IN_B, ACC_W>(x.range(SIMD - 1, 0), xe, w_pe);
            } else {
                const ap_uint<WLANE> w_pe = rom_bits<PE * SIMD * W_B, WLANE>(weights[addr], pe * WLANE);
                psum = lane_sum_w<SIMD, IN_B, W_B, ACC_W>(x, w_pe);
            }
            acc[pe] = (sf == 0) ? psum : ap_int<ACC_W + 1>(acc[pe] + psum);
        }

        if (sf == SF - 1) {
            ap_uint<FOLD_W> fold = 0;
            if (BINARIZE != 0) {
                for (int pe = 0; pe < PE; pe++) {
BNN_PRAGMA(HLS UNROLL)
                    const ap_uint<1> flip = rom_bits<PE, 1>(flips[nf], pe);
                    int passed = 0;  // thresholds passed (flip applied)
                    for (int k = 0; k < NT; k++) {
BNN_PRAGMA(HLS UNROLL)
                        const ap_uint<THR_W> raw = rom_bits<TROW, THR_W>(thresholds[cls * NF + nf], (pe * NT + k) * THR_W);
                        // Binary x binary: unsigned popcount thresholds; otherwise signed.
                        const ap_int<THR_W + 1> t = POPCOUNT ? ap_int<THR_W + 1>(raw) : ap_int<THR_W + 1>(ap_int<THR_W>(raw));
                        passed += ((acc[pe] >= t) != (flip != 0)) ? 1 : 0;
                    }
                    if (MULTI) {
                        const ap_int<LANE_W> level = OFFSET + passed;  // modulo 2^O_B
                        fold.range(pe * LANE_W + LANE_W - 1, pe * LANE_W) = ap_uint<LANE_W>(level);
                    } else {
                        fold[pe] = passed;
                    }
                }
            } else {
                for (int pe = 0; pe < PE; pe++) {
BNN_PRAGMA(HLS UNROLL)
                    fold.range(pe * (FOLD_W / PE) + FOLD_W / PE - 1, pe * (FOLD_W / PE)) = acc[pe].range(ACC_W - 1, 0);
                }
            }
            // Shift the fold in from the top: after NF folds, fold 0 is in the low bits.
            if (NF == 1) {
                word = fold;
            } else {
                word = (ap_uint<OUT_W>(fold) << (OUT_W - FOLD_W)) | (word >> FOLD_W);
            }
            if (nf == NF - 1) out.write(word);
        }

        if (X_STEPS > 1) cur = (cur >> CHUNK) | (cur << (XW - CHUNK));
        addr = (addr == NF * SF - 1) ? 0 : addr + 1;
        if (sf == SF - 1) {
            sf = 0;
            nf = (nf == NF - 1) ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}

// The matrix-vector unit (every mvau_* entry point).
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int BINARIZE, int LEVELS, int O_B, int OFFSET, int N_CLASSES,
          int ACC_W, int THR_W, int VECTORS, typename InT>
void mvau(hls::stream<InT>& in, hls::stream<ap_uint<mvau_out_width(MH, ACC_W, BINARIZE, LEVELS, O_B)> >& out,
          const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K],
          const typename rom<PE * mvau_thresholds_per_channel(BINARIZE, LEVELS) * THR_W>::chunk_t
              thresholds[][rom<PE * mvau_thresholds_per_channel(BINARIZE, LEVELS) * THR_W>::K],
          const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
BNN_PRAGMA(HLS INLINE)
    mvau_unit<0, MW, MH, PE, SIMD, IN_B, W_B, BINARIZE, LEVELS, O_B, OFFSET, N_CLASSES, ACC_W, THR_W, VECTORS>(
        in, out, weights, thresholds, flips);
}

// The former shared datapath (binary weights, sign or raw output), kept for existing callers.
template <int MW, int MH, int PE, int SIMD, int IN_B, int BINARIZE, int N_CLASSES, int ACC_W, int THR_W, int VECTORS,
          typename InT>
void mvau_core(hls::stream<InT>& in,
               hls::stream<ap_uint<(BINARIZE != 0) ? MH : MH * ACC_W> >& out,
               const typename rom<PE * SIMD>::chunk_t weights[][rom<PE * SIMD>::K],
               const typename rom<PE * THR_W>::chunk_t thresholds[][rom<PE * THR_W>::K],
               const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
BNN_PRAGMA(HLS INLINE)
    mvau<MW, MH, PE, SIMD, IN_B, 1, BINARIZE, 0, 1, 0, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights, thresholds,
                                                                                       flips);
}

// Thresholded unit: VECTORS input vectors -> VECTORS words of MH output bits.
template <int MW, int MH, int PE, int SIMD, int IN_B, int N_CLASSES, int ACC_W, int THR_W, int VECTORS, typename InT>
void mvau_threshold(hls::stream<InT>& in, hls::stream<ap_uint<MH> >& out,
                    const typename rom<PE * SIMD>::chunk_t weights[][rom<PE * SIMD>::K],
                    const typename rom<PE * THR_W>::chunk_t thresholds[][rom<PE * THR_W>::K],
                    const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    mvau_core<MW, MH, PE, SIMD, IN_B, 1, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights, thresholds, flips);
}

// Raw-accumulator unit (the last layer): VECTORS input vectors -> VECTORS words of MH fields
// of ACC_W bits (unsigned popcount for binary inputs, signed sum for multi-bit inputs).
template <int MW, int MH, int PE, int SIMD, int IN_B, int ACC_W, int VECTORS, typename InT>
void mvau_acc(hls::stream<InT>& in, hls::stream<ap_uint<MH * ACC_W> >& out,
              const typename rom<PE * SIMD>::chunk_t weights[][rom<PE * SIMD>::K]) {
    // Never read (BINARIZE=0): placeholders for the threshold and flip memories.
    static const typename rom<PE>::chunk_t no_thresholds[1][rom<PE>::K] = {{0}};
    static const typename rom<PE>::chunk_t no_flips[1][rom<PE>::K] = {{0}};
    mvau_core<MW, MH, PE, SIMD, IN_B, 0, 1, ACC_W, 1, VECTORS>(in, out, weights, no_thresholds, no_flips);
}

// Thresholded unit with W_B-bit weights (sign output): VECTORS words of MH bits.
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int N_CLASSES, int ACC_W, int THR_W, int VECTORS,
          typename InT>
void mvau_threshold_w(hls::stream<InT>& in, hls::stream<ap_uint<MH> >& out,
                      const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K],
                      const typename rom<PE * THR_W>::chunk_t thresholds[][rom<PE * THR_W>::K],
                      const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    mvau<MW, MH, PE, SIMD, IN_B, W_B, 1, 0, 1, 0, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights, thresholds, flips);
}

// Multi-threshold unit (FINN MultiThreshold): VECTORS words of MH fields of O_B bits, channel o
// = OFFSET + number of its LEVELS-1 thresholds passed (flip applied).
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int LEVELS, int O_B, int OFFSET, int N_CLASSES, int ACC_W,
          int THR_W, int VECTORS, typename InT>
void mvau_multithreshold(hls::stream<InT>& in, hls::stream<ap_uint<MH * O_B> >& out,
                         const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K],
                         const typename rom<PE * (LEVELS - 1) * THR_W>::chunk_t thresholds[][rom<PE * (LEVELS - 1) * THR_W>::K],
                         const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    static_assert(LEVELS >= 2, "bnn::mvau_multithreshold: LEVELS >= 2");
    mvau<MW, MH, PE, SIMD, IN_B, W_B, 1, LEVELS, O_B, OFFSET, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights, thresholds,
                                                                                              flips);
}

// Raw-accumulator unit with W_B-bit weights: VECTORS words of MH signed fields of ACC_W bits.
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int ACC_W, int VECTORS, typename InT>
void mvau_acc_w(hls::stream<InT>& in, hls::stream<ap_uint<MH * ACC_W> >& out,
                const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K]) {
    // Never read (BINARIZE=0): placeholders for the threshold and flip memories.
    static const typename rom<PE>::chunk_t no_thresholds[1][rom<PE>::K] = {{0}};
    static const typename rom<PE>::chunk_t no_flips[1][rom<PE>::K] = {{0}};
    mvau<MW, MH, PE, SIMD, IN_B, W_B, 0, 0, 1, 0, 1, ACC_W, 1, VECTORS>(in, out, weights, no_thresholds, no_flips);
}

}  // namespace bnn

#endif  // BNN_MVAU_H
