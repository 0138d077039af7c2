// bnn_swg.h: sliding-window generator with padding and border classes (mirrors
// hls_lib/rtl/bnn_swg.sv).
//
// Input: one frame of unpadded pixels (C*IN_B bits, element c at [c*IN_B +: IN_B]) in raster
// order. Output: one window per output position in raster order, element (ky, kx, c) at
// [((ky*KW + kx)*C + c)*IN_B +: IN_B], with the border class id
//     (ROW_CLASS[oy]*N_COL_CLASSES + COL_CLASS[ox])*2 + parity,  parity = (SH*oy + SW*ox) % 2.
//
// The walk, the padding and the line buffer are bnn::walk_windows' (bnn_window.h); this
// block's reduction keeps every pixel: a column is kept whole (KH pixels in one word), and a
// window is the KW-1 kept columns plus the current one.
//
// P: struct with C, IN_B, H, W, KH, KW, SH, SW, PAD_T, PAD_L, PAD_B, PAD_R, N_COL_CLASSES, USER_W.
#ifndef BNN_SWG_H
#define BNN_SWG_H

#include "bnn_common.h"
#include "bnn_window.h"

namespace bnn {

template <class P>
struct swg_out {
    static const int OH = (P::H + P::PAD_T + P::PAD_B - P::KH) / P::SH + 1;
    static const int OW = (P::W + P::PAD_L + P::PAD_R - P::KW) / P::SW + 1;
};

// The window reduction: a column is its KH pixels (row ky at [ky*PIX_W +: PIX_W]).
template <class P>
struct WindowKeep {
    static const int PIX_W = P::C * P::IN_B;
    static const int WIN_W = P::KH * P::KW * PIX_W;
    typedef ap_uint<P::KH * PIX_W> col_t;

    hls::stream<Window<WIN_W, P::USER_W> >& out;
    const unsigned short* row_class;
    const unsigned short* col_class;

    col_t column(const ap_uint<PIX_W> column[P::KH]) {
BNN_PRAGMA(HLS INLINE)
        col_t col = 0;
        for (int ky = 0; ky < P::KH; ky++) {
BNN_PRAGMA(HLS UNROLL)
            col.range(ky * PIX_W + PIX_W - 1, ky * PIX_W) = column[ky];
        }
        return col;
    }

    void emit(const col_t& col, const col_t hist[], int oy, int ox) {
BNN_PRAGMA(HLS INLINE)
        Window<WIN_W, P::USER_W> win;
        win.data = 0;
        for (int ky = 0; ky < P::KH; ky++) {
BNN_PRAGMA(HLS UNROLL)
            for (int kx = 0; kx < P::KW; kx++) {
BNN_PRAGMA(HLS UNROLL)
                const int lo = (ky * P::KW + kx) * PIX_W;
                const col_t& src = (kx == P::KW - 1) ? col : hist[kx];
                win.data.range(lo + PIX_W - 1, lo) = src.range(ky * PIX_W + PIX_W - 1, ky * PIX_W);
            }
        }
        const int parity = (P::SH * oy + P::SW * ox) & 1;
        win.cls = (row_class[oy] * P::N_COL_CLASSES + col_class[ox]) * 2 + parity;
        out.write(win);
    }
};

template <class P>
void swg(hls::stream<ap_uint<P::C * P::IN_B> >& in,
         hls::stream<Window<P::KH * P::KW * P::C * P::IN_B, P::USER_W> >& out,
         const unsigned short row_class[swg_out<P>::OH], const unsigned short col_class[swg_out<P>::OW]) {
    WindowKeep<P> keep = {out, row_class, col_class};
    walk_windows<P, true>(in, keep);
}

}  // namespace bnn

#endif  // BNN_SWG_H
