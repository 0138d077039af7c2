// bnn_swg.h: sliding-window generator with padding and border classes (mirrors
// hls_lib/rtl/bnn_swg.sv).
//
// Input: one frame of unpadded pixels (C*B bits, element c at [c*B +: B]) in raster order.
// Output: one window per output position in raster order, element (ky, kx, c) at
// [((ky*KW + kx)*C + c)*B +: B], with the border class id
//     (ROW_CLASS[oy]*N_COL_CLASSES + COL_CLASS[ox])*2 + parity,  parity = (SH*oy + SW*ox) % 2.
//
// The loop walks the padded frame (H+PAD_T+PAD_B) x (W+PAD_L+PAD_R), one position per
// iteration (II=1). An in-bounds position reads an input pixel; a pad position injects the
// pad pixel: the FBNA pattern ((y + x + c) % 2 == 0 ? +1 : -1, image coordinates) for binary
// inputs, 0 for multi-bit inputs. Each position's KH-pixel column is the new pixel plus KH-1
// older ones from the line buffer (one entry per padded column); the last KW-1 columns are
// kept in a shift register. A window is emitted at padded position (KH-1 + oy*SH, KW-1 + ox*SW).
#ifndef BNN_SWG_H
#define BNN_SWG_H

#include "bnn_common.h"

namespace bnn {

// The pad pixel: binary -> bit c is +1 where (y + x + c) is even; multi-bit -> 0.
template <int C, int B>
ap_uint<C * B> pad_pixel(bool odd) {
BNN_PRAGMA(HLS INLINE)
    ap_uint<C * B> p = 0;
    if (B == 1) {
        for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
            p[c] = ((c & 1) != 0) == odd;
        }
    }
    return p;
}

template <int C, int B, int H, int W, int KH, int KW, int SH, int SW, int PAD_T, int PAD_L, int PAD_B, int PAD_R,
          int N_COL_CLASSES, int USER_W>
void swg(hls::stream<ap_uint<C * B> >& in, hls::stream<Window<KH * KW * C * B, USER_W> >& out,
         const unsigned short row_class[(H + PAD_T + PAD_B - KH) / SH + 1],
         const unsigned short col_class[(W + PAD_L + PAD_R - KW) / SW + 1]) {
    const int PIX_W = C * B;
    const int HP = H + PAD_T + PAD_B;
    const int WP = W + PAD_L + PAD_R;
    const int WIN_W = KH * KW * PIX_W;

    // lines[ky][x]: the pixel at padded (py - (KH-1) + ky, x) once column x of row py is done.
    ap_uint<PIX_W> lines[max_int(KH - 1, 1)][WP];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=lines complete dim=1)
    // hist[j][ky]: padded column px - (KW-1) + j.
    ap_uint<PIX_W> hist[max_int(KW - 1, 1)][KH];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=hist complete dim=0)
    for (int j = 0; j < max_int(KW - 1, 1); j++) {
BNN_PRAGMA(HLS UNROLL)
        for (int ky = 0; ky < KH; ky++) {
BNN_PRAGMA(HLS UNROLL)
            hist[j][ky] = 0;
        }
    }

    int py = 0, px = 0;            // current padded position
    int ny = KH - 1, nx = KW - 1;  // padded row/column of the next output row/column
    int oy = 0, ox = 0;            // output row/column of the next window

    for (int i = 0; i < HP * WP; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        const bool in_bounds = py >= PAD_T && py < PAD_T + H && px >= PAD_L && px < PAD_L + W;
        ap_uint<PIX_W> pixel = 0;
        if (in_bounds) {
            pixel = in.read();
        } else {
            pixel = pad_pixel<C, B>(((py + px + PAD_T + PAD_L) & 1) != 0);
        }

        ap_uint<PIX_W> column[KH];
BNN_PRAGMA(HLS ARRAY_PARTITION variable=column complete)
        for (int ky = 0; ky < KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            column[ky] = lines[ky][px];
        }
        column[KH - 1] = pixel;
        for (int ky = 0; ky < KH - 1; ky++) {
BNN_PRAGMA(HLS UNROLL)
            lines[ky][px] = column[ky + 1];
        }

        if (py == ny && px == nx) {
            Window<WIN_W, USER_W> win;
            win.data = 0;
            for (int ky = 0; ky < KH; ky++) {
BNN_PRAGMA(HLS UNROLL)
                for (int kx = 0; kx < KW; kx++) {
BNN_PRAGMA(HLS UNROLL)
                    const int lo = (ky * KW + kx) * PIX_W;
                    win.data.range(lo + PIX_W - 1, lo) = (kx == KW - 1) ? column[ky] : hist[kx][ky];
                }
            }
            const int parity = (SH * oy + SW * ox) & 1;
            win.cls = (row_class[oy] * N_COL_CLASSES + col_class[ox]) * 2 + parity;
            out.write(win);
        }

        for (int j = 0; j + 1 < KW - 1; j++) {
BNN_PRAGMA(HLS UNROLL)
            for (int ky = 0; ky < KH; ky++) {
BNN_PRAGMA(HLS UNROLL)
                hist[j][ky] = hist[j + 1][ky];
            }
        }
        if (KW > 1) {
            for (int ky = 0; ky < KH; ky++) {
BNN_PRAGMA(HLS UNROLL)
                hist[KW - 2 >= 0 ? KW - 2 : 0][ky] = column[ky];
            }
        }

        if (px == nx) {
            nx += SW;
            ox++;
        }
        if (px == WP - 1) {
            px = 0;
            nx = KW - 1;
            ox = 0;
            if (py == ny) {
                ny += SH;
                oy++;
            }
            py++;
        } else {
            px++;
        }
    }
}

}  // namespace bnn

#endif  // BNN_SWG_H
