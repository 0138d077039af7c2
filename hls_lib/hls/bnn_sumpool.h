// bnn_sumpool.h: sum pooling, no padding (mirrors hls_lib/rtl/bnn_sumpool.sv).
//
// Per channel, the integer sum over each KH x KW window; the source's average is this sum
// divided by KH*KW, folded into what follows. Input elements: B == 1 a sign bit (1 = +1,
// 0 = -1); B > 1 a B-bit two's complement integer (SIGNED = 1) or an unsigned one (SIGNED = 0).
// Output: channel c at [c*OB +: OB], an OB-bit two's complement sum. One input pixel per
// iteration (II=1). Global pooling (KH == H, KW == W) keeps one accumulator per channel;
// windowed pooling keeps the KH-1 previous rows, sums the KH pixels of the current column and
// keeps the last KW-1 column sums. An output is produced at (KH-1 + oy*SH, KW-1 + ox*SW).
#ifndef BNN_SUMPOOL_H
#define BNN_SUMPOOL_H

#include "bnn_common.h"

namespace bnn {

// One pixel of C elements of B bits as C fields of OB-bit two's complement.
template <int C, int B, int SIGNED, int OB>
ap_uint<C * OB> sumpool_widen(const ap_uint<C * B>& p) {
BNN_PRAGMA(HLS INLINE)
    ap_uint<C * OB> r = 0;
    for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
        ap_int<OB> v;
        if (B == 1) {
            v = p[c] ? 1 : -1;
        } else if (SIGNED) {
            const ap_int<B> x = p.range(c * B + B - 1, c * B);
            v = x;
        } else {
            const ap_uint<B> x = p.range(c * B + B - 1, c * B);
            v = x;
        }
        r.range(c * OB + OB - 1, c * OB) = ap_uint<OB>(v);
    }
    return r;
}

// Field-wise sum of two pixels of C OB-bit fields.
template <int C, int OB>
ap_uint<C * OB> sumpool_add(const ap_uint<C * OB>& a, const ap_uint<C * OB>& b) {
BNN_PRAGMA(HLS INLINE)
    ap_uint<C * OB> r = 0;
    for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
        const ap_uint<OB> x = a.range(c * OB + OB - 1, c * OB);
        const ap_uint<OB> y = b.range(c * OB + OB - 1, c * OB);
        r.range(c * OB + OB - 1, c * OB) = ap_uint<OB>(x + y);
    }
    return r;
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int B, int SIGNED, int OB>
void sumpool(hls::stream<ap_uint<C * B> >& in, hls::stream<ap_uint<C * OB> >& out) {
    if (KH == H && KW == W) {
        ap_uint<C * OB> acc = 0;
        for (int i = 0; i < H * W; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
            acc = sumpool_add<C, OB>(acc, sumpool_widen<C, B, SIGNED, OB>(in.read()));
        }
        out.write(acc);
        return;
    }
    // lines[ky][x]: the pixel at (py - (KH-1) + ky, x) once column x of row py is done.
    ap_uint<C * B> lines[max_int(KH - 1, 1)][W];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=lines complete dim=1)
    // hist[j]: the column sum of column px - (KW-1) + j.
    ap_uint<C * OB> hist[max_int(KW - 1, 1)];
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
        ap_uint<C * OB> col_sum = sumpool_widen<C, B, SIGNED, OB>(pixel);
        for (int ky = 0; ky < KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            col_sum = sumpool_add<C, OB>(col_sum, sumpool_widen<C, B, SIGNED, OB>(lines[ky][px]));
        }
        for (int ky = 0; ky < KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            lines[ky][px] = (ky + 1 < KH - 1) ? lines[ky + 1][px] : pixel;
        }

        if (py == ny && px == nx) {
            ap_uint<C * OB> pooled = col_sum;
            for (int j = 0; j < KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
                pooled = sumpool_add<C, OB>(pooled, hist[j]);
            }
            out.write(pooled);
        }

        for (int j = 0; j + 1 < KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
            hist[j] = hist[j + 1];
        }
        if (KW > 1) hist[KW - 2 >= 0 ? KW - 2 : 0] = col_sum;

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

#endif  // BNN_SUMPOOL_H
