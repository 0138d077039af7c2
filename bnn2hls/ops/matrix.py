"""Matrix layers: `Conv`, `DepthwiseConv` and `Dense` (ir.MatrixLayer), a matrix-vector
(-threshold) unit each. Binary x binary layers count matching bits (XNOR-popcount); padded
binary convs read the FBNA pad pattern and compare against per-position popcount thresholds
(ir.datapath); multi-bit inputs or weights accumulate integer products."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Conv, Dense, DepthwiseConv, InputQuant, MatrixLayer, Network, OutputHead, chain_network, datapath, padding_pattern
from .base import MIN_FIFO_DEPTH, MatrixWork, Op, Work, items
from .kernels import multi_threshold, pack_bits, packed_windows, windows, xnor_popcount

WORD_BITS = 32  # the packing word of a GPU-style kernel (k_words)


# ---------------------------------------------------------------------------------------
# Reference kernel
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# The window walk of a conv (FIFO sizing)
# ---------------------------------------------------------------------------------------
def window_positions(layer: Conv | DepthwiseConv) -> tuple[np.ndarray, int]:
    """Indices (in the walk of one padded frame) where a window is emitted, and the frame's
    number of positions."""
    h, w, _ = layer.in_shape
    t, l, b, r = layer.pads
    hp, wp = h + t + b, w + l + r
    kh, kw = layer.kernel
    sh, sw = layer.stride
    oh, ow = layer.out_hw
    rows = kh - 1 + sh * np.arange(oh)
    cols = kw - 1 + sw * np.arange(ow)
    return (rows[:, None] * wp + cols[None, :]).reshape(-1), hp * wp


def conv_need(layer: Conv | DepthwiseConv) -> np.ndarray:
    positions, _ = window_positions(layer)
    h, w, _ = layer.in_shape
    t, l, b, r = layer.pads
    wp = w + l + r
    rows, cols = positions // wp, positions % wp
    real_rows = np.clip(rows - t, 0, h)  # whole input rows read before row `rows`
    in_row = (rows >= t) & (rows < t + h)
    return real_rows * w + np.where(in_row, np.clip(cols - l + 1, 0, w), 0) - 1


# ---------------------------------------------------------------------------------------
# The op kinds
# ---------------------------------------------------------------------------------------
class MatrixOp(Op):
    """What Conv, DepthwiseConv and Dense share."""

    shape: str  # MatrixWork.shape

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return matrix_layer(layer, xs[0])

    def summary(self, layer: Any) -> dict[str, Any]:
        return dict(pe=layer.pe, simd=layer.simd, mh=layer.out_channels, mw=layer.fan_in,
                    input_bits=layer.input_bits, binarize=layer.binarize,
                    macs=layer.out_channels * layer.fan_in * layer.out_hw[0] * layer.out_hw[1],
                    weight_bits=int(layer.weights.size))

    def matrix(self, layer: Any) -> MatrixWork:
        oh, ow = layer.out_hw
        return MatrixWork(shape=self.shape, positions=oh * ow, k=layer.fan_in, n=layer.out_channels,
                          planes=layer.input_bits, weight_bits=layer.weight_bits)

    def work(self, layer: Any, net: Network) -> Work:
        h, w, c = layer.in_shape
        oh, ow = layer.out_hw
        return Work(label="matrix", bits_in=h * w * c * layer.input_bits, elements_out=oh * ow * layer.out_channels,
                    bits_out=layer.out_bits, positions=oh * ow, ops=0, matrix=self.matrix(layer),
                    weight_bits_total=int(layer.weights.size) * layer.weight_bits)


class _WindowOp(MatrixOp):
    """A conv's sliding window walk (Conv and DepthwiseConv)."""

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return conv_need(layer)

    def input_fifo_depth(self, layer: Any) -> int:
        """A sliding window walks its padded frame in order and takes no input while it emits
        the bottom (and next frame's top) padding rows, but the producer keeps producing: the
        FIFO must hold what the consumer needs for the next frame's first output row,
        (KH - PAD_T + 1) input rows, or the producer stalls and the bottleneck waits for it at
        every frame start (measured: 1.7 % lost on padnet with depth 2)."""
        return max(MIN_FIFO_DEPTH, (layer.kernel[0] - layer.pads[0] + 1) * layer.in_shape[1])

    def summary(self, layer: Any) -> dict[str, Any]:
        return {**super().summary(layer),
                "kernel": list(layer.kernel), "stride": list(layer.stride), "pads": list(layer.pads),
                "pad_mode": layer.pad_mode,
                "border_classes": 0 if layer.border is None else int(layer.border.corrections[..., 0].size)}


