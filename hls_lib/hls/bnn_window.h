// bnn_window.h: the window walker that bnn::swg, bnn::maxpool and bnn::sumpool share (mirrors
// hls_lib/rtl/bnn_window.sv). Each block passes its own reduction, as finn-hlslib's pooling
// functions share one window buffer and differ in their pool function.
//
// `walk_windows<G, BUFFER>(in, reduce)` reads one frame of C*IN_B-bit pixels in raster order and
// walks the padded frame (H+PAD_T+PAD_B) x (W+PAD_L+PAD_R) of the geometry G, one position per
// iteration (II=1). An in-bounds position reads an input pixel; a pad position injects the pad
// pixel: the FBNA pattern ((y + x + c) % 2 == 0 ? +1 : -1, image coordinates) for binary
// inputs, 0 for multi-bit inputs; `walk_windows_fixed_pad(in, reduce, pad)` injects `pad`
// everywhere instead (bnn::maxpool's identity of its reduction). At every position:
//   - the column, the KH pixels of padded rows py-(KH-1) .. py at column px (column[KH-1] the
//     new pixel, the others from the line buffer, one entry per padded column), goes to
//     `reduce.column(column)`, which returns it reduced to a `Reduce::col_t`;
//   - the walker keeps the last KW-1 reduced columns (hist[j]: padded column px-(KW-1)+j);
//   - at padded position (KH-1 + oy*SH, KW-1 + ox*SW), `reduce.emit(col, hist, oy, ox)` writes
//     the output made of the current reduced column and the kept ones.
// Reducing each column before it is kept keeps the history one reduced column per position.
// BUFFER = false keeps no line buffer and no history (a global pool: the column is the pixel
// alone, `reduce` accumulates it in its own state; KH x KW only places the emit).
//
// Geometry G and every block's parameters are structs of named constants (hls_lib/README.md,
// "Parameter names"); the generated <layer>_params.h defines one per block.
#ifndef BNN_WINDOW_H
#define BNN_WINDOW_H

#include "bnn_common.h"

namespace bnn {

// The pad pixel: binary -> bit c is +1 where (y + x + c) is even; multi-bit -> 0.
template <int C, int IN_B>
ap_uint<C * IN_B> pad_pixel(bool odd) {
BNN_PRAGMA(HLS INLINE)
    ap_uint<C * IN_B> p = 0;
    if (IN_B == 1) {
        for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
            p[c] = ((c & 1) != 0) == odd;
        }
    }
    return p;
}

// A pool's parameters P as a walker geometry: no padding.
template <class P>
struct Unpadded : P {
    static const int PAD_T = 0;
    static const int PAD_L = 0;
    static const int PAD_B = 0;
    static const int PAD_R = 0;
};

template <class G, bool BUFFER, class Reduce>
void walk_windows_fixed_pad(hls::stream<ap_uint<G::C * G::IN_B> >& in, Reduce& reduce, bool fixed,
                            const ap_uint<G::C * G::IN_B>& fixed_pad) {
    const int PIX_W = G::C * G::IN_B;
    const int KH = G::KH, KW = G::KW;
    const int HP = G::H + G::PAD_T + G::PAD_B;
    const int WP = G::W + G::PAD_L + G::PAD_R;
    const int ROWS = BUFFER ? KH : 1;        // pixels in a column
    const int LINES = max_int(ROWS - 1, 1);  // line-buffer rows
    const int KEPT = BUFFER ? max_int(KW - 1, 1) : 1;
    typedef typename Reduce::col_t col_t;

    // lines[ky][x]: the pixel at padded (py - (KH-1) + ky, x) once column x of row py is done.
    ap_uint<PIX_W> lines[LINES][BUFFER ? WP : 1];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=lines complete dim=1)
    // hist[j]: the reduced column of padded column px - (KW-1) + j.
    col_t hist[KEPT];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=hist complete)
    for (int j = 0; j < KEPT; j++) {
BNN_PRAGMA(HLS UNROLL)
        hist[j] = 0;
    }

    int py = 0, px = 0;            // current padded position
    int ny = KH - 1, nx = KW - 1;  // padded row/column of the next output row/column
    int oy = 0, ox = 0;            // output row/column of the next window

    for (int i = 0; i < HP * WP; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        const bool in_bounds = py >= G::PAD_T && py < G::PAD_T + G::H && px >= G::PAD_L && px < G::PAD_L + G::W;
        ap_uint<PIX_W> pixel = 0;
        if (in_bounds) {
            pixel = in.read();
        } else {
            pixel = fixed ? fixed_pad : pad_pixel<G::C, G::IN_B>(((py + px + G::PAD_T + G::PAD_L) & 1) != 0);
        }

        ap_uint<PIX_W> column[ROWS];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=column complete)
        for (int ky = 0; ky < ROWS - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            column[ky] = lines[ky][px];
        }
        column[ROWS - 1] = pixel;
        for (int ky = 0; ky < ROWS - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            lines[ky][px] = column[ky + 1];
        }

        const col_t col = reduce.column(column);
        if (py == ny && px == nx) reduce.emit(col, hist, oy, ox);

        if (BUFFER) {
            for (int j = 0; j + 1 < KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
                hist[j] = hist[j + 1];
            }
            if (KW > 1) hist[KEPT - 1] = col;
        }

        if (px == nx) {
            nx += G::SW;
            ox++;
        }
        if (px == WP - 1) {
            px = 0;
            nx = KW - 1;
            ox = 0;
            if (py == ny) {
                ny += G::SH;
                oy++;
            }
            py++;
        } else {
            px++;
        }
    }
}

template <class G, bool BUFFER, class Reduce>
void walk_windows(hls::stream<ap_uint<G::C * G::IN_B> >& in, Reduce& reduce) {
BNN_PRAGMA(HLS INLINE)
    walk_windows_fixed_pad<G, BUFFER>(in, reduce, false, ap_uint<G::C * G::IN_B>(0));
}

}  // namespace bnn

#endif  // BNN_WINDOW_H
