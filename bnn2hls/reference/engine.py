"""The golden model: numpy, bit-packed, doing exactly the hardware's integer arithmetic.

Binary layers pack each window into uint64 words and count matching bits with XOR +
popcount; padded binary convs read the FBNA pad pattern and compare against the per-position
popcount thresholds of `datapath`. The multi-bit first layer adds/subtracts integers. Only the
input quantizer and the output head touch floats (on the host, as the source graph does).
"""
from __future__ import annotations


import numpy as np

from ..errors import UserError
from ..ir import ROUNDING_FUNCTIONS, InputQuant, MatrixLayer, Network, OutputHead, Threshold, apply_chain
from ..ops import op_of
from ..ops.join import join_layer
from ..ops.kernels import integers, multi_threshold, pack_bits, packed_windows, windows, xnor_popcount
from ..ops.matrix import depthwise_dot, matrix_layer
from ..ops.maxpool import maxpool_layer
from ..ops.sumpool import sumpool_layer
from ..ops.threshold import threshold_layer
from ..passes.padding import needs_border_table


# ---------------------------------------------------------------------------------------
# Host side
# ---------------------------------------------------------------------------------------
def check_finite(x: np.ndarray) -> None:
    """Every engine refuses NaN and +-Inf inputs: the source's quantizer gives NaN no integer
    (QONNX carries the NaN on, a cast to integers makes it arbitrary), so no engine could
    agree with it, and Inf turns into NaN in any preprocessing that subtracts or scales by 0."""
    bad = ~np.isfinite(np.asarray(x, np.float32).reshape(len(x), -1))
    if bad.any():
        frame, element = (int(v[0]) for v in np.nonzero(bad))
        raise UserError(f"input: frame {frame} holds a non-finite value ({x.reshape(len(x), -1)[frame, element]}) "
                        f"at flat index {element}; NaN and Inf are refused")


def quantize_input(layer: InputQuant, x: np.ndarray) -> np.ndarray:
    """float [N, *source_shape] -> datapath input [N, H, W, C]: bool (binary) or int32."""
    x = np.asarray(x, np.float32)
    if x.shape[1:] != tuple(layer.source_shape):
        raise UserError(f"input: expected shape [N, {', '.join(map(str, layer.source_shape))}], got {list(x.shape)}")
    check_finite(x)
    n = x.shape[0]
    for kind, step in layer.preprocess:
        x = step.apply(x).astype(np.float32) if kind == "affine" else x.reshape(n, *step)
    if layer.bipolar:
        values = x >= 0
    else:
        scale, zp = np.float32(layer.scale), np.float32(layer.zero_point)
        y = x / scale + zp
        lo, hi = layer.int_range
        y = np.clip(y, np.float32(lo), np.float32(hi))
        values = (ROUNDING_FUNCTIONS[layer.rounding](y) - zp).astype(np.int32)
    if values.ndim == 4:
        return np.ascontiguousarray(values.transpose(0, 2, 3, 1))
    return values.reshape(n, 1, 1, -1)


def apply_head(head: OutputHead, acc: np.ndarray) -> np.ndarray:
    """acc: int [N, H, W, C] -> float32 [N, features] in the source's (C, H, W) order."""
    y = apply_chain(head.chain, acc.astype(np.float32) * head.acc_scale)
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2)).reshape(len(y), -1)


# ---------------------------------------------------------------------------------------
# Kernels: each op kind's own (bnn2hls.ops), re-exported here under their old names
# ---------------------------------------------------------------------------------------
def run(net: Network, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """float32 [N, *source_shape] -> float32 [N, outputs]."""
    if any(isinstance(l, (MatrixLayer, Threshold)) and l.binarize and l.thresholds is None for l in net.layers):
        raise ValueError("reference.run needs a compiled network (fold_thresholds first)")
    if any(needs_border_table(l) and l.border is None for l in net.layers):
        raise ValueError("reference.run needs a compiled network (resolve_padding first)")
    outputs = []
    for start in range(0, len(x), batch):
        outputs.append(run_datapath(net, quantize_input(net.input_quant, x[start : start + batch]), head=True))
    return np.concatenate(outputs) if outputs else np.zeros((0, net.head.out_features), np.float32)


def run_datapath(net: Network, inputs: np.ndarray, head: bool = False) -> np.ndarray:
    """The datapath's integer arithmetic on quantized inputs [N, H, W, C], node by node in
    topological order: the value feeding the head (its accumulators), or with `head` the
    source's float outputs."""
    values: dict[str, np.ndarray] = {net.input_quant.name: inputs}
    for layer in net.datapath:
        values[layer.name] = op_of(layer).kernel(layer, [values[name] for name in layer.inputs])
    acc = values[net.producer(net.head).name]
    return apply_head(net.head, acc) if head else acc


__all__ = ["check_finite", "quantize_input", "apply_head", "run", "run_datapath", "windows", "pack_bits",
           "packed_windows", "xnor_popcount", "integers", "multi_threshold", "matrix_layer", "depthwise_dot",
           "maxpool_layer", "sumpool_layer", "join_layer", "threshold_layer"]
