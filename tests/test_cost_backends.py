"""The cost-backend registry and the GPU (roofline) and RRAM (crossbar) cost models: hand-computed
values on toy devices with round parameters, monotonicity, the shipped device tables, the GPU
backend's calibration on recorded H100 measurements, and the deep-vs-wide preference that makes
the two backends pick different network shapes."""
from __future__ import annotations

import json
import math
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from bnn2hls import ir
from bnn2hls.errors import UserError
from bnn2hls.search import backends
from bnn2hls.search.backends import gpu, rram

pytestmark = pytest.mark.tier("unit")


# --------------------------------------------------------------------------------------
# Synthetic networks
# --------------------------------------------------------------------------------------
def build(input_shape: tuple[int, int, int, int], specs: list[tuple]) -> ir.Network:
    """input_shape (H, W, C, bits); specs: ("conv", out, k, stride, pad) | ("pool", k, stride)
    | ("dense", out). The last matrix layer emits accumulators. Weights are irrelevant to cost."""
    h, w, c, bits = input_shape
    shape = (h, w, c)
    last = max(i for i, s in enumerate(specs) if s[0] != "pool")
    layers: list = [ir.InputQuant(name="input", source_shape=(c, h, w), preprocess=(), bits=bits, scale=1.0,
                                  out_shape=shape)]
    for i, s in enumerate(specs):
        if s[0] == "pool":
            layer = ir.MaxPool(name=f"pool{i}", in_shape=shape, kernel=(s[1], s[1]), stride=(s[2], s[2]))
        else:
            if s[0] == "conv":
                _, out, k, stride, pad = s
                cls, in_shape, kernel, strides, pads = ir.Conv, shape, (k, k), (stride, stride), (pad,) * 4
            else:
                _, out = s
                cls, in_shape, kernel, strides, pads = ir.Dense, (1, 1, int(np.prod(shape))), (1, 1), (1, 1), (0,) * 4
            fan_in = kernel[0] * kernel[1] * in_shape[2]
            layer = cls(name=f"{s[0]}{i}", in_shape=in_shape, out_channels=out, kernel=kernel, stride=strides,
                        pads=pads, input_bits=bits, weights=np.zeros((out, fan_in), bool),
                        acc_scale=np.ones(out, np.float32), binarize=i != last)
            bits = 1
        layers.append(layer)
        shape = layer.out_shape
    layers.append(ir.OutputHead(name="head", in_shape=shape, acc_scale=np.ones(shape[2], np.float32), chain=()))
    return ir.chain_network("synthetic", layers)


def mlp(width: int, depth: int, inputs: int = 784, outputs: int = 10, in_bits: int = 1) -> ir.Network:
    """inputs-(width x depth)-outputs."""
    return build((1, 1, inputs, in_bits), [("dense", width)] * depth + [("dense", outputs)])


# --------------------------------------------------------------------------------------
# Toy devices with round numbers, so the expected values below are easy to check by hand
# --------------------------------------------------------------------------------------
TOY_GPU = gpu.GpuDevice(
    name="toy-gpu", description="", compute_capability="8.0", sms=2, boost_clock_mhz=1000, popc_per_clk_per_sm=16,
    binary_tensor_tops=10.0, bmma_tile=(8, 8, 128), dram_bandwidth_gbs=1.0, memory_gb=1.0, power_w=10.0,
    launch_overhead_us=5.0, throughput_batch=4)
# popc/s = 2 SMs * 16 * 1 GHz = 32e9; tensor ops/s = 1e13; DRAM 1e9 B/s; launch 5 us

TOY_RRAM = rram.RramDevice(
    name="toy-rram", description="", arrays=16, rows=4, cols=8, cells_per_weight=2, cols_per_adc=2, adc_bits=3,
    t_read_ns=10, t_adc_ns=2, t_add_ns=1, cell_read_energy_fj=10, input_activity=0.5, adc_energy_pj=1,
    periphery_energy_pj=3, add_energy_pj=0.5, array_area_mm2=0.01)
# 4 weight columns per array, 2 ADCs per array (mux 2); one read step = 12 ns


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------
def test_registry_lists_builtins():
    names = backends.available()
    assert {"fpga", "gpu", "rram"} <= set(names)
    assert names == sorted(names)


def test_registry_returns_instances():
    for name, cls in (("gpu", gpu.GpuBackend), ("rram", rram.RramBackend)):
        backend = backends.get(name)
        assert isinstance(backend, cls) and backend.name == name
        assert backend.default_device() in backend.devices()


def test_registry_fpga_if_present():
    try:
        backend = backends.get("fpga")
    except UserError as exc:  # the lead's fpga.py may not exist yet
        pytest.skip(str(exc))
    assert backend.name == "fpga"


