// bnn_concat.h: channel concatenation of N streams of pixels (mirrors hls_lib/rtl/bnn_concat.sv):
// output pixel k is the inputs' pixel k side by side, input 0 in the low bits. Input i carries
// Cs[i] channels of B bits (1: sign bits, else two's complement fields), so the output's
// channel c is at [c*B +: B] as in any stream. One pixel per iteration (II=1), PIXELS pixels
// per call (one frame); each iteration reads one word from every input.
//
//     bnn::concat<B, PIXELS, C0, C1, ...>(in0, in1, ..., out);
#ifndef BNN_CONCAT_H
#define BNN_CONCAT_H

#include "bnn_common.h"

namespace bnn {

// The sum of the channel counts (C++14: no fold expressions).
template <int... Cs>
struct channel_sum {
    static const int value = 0;
};
template <int C, int... Cs>
struct channel_sum<C, Cs...> {
    static const int value = C + channel_sum<Cs...>::value;
};

// Read one word from each stream into `word`, the first at bit LO, each next one above it.
template <int LO, int W>
void concat_read(ap_uint<W>&) {}

template <int LO, int W, int WI, typename... Ins>
void concat_read(ap_uint<W>& word, hls::stream<ap_uint<WI> >& in, Ins&... rest) {
BNN_PRAGMA(HLS INLINE)
    word.range(LO + WI - 1, LO) = in.read();
    concat_read<LO + WI>(word, rest...);
}

template <int B, int PIXELS, int... Cs>
void concat(hls::stream<ap_uint<Cs * B> >&... ins, hls::stream<ap_uint<channel_sum<Cs...>::value * B> >& out) {
    static_assert(sizeof...(Cs) >= 1, "bnn::concat: at least one input");
    for (int i = 0; i < PIXELS; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        ap_uint<channel_sum<Cs...>::value * B> word = 0;
        concat_read<0>(word, ins...);
        out.write(word);
    }
}

}  // namespace bnn

#endif  // BNN_CONCAT_H
