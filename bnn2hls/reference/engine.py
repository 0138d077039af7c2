"""The golden model: numpy, bit-packed, doing exactly the hardware's integer arithmetic.

Binary layers pack each window into uint64 words and count matching bits with XOR +
popcount; padded binary convs read the FBNA pad pattern and compare against the per-position
popcount thresholds of `datapath`. The multi-bit first layer adds/subtracts integers. Only the
input quantizer and the output head touch floats (on the host, as the source graph does).
"""
from __future__ import annotations


import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir import datapath, padding_pattern
from ..errors import UserError
from ..passes.padding import needs_border_table
from ..ir import ROUNDING_FUNCTIONS, DepthwiseConv, InputQuant, Join, MatrixLayer, MaxPool, Network, OutputHead, SumPool, Threshold, apply_chain

# Rows per block of the XOR-popcount loop: a block's [rows, C_out] uint64 XOR temporary of
# 2**14 elements (128 KiB) and its counts stay in the L2 cache while all words are summed.
_BLOCK_ELEMENTS = 1 << 14


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


def packed_windows(image: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """bool [N, H, W, C] -> uint64 [N*OH*OW, words]: every window packed as `pack_bits` packs
    it, i.e. exactly pack_bits(windows(image, kernel, stride)) flattened over positions."""
    n, h, w, c = image.shape
    if c % 8:
        cols = pack_bits(windows(image, kernel, stride))
        return cols.reshape(-1, cols.shape[-1])
    # A pixel's C channels fill C/8 whole bytes, so packing each pixel first and then
    # gathering windows of bytes in (ky, kx, byte) order gives the same bytes as packing the
    # (ky, kx, c) window: bit c of pixel (ky, kx) lands at window bit (ky*kw + kx)*C + c
    # either way. The im2col copy then moves bytes instead of bools (8x less data).
    pixels = np.packbits(image, axis=-1, bitorder="little")  # [N, H, W, C/8]
    view = sliding_window_view(pixels, kernel, axis=(1, 2))[:, :: stride[0], :: stride[1]]
    oh = (h - kernel[0]) // stride[0] + 1
    ow = (w - kernel[1]) // stride[1] + 1
    view = view[:, :oh, :ow].transpose(0, 1, 2, 4, 5, 3)  # [N, OH, OW, kh, kw, C/8]
    nbytes = kernel[0] * kernel[1] * (c // 8)
    words = -(-nbytes // 8)
    # One copy straight into the word buffer; bytes past the window stay zero (pack_bits' tail).
    out = np.zeros((n * oh * ow, words * 8), np.uint8)
    out[:, :nbytes].reshape(n, oh, ow, *view.shape[3:])[...] = view
    return out.view(np.uint64)


def xnor_popcount(acts: np.ndarray, weights: np.ndarray, bits: int) -> np.ndarray:
    """acts uint64 [M, W], weights uint64 [O, W] -> int32 [M, O]: matching bits per pair.

    Mismatches are summed word by word: for word k, XOR the activations' column k against
    every output channel's word k ([rows, O]), popcount and add. Iterating over words, not
    reducing a [rows, O, W] temporary along its short last axis, keeps every numpy call a
    long flat loop; blocking the rows keeps the temporaries in cache. The sum accumulates in
    the smallest unsigned type that holds `bits` (less memory traffic per word): a partial
    sum never exceeds the full count <= bits, so it cannot overflow.
    """
    m, words = acts.shape
    o = weights.shape[0]
    count_type = np.min_scalar_type(bits)
    mismatches = np.empty((m, o), count_type)
    weight_words = np.ascontiguousarray(weights.T)  # [W, O]: word k of every channel, contiguous
    rows = max(1, _BLOCK_ELEMENTS // o)
    xor_buf = np.empty((rows, o), np.uint64)
    ones_buf = np.empty((rows, o), np.uint8)  # a word's popcount is <= 64
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        acc, xor, ones = mismatches[start:stop], xor_buf[: stop - start], ones_buf[: stop - start]
        for k in range(words):
            np.bitwise_xor(acts[start:stop, k, None], weight_words[k], out=xor)
            if k == 0:
                np.bitwise_count(xor, out=acc)
            else:
                np.bitwise_count(xor, out=ones)
                np.add(acc, ones, out=acc)
    return np.subtract(np.int32(bits), mismatches, dtype=np.int32)


def matrix_layer(layer: MatrixLayer, x: np.ndarray) -> np.ndarray:
    """Returns the layer's output [N, OH, OW, C_out]: bool for a sign, int64 levels
    (out_offset + thresholds passed) for a multi-threshold, int64 source accumulators for
    the last layer."""
    n = x.shape[0]
    x = x.reshape(n, *layer.in_shape)  # a dense layer flattens (H, W, C)
    oh, ow = layer.out_hw
    if layer.input_bits == 1 and layer.weight_bits == 1:
        if isinstance(layer, DepthwiseConv):
            p = (depthwise_dot(layer, x) + layer.fan_in) // 2  # matches = (dot + MW) / 2
        else:
            padded = padding_pattern.pad_binary_image(x, layer.pads) if any(layer.pads) else x
            cols = packed_windows(padded, layer.kernel, layer.stride)
            p = xnor_popcount(cols, pack_bits(layer.weights), layer.fan_in).reshape(n, oh, ow, -1)
        if layer.binarize and layer.out_levels == 0:
            # p lies in [0, fan_in], so clipping the thresholds to [0, fan_in + 1] changes no
            # comparison; it lets them share p's int32 (no int64 promotion of the whole map).
            thresholds = np.clip(datapath.popcount_thresholds(layer), 0, layer.fan_in + 1).astype(np.int32)
            return (p >= thresholds[None]) ^ layer.flip
        acc = 2 * p.astype(np.int64) - layer.fan_in - datapath.corrections_at_positions(layer)[None]
    elif isinstance(layer, DepthwiseConv):
        acc = depthwise_dot(layer, x)
    else:
        acc = _integer_matrix_layer(layer, x)
    if not layer.binarize:
        return acc
    if layer.out_levels == 0:
        return (acc >= layer.thresholds) ^ layer.flip
    return multi_threshold(layer, acc)


def integers(x: np.ndarray) -> np.ndarray:
    """A value as int64 integers: sign bits become -1/+1."""
    return np.where(x, 1, -1).astype(np.int64) if x.dtype == np.bool_ else x.astype(np.int64)


def join_layer(layer: Join, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The residual sum (a << shifts[0]) + (b << shifts[1]), int64."""
    return (integers(a) << layer.shifts[0]) + (integers(b) << layer.shifts[1])


def threshold_layer(layer: Threshold, x: np.ndarray) -> np.ndarray:
    """A standalone activation: sign bits, or int64 levels."""
    assert layer.thresholds is not None and layer.flip is not None
    if layer.out_levels == 0:
        return (x >= layer.thresholds) ^ layer.flip
    return multi_threshold(layer, x)


def multi_threshold(layer: MatrixLayer | Threshold, acc: np.ndarray) -> np.ndarray:
    """int [..., C] accumulators -> int64 levels: out_offset + sum_i ((acc >= T_i) ^ flip)."""
    assert layer.thresholds is not None and layer.flip is not None
    count = np.zeros(acc.shape, np.int64)
    for i in range(layer.out_levels - 1):
        count += (acc >= layer.thresholds[:, i]) ^ layer.flip
    return count + layer.out_offset


def _integer_matrix_layer(layer: MatrixLayer, x: np.ndarray) -> np.ndarray:
    """Source accumulators of a layer with multi-bit inputs or weights: an integer matmul."""
    n = x.shape[0]
    oh, ow = layer.out_hw
    if layer.input_bits == 1:
        # Binary inputs here meet multi-bit weights; the importer admits them unpadded or
        # padded with the FBNA pattern by the source itself (no correction).
        padded = padding_pattern.pad_binary_image(x, layer.pads) if any(layer.pads) else x
        values = np.where(padded, 1, -1)
    else:
        t, l, b, r = layer.pads
        values = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))  # a multi-bit datapath has a real 0
    weights = layer.weight_values
    # Integer sums through BLAS: every partial sum, in whatever order BLAS adds, is an
    # integer of magnitude <= max|x| * max|w| * fan_in, exactly representable in float32
    # below 2**24 (float64 below 2**53), so the float result is the integer result.
    bound = int(np.abs(values).max(initial=0)) * int(np.abs(weights).max(initial=0)) * layer.fan_in
    dtype = np.float32 if bound < 2**24 else np.float64 if bound < 2**53 else np.int64
    cols = windows(values.astype(dtype), layer.kernel, layer.stride).reshape(n * oh * ow, -1)
    return (cols @ weights.T.astype(dtype)).astype(np.int64).reshape(n, oh, ow, -1)


def _padded_values(layer: MatrixLayer, x: np.ndarray) -> np.ndarray:
    """The layer's input as integers, padded as the hardware pads it: binary inputs with the
    FBNA pattern (+-1), multi-bit inputs with their real 0."""
    if layer.input_bits == 1:
        return np.where(padding_pattern.pad_binary_image(x, layer.pads) if any(layer.pads) else x, 1, -1)
    t, l, b, r = layer.pads
    return np.pad(x.astype(np.int64), ((0, 0), (t, b), (l, r), (0, 0)))


def depthwise_dot(layer: DepthwiseConv, x: np.ndarray) -> np.ndarray:
    """int64 [N, OH, OW, C]: channel c's window dotted with its own kh*kw weights (pad-pattern
    taps included for binary inputs; the border correction is the caller's)."""
    n = x.shape[0]
    oh, ow = layer.out_hw
    cols = windows(_padded_values(layer, x).astype(np.int64), layer.kernel, layer.stride)
    cols = cols.reshape(n, oh, ow, layer.fan_in, layer.in_channels)  # (ky, kx, c) -> [taps, C]
    return np.einsum("nhwkc,ck->nhwc", cols, layer.weight_values)


def maxpool_layer(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, OH, OW, C]: the max over each window (OR of sign bits, since
    bit 1 is +1; the max of integers for multi-level values).

    One strided slice per kernel tap, combined elementwise: kh*kw flat passes instead of a
    reduction over two tiny trailing axes."""
    (kh, kw), (sy, sx) = layer.kernel, layer.stride
    oh, ow, _ = layer.out_shape
    taps = [x[:, ky : ky + sy * (oh - 1) + 1 : sy, kx : kx + sx * (ow - 1) + 1 : sx] for ky in range(kh) for kx in range(kw)]
    out = taps[0].copy()
    combine = np.logical_or if x.dtype == np.bool_ else np.maximum
    for tap in taps[1:]:
        combine(out, tap, out=out)
    return out


def sumpool_layer(layer: SumPool, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> int64 [N, OH, OW, C]: the integer sum over each window (sign bits count
    +-1)."""
    return datapath.window_sums(integers(x), layer.kernel, layer.stride, layer.out_shape[:2])


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
        xs = [values[name] for name in layer.inputs]
        if isinstance(layer, MatrixLayer):
            values[layer.name] = matrix_layer(layer, xs[0])
        elif isinstance(layer, MaxPool):
            values[layer.name] = maxpool_layer(layer, xs[0])
        elif isinstance(layer, SumPool):
            values[layer.name] = sumpool_layer(layer, xs[0])
        elif isinstance(layer, Join):
            values[layer.name] = join_layer(layer, *xs)
        elif isinstance(layer, Threshold):
            values[layer.name] = threshold_layer(layer, xs[0])
        else:
            raise TypeError(f"reference: no kernel for {layer.kind} node '{layer.name}'")
    acc = values[net.producer(net.head).name]
    return apply_head(net.head, acc) if head else acc
