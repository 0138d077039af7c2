"""Run the *source* model through the real QONNX executor (the `onnx` engine and the oracle
every other engine is checked against).

qonnx executes standard nodes one at a time, wrapping each in a fresh single-node model made by
`qonnx.util.basic.qonnx_make_model`, which stamps onnx's newest IR version; onnxruntime 1.31
rejects IR versions above 10 ("Unsupported model IR version"). We therefore pin the IR version
of those per-node models, for the duration of the call only.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import onnx

from ..errors import UserError
from ..reference import check_finite

MAX_ORT_IR_VERSION = 10


@contextlib.contextmanager
def _ir_version_pinned() -> Iterator[None]:
    import qonnx.core.onnx_exec as onnx_exec

    original = onnx_exec.qonnx_make_model

    def make_model_pinned(graph, **kwargs):
        model = original(graph, **kwargs)
        model.ir_version = min(model.ir_version, MAX_ORT_IR_VERSION)
        return model

    onnx_exec.qonnx_make_model = make_model_pinned
    try:
        yield
    finally:
        onnx_exec.qonnx_make_model = original


def prepare(model: onnx.ModelProto):
    """A qonnx ModelWrapper with shapes inferred, ready for execute_onnx."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    model = onnx.ModelProto.FromString(model.SerializeToString())
    model.ir_version = min(model.ir_version, MAX_ORT_IR_VERSION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ModelWrapper(model).transform(InferShapes())


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """float32 [N, *input] -> float32 [N, outputs], one frame at a time (Brevitas exports a
    fixed batch of 1)."""
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = prepare(model)
    inp = wrapper.graph.input[0].name
    out = wrapper.graph.output[0].name
    expected = tuple(wrapper.get_tensor_shape(inp))
    x = np.asarray(x, np.float32)
    if x.shape[1:] != expected[1:]:
        raise UserError(f"input: expected shape [N, {', '.join(map(str, expected[1:]))}], got {list(x.shape)}")
    check_finite(x)
    results = []
    with _ir_version_pinned(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in x:
            y = execute_onnx(wrapper, {inp: frame[None]})[out]
            results.append(np.asarray(y, np.float32).reshape(1, -1))
    return np.concatenate(results) if results else np.zeros((0, 0), np.float32)
