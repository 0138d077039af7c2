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

  CUDA cores   K is packed into 32-bit words; per word one XOR, one POPC and one ADD. POPC
               runs at `popc_per_clk_per_sm` (16/clk/SM on cc 7.x-9.0, a quarter of the
               64/clk/SM of XOR and ADD), so it is the bound:
                   t_cuda = M * N * ceil(K / 32) * b / (SMs * popc_per_clk_per_sm * f_clk)
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
Dense layer it is exactly M * K * b / 8. A max-pool is its own memory-bound kernel
(in + out bits).

    t_layer = max(t_compute, t_mem) + t_launch

The fixed per-kernel launch overhead (a few us on a desktop host, more on Jetson, whose Arm
cores issue the launches) is what makes deep networks latency-bound at batch 1: a 784-64x4-10
MLP costs 5 launches whatever its width. A single persistent kernel would replace launches by
grid-wide barriers, which also cost ~us per layer, so the depth effect stays.

Reported:
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
from pathlib import Path
from typing import Any

from ...ir import DepthwiseConv, MatrixLayer, MaxPool, Network
from ..cost import Cost
from .devices import CatalogBackend, DeviceCatalog

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "gpu_devices.json"
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
    launch_overhead_us: float
    throughput_batch: int

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
        return self.launch_overhead_us * 1e-6


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


def layer_gemm(layer: MatrixLayer, batch: int) -> Gemm:
    oh, ow = layer.out_hw
    if isinstance(layer, DepthwiseConv):  # every channel its own inputs: C GEMVs, not one GEMM
        return Gemm(m=batch * oh * ow, k=layer.fan_in, n=1, planes=layer.input_bits, groups=layer.out_channels)
    return Gemm(m=batch * oh * ow, k=layer.fan_in, n=layer.out_channels, planes=layer.input_bits)


def binary_ops(g: Gemm) -> int:
    return 2 * g.m * g.k * g.n * g.planes * g.groups


def cuda_core_seconds(g: Gemm, dev: GpuDevice) -> float:
    popcounts = g.m * g.n * math.ceil(g.k / WORD_BITS) * g.planes * g.groups
    return popcounts / dev.popc_per_s


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
        "act_out": outputs * ACC_BYTES if last else math.ceil(outputs / 8),
    }


def pool_bytes(layer: MaxPool, batch: int) -> dict[str, int]:
    h, w, c = layer.in_shape
    oh, ow, _ = layer.out_shape
    return {"weights": 0, "act_in": math.ceil(batch * h * w * c / 8), "act_out": math.ceil(batch * oh * ow * c / 8)}


def layer_cost(layer: MatrixLayer | MaxPool, dev: GpuDevice, batch: int, last: bool) -> dict[str, Any]:
    """One kernel's roofline at `batch`: a JSON-able dict with the time and its parts."""
    if isinstance(layer, MatrixLayer):
        g = layer_gemm(layer, batch)
        moved = matrix_bytes(layer, batch, last)
        t_cuda = cuda_core_seconds(g, dev)
        t_tc = tensor_core_seconds(g, dev)
        path, t_compute = ("tensor", t_tc) if t_tc is not None and t_tc < t_cuda else ("cuda", t_cuda)
        entry: dict[str, Any] = {"m": g.m, "k": g.k, "n": g.n, "planes": g.planes, "binary_ops": binary_ops(g),
                                 "cuda_core_s": t_cuda, "tensor_core_s": t_tc,
                                 "padded_mma_ops": padded_mma_ops(g, dev.bmma_tile) if t_tc is not None else None}
    else:
        moved = pool_bytes(layer, batch)
        path, t_compute = "pool", 0.0  # a handful of ORs per output bit: memory-bound
        entry = {}
    t_mem = sum(moved.values()) / dev.bandwidth_bytes_per_s
    bound = "compute" if t_compute >= t_mem else "memory"
    return {"name": layer.name, "kind": layer.kind, "batch": batch, **entry, "path": path, "bytes": moved,
            "compute_s": t_compute, "memory_s": t_mem, "launch_s": dev.launch_s, "bound": bound,
            "time_s": max(t_compute, t_mem) + dev.launch_s}


def network_layers(net: Network, dev: GpuDevice, batch: int) -> list[dict[str, Any]]:
    last = net.matrix_layers[-1]
    return [layer_cost(layer, dev, batch, layer is last) for layer in net.datapath
            if isinstance(layer, (MatrixLayer, MaxPool))]


def estimate_on(net: Network, dev: GpuDevice) -> Cost:
    """The cost of `net` on a device given by its parameters (see the module docstring)."""
    single = network_layers(net, dev, 1)
    batched = network_layers(net, dev, dev.throughput_batch)
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
        details={"throughput_batch": dev.throughput_batch, "batch_time_s": batch_time,
                 "launches": len(single), "launch_s_total": len(single) * dev.launch_s,
                 "weight_bytes": weights, "binary_ops": sum(e.get("binary_ops", 0) for e in single),
                 "layers": single},
    )


class GpuBackend(CatalogBackend[GpuDevice]):
    """Roofline of bit-packed XNOR-popcount kernels on an NVIDIA GPU (see the module docstring).
    No parallelism knob: a GPU kernel always uses the whole device, so min_fps is ignored."""

    name = "gpu"
    catalog = CATALOG
    estimate_on = staticmethod(estimate_on)
