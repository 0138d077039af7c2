// bnn_threshold.h: a standalone activation of C-element integer pixels (mirrors
// hls_lib/rtl/bnn_threshold.sv): per channel a sign, (x >= T) ^ flip, or with LEVELS >= 2
// OFFSET + the number of the LEVELS-1 thresholds passed (flip applied), O_B-bit two's
// complement. x's elements are BI bits (1 = a sign bit read as +-1). The thresholds (THR_W-bit
// two's complement) and flips are one memory word each, in the MVAU's layout with PE = C.
// One pixel per iteration (II=1), PIXELS pixels per call (one frame).
#ifndef BNN_THRESHOLD_H
#define BNN_THRESHOLD_H

#include "bnn_common.h"
#include "bnn_join.h"

namespace bnn {

constexpr int threshold_out_bits(int levels, int o_b) { return levels >= 2 ? o_b : 1; }

template <int C, int BI, int LEVELS, int O_B, int OFFSET, int THR_W, int PIXELS>
void threshold(hls::stream<ap_uint<C * BI> >& in, hls::stream<ap_uint<C * threshold_out_bits(LEVELS, O_B)> >& out,
               const typename rom<C * (LEVELS >= 2 ? LEVELS - 1 : 1) * THR_W>::chunk_t
                   thresholds[][rom<C * (LEVELS >= 2 ? LEVELS - 1 : 1) * THR_W>::K],
               const typename rom<C>::chunk_t flips[][rom<C>::K]) {
    const int NT = LEVELS >= 2 ? LEVELS - 1 : 1;
    const int OW = threshold_out_bits(LEVELS, O_B);
    for (int i = 0; i < PIXELS; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        const ap_uint<C * BI> x = in.read();
        ap_uint<C * OW> word = 0;
        for (int c = 0; c < C; c++) {
BNN_PRAGMA(HLS UNROLL)
            const int v = element_value<BI>(x, c);
            const bool flip = rom_bits<C, 1>(flips[0], c) != 0;
            int passed = 0;
            for (int k = 0; k < NT; k++) {
BNN_PRAGMA(HLS UNROLL)
                const ap_int<THR_W> t = ap_int<THR_W>(rom_bits<C * NT * THR_W, THR_W>(thresholds[0], (c * NT + k) * THR_W));
                passed += ((v >= t.to_int()) != flip) ? 1 : 0;
            }
            if (LEVELS >= 2) {
                word.range(c * OW + OW - 1, c * OW) = ap_uint<OW>(ap_int<OW>(OFFSET + passed));
            } else {
                word[c] = passed;
            }
        }
        out.write(word);
    }
}

}  // namespace bnn

#endif  // BNN_THRESHOLD_H