def test_unknown_backend_names_it_and_the_known_ones():
    with pytest.raises(UserError, match=r"--backend tpu: unknown cost backend \(known: .*gpu.*rram"):
        backends.get("tpu")


class ToyBackend:
    name = "toy"

    def devices(self):
        return ["toy-device"]

    def default_device(self):
        return "toy-device"

    def estimate(self, net, device, min_fps=None):
        raise NotImplementedError


def test_entry_points_extend_and_override(monkeypatch):
    group = backends.GROUP
    fake = [EntryPoint(name="toy", value=f"{__name__}:ToyBackend", group=group),
            EntryPoint(name="gpu", value=f"{__name__}:ToyBackend", group=group)]
    monkeypatch.setattr(backends, "entry_points", lambda group: fake if group == backends.GROUP else [])
    backends._registry.cache_clear()
    try:
        assert {"fpga", "gpu", "rram", "toy"} <= set(backends.available())
        assert isinstance(backends.get("toy"), ToyBackend)
        assert isinstance(backends.get("gpu"), ToyBackend)  # an installed entry point wins
    finally:
        monkeypatch.undo()
        backends._registry.cache_clear()
    assert isinstance(backends.get("gpu"), gpu.GpuBackend)


def test_broken_plugin_is_a_user_error(monkeypatch):
    fake = [EntryPoint(name="broken", value="no_such_module_xyz:Backend", group=backends.GROUP)]
    monkeypatch.setattr(backends, "entry_points", lambda group: fake)
    backends._registry.cache_clear()
    try:
        with pytest.raises(UserError, match="--backend broken: cannot load no_such_module_xyz:Backend"):
            backends.get("broken")
    finally:
        monkeypatch.undo()
        backends._registry.cache_clear()


@pytest.mark.parametrize("name", ["gpu", "rram"])
def test_unknown_device_names_it(name):
    backend = backends.get(name)
    with pytest.raises(UserError, match=rf"--device nosuch: unknown {name} device \(known: .*{backend.default_device()}"):
        backend.estimate(mlp(32, 1), "nosuch")


# --------------------------------------------------------------------------------------
# Device tables
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [gpu, rram])
def test_every_device_field_has_a_source(module):
    doc = json.loads(module.DATA_FILE.read_text())
    assert doc["default"] in doc["devices"]
    for name, entry in doc["devices"].items():
        numbers = {k for k in entry if k not in ("source", "description")}
        assert numbers <= set(entry["source"]), f"{name}: no source for {numbers - set(entry['source'])}"


def test_gpu_devices():
    backend = gpu.GpuBackend()
    assert backend.default_device() == "jetson-orin-nano-8gb"
    a100 = gpu.load_device("a100-sxm4-40gb")
    assert a100.binary_tensor_tops == 4992 and a100.sms == 108 and a100.bmma_tile == (8, 8, 128)
    # NVIDIA's rate is 8192 binary ops per clock per tensor core (4 per SM)
    assert a100.tensor_ops_per_s == pytest.approx(108 * 4 * 1.41e9 * 8192, rel=1e-3)
    assert gpu.load_device("h100-sxm5-80gb").binary_tensor_tops is None
    assert all(gpu.load_device(d).popc_per_clk_per_sm == 16 for d in backend.devices())
    # every number of every device says where it comes from
    doc = json.loads(gpu.DATA_FILE.read_text())
    for name, entry in doc["devices"].items():
        assert set(entry["source"]) == set(entry) - {"source", "description"}, name


def test_rram_devices():
    backend = rram.RramBackend()
    assert backend.default_device() == "rram-edge-64x128"
    edge = rram.load_device("rram-edge-64x128")
    assert (edge.arrays, edge.rows, edge.cols, edge.cols_per_adc) == (64, 128, 128, 8)
    assert edge.arrays * edge.rows * edge.outputs_per_array == 512 * 1024  # binary weights on the macro
    with pytest.raises(ValueError, match="whole weight columns"):
        rram.RramDevice(**{**TOY_RRAM.__dict__, "cols": 7})


# --------------------------------------------------------------------------------------
# GPU: hand-computed roofline
# --------------------------------------------------------------------------------------
def test_gpu_padded_mma_tiles():
    assert gpu.padded_mma_ops(gpu.Gemm(m=1, k=100, n=20, planes=1), (8, 8, 128)) == 2 * 8 * 24 * 128
    assert gpu.padded_mma_ops(gpu.Gemm(m=9, k=128, n=8, planes=1), (8, 8, 128)) == 2 * 16 * 8 * 128
    assert gpu.padded_mma_ops(gpu.Gemm(m=8, k=129, n=8, planes=3), (8, 8, 128)) == 2 * 8 * 8 * 256 * 3
    assert gpu.binary_ops(gpu.Gemm(m=2, k=100, n=20, planes=3)) == 2 * 2 * 100 * 20 * 3


