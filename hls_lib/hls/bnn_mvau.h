// bnn_mvau.h: folded matrix-vector-activation unit, PE x SIMD (mirrors hls_lib/rtl/bnn_mvau.sv).
//
// One input word carries a whole vector of MW elements (element i at [i*IN_B +: IN_B]) and,
// for a conv with border classes, its class id. Per vector the unit runs NF = MH/PE output
// folds (outer) of SF = MW/SIMD column steps (inner), one step per iteration (II=1). Each
// step, PE lanes each consume SIMD elements:
//   IN_B == 1: acc += popcount(~(x ^ w))               (unsigned)
//   IN_B >  1: acc += sum_s (w[s] ? x[s] : -x[s])       (signed)
// At the end of fold nf, lane pe gives output channel o = nf*PE + pe:
//   mvau_threshold: bit o = (acc >= thr[cls][o]) ^ flip[o]   (output word of MH bits)
//   mvau_acc:       field [o*ACC_W +: ACC_W] = acc           (output word of MH*ACC_W bits)
// The output word is written after the last fold.
//
// Memories (the layouts of hls_lib/rtl/README.md, stored as chunked constants, see rom<>):
//   weights    [NF*SF]         PE*SIMD bits; address nf*SF + sf, bit pe*SIMD + s holds the
//                              weight of output nf*PE + pe, column sf*SIMD + s (1 is +1).
//   thresholds [N_CLASSES*NF]  PE*THR_W bits; address cls*NF + nf, lane pe at
//                              [pe*THR_W +: THR_W] (unsigned popcount thresholds for binary
//                              inputs, two's complement accumulator thresholds otherwise).
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

// The shared datapath. BINARIZE selects thresholds + flips (1) or raw accumulators (0).
template <int MW, int MH, int PE, int SIMD, int IN_B, int BINARIZE, int N_CLASSES, int ACC_W, int THR_W, int VECTORS,
          typename InT>
void mvau_core(hls::stream<InT>& in,
               hls::stream<ap_uint<(BINARIZE != 0) ? MH : MH * ACC_W> >& out,
               const typename rom<PE * SIMD>::chunk_t weights[][rom<PE * SIMD>::K],
               const typename rom<PE * THR_W>::chunk_t thresholds[][rom<PE * THR_W>::K],
               const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    const int NF = MH / PE;
    const int SF = MW / SIMD;
    const int XW = MW * IN_B;
    const int CHUNK = SIMD * IN_B;
    const int OUT_W = (BINARIZE != 0) ? MH : MH * ACC_W;
    const int FOLD_W = (BINARIZE != 0) ? PE : PE * ACC_W;  // output bits per fold
    static_assert(MH % PE == 0, "bnn::mvau: PE must divide MH");
    static_assert(MW % SIMD == 0, "bnn::mvau: SIMD must divide MW");
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
            cur = vector_data(v);
            cls = (N_CLASSES > 1) ? vector_class(v) : 0u;
        }
        const ap_uint<CHUNK> x = cur.range(CHUNK - 1, 0);
        ap_int<IN_B> xe[SIMD];  // multi-bit inputs: the step's elements, shared by all lanes
BNN_PRAGMA(HLS ARRAY_PARTITION variable=xe complete)
        for (int s = 0; s < SIMD; s++) {
BNN_PRAGMA(HLS UNROLL)
            xe[s] = (IN_B > 1) ? ap_int<IN_B>(x.range(s * IN_B + IN_B - 1, s * IN_B)) : ap_int<IN_B>(0);
        }
        for (int pe = 0; pe < PE; pe++) {
BNN_PRAGMA(HLS UNROLL)
            const ap_uint<SIMD> w_pe = rom_bits<PE * SIMD, SIMD>(weights[addr], pe * SIMD);
            const ap_int<ACC_W + 1> psum = lane_sum<SIMD, IN_B, ACC_W>(x.range(SIMD - 1, 0), xe, w_pe);
            acc[pe] = (sf == 0) ? psum : ap_int<ACC_W + 1>(acc[pe] + psum);
        }

        if (sf == SF - 1) {
            ap_uint<FOLD_W> fold = 0;
            if (BINARIZE != 0) {
                for (int pe = 0; pe < PE; pe++) {
BNN_PRAGMA(HLS UNROLL)
                    const ap_uint<THR_W> raw = rom_bits<PE * THR_W, THR_W>(thresholds[cls * NF + nf], pe * THR_W);
                    const ap_uint<1> flip = rom_bits<PE, 1>(flips[nf], pe);
                    // Binary inputs: unsigned popcount thresholds; multi-bit: signed.
                    const ap_int<THR_W + 1> t = (IN_B == 1) ? ap_int<THR_W + 1>(raw) : ap_int<THR_W + 1>(ap_int<THR_W>(raw));
                    fold[pe] = (acc[pe] >= t) != (flip != 0);
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

        if (SF > 1) cur = (cur >> CHUNK) | (cur << (XW - CHUNK));
        addr = (addr == NF * SF - 1) ? 0 : addr + 1;
        if (sf == SF - 1) {
            sf = 0;
            nf = (nf == NF - 1) ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
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

}  // namespace bnn

#endif  // BNN_MVAU_H
