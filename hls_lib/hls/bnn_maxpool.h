// bnn_maxpool.h: max-pool, no padding (mirrors hls_lib/rtl/bnn_maxpool.sv).
//
// B == 1 (binary): the max of +1/-1 values is the OR of their encodings, so each output channel
// is the OR over the KH x KW window. B > 1: channel c is the two's complement field
// [c*B +: B] and the output is its signed maximum over the window. One input pixel per
// iteration (II=1): a line buffer keeps the KH-1 previous rows, the KH pixels of the current
// column are combined (OR / max) into one C*B-bit value, and the last KW-1 of those are kept in
// a shift register. An output is produced at (KH-1 + oy*SH, KW-1 + ox*SW).
#ifndef BNN_MAXPOOL_H
#define BNN_MAXPOOL_H

#include "bnn_common.h"

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

template <int C, int H, int W, int KH, int KW, int SH, int SW, int B = 1>
void maxpool(hls::stream<ap_uint<C * B> >& in, hls::stream<ap_uint<C * B> >& out) {
    // lines[ky][x]: the pixel at (py - (KH-1) + ky, x) once column x of row py is done.
    ap_uint<C * B> lines[max_int(KH - 1, 1)][W];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=lines complete dim=1)
    // hist[j]: the column OR of column px - (KW-1) + j.
    ap_uint<C * B> hist[max_int(KW - 1, 1)];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=hist complete)
    for (int j = 0; j < max_int(KW - 1, 1); j++) {
BNN_PRAGMA(HLS UNROLL)
        hist[j] = 0;
    }

    int py = 0, px = 0;
    int ny = KH - 1, nx = KW - 1;

    for (int i = 0; i < H * W; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        const ap_uint<C * B> pixel = in.read();
        ap_uint<C * B> col_or = pixel;
        for (int ky = 0; ky < KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            col_or = pool_combine<C, B>(col_or, lines[ky][px]);
        }
        for (int ky = 0; ky < KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            lines[ky][px] = (ky + 1 < KH - 1) ? lines[ky + 1][px] : pixel;
        }

        if (py == ny && px == nx) {
            ap_uint<C * B> pooled = col_or;
            for (int j = 0; j < KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
                pooled = pool_combine<C, B>(pooled, hist[j]);
            }
            out.write(pooled);
        }

        for (int j = 0; j + 1 < KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
            hist[j] = hist[j + 1];
        }
        if (KW > 1) hist[KW - 2 >= 0 ? KW - 2 : 0] = col_or;

        if (px == nx) nx += SW;
        if (px == W - 1) {
            px = 0;
            nx = KW - 1;
            if (py == ny) ny += SH;
            py++;
        } else {
            px++;
        }
    }
}

}  // namespace bnn

#endif  // BNN_MAXPOOL_H
