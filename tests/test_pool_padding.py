"""Max-pools of issue 20 (points 3 and 5), written as the papers' PyTorch code writes them and
exported with `export_qonnx`: ResNet's stem `MaxPool2d(3, 2, 1)`, SqueezeNet's
`MaxPool2d(3, 2, ceil_mode=True)`, and conv -> MaxPool2d -> BatchNorm -> multi-bit activation
(QuantReLU, a signed QuantIdentity; falling channels pool their min). The reference equals the
QONNX executor for each; every engine at two foldings (`check_topology`) for one in the
default suite, the rest slow."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from bnn2hls import cli
from bnn2hls.frontend.torch_export import export_qonnx
import dataclasses

from bnn2hls.ir import MaxPool, load
from bnn2hls.reference import run as run_network

from . import pool_nets
from .test_cli_errors import expect_error
from .test_topologies import check_topology

pytestmark = pytest.mark.tier("e2e")

# name -> (module factory, input shape)
NETS = {
    "resnet_stem_sign": (lambda: pool_nets.ResNetStem(1), (3, 12, 12)),
    "resnet_stem_relu2": (lambda: pool_nets.ResNetStem(2), (3, 12, 12)),
    "squeezenet_ceil": (pool_nets.SqueezeStem, (3, 10, 10)),
    "pool_bn_relu2": (lambda: pool_nets.PoolThenQuant(2), (3, 10, 10)),
    "pool_bn_relu4": (lambda: pool_nets.PoolThenQuant(4), (3, 10, 10)),
    "pool_bn_signed3": (lambda: pool_nets.PoolThenQuant(3, relu=False), (3, 10, 10)),
}


def prepared(name: str) -> torch.nn.Module:
    make, shape = NETS[name]
    module = pool_nets.prepared(make(), 1, shape)
    if name.startswith("pool_bn"):
        with torch.no_grad():  # a zero-slope channel: constant levels, pooled either way
            module.bn1.weight[0] = 0.0
    return module


def reference_vs_qonnx(name: str, tmp_path) -> dict:
    shape = NETS[name][1]
    path = export_qonnx(prepared(name), torch.zeros(1, *shape), tmp_path / "model.onnx")
    x = np.random.default_rng(3).random((8, *shape), dtype=np.float32) * 2.2 - 1.1
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "out")]) == 0
    ys = {}
    for engine in ("onnx", "ref"):
        y = tmp_path / f"{engine}.npy"
        assert cli.main(["run", str(tmp_path / "out"), "--input", str(tmp_path / "x.npy"), "--engine", engine,
                         "-o", str(y)]) == 0
        ys[engine] = np.load(y)
    assert len({tuple(r) for r in ys["onnx"].round(4)}) > 1
    np.testing.assert_allclose(ys["ref"], ys["onnx"], rtol=1e-5, atol=1e-5)
    return json.loads((tmp_path / "out" / "ir.json").read_text())


def pools(doc: dict) -> list[dict]:
    return [e for e in doc["layers"] if e["kind"] == "maxpool"]


@pytest.mark.tier("unit")
@pytest.mark.parametrize("name", [n if n in ("resnet_stem_relu2", "squeezenet_ceil") else
                                  pytest.param(n, marks=pytest.mark.slow) for n in NETS])
def test_reference_equals_qonnx(name, tmp_path):
    doc = reference_vs_qonnx(name, tmp_path)
    if name.startswith("resnet_stem"):
        assert pools(doc)[0]["pads"] == [1, 1, 1, 1]
    if name == "squeezenet_ceil":  # 8x8 -> 4x4 and 4x4 -> 2x2: partial windows below and right
        assert [(p["pads"], p["in_shape"][:2]) for p in pools(doc)] == [([0, 0, 1, 1], [8, 8]), ([0, 0, 1, 1], [4, 4])]


@pytest.mark.tier("unit")
def test_pool_before_a_multi_level_quantizer_takes_the_min_of_falling_channels(tmp_path):
    """The falling channels pool their min, the others their max; the zero-slope channel is
    constant (not falling). Pooling every channel's max instead gives other outputs."""
    reference_vs_qonnx("pool_bn_relu2", tmp_path)
    net = load(tmp_path / "out")
    pool0, pool1 = [layer for layer in net.layers if isinstance(layer, MaxPool)]
    assert pool1.pads == (1, 1, 1, 1)
    for pool in (pool0, pool1):
        producer = net.producer(pool)
        assert pool.minimum is not None and np.array_equal(pool.minimum, producer.flip)
        assert 0 < np.count_nonzero(pool.minimum) < len(pool.minimum)
    assert not pool0.minimum[0]  # the zero-gamma channel
    x = np.load(tmp_path / "x.npy")
    exact = run_network(net, x)
    maxed = net.replace_layer(dataclasses.replace(pool0, minimum=None))
    assert not np.array_equal(run_network(maxed, x), exact)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  for n in ("pool_bn_relu2", "resnet_stem_sign", "resnet_stem_relu2",
                                            "squeezenet_ceil", "pool_bn_signed3")])
