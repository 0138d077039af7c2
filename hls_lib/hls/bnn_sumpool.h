// bnn_sumpool.h: sum pooling, no padding (mirrors hls_lib/rtl/bnn_sumpool.sv).
//
// Per channel, the integer sum over each KH x KW window; the source's average is this sum
// divided by KH*KW, folded into what follows. Input elements: IN_B == 1 a sign bit (1 = +1,
// 0 = -1); IN_B > 1 an IN_B-bit two's complement integer (SIGNED = 1) or an unsigned one
// (SIGNED = 0). Output: channel c at [c*O_B +: O_B], an O_B-bit two's complement sum. The walk
// and the line buffer are bnn::walk_windows' (bnn_window.h); one input pixel per iteration
// (II=1). Windowed: this block's reduction sums the KH pixels of a column, and at an output
// the current column sum and the KW-1 kept ones. Global (KH == H, KW == W): the walker keeps
// no buffers, one accumulator per channel adds every pixel, and the sum leaves with the last.
//
// P: struct with C, IN_B, H, W, KH, KW, SH, SW, SIGNED, O_B.
#ifndef BNN_SUMPOOL_H
#define BNN_SUMPOOL_H

#include "bnn_common.h"
#include "bnn_window.h"

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

// The windowed sum: a column is the sum of its KH pixels.
template <class P>
struct SumReduce {
    typedef ap_uint<P::C * P::O_B> col_t;

    hls::stream<col_t>& out;

    col_t column(const ap_uint<P::C * P::IN_B> column[P::KH]) {
BNN_PRAGMA(HLS INLINE)
        col_t s = sumpool_widen<P::C, P::IN_B, P::SIGNED, P::O_B>(column[P::KH - 1]);
        for (int ky = 0; ky < P::KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            s = sumpool_add<P::C, P::O_B>(s, sumpool_widen<P::C, P::IN_B, P::SIGNED, P::O_B>(column[ky]));
        }
        return s;
    }

    void emit(const col_t& col, const col_t hist[], int, int) {
BNN_PRAGMA(HLS INLINE)
        col_t s = col;
        for (int j = 0; j < P::KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
            s = sumpool_add<P::C, P::O_B>(s, hist[j]);
        }
        out.write(s);
    }
};

// The global sum: one accumulator per channel over the whole frame (the walker keeps no
// buffers; `column` is the pixel alone).
template <class P>
struct SumAll {
    typedef ap_uint<P::C * P::O_B> col_t;

    hls::stream<col_t>& out;
    col_t acc;

    col_t column(const ap_uint<P::C * P::IN_B> column[1]) {
BNN_PRAGMA(HLS INLINE)
        acc = sumpool_add<P::C, P::O_B>(acc, sumpool_widen<P::C, P::IN_B, P::SIGNED, P::O_B>(column[0]));
        return acc;
    }

    void emit(const col_t& col, const col_t*, int, int) {
BNN_PRAGMA(HLS INLINE)
        out.write(col);
        acc = 0;
    }
};

template <class P>
void sumpool(hls::stream<ap_uint<P::C * P::IN_B> >& in, hls::stream<ap_uint<P::C * P::O_B> >& out) {
    if (P::KH == P::H && P::KW == P::W) {
        SumAll<P> reduce = {out, 0};
        walk_windows<Unpadded<P>, false>(in, reduce);
    } else {
        SumReduce<P> reduce = {out};
        walk_windows<Unpadded<P>, true>(in, reduce);
    }
}

}  // namespace bnn

#endif  // BNN_SUMPOOL_H
