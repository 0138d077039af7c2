"""GPU cost backend: a roofline of bit-packed XNOR-popcount inference, one kernel per layer.

Every matrix layer (`Conv`, `Dense`) is a GEMM with M rows (output pixels x batch), K = fan-in
(bits per output), N = output channels, 1-bit weights and b input bit-planes (b = 1 for
binary activations; a multi-bit first layer runs bit-serially: b binary GEMMs, shifted and
added). A depthwise conv is C independent GEMVs (N = 1, K = kh*kw, one per channel: `groups`),
every count below times C. Per layer, at batch B:

    M            = B * out_H * out_W
    binary ops   = 2 * M * K * N * b              (one 1-bit MAC = XNOR + popcount = 2 ops,
                                                   the convention of NVIDIA's INT1 TOPS)

Two compute ceilings; the layer takes the faster one:

  CUDA cores   K is packed into W 32-bit words; per word one XOR, one POPC and one ADD. POPC
               runs at `popc_per_clk_per_sm` (16/clk/SM on cc 7.x-9.0, a quarter of the
               64/clk/SM of XOR and ADD), so it is the bound. A real kernel reaches a fraction
               `cuda_core_efficiency` of that peak (1.0 = the datasheet peak):
                   t_cuda = M * N * W * b
                            / (SMs * popc_per_clk_per_sm * f_clk * cuda_core_efficiency)
               W = ceil(K / 32) for a dense layer. A conv is an implicit GEMM on channels-last
               activations whose every pixel holds its channels in whole words, so each tap
               reads its own words: W = kh * kw * ceil(C_in / 32) (9 words for a 3x3 conv on
               a 1-channel input, not one).
               Serial bound. That peak needs enough threads to fill every SM; a batch-1 conv
               or a classifier with 10 outputs has far fewer, and then the kernel takes as
               long as one thread's (or warp's) dependent chain, however idle the GPU:
                   conv   one thread per output pixel and 32 output channels (the filters
                          in shared memory) walks all W * b words of K:
                          t_serial = (W * b - 1) * conv_word_us
                   dense  one warp per output neuron, K split over its 32 lanes, walks
                          ceil(W / 32) * b steps of 32 words:
                          t_serial = (ceil(W / 32) * b - 1) * dense_step_us
               (the first word or step is in the launch cost below, which is fitted on
               one-step kernels); the CUDA-core time is max(t_cuda, t_serial). These are the
               measured kernels (benchmarks/gpu_cnn_bench.py, gpu_bnn_bench.py); a device
               without the two numbers (null) has no serial bound. A depthwise conv has none
               either (no measured kernel). At the throughput batch t_cuda dominates.
  tensor cores 1-bit MMA (bmma, tile m x n x k, e.g. m8n8k128 XOR/AND + popc). The
               hardware only multiplies whole tiles, so M, N and K are padded up to tile
               multiples and the padded work is charged:
                   t_tc = 2 * ceil_to(M, m) * ceil_to(N, n) * ceil_to(K, k) * b / binary_TOPS
               Unavailable (null in the data file) when the vendor publishes no INT1 rate.

Memory (DRAM roofline; L2 would be faster for small layers, so this is conservative):

    bytes  = K * N / 8                            packed weights, read once per batch
           + B * in_H * in_W * C_in * b / 8       packed input activations
           + M * N / 8                            packed binary outputs
             (or 4 * M * N: int32 accumulators for the last layer)
    t_mem  = bytes / DRAM bandwidth

The input is the layer's input tensor (an implicit GEMM reads every input pixel once); for a
Dense layer it is exactly M * K * b / 8; the output is packed at the layer's output bits (1
for a sign, 2 for the 3-level output of a conv feeding a residual join). A max-pool is its own
memory-bound kernel (in + out bits). So is a residual join (`ir.Join`): one elementwise kernel
that reads both operands (at their element bits) and writes the sum, with the activation
after it (`ir.Threshold`) fused in (it then writes the activation's bits, and the threshold
is no kernel of its own); a standalone activation is a memory-bound kernel too. A join thus
costs one launch and its operands' traffic: at batch 1 the launch dominates.

    t_layer = max(t_compute, t_mem) + t_launch      (t_compute: the faster ceiling)

t_launch is a fixed cost per kernel, and it depends on how the host issues the kernels:

  launch_overhead_graph_us   the layer kernels captured once as a CUDA graph and replayed
                             (the default, `cuda_graphs=True`): what remains is the GPU-side
                             cost of starting each kernel and of its shortest possible run,
                             ~2 us on an H100;
  launch_overhead_us         plain stream launches (`cuda_graphs=False`): the host's cost of
                             issuing one kernel, which a batch-1 kernel cannot hide (~9 us per
                             kernel from Python/CuPy on the H100 host, a few us from C++, more
                             on Jetson, whose Arm cores issue the launches).

A device whose launch_overhead_graph_us is null (not measured) is charged launch_overhead_us
in both modes. The launch is added to every kernel, never overlapped with the previous kernel's
run (a host that issues kernels faster than the GPU runs them hides part of it); on the
measured H100 data this simple form fits batch 1 and batch 1024 alike (figures below).

The launch cost is what makes deep networks latency-bound at batch 1: a 784-64x4-10 MLP costs
5 launches whatever its width. A single persistent kernel would replace launches by grid-wide
barriers, which also cost ~us per layer, so the depth effect stays.

Calibration. `h100-sxm5-80gb` is calibrated on real measurements on an H100 80GB HBM3:
benchmarks/data/gpu_h100_mlp.json (the 32 MLPs 784-(16..1024 x 1..4)-10 of the search space,
measured with benchmarks/gpu_bnn_bench.py) and benchmarks/data/gpu_h100_cnn.json (8 binary
CNNs, 28x28x1 input, 1-2 3x3 convs of 32-256 channels, measured with benchmarks/gpu_cnn_bench.py).
benchmarks/gpu_calibration.py fits five numbers by least squared relative error:
  launch_overhead_us        9.22 us  MLPs' batch-1 latency, plain launches from Python (CuPy)
  cuda_core_efficiency      0.71     MLPs' batch-1024 throughput of a register-tiled kernel
  launch_overhead_graph_us  2.18 us  } together: batch-1 latency with the kernels replayed as
  conv_word_us              0.321 us } a CUDA graph, of the MLPs and of the CNNs of widths 32
  dense_step_us             0.0644 us} and 128 (the training half)
With them, the MLPs' batch-1 CUDA-graph latency has Spearman 0.99 and a mean absolute error
of 4 % (4 % leave-one-out; 6 % on depths 3-4 with the launch fitted on depths 1-2), their
batch-1024 throughput 7 % (7 % leave-one-out) and, out of sample, the batch-16384 throughput
16 %; the CNNs' batch-1 CUDA-graph latency, out of sample on the held-out half (widths 64 and
256), Spearman 1.0 and 2.5 % (without the serial bound: 0.93 and 56 %, 2-4x too little). Before
(datasheet clocks, 5 us per launch, the full POPC peak) the MLP latency was 2.1-2.6x too high
and the throughput 1.5-2.1x too optimistic. The script prints the tables and these figures.
The model does not overlap the host's launches with the GPU's work, so with plain launches a
CNN whose kernels run long is predicted too slow (batch-1 plain-launch latency of the CNNs:
MAPE 74 %; their batch-256 throughput: 27 %, too low); neither is fitted or a target. The
other devices are not calibrated: they keep their datasheet numbers, an estimated launch cost
for both modes, an efficiency of 1.0 and no serial bound (so compute-bound layers and batch-1
convs are optimistic); the source notes in the data file say which number is which.

Reported (launches as chosen by `cuda_graphs`, CUDA graphs by default):
    latency_s   = sum of t_layer at B = 1
    fps         = B_thr / sum of t_layer at B = B_thr (`throughput_batch` of the device: the
                  launch overhead amortizes over the batch)
    energy_j    = board power * (time per batch at B_thr) / B_thr
    usage       = {"memory_bytes": packed weights + the largest (input + output) activation
                   pair of any layer at B_thr}, budget = device memory
    objective   = batch-1 latency in microseconds ("latency_us")

Host work (input quantization, output head, PCIe/unified-memory copies) is not modelled.
Device parameters live in bnn2hls/data/gpu_devices.json, each with a source note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...ir import Conv, Dense, DepthwiseConv, Join, MatrixLayer, MaxPool, Network, Threshold
from ..cost import Cost
from ...resources import data_file
from .devices import CatalogBackend, DeviceCatalog

DATA_FILE = data_file("gpu_devices.json")
WORD_BITS = 32  # CUDA-core path: popc works on 32-bit words
ACC_BYTES = 4  # the last layer writes int32 accumulators


@dataclass(frozen=True)
class GpuDevice:
    name: str
    description: str
    compute_capability: str
    sms: int
    boost_clock_mhz: float
    popc_per_clk_per_sm: int
    binary_tensor_tops: float | None  # dense 1-bit tensor-core ops/s / 1e12; None: no tensor path
    bmma_tile: tuple[int, int, int]  # (m, n, k) of the 1-bit MMA instruction
    dram_bandwidth_gbs: float
    memory_gb: float
    power_w: float
    launch_overhead_us: float  # per kernel, plain stream launches
    throughput_batch: int
    launch_overhead_graph_us: float | None = None  # per kernel, CUDA-graph replay; None: as launch_overhead_us
    cuda_core_efficiency: float = 1.0  # achieved share of the POPC peak on the CUDA-core path
    conv_word_us: float | None = None  # one conv thread's time per packed word of K; None: no serial bound
    dense_step_us: float | None = None  # one dense warp's time per 32 words of K; None: no serial bound

    def __post_init__(self) -> None:
        if not 0.0 < self.cuda_core_efficiency <= 1.0:
            raise ValueError(f"{self.name}: cuda_core_efficiency must be in (0, 1], got {self.cuda_core_efficiency}")
        if self.launch_overhead_us < 0 or (self.launch_overhead_graph_us or 0.0) < 0:
            raise ValueError(f"{self.name}: launch overheads must be >= 0")
        if (self.conv_word_us or 0.0) < 0 or (self.dense_step_us or 0.0) < 0:
            raise ValueError(f"{self.name}: conv_word_us and dense_step_us must be >= 0")

    @property
    def popc_per_s(self) -> float:
        return self.sms * self.popc_per_clk_per_sm * self.boost_clock_mhz * 1e6

    @property
    def tensor_ops_per_s(self) -> float | None:
        return None if self.binary_tensor_tops is None else self.binary_tensor_tops * 1e12

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.dram_bandwidth_gbs * 1e9

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb * 1e9

    @property
    def launch_s(self) -> float:
        """Per-kernel launch cost of plain stream launches, in seconds."""
        return self.launch_overhead_us * 1e-6

    @property
    def launch_graph_s(self) -> float:
        """Per-kernel launch cost in CUDA-graph replay, in seconds (the plain cost if not measured)."""
        graph = self.launch_overhead_graph_us
        return self.launch_s if graph is None else graph * 1e-6

    def launch_seconds(self, cuda_graphs: bool) -> float:
        return self.launch_graph_s if cuda_graphs else self.launch_s


def _device_from_json(name: str, entry: dict[str, Any]) -> GpuDevice:
    fields = {k: v for k, v in entry.items() if k != "source"}
    fields["bmma_tile"] = tuple(fields["bmma_tile"])
    return GpuDevice(name=name, **fields)


CATALOG: DeviceCatalog[GpuDevice] = DeviceCatalog("gpu", DATA_FILE, _device_from_json)
load_device = CATALOG.pick  # name -> GpuDevice; UserError for an unknown name


# --------------------------------------------------------------------------------------
# Per-layer roofline
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gemm:
    """One matrix layer as a binary GEMM at a given batch."""

    m: int  # rows: output pixels x batch
    k: int  # fan-in bits per output
    n: int  # output channels (of one group)
    planes: int  # input bit-planes (input_bits)
    groups: int = 1  # independent GEMMs of m x k x n (a depthwise conv: one per channel, n = 1)
    words: int | None = None  # packed 32-bit words of K per output and plane; None: ceil(k / 32)

    @property
    def k_words(self) -> int:
        return math.ceil(self.k / WORD_BITS) if self.words is None else self.words


def conv_words(layer: Conv) -> int:
    """Packed words of K per output of an implicit-GEMM conv: the activations are channels-last
    with every pixel's channels in whole 32-bit words, so each tap reads its own words (a
    1-channel input costs one word per tap, not 9 taps in one word)."""
    return layer.kernel[0] * layer.kernel[1] * math.ceil(layer.in_channels / WORD_BITS)


def layer_gemm(layer: MatrixLayer, batch: int) -> Gemm:
    oh, ow = layer.out_hw
    if isinstance(layer, DepthwiseConv):  # every channel its own inputs: C GEMVs, not one GEMM
        return Gemm(m=batch * oh * ow, k=layer.fan_in, n=1, planes=layer.input_bits, groups=layer.out_channels)
    words = conv_words(layer) if isinstance(layer, Conv) else None
    return Gemm(m=batch * oh * ow, k=layer.fan_in, n=layer.out_channels, planes=layer.input_bits, words=words)


def binary_ops(g: Gemm) -> int:
    return 2 * g.m * g.k * g.n * g.planes * g.groups


def cuda_core_seconds(g: Gemm, dev: GpuDevice) -> float:
    popcounts = g.m * g.n * g.k_words * g.planes * g.groups
    return popcounts / (dev.popc_per_s * dev.cuda_core_efficiency)


def chain_steps(layer: MatrixLayer, g: Gemm) -> int:
    """The serial steps of one thread (a conv: every word of K, every plane) or of one warp (a
    dense layer: 32 words a step, one per lane, every plane) of the measured kernels, less the
    first: the launch cost already holds a kernel's shortest run (it is fitted on MLP kernels
    of one step). 0 for a depthwise conv (no measured kernel: roofline only)."""
    if isinstance(layer, Conv):
        steps = g.k_words * g.planes
    elif isinstance(layer, Dense):
        steps = math.ceil(g.k_words / WORD_BITS) * g.planes
    else:
        return 0
    return steps - 1


def chain_seconds(layer: MatrixLayer, g: Gemm, dev: GpuDevice) -> float:
    """The CUDA-core kernel's serial bound: chain_steps times the device's time per step
    (conv_word_us, dense_step_us); 0 where the device has no such number."""
    per_step = dev.conv_word_us if isinstance(layer, Conv) else dev.dense_step_us if isinstance(layer, Dense) else None
    return 0.0 if per_step is None else chain_steps(layer, g) * per_step * 1e-6


def _round_up(x: int, multiple: int) -> int:
    return math.ceil(x / multiple) * multiple


def padded_mma_ops(g: Gemm, tile: tuple[int, int, int]) -> int:
    """The work the tensor cores really do: every dimension padded to whole MMA tiles."""
    tm, tn, tk = tile
    return 2 * _round_up(g.m, tm) * _round_up(g.n, tn) * _round_up(g.k, tk) * g.planes * g.groups


def tensor_core_seconds(g: Gemm, dev: GpuDevice) -> float | None:
    rate = dev.tensor_ops_per_s
    return None if rate is None else padded_mma_ops(g, dev.bmma_tile) / rate


def matrix_bytes(layer: MatrixLayer, batch: int, last: bool) -> dict[str, int]:
    """DRAM traffic of one matrix-layer kernel: packed weights, packed input, output."""
    h, w, c = layer.in_shape
    oh, ow = layer.out_hw
    outputs = batch * oh * ow * layer.out_channels
    return {
        "weights": math.ceil(layer.fan_in * layer.out_channels / 8),
        "act_in": math.ceil(batch * h * w * c * layer.input_bits / 8),
        "act_out": outputs * ACC_BYTES if last else math.ceil(outputs * layer.out_bits / 8),
    }


def pool_bytes(layer: MaxPool, batch: int) -> dict[str, int]:
    h, w, c = layer.in_shape
    oh, ow, _ = layer.out_shape
    return {"weights": 0, "act_in": math.ceil(batch * h * w * c / 8), "act_out": math.ceil(batch * oh * ow * c / 8)}


def elementwise_bytes(net: Network, layer: Join | Threshold, batch: int) -> dict[str, int]:
    """A join (with the activation after it fused in) or a standalone activation: every
    operand read at its element bits, the result written at its bits."""
    h, w, c = layer.in_shape
    pixels = batch * h * w * c
    read = sum(net.element_bits(p) for p in net.producers(layer))
    written = net.element_bits(layer)
    if isinstance(layer, Join):
        fused = fused_activation(net, layer)
        if fused is not None:
            written = fused.out_bits
    return {"weights": 0, "act_in": math.ceil(pixels * read / 8), "act_out": math.ceil(pixels * written / 8)}


def fused_activation(net: Network, join: Join) -> Threshold | None:
    """The activation fused into a join's kernel: its only consumer, if that is a Threshold."""
    consumers = net.consumers[join.name]
    return consumers[0] if len(consumers) == 1 and isinstance(consumers[0], Threshold) else None