def test_gpu_tiny_dense_layer():
    net = build((1, 1, 100, 1), [("dense", 20)])  # one layer, the last: int32 outputs
    cost = gpu.estimate_on(net, TOY_GPU)
    (layer,) = cost.details["layers"]
    # CUDA cores: 20 outputs x ceil(100/32)=4 words = 80 POPC at 32e9/s
    assert layer["cuda_core_s"] == pytest.approx(80 / 32e9)
    # tensor cores: padded 8 x 24 x 128 tile work at 1e13 ops/s -- slower here, M=1 wastes 7/8
    assert layer["tensor_core_s"] == pytest.approx(2 * 8 * 24 * 128 / 1e13)
    assert layer["path"] == "cuda"
    # DRAM: 250 B weights + 13 B input + 20 x 4 B accumulators
    assert layer["bytes"] == {"weights": 250, "act_in": 13, "act_out": 80}
    assert layer["bound"] == "memory"
    assert cost.latency_s == pytest.approx(343 / 1e9 + 5e-6)
    assert cost.objective_name == "latency_us" and cost.objective == pytest.approx(cost.latency_s * 1e6)
    # batch 4: 50 B input, 320 B output, launch paid once per batch
    batch_time = (250 + 50 + 320) / 1e9 + 5e-6
    assert cost.fps == pytest.approx(4 / batch_time)
    assert cost.energy_j == pytest.approx(10.0 * batch_time / 4)
    assert cost.usage == {"memory_bytes": 250 + 50 + 320}
    assert cost.budget == {"memory_bytes": 1e9} and cost.fits


def test_gpu_conv_layer_takes_the_tensor_cores():
    # conv 10x10x16 -> 3x3 -> 8x8x32 (binary out), then dense 2048 -> 10 (int32 out)
    net = build((10, 10, 16, 1), [("conv", 32, 3, 1, 0), ("dense", 10)])
    cost = gpu.estimate_on(net, TOY_GPU)
    conv, dense = cost.details["layers"]
    assert (conv["m"], conv["k"], conv["n"]) == (64, 144, 32)
    # each of the 9 taps reads its pixel's 16 channels as one whole word: 9 words, not ceil(144/32)
    assert conv["k_words"] == 9
    assert conv["cuda_core_s"] == pytest.approx(64 * 32 * 9 / 32e9)
    assert conv["padded_mma_ops"] == 2 * 64 * 32 * 256
    assert conv["tensor_core_s"] == pytest.approx(2 * 64 * 32 * 256 / 1e13)
    assert conv["path"] == "tensor" and conv["compute_s"] == conv["tensor_core_s"]
    # the input tensor is read once (implicit GEMM), not the 9x larger im2col matrix
    assert conv["bytes"] == {"weights": 576, "act_in": 200, "act_out": 256}
    assert conv["time_s"] == pytest.approx(1032 / 1e9 + 5e-6)
    assert dense["bytes"] == {"weights": 2560, "act_in": 256, "act_out": 40}
    assert dense["path"] == "cuda"
    assert cost.latency_s == pytest.approx((1032 + 2856) / 1e9 + 2 * 5e-6)
    assert cost.details["launches"] == 2


def test_gpu_bit_serial_input_and_no_tensor_cores():
    dev = gpu.GpuDevice(**{**TOY_GPU.__dict__, "binary_tensor_tops": None})
    cost = gpu.estimate_on(build((1, 1, 100, 4), [("dense", 20)]), dev)
    (layer,) = cost.details["layers"]
    assert layer["planes"] == 4 and layer["binary_ops"] == 2 * 100 * 20 * 4
    assert layer["cuda_core_s"] == pytest.approx(4 * 80 / 32e9)  # 4 bit-planes
    assert layer["tensor_core_s"] is None and layer["padded_mma_ops"] is None and layer["path"] == "cuda"
    assert layer["bytes"]["act_in"] == 50  # 100 inputs x 4 bits


def test_gpu_compute_bound_layer():
    # a big batch-1 GEMM on a device with plenty of bandwidth and no launch cost is compute-bound
    dev = gpu.GpuDevice(**{**TOY_GPU.__dict__, "dram_bandwidth_gbs": 1e6, "launch_overhead_us": 0.0,
                           "binary_tensor_tops": None})
    cost = gpu.estimate_on(build((32, 32, 64, 1), [("conv", 64, 3, 1, 1), ("dense", 10)]), dev)
    conv = cost.details["layers"][0]
    assert conv["bound"] == "compute"
    assert conv["time_s"] == pytest.approx(32 * 32 * 64 * math.ceil(576 / 32) / 32e9)


