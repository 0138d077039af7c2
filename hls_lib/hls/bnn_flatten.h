// bnn_flatten.h: N words of W bits -> one word of N*W bits, word 0 in the low bits (mirrors
// hls_lib/rtl/bnn_flatten.sv). One input word per iteration (II=1).
#ifndef BNN_FLATTEN_H
#define BNN_FLATTEN_H

#include "bnn_common.h"

namespace bnn {

template <int W, int N>
void flatten(hls::stream<ap_uint<W> >& in, hls::stream<ap_uint<N * W> >& out) {
    ap_uint<N * W> vec = 0;
    for (int i = 0; i < N; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        const ap_uint<W> word = in.read();
        // Shift right by one word and put the new one on top: after N words, word 0 is lowest.
        if (N == 1) {
            vec = word;
        } else {
            vec = (ap_uint<N * W>(word) << ((N - 1) * W)) | (vec >> W);
        }
        if (i == N - 1) out.write(vec);
    }
}

}  // namespace bnn

#endif  // BNN_FLATTEN_H
