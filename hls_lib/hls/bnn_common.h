// bnn_common.h: types and helpers shared by the HLS building blocks (hls_lib/hls/README.md).
//
// Encoding as in hls_lib/rtl: +1 is bit 1, -1 is bit 0; channel/element i of a binary word is
// bit i, of a multi-bit word the two's complement field [i*B +: B].
#ifndef BNN_COMMON_H
#define BNN_COMMON_H

#include <ap_int.h>
#include <hls_stream.h>

// HLS directives. Vitis HLS defines __SYNTHESIS__ and reads `_Pragma` like `#pragma`; a C++
// compiler sees nothing, so C simulation builds without unknown-pragma warnings.
#ifdef __SYNTHESIS__
#define BNN_PRAGMA_SUB(x) _Pragma(#x)
#define BNN_PRAGMA(x) BNN_PRAGMA_SUB(x)
#else
#define BNN_PRAGMA(x)
#endif

namespace bnn {

// ceil(log2(n)), 0 for n <= 1 (Verilog's $clog2).
constexpr int clog2(int n) { return n <= 1 ? 0 : 1 + clog2((n + 1) / 2); }
constexpr int max_int(int a, int b) { return a > b ? a : b; }

// A window (or any vector) together with its border class id: the RTL's tdata + tuser.
template <int W, int U>
struct Window {
    ap_uint<W> data;
    ap_uint<U> cls;
};

// What a matrix unit reads from its input: the data word and the class id (0 for a plain
// vector, which has no border class).
template <int W>
ap_uint<W> vector_data(const ap_uint<W>& v) {
BNN_PRAGMA(HLS INLINE)
    return v;
}
template <int W>
unsigned vector_class(const ap_uint<W>&) {
BNN_PRAGMA(HLS INLINE)
    return 0;
}
template <int W, int U>
ap_uint<W> vector_data(const Window<W, U>& v) {
BNN_PRAGMA(HLS INLINE)
    return v.data;
}
template <int W, int U>
unsigned vector_class(const Window<W, U>& v) {
BNN_PRAGMA(HLS INLINE)
    return v.cls.to_uint();
}

// ---------------------------------------------------------------------------------------
// Constant memories. A W-bit memory word is stored as K chunks of a plain unsigned type
// (chunk k holds bits [k*CHUNK_BITS +: CHUNK_BITS]); plain integers are constant-initialized,
// so even megabit weight tables compile quickly, and the chunk type is no wider than needed.
// The generator (bnn2hls/backends/hls.py) splits words by the same rule.
// ---------------------------------------------------------------------------------------
template <int SIZE_CLASS>
struct chunk_type;
template <>
struct chunk_type<0> {
    typedef unsigned char type;
    static const int BITS = 8;
};
template <>
struct chunk_type<1> {
    typedef unsigned short type;
    static const int BITS = 16;
};
template <>
struct chunk_type<2> {
    typedef unsigned int type;
    static const int BITS = 32;
};
template <>
struct chunk_type<3> {
    typedef unsigned long long type;
    static const int BITS = 64;
};

template <int W>
struct rom {
    static const int SIZE_CLASS = W <= 8 ? 0 : W <= 16 ? 1 : W <= 32 ? 2 : 3;
    typedef typename chunk_type<SIZE_CLASS>::type chunk_t;
    static const int CHUNK_BITS = chunk_type<SIZE_CLASS>::BITS;
    static const int K = (W + CHUNK_BITS - 1) / CHUNK_BITS;
};

// Bits [lo, lo+N) of a W-bit memory word stored as chunks. With constant `lo` (unrolled lanes)
// this is wiring; it never builds the whole (possibly very wide) word.
template <int W, int N>
ap_uint<N> rom_bits(const typename rom<W>::chunk_t row[rom<W>::K], int lo) {
BNN_PRAGMA(HLS INLINE)
    const int CB = rom<W>::CHUNK_BITS;
    ap_uint<N> bits = 0;
    for (int j = 0; j < N / CB + 2; j++) {  // the chunks [lo, lo+N) can touch
BNN_PRAGMA(HLS UNROLL)
        const int k = lo / CB + j;
        const int a = (k * CB > lo) ? k * CB : lo;  // overlap of chunk k with the field: [a, b)
        const int b = (k * CB + CB < lo + N) ? k * CB + CB : lo + N;
        if (k < rom<W>::K && a < b) {
            bits.range(b - 1 - lo, a - lo) = row[k] >> (a - k * CB);
        }
    }
    return bits;
}

// Number of set bits of a W-bit word.
template <int W>
ap_uint<clog2(W + 1)> popcount(const ap_uint<W>& v) {
BNN_PRAGMA(HLS INLINE)
#ifndef __SYNTHESIS__
    // C simulation: 64 bits at a time.
    int n = 0;
    for (int lo = 0; lo < W; lo += 64) {
        const int hi = (lo + 63 < W - 1) ? lo + 63 : W - 1;
        n += __builtin_popcountll(v.range(hi, lo).to_uint64());
    }
    return n;
#else
    ap_uint<clog2(W + 1)> n = 0;
    for (int i = 0; i < W; i++) {
BNN_PRAGMA(HLS UNROLL)
        n += v[i];
    }
    return n;
#endif
}

}  // namespace bnn

#endif  // BNN_COMMON_H
