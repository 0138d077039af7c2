"""Measure bit-packed XNOR-popcount binary MLP inference on a real NVIDIA GPU (CuPy RawKernel).

Used to check the `gpu` cost backend of bnn2hls against hardware: for every (depth, width) of
the search space (784 -> width x depth -> 10), it times
  - batch-1 latency of the d+1 layer kernels launched back to back (CUDA events), and the same
    sequence replayed as a CUDA graph;
  - throughput at batch 1024.
Each layer is one kernel: out[m, n] = popcount(x[m] ^ w[n]) over packed 32-bit words, then
sign against a threshold and bit-packing (hidden layers) or int32 accumulators (last layer).
One warp per output neuron, 32 warps a block (32 neurons -> one packed output word).
Prints one JSON line per config and writes the whole table to the path given as the first
argument (default gpu_bench.json). Needs an NVIDIA GPU and CuPy.

Its run on an H100 is benchmarks/data/gpu_h100_mlp.json (see 'provenance' there: the file renames
the warp kernel's fps_batch1024 column); benchmarks/gpu_calibration.py fits the gpu cost
backend to it. Changed from the script as run only for lint (unused imports, loop variables
bound in the CUDA-graph lambda).
"""
import json
import sys

import cupy as cp
import numpy as np

SRC = r"""
extern "C" __global__ void bin_layer(const unsigned* __restrict__ x, const unsigned* __restrict__ w,
                                     const int* __restrict__ thr, unsigned* __restrict__ out_bits,
                                     int* __restrict__ out_acc, int kw, int k, int n, int last) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int neuron = blockIdx.x * 32 + warp;
    int m = blockIdx.y;
    __shared__ unsigned bits[32];
    int mism = 0;
    if (neuron < n) {
        const unsigned* xr = x + (size_t)m * kw;
        const unsigned* wr = w + (size_t)neuron * kw;
        for (int i = lane; i < kw; i += 32) mism += __popc(xr[i] ^ wr[i]);
        for (int o = 16; o > 0; o >>= 1) mism += __shfl_down_sync(0xffffffff, mism, o);
    }
    if (lane == 0) {
        int dot = k - 2 * mism;
        if (last) { if (neuron < n) out_acc[(size_t)m * n + neuron] = dot; }
        else bits[warp] = (neuron < n && dot >= thr[neuron]) ? (1u << warp) : 0u;
    }
    if (!last) {
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned word = 0;
            for (int i = 0; i < 32; ++i) word |= bits[i];
            out_bits[(size_t)m * ((n + 31) / 32) + blockIdx.x] = word;
        }
    }
}
"""


# Batch kernel: one thread per input row m and per 32 output neurons (one packed output word).
# Activations are stored word-major, xT[word][m], so loads coalesce across m; the 32 neurons'
# weight rows sit in shared memory and are read as warp-wide broadcasts. 32 accumulators in
# registers: one x load feeds 32 XOR+POPC+ADD.
SRC_BATCH = r"""
extern "C" __global__ void bin_layer_batch(const unsigned* __restrict__ xT, const unsigned* __restrict__ w,
                                           const int* __restrict__ thr, unsigned* __restrict__ outT,
                                           int* __restrict__ out_acc, int kw, int k, int n, int m_total, int last) {
    extern __shared__ unsigned ws[];  // [32][kw]
    int nword = blockIdx.y;
    for (int t = threadIdx.x; t < 32 * kw; t += blockDim.x) {
        int j = t / kw, i = t % kw, neuron = nword * 32 + j;
        ws[t] = neuron < n ? w[(size_t)neuron * kw + i] : 0u;
    }
    __syncthreads();
    int m = blockIdx.x * blockDim.x + threadIdx.x;
    if (m >= m_total) return;
    int acc[32];
#pragma unroll
    for (int j = 0; j < 32; ++j) acc[j] = 0;
    for (int i = 0; i < kw; ++i) {
        unsigned x = xT[(size_t)i * m_total + m];
#pragma unroll
        for (int j = 0; j < 32; ++j) acc[j] += __popc(x ^ ws[j * kw + i]);
    }
    if (last) {
#pragma unroll
        for (int j = 0; j < 32; ++j) { int neuron = nword * 32 + j; if (neuron < n) out_acc[(size_t)m * n + neuron] = k - 2 * acc[j]; }
    } else {
        unsigned word = 0;
#pragma unroll
        for (int j = 0; j < 32; ++j) { int neuron = nword * 32 + j; if (neuron < n && k - 2 * acc[j] >= thr[neuron]) word |= 1u << j; }
        outT[(size_t)nword * m_total + m] = word;
    }
}
"""


