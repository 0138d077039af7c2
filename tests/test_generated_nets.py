"""Generated small networks (hypothesis): random kernels, strides, paddings (zero or the FBNA
pattern), channel counts, pools and input quantizers go through the real Brevitas export and
the importer; the reference engine must equal the QONNX executor on every one."""
from __future__ import annotations

import pytest

import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnn2hls.engines import qonnx_runner
from bnn2hls import reference
from bnn2hls.models import zoo
from bnn2hls.flow.compiler import build_network
from bnn2hls.frontend.onnx_import import load_model
from bnn2hls.frontend.torch_export import export_qonnx
from bnn2hls.models.nn import AlternatingPad2d

pytestmark = pytest.mark.tier("e2e")


@st.composite
def networks(draw):
    size = draw(st.integers(5, 12))
    channels = draw(st.integers(1, 3))
    multibit = draw(st.booleans())
    layers: list[torch.nn.Module] = [zoo._input_quant_8bit() if multibit else zoo._binary_act()]
    c, h = channels, size
    first = True
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(1, 4))
        stride = draw(st.integers(1, 2))
        pad = draw(st.integers(0, 2))
        cout = draw(st.integers(1, 9))
        alternating = pad > 0 and not (first and multibit) and draw(st.booleans())
        if h + 2 * pad < k:
            break
        if alternating:
            layers.append(AlternatingPad2d(pad))
        layers += [zoo._conv(c, cout, k, stride=stride, padding=0 if alternating else pad,
                             per_channel_scale=draw(st.booleans())),
                   torch.nn.BatchNorm2d(cout), zoo._binary_act()]
        c, h, first = cout, (h + 2 * pad - k) // stride + 1, False
        if h >= 2 and draw(st.booleans()):
            layers.append(torch.nn.MaxPool2d(2))
            h //= 2
    layers += [torch.nn.Flatten(), zoo._linear(c * h * h, draw(st.integers(2, 6)), bias=draw(st.booleans()))]
    seed = draw(st.integers(0, 2**16))
    torch.manual_seed(seed)
    model = zoo._Sequential(*layers, preprocess=multibit)
    zoo.randomize_batchnorm(model, seed)
    return model.eval(), torch.zeros(1, channels, size, size)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(networks())
def test_generated_network_matches_qonnx_executor(case):
    module, example = case
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(export_qonnx(module, example, Path(tmp) / "m.onnx"))
    net = build_network(model, "generated")
    x = np.random.default_rng(0).random((8, *example.shape[1:]), dtype=np.float32) * 2 - 0.5
    expect = qonnx_runner.run(model, x)
    got = reference.run(net, x)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
