// bnn_fork.h: one stream duplicated to several (mirrors hls_lib/rtl/bnn_fork.sv): a value that
// feeds several layers (the fork of a residual block). One word per iteration (II=1), PIXELS
// words per call (one frame); every word is written to every output stream.
#ifndef BNN_FORK_H
#define BNN_FORK_H

#include "bnn_common.h"

namespace bnn {

template <int W>
void fork_write(const ap_uint<W>&) {}

template <int W, typename... Outs>
void fork_write(const ap_uint<W>& v, hls::stream<ap_uint<W> >& out, Outs&... rest) {
BNN_PRAGMA(HLS INLINE)
    out.write(v);
    fork_write<W>(v, rest...);
}

template <int W, int PIXELS, typename... Outs>
void fork(hls::stream<ap_uint<W> >& in, Outs&... outs) {
    for (int i = 0; i < PIXELS; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        fork_write<W>(in.read(), outs...);
    }
}

}  // namespace bnn

#endif  // BNN_FORK_H
