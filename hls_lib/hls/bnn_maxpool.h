// bnn_maxpool.h: max-pool (mirrors hls_lib/rtl/bnn_maxpool.sv).
//
// IN_B == 1 (binary): the max of +1/-1 values is the OR of their encodings, so each output
// channel is the OR over the KH x KW window. IN_B > 1: channel c is the two's complement field
// [c*IN_B +: IN_B] and the output is its signed maximum over the window. The walk and the
// line buffer are bnn::walk_windows' (bnn_window.h); this block's reduction combines (OR / max)
// the KH pixels of a column into one pixel, and at an output the current column's with the
// KW-1 kept ones. One padded position per iteration (II=1).
//
// bnn::maxpool<P>: P with C, IN_B, H, W, KH, KW, SH, SW; no padding, the max everywhere.
// bnn::maxpool_padded<P>(in, out, min_ch): P also with PAD_T, PAD_L, PAD_B, PAD_R; a padded
// position holds the identity of the reduction (bit 0 / the most negative field) and never
// wins; channels c with min_ch[c] != 0 take the minimum instead, pooled as the max of their
// complements (~v reverses the order of two's complement fields and of sign bits).
#ifndef BNN_MAXPOOL_H
#define BNN_MAXPOOL_H

#include "bnn_common.h"
#include "bnn_window.h"

namespace bnn {

// Element-wise combine of two pixels of C elements of B bits: OR (B == 1) or signed max.
template <int C, int B>
ap_uint<C * B> pool_combine(const ap_uint<C * B>& a, const ap_uint<C * B>& b) {
BNN_PRAGMA(HLS INLINE)
    if (B == 1) return a | b;
    ap_uint<C * B> r = 0;
    for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
        const ap_int<B> x = a.range(c * B + B - 1, c * B);
        const ap_int<B> y = b.range(c * B + B - 1, c * B);
        r.range(c * B + B - 1, c * B) = ap_uint<B>(x >= y ? x : y);
    }
    return r;
}

// The max reduction: a column is the max of its KH pixels.
template <class P>
struct MaxReduce {
    typedef ap_uint<P::C * P::IN_B> col_t;

    hls::stream<col_t>& out;
    col_t flip;  // the complemented (min) channels' bits

    col_t column(const col_t column[P::KH]) {
BNN_PRAGMA(HLS INLINE)
        col_t m = column[P::KH - 1] ^ flip;
        for (int ky = 0; ky < P::KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            m = pool_combine<P::C, P::IN_B>(m, column[ky] ^ flip);
        }
        return m;
    }

    void emit(const col_t& col, const col_t hist[], int, int) {
BNN_PRAGMA(HLS INLINE)
        col_t m = col;
        for (int j = 0; j < P::KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
            m = pool_combine<P::C, P::IN_B>(m, hist[j]);
        }
        out.write(m ^ flip);
    }
};

template <class P>
void maxpool(hls::stream<ap_uint<P::C * P::IN_B> >& in, hls::stream<ap_uint<P::C * P::IN_B> >& out) {
    MaxReduce<P> reduce = {out, 0};
    walk_windows<Unpadded<P>, true>(in, reduce);
}

template <class P>
void maxpool_padded(hls::stream<ap_uint<P::C * P::IN_B> >& in, hls::stream<ap_uint<P::C * P::IN_B> >& out,
                    const unsigned short min_ch[P::C]) {
    const int B = P::IN_B;
    ap_uint<P::C * B> flip = 0, identity = 0;
    for (int c = 0; c < P::C; c++) {
BNN_PRAGMA(HLS UNROLL)
        if (min_ch[c] != 0) flip.range(c * B + B - 1, c * B) = ~ap_uint<B>(0);
        if (B > 1) identity[c * B + B - 1] = 1;
    }
    MaxReduce<P> reduce = {out, flip};
    // The walker's pad goes through reduce.column's complement like any pixel.
    walk_windows_fixed_pad<P, true>(in, reduce, true, identity ^ flip);
}

}  // namespace bnn

#endif  // BNN_MAXPOOL_H
