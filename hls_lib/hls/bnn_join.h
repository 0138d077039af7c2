// bnn_join.h: the residual add of two streams of C-element pixels (mirrors
// hls_lib/rtl/bnn_join.sv): out[c] = (a[c] << SA) + (b[c] << SB), a's elements BA bits, b's BB
// bits (1 = a sign bit read as +-1, else two's complement), the sum BO-bit two's complement.
// One pixel per iteration (II=1), PIXELS pixels per call (one frame).
#ifndef BNN_JOIN_H
#define BNN_JOIN_H

#include "bnn_common.h"

namespace bnn {

// Element c of a word of B-bit elements as an integer (B == 1: bit 1 is +1, bit 0 is -1).
template <int B, int W>
int element_value(const ap_uint<W>& word, int c) {
BNN_PRAGMA(HLS INLINE)
    if (B == 1) return word[c] ? 1 : -1;
    return ap_int<B>(word.range(c * B + B - 1, c * B)).to_int();
}

template <int C, int BA, int BB, int SA, int SB, int BO, int PIXELS>
void join_add(hls::stream<ap_uint<C * BA> >& a, hls::stream<ap_uint<C * BB> >& b, hls::stream<ap_uint<C * BO> >& out) {
    for (int i = 0; i < PIXELS; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        const ap_uint<C * BA> x = a.read();
        const ap_uint<C * BB> y = b.read();
        ap_uint<C * BO> sum = 0;
        for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
            const ap_int<BO> s = (element_value<BA>(x, c) << SA) + (element_value<BB>(y, c) << SB);
            sum.range(c * BO + BO - 1, c * BO) = ap_uint<BO>(s);
        }
        out.write(sum);
    }
}

}  // namespace bnn

#endif  // BNN_JOIN_H