def layer_cost(layer: MatrixLayer | MaxPool | Join | Threshold, dev: GpuDevice, batch: int, last: bool,
               cuda_graphs: bool = True, net: Network | None = None) -> dict[str, Any]:
    """One kernel's roofline at `batch`: a JSON-able dict with the time and its parts (`net`:
    the network, which a join or activation needs for its operands' bits)."""
    launch = dev.launch_seconds(cuda_graphs)
    if isinstance(layer, (Join, Threshold)):
        assert net is not None, "layer_cost: a join or activation needs its network"
        moved = elementwise_bytes(net, layer, batch)
        t_mem = sum(moved.values()) / dev.bandwidth_bytes_per_s
        return {"name": layer.name, "kind": layer.kind, "batch": batch, "path": "elementwise", "bytes": moved,
                "compute_s": 0.0, "memory_s": t_mem, "launch_s": launch, "bound": "memory", "time_s": t_mem + launch}
    if isinstance(layer, MatrixLayer):
        g = layer_gemm(layer, batch)
        moved = matrix_bytes(layer, batch, last)
        t_cuda = cuda_core_seconds(g, dev)
        t_chain = chain_seconds(layer, g, dev)
        t_cuda_kernel = max(t_cuda, t_chain)
        t_tc = tensor_core_seconds(g, dev)
        path, t_compute = ("tensor", t_tc) if t_tc is not None and t_tc < t_cuda_kernel else ("cuda", t_cuda_kernel)
        entry: dict[str, Any] = {"m": g.m, "k": g.k, "n": g.n, "planes": g.planes, "k_words": g.k_words,
                                 "binary_ops": binary_ops(g), "cuda_core_s": t_cuda,
                                 "chain_steps": chain_steps(layer, g), "chain_s": t_chain, "tensor_core_s": t_tc,
                                 "padded_mma_ops": padded_mma_ops(g, dev.bmma_tile) if t_tc is not None else None}
        latency_bound = path == "cuda" and t_chain > t_cuda
    else:
        moved = pool_bytes(layer, batch)
        path, t_compute = "pool", 0.0  # a handful of ORs per output bit: memory-bound
        entry = {}
        latency_bound = False
    t_mem = sum(moved.values()) / dev.bandwidth_bytes_per_s
    bound = ("latency" if latency_bound else "compute") if t_compute >= t_mem else "memory"
    return {"name": layer.name, "kind": layer.kind, "batch": batch, **entry, "path": path, "bytes": moved,
            "compute_s": t_compute, "memory_s": t_mem, "launch_s": launch, "bound": bound,
            "time_s": max(t_compute, t_mem) + launch}