def test_every_engine_at_two_foldings(name, tmp_path):
    """ref, hls, rtl (and rtl under stalls) equal the QONNX executor at the default folding and
    a --target-fps one; RTL cycles per frame = the estimate."""
    docs = check_topology(prepared(name), NETS[name][1], tmp_path, (None, 30000))
    assert all(pools(doc) and all(p["before_activation"] is False for p in pools(doc)) for doc in docs)


@pytest.fixture(scope="module")
def stem_model(tmp_path_factory) -> onnx.ModelProto:
    shape = NETS["resnet_stem_sign"][1]
    path = tmp_path_factory.mktemp("stem") / "model.onnx"
    return onnx.load(export_qonnx(prepared("resnet_stem_sign"), torch.zeros(1, *shape), path))


@pytest.mark.tier("unit")
@pytest.mark.parametrize(("attrs", "needle"), [
    ({"auto_pad": "SAME_UPPER"}, "MaxPool with auto_pad is not supported"),
    ({"pads": [3, 3, 3, 3]}, "must be smaller than its kernel"),
    ({"storage_order": 1}, "storage_order"),
])
def test_refused_maxpool_attributes(attrs, needle, stem_model, tmp_path, capsys):
    """A MaxPool attribute the hardware cannot follow: one line naming the node, exit 2."""
    model = onnx.ModelProto()
    model.CopyFrom(stem_model)
    path = tmp_path / "model.onnx"
    node = next(n for n in model.graph.node if n.op_type == "MaxPool")
    for key, value in attrs.items():
        for a in [a for a in node.attribute if a.name == key or (key == "auto_pad" and a.name == "pads")]:
            node.attribute.remove(a)
        node.attribute.append(onnx.helper.make_attribute(key, value))
    onnx.save(model, path)
    expect_error(capsys, ["compile", path, "-o", tmp_path / "out"], needle, node.name)
    assert not (tmp_path / "out").exists()


@pytest.mark.tier("unit")
@pytest.mark.parametrize("bits", [1, 3])
def test_kernel_ignores_pads_and_takes_the_min_of_min_channels(bits):
    """ops.maxpool's kernel against a brute-force max / min over each window's in-bounds taps."""
    from types import SimpleNamespace

    from bnn2hls.ops.maxpool import maxpool_layer
    from sim.stimulus import pool_image

    rng = np.random.default_rng(bits)
    h, w, c, (kh, kw), (sh, sw), pads = 7, 6, 4, (3, 2), (2, 2), (1, 0, 1, 1)
    image = pool_image(rng, 3, h, w, c, bits)
    minimum = np.array([True, False, True, False])
    oh, ow = (h + pads[0] + pads[2] - kh) // sh + 1, (w + pads[1] + pads[3] - kw) // sw + 1
    got = maxpool_layer(SimpleNamespace(kernel=(kh, kw), stride=(sh, sw), out_shape=(oh, ow, c), pads=pads,
                                        minimum=minimum), image)
    assert got.dtype == image.dtype
    values = image.astype(np.int64)
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * sh - pads[0], ox * sw - pads[1]
            taps = values[:, max(0, y0):y0 + kh, max(0, x0):x0 + kw].reshape(3, -1, c)
            want = np.where(minimum, taps.min(axis=1), taps.max(axis=1))
            assert np.array_equal(got[:, oy, ox].astype(np.int64), want)


@pytest.mark.tier("unit")
def test_ceil_mode_windows_match_onnxruntime():
    """The importer's ceil_mode output size (partial windows, less one that would start in the
    end padding) is onnxruntime's, over a sweep of sizes, kernels, strides and pads."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from bnn2hls.frontend.onnx_import import ceil_mode_tail

    for size in range(3, 10):
        for k, s, p in [(2, 2, 0), (3, 2, 0), (3, 2, 1), (2, 3, 0), (1, 3, 0), (3, 3, 1), (4, 3, 1)]:
            node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, 1], strides=[s, 1], pads=[p, 0, p, 0],
                                    ceil_mode=1)
            graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, size, 1])],
                                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
            options = ort.SessionOptions()
            options.log_severity_level = 3
            y = ort.InferenceSession(model.SerializeToString(), options).run(None, {"x": np.zeros((1, 1, size, 1), np.float32)})[0]
            assert (size + p + ceil_mode_tail(size, p, p, k, s) - k) // s + 1 == y.shape[2], (size, k, s, p)