def build_batch(depth, width, batch, kernel, rng):
    dims = [784] + [width] * depth + [10]
    layers = []
    cur = cp.asarray(rng.integers(0, 2**32, size=((784 + 31) // 32, batch), dtype=np.uint32))
    for i in range(len(dims) - 1):
        k, n = dims[i], dims[i + 1]
        kw = (k + 31) // 32
        w = cp.asarray(rng.integers(0, 2**32, size=(n, kw), dtype=np.uint32))
        thr = cp.asarray(rng.integers(-8, 8, size=n, dtype=np.int32))
        last = i == len(dims) - 2
        outT = cp.zeros(((n + 31) // 32, batch), dtype=np.uint32)
        out_acc = cp.zeros((batch, n), dtype=np.int32) if last else cp.zeros(1, dtype=np.int32)
        grid = ((batch + 127) // 128, (n + 31) // 32)
        layers.append((grid, 32 * kw * 4, (cur, w, thr, outT, out_acc, np.int32(kw), np.int32(k), np.int32(n),
                                           np.int32(batch), np.int32(last))))
        cur = outT
    def forward():
        for grid, smem, args in layers:
            kernel(grid, (128,), args, shared_mem=smem)
    return forward


def check_batch(kernel_batch, rng):
    """The batch kernel against numpy on one random layer (packed bits and accumulators)."""
    m, k, n = 300, 784, 70
    kw = (k + 31) // 32
    x = rng.integers(0, 2**32, size=(m, kw), dtype=np.uint32)
    x[:, -1] &= (1 << (k % 32)) - 1
    w = rng.integers(0, 2**32, size=(n, kw), dtype=np.uint32)
    w[:, -1] &= (1 << (k % 32)) - 1
    thr = rng.integers(-20, 20, size=n, dtype=np.int32)
    mism = np.zeros((m, n), np.int64)
    for i in range(kw):
        mism += np.vectorize(lambda v: bin(int(v)).count("1"))(x[:, i][:, None] ^ w[:, i][None, :])
    dot = k - 2 * mism
    xT = cp.asarray(np.ascontiguousarray(x.T))
    nw = (n + 31) // 32
    outT, acc = cp.zeros((nw, m), np.uint32), cp.zeros((m, n), np.int32)
    for last in (0, 1):
        kernel_batch(((m + 127) // 128, nw), (128,), (xT, cp.asarray(w), cp.asarray(thr), outT, acc, np.int32(kw),
                     np.int32(k), np.int32(n), np.int32(m), np.int32(last)), shared_mem=32 * kw * 4)
    assert (acc.get() == dot).all(), "accumulators differ"
    bits = outT.get().T
    want = (dot >= thr[None, :])
    got = np.array([[(bits[r, j // 32] >> (j % 32)) & 1 for j in range(n)] for r in range(m)], bool)
    assert (got == want).all(), "bits differ"
    print(json.dumps({"check_batch": "ok"}), flush=True)


def build(depth, width, batch, kernel, rng):
    dims = [784] + [width] * depth + [10]
    layers = []
    x = cp.asarray(rng.integers(0, 2**32, size=(batch, (784 + 31) // 32), dtype=np.uint32))
    cur = x
    for i in range(len(dims) - 1):
        k, n = dims[i], dims[i + 1]
        kw = (k + 31) // 32
        w = cp.asarray(rng.integers(0, 2**32, size=(n, kw), dtype=np.uint32))
        thr = cp.asarray(rng.integers(-8, 8, size=n, dtype=np.int32))
        last = i == len(dims) - 2
        out_bits = cp.zeros((batch, (n + 31) // 32), dtype=np.uint32)
        out_acc = cp.zeros((batch, n), dtype=np.int32) if last else cp.zeros(1, dtype=np.int32)
        grid = ((n + 31) // 32, batch)
        layers.append((grid, (cur, w, thr, out_bits, out_acc, np.int32(kw), np.int32(k), np.int32(n), np.int32(last))))
        cur = out_bits
    def forward():
        for grid, args in layers:
            kernel(grid, (1024,), args)
    return forward


def time_events(fn, iters, stream):
    start, end = cp.cuda.Event(), cp.cuda.Event()
    for _ in range(10):
        fn()
    stream.synchronize()
    start.record(stream)
    for _ in range(iters):
        fn()
    end.record(stream)
    end.synchronize()
    return cp.cuda.get_elapsed_time(start, end) / iters * 1e-3  # seconds per call


def main():
    kernel = cp.RawKernel(SRC, "bin_layer")
    kernel_batch = cp.RawKernel(SRC_BATCH, "bin_layer_batch")
    rng = np.random.default_rng(0)
    dev = cp.cuda.runtime.getDeviceProperties(0)
    info = {"device": dev["name"].decode(), "sms": dev["multiProcessorCount"]}
    print(json.dumps(info), flush=True)
    check_batch(kernel_batch, rng)
    results = []
    widths = [16, 32, 64, 128, 256, 512, 768, 1024]
    for depth in (1, 2, 3, 4):
        for width in widths:
            stream = cp.cuda.Stream(non_blocking=True)
            with stream:
                fwd1 = build(depth, width, 1, kernel, rng)
                lat = time_events(fwd1, 2000, stream)
                # CUDA graph of the same launches
                stream.begin_capture()
                fwd1()
                graph = stream.end_capture()
                lat_graph = time_events(lambda g=graph, s=stream: g.launch(s), 2000, stream)
                fwdb = build(depth, width, 1024, kernel, rng)
                tb = time_events(fwdb, 200, stream)
                fwdb2 = build_batch(depth, width, 1024, kernel_batch, rng)
                tb2 = time_events(fwdb2, 200, stream)
                fwdb3 = build_batch(depth, width, 16384, kernel_batch, rng)
                tb3 = time_events(fwdb3, 50, stream)
            r = {"fps_batch1024_tiled": 1024 / tb2, "fps_batch16384_tiled": 16384 / tb3, "depth": depth, "width": width, "latency_us": lat * 1e6, "latency_graph_us": lat_graph * 1e6,
                 "batch1024_s": tb, "fps_batch1024": 1024 / tb}
            results.append(r)
            print(json.dumps(r), flush=True)
    with open(sys.argv[1] if len(sys.argv) > 1 else "gpu_bench.json", "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
