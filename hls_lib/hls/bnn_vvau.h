// bnn_vvau.h: folded vector-vector-activation unit of a depthwise convolution, PE x SIMD
// (mirrors hls_lib/rtl/bnn_vvau.sv).
//
// One input word is a sliding window (bnn::Window from bnn::swg) of MW = KH*KW taps x MH
// channels, element (k, c) at [(k*MH + c)*IN_B +: IN_B]. Output channel c is channel c's MW
// taps dotted with its own weights, then the activation of bnn_mvau.h. Per window the unit
// runs NF = MH/PE channel folds of SF = MW/SIMD tap steps, one step per iteration (II=1).
// Memories: the layouts of bnn_mvau.h with MH = channels and MW = taps. The entry points
// mirror mvau_*; all call bnn::mvau_unit with DEPTHWISE=1.
#ifndef BNN_VVAU_H
#define BNN_VVAU_H

#include "bnn_mvau.h"

namespace bnn {

// Sign output: VECTORS windows -> VECTORS words of MH bits (binary weights).
template <int MW, int MH, int PE, int SIMD, int IN_B, int N_CLASSES, int ACC_W, int THR_W, int VECTORS, typename InT>
void vvau_threshold(hls::stream<InT>& in, hls::stream<ap_uint<MH> >& out,
                    const typename rom<PE * SIMD>::chunk_t weights[][rom<PE * SIMD>::K],
                    const typename rom<PE * THR_W>::chunk_t thresholds[][rom<PE * THR_W>::K],
                    const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    mvau_unit<1, MW, MH, PE, SIMD, IN_B, 1, 1, 0, 1, 0, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights, thresholds, flips);
}

// Sign output with W_B-bit weights.
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int N_CLASSES, int ACC_W, int THR_W, int VECTORS,
          typename InT>
void vvau_threshold_w(hls::stream<InT>& in, hls::stream<ap_uint<MH> >& out,
                      const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K],
                      const typename rom<PE * THR_W>::chunk_t thresholds[][rom<PE * THR_W>::K],
                      const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    mvau_unit<1, MW, MH, PE, SIMD, IN_B, W_B, 1, 0, 1, 0, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights, thresholds,
                                                                                          flips);
}

// Multi-threshold output: MH fields of O_B bits.
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int LEVELS, int O_B, int OFFSET, int N_CLASSES, int ACC_W,
          int THR_W, int VECTORS, typename InT>
void vvau_multithreshold(hls::stream<InT>& in, hls::stream<ap_uint<MH * O_B> >& out,
                         const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K],
                         const typename rom<PE * (LEVELS - 1) * THR_W>::chunk_t thresholds[][rom<PE * (LEVELS - 1) * THR_W>::K],
                         const typename rom<PE>::chunk_t flips[][rom<PE>::K]) {
    static_assert(LEVELS >= 2, "bnn::vvau_multithreshold: LEVELS >= 2");
    mvau_unit<1, MW, MH, PE, SIMD, IN_B, W_B, 1, LEVELS, O_B, OFFSET, N_CLASSES, ACC_W, THR_W, VECTORS>(in, out, weights,
                                                                                                      thresholds, flips);
}

// Raw accumulators (a depthwise conv feeding the output head): MH fields of ACC_W bits.
template <int MW, int MH, int PE, int SIMD, int IN_B, int ACC_W, int VECTORS, typename InT>
void vvau_acc(hls::stream<InT>& in, hls::stream<ap_uint<MH * ACC_W> >& out,
              const typename rom<PE * SIMD>::chunk_t weights[][rom<PE * SIMD>::K]) {
    static const typename rom<PE>::chunk_t no_thresholds[1][rom<PE>::K] = {{0}};  // never read
    static const typename rom<PE>::chunk_t no_flips[1][rom<PE>::K] = {{0}};
    mvau_unit<1, MW, MH, PE, SIMD, IN_B, 1, 0, 0, 1, 0, 1, ACC_W, 1, VECTORS>(in, out, weights, no_thresholds, no_flips);
}

// Raw accumulators with W_B-bit weights.
template <int MW, int MH, int PE, int SIMD, int IN_B, int W_B, int ACC_W, int VECTORS, typename InT>
void vvau_acc_w(hls::stream<InT>& in, hls::stream<ap_uint<MH * ACC_W> >& out,
                const typename rom<PE * SIMD * W_B>::chunk_t weights[][rom<PE * SIMD * W_B>::K]) {
    static const typename rom<PE>::chunk_t no_thresholds[1][rom<PE>::K] = {{0}};  // never read
    static const typename rom<PE>::chunk_t no_flips[1][rom<PE>::K] = {{0}};
    mvau_unit<1, MW, MH, PE, SIMD, IN_B, W_B, 0, 0, 1, 0, 1, ACC_W, 1, VECTORS>(in, out, weights, no_thresholds, no_flips);
}

}  // namespace bnn

#endif  // BNN_VVAU_H
