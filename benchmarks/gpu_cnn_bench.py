"""Binary CNN inference (28x28x1 binary input) timed on a real NVIDIA GPU.

Networks: d binary 3x3 convs (stride 1, pad 1) of w channels; a 2x2 max-pool after every second
conv; then a binary dense layer to 10 classes (int32 accumulators). Activations channels-last,
bit-packed in 32-bit words (w multiple of 32; the 1-channel input uses one word per pixel).
Kernels: implicit-GEMM conv (one thread per output pixel and 32 output channels; the 32
filters in shared memory; out-of-bounds taps read a zero word), word-wise OR max-pool,
warp-per-neuron dense. Times batch-1 latency (plain launches and CUDA graph) and batch-256
throughput. Prints JSON lines; writes the table to argv[1] (default gpu_cnn_bench.json).

Its run on an H100 is benchmarks/data/gpu_h100_cnn.json (depths 1 and 2; see 'provenance'
there); benchmarks/gpu_calibration.py fits the gpu cost backend's conv path to it. Changed from
the script as run only for lint (loop variables bound in the CUDA-graph lambda).
"""
import json
import sys

import cupy as cp
import numpy as np

SRC = r"""
extern "C" __global__ void conv3(const unsigned* __restrict__ x, const unsigned* __restrict__ w,
                                 const int* __restrict__ thr, unsigned* __restrict__ y,
                                 int h, int wd, int cw, int cout_words, int k_bits, int batch) {
    extern __shared__ unsigned ws[];  // [32][9*cw]
    int nword = blockIdx.y, kw = 9 * cw;
    for (int t = threadIdx.x; t < 32 * kw; t += blockDim.x) ws[t] = w[(size_t)(nword * 32) * kw + t];
    __syncthreads();
    int m = blockIdx.x * blockDim.x + threadIdx.x;
    if (m >= batch * h * wd) return;
    int b = m / (h * wd), p = m % (h * wd), oy = p / wd, ox = p % wd;
    int acc[32];
#pragma unroll
    for (int j = 0; j < 32; ++j) acc[j] = 0;
    for (int ky = 0; ky < 3; ++ky) for (int kx = 0; kx < 3; ++kx) {
        int iy = oy + ky - 1, ix = ox + kx - 1;
        bool in = iy >= 0 && iy < h && ix >= 0 && ix < wd;
        const unsigned* px = x + (((size_t)b * h + iy) * wd + ix) * cw;
        for (int c = 0; c < cw; ++c) {
            unsigned v = in ? px[c] : 0u;
            int i = (ky * 3 + kx) * cw + c;
#pragma unroll
            for (int j = 0; j < 32; ++j) acc[j] += __popc(v ^ ws[j * kw + i]);
        }
    }
    unsigned word = 0;
#pragma unroll
    for (int j = 0; j < 32; ++j) if (k_bits - 2 * acc[j] >= thr[nword * 32 + j]) word |= 1u << j;
    y[(size_t)m * cout_words + nword] = word;
}

extern "C" __global__ void pool2(const unsigned* __restrict__ x, unsigned* __restrict__ y,
                                 int h, int wd, int cw, int batch) {
    int oh = h / 2, ow = wd / 2;
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * oh * ow * cw) return;
    int c = t % cw, p = t / cw, ox = p % ow, oy = (p / ow) % oh, b = p / (ow * oh);
    const unsigned* base = x + (((size_t)b * h + 2 * oy) * wd + 2 * ox) * cw + c;
    y[t] = base[0] | base[cw] | base[(size_t)wd * cw] | base[(size_t)wd * cw + cw];
}

extern "C" __global__ void dense_acc(const unsigned* __restrict__ x, const unsigned* __restrict__ w,
                                     int* __restrict__ out, int kw, int k, int n) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int neuron = blockIdx.x * 32 + warp, m = blockIdx.y;
    int mism = 0;
    if (neuron < n) {
        for (int i = lane; i < kw; i += 32) mism += __popc(x[(size_t)m * kw + i] ^ w[(size_t)neuron * kw + i]);
        for (int o = 16; o > 0; o >>= 1) mism += __shfl_down_sync(0xffffffff, mism, o);
        if (lane == 0) out[(size_t)m * n + neuron] = k - 2 * mism;
    }
}
"""


def build(mod, depth, width, batch, rng):
    conv, pool, dense = mod.get_function("conv3"), mod.get_function("pool2"), mod.get_function("dense_acc")
    h = wd = 28
    cw = 1
    cin = 1
    x = cp.asarray(rng.integers(0, 2, size=(batch, h, wd, cw), dtype=np.uint32))
    calls = []
    cur = x
    for i in range(depth):
        cout_words = width // 32
        kw = 9 * cw
        w = cp.asarray(rng.integers(0, 2**32, size=(width, kw), dtype=np.uint32))
        thr = cp.asarray(rng.integers(-4, 4, size=width, dtype=np.int32))
        y = cp.zeros((batch, h, wd, cout_words), dtype=np.uint32)
        m = batch * h * wd
        calls.append((conv, ((m + 127) // 128, cout_words), (128,), 32 * kw * 4,
                      (cur, w, thr, y, np.int32(h), np.int32(wd), np.int32(cw), np.int32(cout_words),
                       np.int32(9 * cin), np.int32(batch))))
        cur, cw, cin = y, cout_words, width
        if i % 2 == 1:
            p = cp.zeros((batch, h // 2, wd // 2, cw), dtype=np.uint32)
            n = batch * (h // 2) * (wd // 2) * cw
            calls.append((pool, ((n + 255) // 256,), (256,), 0, (cur, p, np.int32(h), np.int32(wd), np.int32(cw), np.int32(batch))))
            cur, h, wd = p, h // 2, wd // 2
    kw = h * wd * cw
    wdn = cp.asarray(rng.integers(0, 2**32, size=(10, kw), dtype=np.uint32))
    out = cp.zeros((batch, 10), dtype=np.int32)
    calls.append((dense, (1, batch), (1024,), 0, (cur, wdn, out, np.int32(kw), np.int32(h * wd * cin), np.int32(10))))

    def forward():
        for fn, grid, block, smem, args in calls:
            fn(grid, block, args, shared_mem=smem)
    return forward, len(calls), h, wd


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
    return cp.cuda.get_elapsed_time(start, end) / iters * 1e-3


def main():
    mod = cp.RawModule(code=SRC)
    rng = np.random.default_rng(0)
    dev = cp.cuda.runtime.getDeviceProperties(0)
    info = {"device": dev["name"].decode(), "sms": dev["multiProcessorCount"]}
    print(json.dumps(info), flush=True)
    rows = []
    for depth in (1, 2, 3, 4):
        for width in (32, 64, 128, 256):
            stream = cp.cuda.Stream(non_blocking=True)
            with stream:
                f1, kernels, fh, fw = build(mod, depth, width, 1, rng)
                lat = time_events(f1, 1000, stream)
                stream.begin_capture()
                f1()
                g = stream.end_capture()
                lat_g = time_events(lambda g=g, s=stream: g.launch(s), 1000, stream)
                fb, _, _, _ = build(mod, depth, width, 256, rng)
                tb = time_events(fb, 50, stream)
            r = {"depth": depth, "width": width, "kernels": kernels, "final_hw": [fh, fw],
                 "latency_us": lat * 1e6, "latency_graph_us": lat_g * 1e6, "fps_batch256": 256 / tb}
            rows.append(r)
            print(json.dumps(r), flush=True)
    with open(sys.argv[1] if len(sys.argv) > 1 else "gpu_cnn_bench.json", "w") as f:
        json.dump({"info": info, "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