def test_gpu_launch_overhead_makes_depth_cost_latency():
    # memory and tensor-core compute ~free: only the launches remain
    dev = gpu.GpuDevice(**{**TOY_GPU.__dict__, "dram_bandwidth_gbs": 1e9, "binary_tensor_tops": 1e9})
    for depth in (1, 2, 4):
        cost = gpu.estimate_on(mlp(64, depth), dev)
        assert cost.details["launches"] == depth + 1
        assert cost.latency_s == pytest.approx((depth + 1) * 5e-6, rel=1e-6)
        assert all(layer["path"] == "tensor" for layer in cost.details["layers"])


def test_gpu_pool_is_a_memory_bound_kernel():
    net = build((8, 8, 16, 1), [("conv", 16, 3, 1, 1), ("pool", 2, 2), ("dense", 10)])
    cost = gpu.estimate_on(net, TOY_GPU)
    pool = cost.details["layers"][1]
    assert pool["kind"] == "maxpool" and pool["bytes"] == {"weights": 0, "act_in": 128, "act_out": 32}
    assert pool["time_s"] == pytest.approx(160 / 1e9 + 5e-6)
    assert cost.details["launches"] == 3


def test_gpu_cuda_core_efficiency_scales_the_popc_peak():
    half = gpu.GpuDevice(**{**TOY_GPU.__dict__, "cuda_core_efficiency": 0.5})
    net = build((1, 1, 100, 1), [("dense", 20)])
    (layer,) = gpu.estimate_on(net, half).details["layers"]
    assert layer["cuda_core_s"] == pytest.approx(80 / (0.5 * 32e9))
    assert layer["tensor_core_s"] == pytest.approx(2 * 8 * 24 * 128 / 1e13)  # the tensor path is not scaled
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="cuda_core_efficiency"):
            gpu.GpuDevice(**{**TOY_GPU.__dict__, "cuda_core_efficiency": bad})
    with pytest.raises(ValueError, match="launch overheads"):
        gpu.GpuDevice(**{**TOY_GPU.__dict__, "launch_overhead_graph_us": -1.0})


def test_gpu_serial_bound_of_conv_and_dense_kernels():
    """A kernel with too few threads to fill the GPU takes as long as one thread's (conv) or
    one warp's (dense) chain of dependent steps, less the first (in the launch cost)."""
    dev = gpu.GpuDevice(**{**TOY_GPU.__dict__, "binary_tensor_tops": None, "conv_word_us": 1.0, "dense_step_us": 0.5})
    net = build((8, 8, 1, 1), [("conv", 40, 3, 1, 1), ("conv", 48, 3, 1, 1), ("dense", 10)])
    conv0, conv1, dense = gpu.estimate_on(net, dev).details["layers"]
    # 1-channel input: one word per tap, 9 words; 9 - 1 serial steps at 1 us
    assert (conv0["k_words"], conv0["chain_steps"]) == (9, 8)
    assert conv0["cuda_core_s"] == pytest.approx(64 * 40 * 9 / 32e9)  # 0.72 us: the serial bound wins
    assert conv0["chain_s"] == pytest.approx(8e-6) and conv0["bound"] == "latency"
    assert conv0["time_s"] == pytest.approx(8e-6 + 5e-6)
    # 40 channels: 2 words per tap, 18 words, 17 steps
    assert (conv1["k_words"], conv1["chain_steps"]) == (18, 17) and conv1["chain_s"] == pytest.approx(17e-6)
    # dense K = 8 x 8 x 48 = 3072 bits = 96 words: 3 warp steps of 32 words, 2 serial at 0.5 us
    assert (dense["k_words"], dense["chain_steps"]) == (96, 2) and dense["chain_s"] == pytest.approx(1e-6)
    # a device without the numbers (null in the data file) has no serial bound
    plain = gpu.GpuDevice(**{**dev.__dict__, "conv_word_us": None, "dense_step_us": None})
    conv0 = gpu.estimate_on(net, plain).details["layers"][0]
    assert conv0["chain_s"] == 0.0 and conv0["bound"] == "compute"  # 0.72 us of POPC, 0.37 us of DRAM
    assert conv0["time_s"] == pytest.approx(max(conv0["cuda_core_s"], conv0["memory_s"]) + 5e-6)
    # the tensor cores, where faster than the serial bound, take the layer
    tc = gpu.estimate_on(net, gpu.GpuDevice(**{**dev.__dict__, "binary_tensor_tops": 10.0})).details["layers"][0]
    assert tc["path"] == "tensor" and tc["bound"] != "latency"
    with pytest.raises(ValueError, match="conv_word_us"):
        gpu.GpuDevice(**{**TOY_GPU.__dict__, "conv_word_us": -0.1})


