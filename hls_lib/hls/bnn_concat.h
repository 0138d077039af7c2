// bnn_concat.h: channel concatenation of N streams of pixels (mirrors hls_lib/rtl/bnn_concat.sv):
// output pixel k is the inputs' pixel k side by side, input 0's channels first (in the low
// bits); output channel c is the BO-bit field [c*BO +: BO]. Operand i is
// bnn::operand<C, B, S>: C channels of B bits (1: a sign bit, +-1; else two's complement),
// each value shifted left by S into BO bits (B == BO and S == 0: copied as it is). One pixel per
// iteration (II=1), PIXELS pixels per call (one frame); each iteration reads every input once.
//
//     bnn::concat<BO, PIXELS, bnn::operand<C0, B0, S0>, bnn::operand<C1, B1, S1>, ...>(in0, in1, ..., out);
#ifndef BNN_CONCAT_H
#define BNN_CONCAT_H

#include "bnn_common.h"

namespace bnn {

template <int C_, int B_ = 1, int S_ = 0>
struct operand {
    static const int C = C_;
    static const int B = B_;
    static const int S = S_;
};

// The sum of the operands' channel counts (C++14: no fold expressions).
template <typename... Ops>
struct channel_sum {
    static const int value = 0;
};
template <typename Op, typename... Ops>
struct channel_sum<Op, Ops...> {
    static const int value = Op::C + channel_sum<Ops...>::value;
};

// Operand word `x` (Op::C elements of Op::B bits) into `word` from channel LO on, BO bits each.
template <int BO, int LO, typename Op, int W>
void concat_place(ap_uint<W>& word, const ap_uint<Op::C * Op::B>& x) {
BNN_PRAGMA(HLS INLINE)
    if (Op::B == BO && Op::S == 0) {
        word.range((LO + Op::C) * BO - 1, LO * BO) = x;
    } else {
        for (int c = 0; c < Op::C; c++) {
BNN_PRAGMA(HLS UNROLL)
            ap_int<BO> v;
            if (Op::B == 1) {
                v = x[c] ? 1 : -1;
            } else {
                v = ap_int<Op::B>(x.range(c * Op::B + Op::B - 1, c * Op::B));
            }
            word.range((LO + c) * BO + BO - 1, (LO + c) * BO) = ap_uint<BO>(v << Op::S);
        }
    }
}

// Read one word from each stream and place it, the first operand at channel LO.
template <int BO, int LO, int W>
void concat_read(ap_uint<W>&) {}

template <int BO, int LO, typename Op, typename... Ops, int W, typename In, typename... Ins>
void concat_read(ap_uint<W>& word, In& in, Ins&... rest) {
BNN_PRAGMA(HLS INLINE)
    concat_place<BO, LO, Op>(word, in.read());
    concat_read<BO, LO + Op::C, Ops...>(word, rest...);
}

template <int BO, int PIXELS, typename... Ops>
void concat(hls::stream<ap_uint<Ops::C * Ops::B> >&... ins, hls::stream<ap_uint<channel_sum<Ops...>::value * BO> >& out) {
    static_assert(sizeof...(Ops) >= 1, "bnn::concat: at least one operand");
    for (int i = 0; i < PIXELS; i++) {
BNN_PRAGMA(HLS PIPELINE II=1)
        ap_uint<channel_sum<Ops...>::value * BO> word = 0;
        concat_read<BO, 0, Ops...>(word, ins...);
        out.write(word);
    }
}

}  // namespace bnn

#endif  // BNN_CONCAT_H