def _example(layer: Conv | DepthwiseConv | Dense, in_shape: tuple[int, int, int], seed: int) -> Network:
    """input (binary, `in_shape`) -> `layer` (a sign) -> a last dense layer (raw accumulators) -> head."""
    rng = np.random.default_rng(seed)
    iq = InputQuant(name="input", source_shape=(in_shape[2], *in_shape[:2]), preprocess=(), bits=1, scale=1.0,
                    out_shape=in_shape)
    fan_in = int(np.prod(layer.out_shape))
    last = Dense(name="last", in_shape=(1, 1, fan_in), out_channels=3, kernel=(1, 1), stride=(1, 1),
                 pads=(0, 0, 0, 0), input_bits=1, weights=rng.random((3, fan_in)) < 0.5,
                 acc_scale=np.ones(3, np.float32), binarize=False)
    head = OutputHead(name="head", in_shape=(1, 1, 3), acc_scale=np.ones(3, np.float32), chain=())
    return chain_network(f"example_{layer.kind}", [iq, layer, last, head])


def _binary_layer(cls: type[MatrixLayer], in_shape: tuple[int, int, int], out_channels: int, kernel: tuple[int, int],
                  fan_in: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return cls(name="op", in_shape=in_shape, out_channels=out_channels, kernel=kernel, stride=(1, 1),
               pads=(0, 0, 0, 0), input_bits=1, weights=rng.random((out_channels, fan_in)) < 0.5,
               acc_scale=np.ones(out_channels, np.float32), binarize=True,
               thresholds=rng.integers(-2, 3, out_channels).astype(np.int64), flip=rng.random(out_channels) < 0.3)


class ConvOp(_WindowOp):
    node = Conv
    blocks = ("swg", "winq", "mvau")
    shape = "conv"

    def matrix(self, layer: Any) -> MatrixWork:
        # channels-last activations hold every pixel's channels in whole words: each tap
        # reads its own words (a 1-channel input costs one word per tap, not 9 taps in one)
        words = layer.kernel[0] * layer.kernel[1] * math.ceil(layer.in_channels / WORD_BITS)
        return MatrixWork(shape="conv", positions=int(np.prod(layer.out_hw)), k=layer.fan_in, n=layer.out_channels,
                          planes=layer.input_bits, weight_bits=layer.weight_bits, k_words=words)

    def example(self) -> Network:
        return _example(_binary_layer(Conv, (4, 4, 2), 4, (3, 3), 18, 1), (4, 4, 2), 1)


class DepthwiseConvOp(_WindowOp):
    node = DepthwiseConv
    blocks = ("swg", "winq", "vvau")
    shape = "depthwise"

    def matrix(self, layer: Any) -> MatrixWork:
        # every channel its own inputs: C independent dot products of kh*kw taps
        return MatrixWork(shape="depthwise", positions=int(np.prod(layer.out_hw)), k=layer.fan_in, n=1,
                          planes=layer.input_bits, weight_bits=layer.weight_bits, groups=layer.out_channels)

    def example(self) -> Network:
        return _example(_binary_layer(DepthwiseConv, (4, 4, 3), 3, (3, 3), 9, 2), (4, 4, 3), 2)


class DenseOp(MatrixOp):
    node = Dense
    blocks = ("flatten", "mvau")
    shape = "dense"

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return np.asarray([items(net.producers(layer)[operand].out_shape) - 1])  # type: ignore[union-attr]

    def example(self) -> Network:
        return _example(_binary_layer(Dense, (1, 1, 12), 8, (1, 1), 12, 3), (1, 1, 12), 3)