@pytest.mark.parametrize("device", ["h100-sxm5-80gb", "toy"])
def test_gpu_cuda_graphs_save_the_launch_difference(device):
    """Graph replay and plain launches differ by exactly (plain - graph) launch cost per kernel,
    at batch 1 and at the throughput batch; the backend (and so the search) uses graphs."""
    dev = gpu.load_device(device) if device != "toy" else gpu.GpuDevice(
        **{**TOY_GPU.__dict__, "launch_overhead_graph_us": 1.0})
    assert dev.launch_overhead_graph_us is not None and dev.launch_overhead_graph_us < dev.launch_overhead_us
    diff = (dev.launch_overhead_us - dev.launch_overhead_graph_us) * 1e-6
    for depth in (1, 3):
        net = mlp(256, depth)
        graph, plain = gpu.estimate_on(net, dev), gpu.estimate_on(net, dev, cuda_graphs=False)
        kernels = depth + 1
        assert graph.details["cuda_graphs"] and not plain.details["cuda_graphs"]
        assert graph.details["launches"] == plain.details["launches"] == kernels
        assert plain.latency_s - graph.latency_s == pytest.approx(kernels * diff)
        assert plain.details["batch_time_s"] - graph.details["batch_time_s"] == pytest.approx(kernels * diff)
        assert graph.details["launch_s_total"] == pytest.approx(kernels * dev.launch_overhead_graph_us * 1e-6)
        assert all(layer["launch_s"] == pytest.approx(dev.launch_overhead_graph_us * 1e-6)
                   for layer in graph.details["layers"])
    if device != "toy":
        assert gpu.GpuBackend().estimate(net, device).latency_s == graph.latency_s


def test_gpu_uncalibrated_devices_keep_their_datasheet_numbers():
    net = mlp(256, 2)
    for name in gpu.GpuBackend().devices():
        dev = gpu.load_device(name)
        if name == "h100-sxm5-80gb":
            assert dev.launch_overhead_graph_us is not None and dev.cuda_core_efficiency < 1.0
            assert dev.conv_word_us is not None and dev.dense_step_us is not None
            continue
        # no graph figure: both modes are charged the plain launch cost; the full POPC peak; no serial bound
        assert dev.launch_overhead_graph_us is None and dev.cuda_core_efficiency == 1.0
        assert dev.conv_word_us is None and dev.dense_step_us is None
        assert gpu.estimate_on(net, dev).latency_s == gpu.estimate_on(net, dev, cuda_graphs=False).latency_s
    jetson = gpu.load_device("jetson-orin-nano-8gb")
    assert (jetson.launch_overhead_us, jetson.sms, jetson.boost_clock_mhz) == (15, 8, 625)


def test_gpu_h100_calibration_meets_the_targets():
    """The recorded H100 measurements (benchmarks/data/gpu_h100_mlp.json): batch-1 CUDA-graph
    latency Spearman >= 0.95 and MAPE <= 25 %, batch-1024 throughput MAPE <= 30 %; and the
    device file holds what benchmarks/gpu_calibration.py fits (rounded)."""
    from benchmarks import gpu_calibration as cal

    doc = json.loads(cal.DATA.read_text())
    assert {"measured", "hardware", "script", "post_processing", "used_by"} <= set(doc["provenance"])
    rows = cal.load()
    assert len(rows) == 32 and {(m.depth, m.width) for m in rows} == {
        (d, w) for d in (1, 2, 3, 4) for w in (16, 32, 64, 128, 256, 512, 768, 1024)}
    dev = gpu.load_device(cal.DEVICE)
    figures = cal.figures(dev, rows)
    assert figures["latency_graph_b1"]["spearman"] >= 0.95
    assert figures["latency_graph_b1"]["mape_pct"] <= 25.0
    assert figures["fps_b1024"]["mape_pct"] <= 30.0
    assert cal.targets_met(figures)
    fitted = cal.fit(dev, rows, cal.cnn_split(cal.load_cnn())[0])
    for field, value in fitted.items():
        tolerance = {"rel": 0.005} if field in cal.CHAIN_FIELDS else {"abs": 0.006}
        assert getattr(dev, field) == pytest.approx(value, **tolerance), field
    # the uncalibrated entry missed both, as the issue reported
    before = cal.figures(cal.uncalibrated(dev), rows)
    assert before["latency_graph_b1"]["mape_pct"] > 100 and before["fps_b1024"]["mape_pct"] > 30