def network_layers(net: Network, dev: GpuDevice, batch: int, cuda_graphs: bool = True) -> list[dict[str, Any]]:
    """One entry per kernel: matrix layers, pools, joins (with their activation fused in) and
    standalone activations."""
    last = net.matrix_layers[-1]
    fused = {a.name for a in (fused_activation(net, j) for j in net.datapath if isinstance(j, Join)) if a is not None}
    return [layer_cost(layer, dev, batch, layer is last, cuda_graphs, net) for layer in net.datapath
            if isinstance(layer, (MatrixLayer, MaxPool, Join, Threshold)) and layer.name not in fused]


def estimate_on(net: Network, dev: GpuDevice, cuda_graphs: bool = True) -> Cost:
    """The cost of `net` on a device given by its parameters (see the module docstring), with
    the kernels replayed as a CUDA graph (`cuda_graphs`, the default) or launched one by one."""
    single = network_layers(net, dev, 1, cuda_graphs)
    batched = network_layers(net, dev, dev.throughput_batch, cuda_graphs)
    launch = dev.launch_seconds(cuda_graphs)
    latency = sum(entry["time_s"] for entry in single)
    batch_time = sum(entry["time_s"] for entry in batched)
    weights = sum(entry["bytes"]["weights"] for entry in batched)
    activations = max(entry["bytes"]["act_in"] + entry["bytes"]["act_out"] for entry in batched)
    for one, many in zip(single, batched):
        one["time_at_batch_s"] = many["time_s"]
        one["path_at_batch"] = many["path"]
        one["bound_at_batch"] = many["bound"]
    return Cost(
        backend="gpu", device=dev.name,
        fps=dev.throughput_batch / batch_time, latency_s=latency,
        usage={"memory_bytes": float(weights + activations)}, budget={"memory_bytes": dev.memory_bytes},
        objective_name="latency_us", objective=latency * 1e6,
        energy_j=dev.power_w * batch_time / dev.throughput_batch,
        details={"throughput_batch": dev.throughput_batch, "batch_time_s": batch_time, "cuda_graphs": cuda_graphs,
                 "launches": len(single), "launch_s": launch, "launch_s_total": len(single) * launch,
                 "weight_bytes": weights, "binary_ops": sum(e.get("binary_ops", 0) for e in single),
                 "layers": single},
    )


class GpuBackend(CatalogBackend[GpuDevice]):
    """Roofline of bit-packed XNOR-popcount kernels on an NVIDIA GPU (see the module docstring),
    the kernels replayed as a CUDA graph. No parallelism knob: a GPU kernel always uses the
    whole device, so min_fps is ignored."""

    name = "gpu"
    catalog = CATALOG
    estimate_on = staticmethod(estimate_on)
