"""The golden model: numpy, bit-packed, doing exactly the hardware's integer arithmetic.

Binary layers pack each window into uint64 words and count matching bits with XOR +
popcount; padded binary convs read the FBNA pad pattern and compare against the per-position
popcount thresholds of `datapath`. The multi-bit first layer adds/subtracts integers. Only the
input quantizer and the output head touch floats (on the host, as the source graph does).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import datapath, padding_pattern
from .errors import UserError
from .passes.padding import needs_border_table
from .ir import InputQuant, MatrixLayer, MaxPool, Network, OutputHead, apply_chain

_CHUNK_ELEMENTS = 1 << 22  # bounds the XOR temporary to 32 MiB


# ---------------------------------------------------------------------------------------
# Host side
# ---------------------------------------------------------------------------------------
def quantize_input(layer: InputQuant, x: np.ndarray) -> np.ndarray:
    """float [N, *source_shape] -> datapath input [N, H, W, C]: bool (binary) or int32."""
    x = np.asarray(x, np.float32)
    if x.shape[1:] != tuple(layer.source_shape):
        raise UserError(f"input: expected shape [N, {', '.join(map(str, layer.source_shape))}], got {list(x.shape)}")
    n = x.shape[0]
    for kind, step in layer.preprocess:
        x = step.apply(x).astype(np.float32) if kind == "affine" else x.reshape(n, *step)
    if layer.bits == 1:
        values = x >= 0
    else:
        scale, zp = np.float32(layer.scale), np.float32(layer.zero_point)
        y = x / scale + zp
        lo, hi = layer.int_range
        y = np.clip(y, np.float32(lo), np.float32(hi))
        rounding = {"ROUND": np.round, "HALF_EVEN": np.round, "FLOOR": np.floor, "CEIL": np.ceil, "DOWN": np.fix, "ROUND_TO_ZERO": np.fix}
        values = (rounding[layer.rounding](y) - zp).astype(np.int32)
    if values.ndim == 4:
        return np.ascontiguousarray(values.transpose(0, 2, 3, 1))
    return values.reshape(n, 1, 1, -1)


def apply_head(head: OutputHead, acc: np.ndarray) -> np.ndarray:
    """acc: int [N, H, W, C] -> float32 [N, features] in the source's (C, H, W) order."""
    y = apply_chain(head.chain, acc.astype(np.float32) * head.acc_scale)
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2)).reshape(len(y), -1)


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------
def windows(image: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """[N, H, W, C] -> [N, OH, OW, kh*kw*C], window columns ordered (ky, kx, c)."""
    n, h, w, c = image.shape
    view = sliding_window_view(image, kernel, axis=(1, 2))[:, :: stride[0], :: stride[1]]
    oh = (h - kernel[0]) // stride[0] + 1
    ow = (w - kernel[1]) // stride[1] + 1
    view = view[:, :oh, :ow]  # [N, OH, OW, C, kh, kw]
    return view.transpose(0, 1, 2, 4, 5, 3).reshape(n, oh, ow, -1)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """bool [..., M] -> uint64 [..., ceil(M/64)], bit i of the vector at bit i%64 of word i//64;
    the tail is zero-filled (zeros XOR zeros adds nothing to the mismatch count)."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    pad = (-packed.shape[-1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((*packed.shape[:-1], pad), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view(np.uint64)


def xnor_popcount(acts: np.ndarray, weights: np.ndarray, bits: int) -> np.ndarray:
    """acts uint64 [M, W], weights uint64 [O, W] -> int32 [M, O]: matching bits per pair."""
    m, o = acts.shape[0], weights.shape[0]
    mismatches = np.empty((m, o), np.int32)
    step = max(1, _CHUNK_ELEMENTS // max(1, o * acts.shape[1]))
    for start in range(0, m, step):
        block = acts[start : start + step, None, :] ^ weights[None, :, :]
        mismatches[start : start + step] = np.bitwise_count(block).sum(axis=-1, dtype=np.int32)
    return bits - mismatches


def matrix_layer(layer: MatrixLayer, x: np.ndarray) -> np.ndarray:
    """Returns bool [N, OH, OW, C_out] for binarizing layers, else int64 source accumulators."""
    n = x.shape[0]
    x = x.reshape(n, *layer.in_shape)  # a dense layer flattens (H, W, C)
    oh, ow = layer.out_hw
    if layer.input_bits == 1:
        padded = padding_pattern.pad_binary_image(x, layer.pads) if any(layer.pads) else x
        cols = pack_bits(windows(padded, layer.kernel, layer.stride)).reshape(n * oh * ow, -1)
        p = xnor_popcount(cols, pack_bits(layer.weights), layer.fan_in).reshape(n, oh, ow, -1)
        if layer.binarize:
            return (p >= datapath.popcount_thresholds(layer)[None]) ^ layer.flip
        return 2 * p.astype(np.int64) - layer.fan_in - datapath.corrections_at_positions(layer)[None]
    t, l, b, r = layer.pads
    padded = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))  # a multi-bit datapath has a real 0
    cols = windows(padded, layer.kernel, layer.stride).reshape(n * oh * ow, -1)
    signs = np.where(layer.weights, 1.0, -1.0)
    # Integer sums of +-x: exact in float64 far beyond any accumulator here (< 2**53).
    acc = np.rint(cols.astype(np.float64) @ signs.T).astype(np.int64).reshape(n, oh, ow, -1)
    if layer.binarize:
        return (acc >= layer.thresholds) ^ layer.flip
    return acc


def maxpool_layer(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    view = sliding_window_view(x, layer.kernel, axis=(1, 2))[:, :: layer.stride[0], :: layer.stride[1]]
    oh, ow, _ = layer.out_shape
    return view[:, :oh, :ow].any(axis=(-2, -1))


def run(net: Network, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """float32 [N, *source_shape] -> float32 [N, outputs]."""
    if any(isinstance(l, MatrixLayer) and l.binarize and l.thresholds is None for l in net.layers):
        raise ValueError("reference.run needs a compiled network (fold_thresholds first)")
    if any(needs_border_table(l) and l.border is None for l in net.layers):
        raise ValueError("reference.run needs a compiled network (resolve_padding first)")
    outputs = []
    for start in range(0, len(x), batch):
        act = quantize_input(net.input_quant, x[start : start + batch])
        for layer in net.datapath:
            act = matrix_layer(layer, act) if isinstance(layer, MatrixLayer) else maxpool_layer(layer, act)
        outputs.append(apply_head(net.head, act))
    return np.concatenate(outputs) if outputs else np.zeros((0, net.head.out_features), np.float32)