def test_gpu_h100_cnn_latency_out_of_sample():
    """The recorded H100 binary-CNN measurements (benchmarks/data/gpu_h100_cnn.json): the
    shipped device numbers are fitted on the MLPs and the training half (widths 32, 128) only,
    and on the held-out half (widths 64, 256) the batch-1 CUDA-graph latency meets Spearman
    >= 0.95 and MAPE <= 25 % (issue 19); so does the split the other way round. Without the
    serial bound the same data misses the MAPE target (2-4x too little)."""
    from benchmarks import gpu_calibration as cal

    doc = json.loads(cal.CNN_DATA.read_text())
    assert {"measured", "hardware", "script", "origin", "used_by"} <= set(doc["provenance"])
    cnn = cal.load_cnn()
    assert {(m.depth, m.width) for m in cnn} == {(d, w) for d in (1, 2) for w in (32, 64, 128, 256)}
    train, test = cal.cnn_split(cnn)
    assert {m.width for m in train} == {32, 128} and {m.width for m in test} == {64, 256}
    assert {m.depth for m in train} == {m.depth for m in test} == {1, 2}
    # the kernels priced are the kernels measured: convs, pools and the classifier
    assert all(gpu.estimate_on(cal.cnn_network(m.depth, m.width), gpu.load_device(cal.DEVICE)).details["launches"]
               == m.kernels for m in cnn)
    dev = gpu.load_device(cal.DEVICE)
    mlps = cal.load()
    samples = [(cal.network(m.depth, m.width), m.latency_graph_us) for m in mlps]
    samples += [(cal.cnn_network(m.depth, m.width), m.latency_graph_us) for m in train]
    for field, value in cal.fit_graph(dev, samples).items():  # no held-out CNN in the shipped numbers
        assert getattr(dev, field) == pytest.approx(value, rel=0.005), field
    heldout = cal.cnn_figures(dev, test)["latency_graph_b1"]
    assert heldout["spearman"] >= 0.95 and heldout["mape_pct"] <= 25.0
    assert cal.cnn_targets_met(heldout)
    assert heldout["mape_pct"] < 10.0  # measured 2.5 %: past 10 % is a regression
    swapped = cal.cnn_heldout(dev, mlps, test, train)
    assert swapped["spearman"] >= 0.95 and swapped["mape_pct"] <= 25.0
    before = cal.cnn_figures(cal.mlp_only(dev), cnn)["latency_graph_b1"]
    assert before["mape_pct"] > 25.0
    # the MLP-only fit is unchanged: one-step dense kernels have no serial term
    assert cal.figures(cal.mlp_only(dev), mlps)["latency_graph_b1"] == cal.figures(dev, mlps)["latency_graph_b1"]


def test_gpu_calibration_figures():
    from benchmarks import gpu_calibration as cal

    assert cal.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert cal.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert cal.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(np.corrcoef([1.5, 1.5, 3], [1, 2, 3])[0, 1])
    assert cal.mape_pct([110, 90], [100, 100]) == pytest.approx(10.0)



# --------------------------------------------------------------------------------------
# RRAM: hand-computed crossbar model
# --------------------------------------------------------------------------------------
def test_rram_mapping():
    mp = rram.map_weights(10, 6, TOY_RRAM)
    # 10 rows / 4 -> 3 row tiles; 6 outputs x 2 cells / 8 columns -> 2 column tiles (4 + 2 outputs)
    assert (mp.row_tiles, mp.col_tiles, mp.arrays) == (3, 2, 6)
    assert mp.steps == (2, 1)  # 4 outputs / 2 ADCs, 2 outputs / 2 ADCs
    assert mp.max_steps == 2 and mp.array_steps == 9 and mp.adder_depth == 2
    assert rram.map_weights(4, 4, TOY_RRAM).adder_depth == 0


def test_rram_tiny_dense_layer():
    cost = rram.estimate_on(build((1, 1, 10, 1), [("dense", 6)]), TOY_RRAM)
    (layer,) = cost.details["layers"]
    assert layer["arrays"] == 6 and cost.usage == {"arrays": 6} and cost.budget == {"arrays": 16}
    # 2 mux steps x (10 + 2) ns, then a 2-level adder tree for 3 row tiles
    assert layer["pass_s"] == pytest.approx(26e-9) and cost.latency_s == pytest.approx(26e-9)
    assert cost.fps == pytest.approx(1 / 26e-9)
    assert layer["conversions"] == 18  # 3 row tiles x 6 outputs
    energy = layer["energy"]
    assert energy["cells_j"] == pytest.approx(10 * 6 * 0.5 * 10e-15)
    assert energy["adc_j"] == pytest.approx(18 * 1e-12)
    assert energy["periphery_j"] == pytest.approx(9 * 3e-12)
    assert energy["digital_j"] == pytest.approx(18 * 0.5e-12)
    assert cost.energy_j == pytest.approx(54.3e-12)
    assert cost.objective_name == "energy_nj" and cost.objective == pytest.approx(0.0543)
    assert cost.details["area_mm2"] == pytest.approx(0.06)


def test_rram_bit_serial_input():
    one = rram.estimate_on(build((1, 1, 10, 1), [("dense", 6)]), TOY_RRAM)
    three = rram.estimate_on(build((1, 1, 10, 3), [("dense", 6)]), TOY_RRAM)
    assert three.details["layers"][0]["passes"] == 3
    assert three.latency_s == pytest.approx(3 * 26e-9)
    assert three.energy_j == pytest.approx(3 * 54.3e-12)
    assert three.usage == one.usage  # same weights, same arrays


def test_rram_conv_layer_reuses_arrays_per_pixel():
    # 5x5x2 input, 3x3 kernel, 3 channels: M = 9 pixels, K = 18, N = 3
    cost = rram.estimate_on(build((5, 5, 2, 1), [("conv", 3, 3, 1, 0)]), TOY_RRAM)
    (layer,) = cost.details["layers"]
    assert (layer["m"], layer["k"], layer["n"]) == (9, 18, 3)
    assert (layer["row_tiles"], layer["col_tiles"], layer["arrays"]) == (5, 1, 5)
    assert layer["mux_steps"] == 2 and layer["passes"] == 9
    assert layer["pass_s"] == pytest.approx(2 * 12e-9 + 3 * 1e-9)  # adder tree over 5 row tiles
    assert cost.latency_s == pytest.approx(9 * 27e-9)
    assert layer["conversions"] == 9 * 5 * 3
    assert cost.energy_j == pytest.approx((2.43 + 135 + 270 + 67.5) * 1e-12)


def test_rram_column_mux_serializes_reads():
    net = build((1, 1, 10, 1), [("dense", 6)])
    no_mux = rram.RramDevice(**{**TOY_RRAM.__dict__, "cols_per_adc": 1})  # one ADC per weight column
    fast, slow = rram.estimate_on(net, no_mux), rram.estimate_on(net, TOY_RRAM)
    assert fast.details["layers"][0]["mux_steps"] == 1
    assert fast.latency_s == pytest.approx(12e-9 + 2e-9)
    assert slow.latency_s == pytest.approx(2 * 12e-9 + 2e-9)
    # the same conversions happen either way; only the periphery steps differ
    assert fast.details["layers"][0]["conversions"] == slow.details["layers"][0]["conversions"]


def test_rram_layers_pipeline():
    net = build((5, 5, 2, 1), [("conv", 3, 3, 1, 0), ("pool", 3, 3), ("dense", 6)])
    cost = rram.estimate_on(net, TOY_RRAM)
    conv, pool, dense = cost.details["layers"]
    assert pool["arrays"] == 0 and pool["time_s"] == pytest.approx(1e-9)  # 1 output pixel
    assert pool["digital_adds"] == 3 * 8  # 3 channels x (9 - 1) ORs
    assert cost.latency_s == pytest.approx(conv["time_s"] + pool["time_s"] + dense["time_s"])
    assert cost.fps == pytest.approx(1 / conv["time_s"]) and cost.details["bottleneck"] == "conv0"
    assert cost.usage["arrays"] == conv["arrays"] + dense["arrays"]


def test_rram_overflowing_chip_does_not_fit():
    cost = rram.RramBackend().estimate(mlp(1024, 1), "rram-edge-64x128")
    # 784 x 1024: 7 row tiles x 16 column tiles, then 1024 x 10: 8 x 1
    assert cost.usage["arrays"] == 7 * 16 + 8 * 1
    assert not cost.fits and cost.utilization == pytest.approx(120 / 64)


# --------------------------------------------------------------------------------------
# Monotonicity and output format
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 3])
def test_wider_costs_more(depth):
    widths = [32, 64, 128, 256, 512, 1024]
    g = [gpu.GpuBackend().estimate(mlp(w, depth), "jetson-orin-nano-8gb") for w in widths]
    r = [rram.RramBackend().estimate(mlp(w, depth), "rram-edge-64x128") for w in widths]
    ops = [c.details["binary_ops"] for c in g]
    assert ops == sorted(ops) and len(set(ops)) == len(ops)
    assert all(a.latency_s < b.latency_s for a, b in zip(g, g[1:]))
    assert all(a.usage["memory_bytes"] < b.usage["memory_bytes"] for a, b in zip(g, g[1:]))
    assert all(a.usage["arrays"] <= b.usage["arrays"] for a, b in zip(r, r[1:]))
    assert r[0].usage["arrays"] < r[-1].usage["arrays"]
    assert all(a.energy_j < b.energy_j for a, b in zip(r, r[1:]))


@pytest.mark.parametrize("backend_name", ["gpu", "rram"])
def test_every_device_estimates_and_serializes(backend_name):
    backend = backends.get(backend_name)
    net = build((12, 12, 3, 8), [("conv", 16, 3, 1, 1), ("pool", 2, 2), ("conv", 32, 3, 1, 0), ("dense", 10)])
    for device in backend.devices():
        cost = backend.estimate(net, device)
        assert cost.backend == backend_name and cost.device == device
        assert cost.fps > 0 and cost.latency_s > 0 and cost.objective > 0 and cost.energy_j > 0
        assert set(cost.usage) == set(cost.budget)
        # pipelining (rram) and batching (gpu) only ever raise throughput above 1 / latency
        assert cost.latency_s >= 1 / cost.fps
        json.dumps(cost.to_dict())


# --------------------------------------------------------------------------------------
# The physical effect the search relies on: the two backends prefer different shapes
# --------------------------------------------------------------------------------------
DEEP_NARROW, SHALLOW_WIDE = mlp(32, 4), mlp(1024, 1)


@pytest.mark.parametrize("device", gpu.GpuBackend().devices())
def test_gpu_prefers_shallow(device):
    backend = gpu.GpuBackend()
    # 5 launches of tiny kernels lose to 2 launches of a 25x larger network at batch 1
    assert backend.estimate(DEEP_NARROW, device).objective > backend.estimate(SHALLOW_WIDE, device).objective
    # and at batch 1 depth dominates width: one more layer costs more than 32x the width
    assert backend.estimate(mlp(32, 2), device).latency_s > backend.estimate(mlp(1024, 1), device).latency_s


@pytest.mark.parametrize("device", rram.RramBackend().devices())
def test_rram_prefers_few_weights(device):
    backend = rram.RramBackend()
    deep, wide = backend.estimate(DEEP_NARROW, device), backend.estimate(SHALLOW_WIDE, device)
    assert deep.objective < wide.objective / 10
    assert deep.usage["arrays"] < wide.usage["arrays"]


def test_cost_caps_admit_different_shapes():
    """A Deepbit-style filter over 784-(W x depth)-10: the Jetson's latency cap admits every
    width at depth 1 and nothing at depth 4; the edge RRAM macro's array budget admits depth 4
    (narrow) but not the widest shallow network."""
    widths, depths = [32, 64, 128, 256, 512, 1024], [1, 2, 3, 4]
    g, r = gpu.GpuBackend(), rram.RramBackend()
    gpu_ok = {(w, d) for w in widths for d in depths if g.estimate(mlp(w, d), "jetson-orin-nano-8gb").objective <= 50}
    rram_ok = {(w, d) for w in widths for d in depths if r.estimate(mlp(w, d), "rram-edge-64x128").fits}
    assert {(w, 1) for w in widths} <= gpu_ok and not any(d == 4 for _, d in gpu_ok)
    assert {(w, 4) for w in (32, 64, 128, 256)} <= rram_ok and (1024, 1) not in rram_ok
    # the widest admitted network at each depth: the GPU's shrinks to nothing with depth,
    # the RRAM macro's stays usable
    assert max(w for w, d in rram_ok if d == 4) >= 256
    assert (1024, 1) in gpu_ok - rram_ok and (256, 4) in rram_ok - gpu_ok


def test_gpu_search_plans_on_the_calibrated_h100():
    """The search's cost charts with `--backend gpu --device h100-sxm5-80gb`: every depth affords
    the widest rung (no budget binds), and the objective is the CUDA-graph batch-1 latency."""
    from bnn2hls.search import deepbit

    spec = deepbit.SearchSpec(dataset="mnist5k", backend="gpu", device="h100-sxm5-80gb", objective="lut", min_fps=None)
    plan = deepbit.plan_search(backends.get("gpu"), spec)
    assert {c.depth: c.width for c in plan.frontier} == {1: 1024, 2: 1024, 3: 1024, 4: 1024}
    costs = [plan.predictions[c.key] for c in plan.frontier]
    assert all(c.details["cuda_graphs"] and c.objective == pytest.approx(c.latency_s * 1e6) for c in costs)
    # about 2.2 us per layer kernel: 4.4 us at depth 1, 11 us at depth 4 (measured 4.8 and 11.0)
    assert [round(c.objective) for c in costs] == [4, 7, 9, 11]
