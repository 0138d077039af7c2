"""The typed intermediate representation of a binarized network.

A `Network` is a dataflow graph of nodes (layers). Every node produces one value, named by the
node; `inputs` names the values a node consumes. `layers` holds the nodes in topological
order, and the network answers who produces and who consumes each value. Its boundaries are
the `InputQuant` (the host quantizes the source's input; it consumes the graph input) and the
`OutputHead` (the host turns the last accumulators into the source's outputs); between them
run the datapath nodes (`Conv`, `DepthwiseConv`, `Dense`, `MaxPool`, `SumPool`, `Join`, `Concat`, `Threshold`). Every datapath tensor is laid out
channels-last (H, W, C), the order in which the hardware streams it. A value may feed several
nodes (a fork); a `Join` consumes two (a residual add), a `Concat` N >= 2 (a channel concatenation).

Bit encoding everywhere: value +1 <-> bit 1 (True), value -1 <-> bit 0 (False).

Invariants (checked by `validate`):
- node names are unique; every input names an earlier node (topological order); exactly one
  `InputQuant` and one `OutputHead`;
- per edge: the consumer's `in_shape` equals the producer's `out_shape` (a `Dense` layer
  flattens it: (1, 1, H*W*C), in the streaming (H, W, C) order), and a matrix layer's
  `input_bits` equals the producer's element width;
- a matrix layer's weight matrix is [out_channels, kh*kw*in_channels], columns ordered
  (ky, kx, c) -- the order of the sliding window; a depthwise conv's is [channels, kh*kw],
  columns (ky, kx), and its out_channels equal its in_channels;
- every matrix layer ends in a sign or multi-threshold (`binarize`) but the one that feeds the
  `OutputHead` (directly, or through a `SumPool` of its accumulators: a GAP head), which
  emits its integer accumulators;
- after `fold_thresholds` a binarizing layer has integer `thresholds` and `flip` bits and no
  `chain`; after `resolve_padding` a zero-padded binary conv has its `border` table;
- PE divides out_channels and SIMD divides the fan-in.

Serialized as `ir.json` (structure) plus `weights.npz` (arrays, referenced by key).
"""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np

from ..errors import UserError
from ..safeio import read_bytes

# 2: a graph (nodes name their inputs); 1 was a straight chain by position.
IR_FORMAT_VERSION = 2


# --------------------------------------------------------------------------------------
# Per-channel float arithmetic as the source graph performs it
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AffineOp:
    """One per-channel elementwise step of the source graph, kept with its exact float32
    semantics so thresholds and the output head reproduce the source model bit for bit.

    kind: one of KINDS: mul | add | sub (x - c) | rsub (c - x) | div (x / c) | batchnorm |
    relu | prelu (x < 0 ? c * x : x) | clip (ONNX Clip, nn.Hardtanh: min(max(x, lo), hi)) |
    round (numpy's half-to-even, a QONNX Trunc's first rounding). `params` maps names to
    float32 arrays broadcastable over the channel axis (`c` for the arithmetic kinds and
    prelu's slope; scale, bias, mean, var for batchnorm; lo and hi for clip; none for relu
    and round), `eps` is batchnorm's epsilon.
    """

    kind: str
    params: dict[str, np.ndarray]
    eps: float = 0.0

    KINDS: ClassVar[tuple[str, ...]] = ("mul", "add", "sub", "rsub", "div", "batchnorm", "relu", "prelu", "clip", "round")

    def apply(self, x: np.ndarray) -> np.ndarray:
        """x: float32 [..., C]; returns float32 [..., C]."""
        p = self.params
        if self.kind == "mul":
            return x * p["c"]
        if self.kind == "add":
            return x + p["c"]
        if self.kind == "sub":
            return x - p["c"]
        if self.kind == "rsub":
            return p["c"] - x
        if self.kind == "div":
            return x / p["c"]
        if self.kind == "relu":  # (Brevitas' QuantReLU exports a Relu before its Quant)
            return np.maximum(x, np.zeros((), x.dtype))
        if self.kind == "prelu":  # onnxruntime: x < 0 ? slope * x : x
            return np.where(x < 0, x * p["c"], x)
        if self.kind == "clip":  # onnxruntime: max with the lower bound, then min with the upper
            return np.minimum(np.maximum(x, p["lo"]), p["hi"])
        if self.kind == "round":
            return np.round(x)
        # onnxruntime's CPU BatchNormalization: fold to one scale and one bias in float32,
        # then y = x * scale' + bias' (tests/test_affine.py pins this against onnxruntime).
        inv_std = np.float32(1.0) / np.sqrt(p["var"] + np.float32(self.eps))
        new_scale = (inv_std * p["scale"]).astype(np.float32)
        new_bias = (p["bias"] - p["mean"] * new_scale).astype(np.float32)
        return x * new_scale + new_bias


def apply_chain(chain: tuple[AffineOp, ...], x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    for op in chain:
        x = op.apply(x).astype(np.float32)
    return x


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------
# Where a node comes from: the source graph's ONNX nodes that made it, each as (ONNX node
# name, torch module path or "" where the export kept none). The importer fills it; messages
# name the source with it (`describe`) beside our node name, which the user never wrote.
Source = tuple[tuple[str, str], ...]


def describe(layer: Any) -> str:
    """The node's name and its source, for messages: "'threshold6' (from features.2; ONNX
    node 'node__symbolic_2')", or just "'threshold6'" for a node built by hand."""
    label = f"'{layer.name}'"
    source = getattr(layer, "source", ())
    if not source:
        return label
    modules = list(dict.fromkeys(module for _, module in source if module))
    nodes = list(dict.fromkeys(node for node, _ in source))
    where = (f"{', '.join(modules)}; " if modules else "") + \
        f"ONNX node{'s' if len(nodes) > 1 else ''} " + ", ".join(f"'{n}'" for n in nodes)
    return f"{label} (from {where})"


@dataclass(frozen=True)
class InputQuant:
    """Host-side input quantizer: source-space float input -> datapath integers.

    `preprocess` holds the source graph's steps before the quantizer, applied in the source
    layout: ("affine", AffineOp) or ("reshape", shape-without-batch).
    `bits == 1` means bipolar (x >= 0 -> +1); otherwise a signed/unsigned integer quantizer
    with qonnx's Quant semantics (divide by scale, add zero point, clip, round).
    """

    name: str
    source_shape: tuple[int, ...]
    preprocess: tuple[tuple[str, Any], ...]
    bits: int
    scale: float
    zero_point: float = 0.0
    signed: bool = True
    narrow: bool = False
    rounding: str = "ROUND"
    out_shape: tuple[int, int, int] = (1, 1, 1)
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "input_quant"
    arity: ClassVar[int] = 0  # the values it reads (it reads the graph input)

    @property
    def bipolar(self) -> bool:
        """A signed 1-bit quantizer is bipolar (x >= 0 -> +1, else -1); an unsigned 1-bit
        one is an ordinary integer quantizer with q in {0, 1}."""
        return self.bits == 1 and self.signed

    @property
    def int_range(self) -> tuple[int, int]:
        """The range of the quantizer's integer q (before the zero point is taken off)."""
        if self.bipolar:
            return (-1, 1)
        if self.signed:
            lo = -(2 ** (self.bits - 1)) + (1 if self.narrow else 0)
            return lo, 2 ** (self.bits - 1) - 1
        return 0, 2**self.bits - (2 if self.narrow else 1)

    @property
    def value_range(self) -> tuple[int, int]:
        """The range of the integer the datapath receives: q - zero_point (the source's
        value divided by the scale). An unsigned 8-bit q with zero point 0 spans [0, 255]."""
        if self.bipolar:
            return (-1, 1)
        lo, hi = self.int_range
        zp = int(self.zero_point)
        return lo - zp, hi - zp

    @property
    def stream_bits(self) -> int:
        """Bits per element on the input stream: 1 for bipolar inputs, otherwise the
        narrowest two's-complement width that holds every value of `value_range` (the
        datapath reads multi-bit inputs as signed, so unsigned 8-bit inputs take 9 bits)."""
        if self.bipolar:
            return 1
        return signed_width(*self.value_range)

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        return self.value_range

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return self.stream_bits

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return self.bipolar

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.source_shape, None, 1) or not self.source_shape:
            return "source_shape must be a list of positive integers"
        if not _ints(self.out_shape, 3, 1):
            return "out_shape must be 3 positive integers"
        if not _is_int(self.bits) or not 1 <= self.bits <= MAX_INPUT_BITS:
            return f"bits must be an integer in [1, {MAX_INPUT_BITS}], not {self.bits!r}"
        if not _is_real(self.scale) or self.scale <= 0 or not _is_real(self.zero_point):
            return "scale must be a positive finite number and zero_point a finite number"
        if not isinstance(self.signed, bool) or not isinstance(self.narrow, bool):
            return "signed and narrow must be true or false"
        if self.rounding not in ROUNDING_MODES:
            return f"rounding must be one of {', '.join(ROUNDING_MODES)}"
        if not isinstance(self.preprocess, tuple):
            return "preprocess must be a list of steps"
        for step in self.preprocess:
            ok = (isinstance(step, tuple) and len(step) == 2 and
                  ((step[0] == "reshape" and _ints(step[1], None, 1)) or
                   (step[0] == "affine" and _check_chain((step[1],)) is None)))
            if not ok:
                return "preprocess holds a malformed step"
        return None


@dataclass(frozen=True)
class IntQuant:
    """A multi-level activation quantizer with QONNX's Quant semantics, as the source applies
    it after a layer's float chain: q = round(clip(y / scale + zero_point, q_min, q_max)).
    The datapath carries q - zero_point (the source's value divided by the scale).
    Present only in the raw IR: fold_thresholds turns it into thresholds and levels."""

    scale: float
    zero_point: int
    bits: int
    signed: bool
    narrow: bool
    rounding: str = "ROUND"

    @property
    def int_range(self) -> tuple[int, int]:
        if self.signed:
            return -(2 ** (self.bits - 1)) + (1 if self.narrow else 0), 2 ** (self.bits - 1) - 1
        return 0, 2**self.bits - (2 if self.narrow else 1)

    def quantize(self, y: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """float32 -> the integer q - zero_point (int64), exactly as QONNX's executor
        (float64 `dtype`: the same in real arithmetic, for the tie check)."""
        lo, hi = self.int_range
        scale, zp = dtype(self.scale), dtype(self.zero_point)
        z = np.asarray(y, dtype) / scale + zp
        z = np.clip(z, dtype(lo), dtype(hi))
        return (ROUNDING_FUNCTIONS[self.rounding](z) - zp).astype(np.int64)


# QONNX's rounding modes (qonnx.custom_op.general.quant.resolve_rounding_mode): ROUND is numpy's
# round-half-to-even.
ROUNDING_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ROUND": np.round, "HALF_EVEN": np.round, "FLOOR": np.floor, "CEIL": np.ceil, "DOWN": np.fix, "ROUND_TO_ZERO": np.fix}
ROUNDING_MODES = tuple(ROUNDING_FUNCTIONS)


@dataclass(frozen=True)
class MatrixLayer:
    """Shared by `Conv`, `DepthwiseConv` and `Dense`: a matrix-vector(-threshold) unit.

    Inputs: `input_bits == 1`: binary (+1/-1 as bits). Otherwise signed integers of that
    width (the quantized network input, or a multi-level activation).
    Weights: `weight_bits == 1`: bool (+1/-1 as bits). Otherwise int8 signed integers (the
    weight quantizer's q; its scale is in acc_scale). Binary x binary is XNOR-popcount.
    `acc_scale[o]`: the source-graph value of one accumulator unit (input scale x weight
    scale), a positive float32.
    `pad_mode`: how the *source* pads ("zero" or "alternating", the FBNA pattern).
    Output of a thresholding layer (`binarize`): with `out_levels == 0` a bipolar sign bit;
    with `out_levels = L >= 2` the integer `out_offset + count`, count = the number of the L-1
    per-channel thresholds passed (FINN's MultiThreshold), i.e. q - zero_point of the
    source's quantizer `act_quant`.
    """

    name: str
    in_shape: tuple[int, int, int]
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    input_bits: int
    weights: np.ndarray  # bool [out_channels, kh*kw*in_channels]
    acc_scale: np.ndarray  # float32 [out_channels]
    binarize: bool
    pad_mode: str = "zero"
    chain: tuple[AffineOp, ...] = ()
    thresholds: np.ndarray | None = None  # int64 [out_channels] (sign) or [out_channels, L-1], dot domain
    flip: np.ndarray | None = None  # bool [out_channels]
    border: BorderTable | None = None
    pe: int = 1
    simd: int = 1
    weight_bits: int = 1
    act_quant: IntQuant | None = None  # raw IR only: the multi-level quantizer after the chain
    out_levels: int = 0  # 0: bipolar sign; L >= 2: multi-threshold with L levels
    out_offset: int = 0  # the value of level 0
    inputs: tuple[str, ...] = ()
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str]  # set by Conv and Dense
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)

    @property
    def popcount(self) -> bool:
        """Binary inputs and binary weights: the unit counts matching bits (XNOR-popcount)
        and its accumulators and thresholds live in the popcount domain p = (dot + MW) / 2.
        Every other combination accumulates signed integer products."""
        return self.input_bits == 1 and self.weight_bits == 1

    @property
    def weight_values(self) -> np.ndarray:
        """int64 [out_channels, fan_in]: the integer weights (+-1 for binary weights)."""
        if self.weight_bits == 1:
            return np.where(self.weights, 1, -1).astype(np.int64)
        return np.asarray(self.weights, np.int64)

    @property
    def out_range(self) -> tuple[int, int]:
        """The integers a multi-level output takes (bipolar: -1, 1)."""
        return activation_range(self.out_levels, self.out_offset)

    @property
    def out_bits(self) -> int:
        """Bits per output element on the stream: 1 for a sign; two's complement for levels;
        the accumulator width is the backends' business for the last layer."""
        if self.out_levels == 0:
            return 1
        return signed_width(*self.out_range)

    @property
    def in_channels(self) -> int:
        return self.in_shape[2]

    @property
    def fan_in(self) -> int:
        """MW: the number of products summed per output."""
        return self.kernel[0] * self.kernel[1] * self.in_channels

    @property
    def out_hw(self) -> tuple[int, int]:
        h, w, _ = self.in_shape
        t, l, b, r = self.pads
        oh = (h + t + b - self.kernel[0]) // self.stride[0] + 1
        ow = (w + l + r - self.kernel[1]) // self.stride[1] + 1
        return oh, ow

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (*self.out_hw, self.out_channels)

    @property
    def acc_range(self) -> tuple[int, int]:
        """A range that holds the zero-padded source's accumulator for all inputs."""
        peak = 1 if self.input_bits == 1 else 2 ** (self.input_bits - 1)
        if self.weight_bits > 1:
            peak *= 2 ** (self.weight_bits - 1)
        return -self.fan_in * peak, self.fan_in * peak

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        return self.out_range if self.binarize else self.acc_range

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return self.out_bits

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return self.binarize and self.out_levels == 0

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1) or not _is_int(self.out_channels) or self.out_channels < 1:
            return "in_shape must be 3 positive integers and out_channels a positive integer"
        if not _ints(self.kernel, 2, 1) or not _ints(self.stride, 2, 1) or not _ints(self.pads, 4, 0):
            return "kernel and stride must be 2 positive integers, pads 4 non-negative integers"
        if not _is_int(self.input_bits) or not 1 <= self.input_bits <= MAX_INPUT_BITS:
            return f"input_bits must be an integer in [1, {MAX_INPUT_BITS}], not {self.input_bits!r}"
        for key in ("pe", "simd"):
            value = getattr(self, key)
            if not _is_int(value) or value < 1:
                return f"{key.upper()} must be a positive integer, not {value!r}"
        if not isinstance(self.binarize, bool):
            return "binarize must be true or false"
        for key in ("weight_bits", "out_levels", "out_offset"):
            if not _is_int(getattr(self, key)):
                return f"{key} must be an integer, not {getattr(self, key)!r}"
        if not 1 <= self.weight_bits <= 8:
            return f"weight_bits must be in [1, 8], not {self.weight_bits}"
        if not _array(self.weights, "b" if self.weight_bits == 1 else "i"):
            return "weights must be a bool array (binary) or an integer array (multi-bit)"
        if self.act_quant is not None and not isinstance(self.act_quant, IntQuant):
            return "act_quant must be folded into thresholds before saving"
        if not _array(self.acc_scale, "f"):
            return _scale_error(self.acc_scale)
        if self.thresholds is not None and not _array(self.thresholds, "i"):
            return "thresholds must be an integer array"
        if self.flip is not None and not _array(self.flip, "b"):
            return "flip must be a bool array"
        if (self.thresholds is None) != (self.flip is None):
            return "thresholds and flip come together"
        if self.border is not None:
            b = self.border
            if not (isinstance(b, BorderTable) and all(_array(a, "i") for a in (b.row_class, b.col_class, b.corrections))):
                return "border must hold integer arrays"
        why = _check_chain(self.chain)
        if why:
            return why
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        source = net.producers(self)[0]  # type: ignore[arg-type]  # (a Conv, Dense or DepthwiseConv)
        bits = net.element_bits(source)
        if self.input_bits != bits:
            return (f"input_bits={self.input_bits}, but '{source.name}' gives {bits}-bit elements")
        expect = (self.out_channels, self.fan_in)
        dtype = np.bool_ if self.weight_bits == 1 else np.int8
        if self.weights.shape != expect or self.weights.dtype != dtype:
            return (f"weights must be {np.dtype(dtype)} {expect}, got {self.weights.dtype} {self.weights.shape}")
        if self.weight_bits > 1:
            w_lo, w_hi = -(2 ** (self.weight_bits - 1)), 2 ** (self.weight_bits - 1) - 1
            if not (2 <= self.weight_bits <= 8) or self.weights.min() < w_lo or self.weights.max() > w_hi:
                return (f"{self.weight_bits}-bit weights out of range")
        if isinstance(self, DepthwiseConv) and self.out_channels != self.in_channels:
            return (f"a depthwise conv maps each of its {self.in_channels} channels to one output, "
                             f"not to {self.out_channels}")
        if self.acc_scale.shape != (self.out_channels,) or not np.all(self.acc_scale > 0):
            return ("acc_scale must be positive per output channel")
        if min(self.out_hw) < 1:
            return ("output is empty")
        if self.binarize != (self is not feeds_head):
            return ("only the matrix layer feeding the output head skips the activation")
        if self.out_levels == 1 or self.out_levels < 0 or (self.out_levels and not self.binarize):
            return (f"out_levels={self.out_levels}: 0 (sign) or at least 2, on a thresholding layer")
        if self.thresholds is not None:
            t_shape = (self.out_channels,) if self.out_levels == 0 else (self.out_channels, self.out_levels - 1)
            if self.thresholds.shape != t_shape or self.flip is None or self.flip.shape != (self.out_channels,):
                return (f"thresholds must be {t_shape} and flip one per output channel")
        if self.border is not None:
            b = self.border
            oh, ow = self.out_hw
            r, c = b.corrections.shape[:2] if b.corrections.ndim == 4 else (0, 0)
            if (b.corrections.shape[2:] != (2, self.out_channels) or b.row_class.shape != (oh,) or
                    b.col_class.shape != (ow,) or
                    not (np.all((b.row_class >= 0) & (b.row_class < r)) and np.all((b.col_class >= 0) & (b.col_class < c)))):
                return ("border table shapes do not match the layer")
        if self.pad_mode not in ("zero", "alternating"):
            return (f"unknown pad_mode {self.pad_mode!r}")
        if self.out_channels % self.pe:
            return (f"PE={self.pe} does not divide {self.out_channels} output channels")
        if self.fan_in % self.simd:
            return (f"SIMD={self.simd} does not divide fan-in {self.fan_in}")
        return None


@dataclass(frozen=True)
class Conv(MatrixLayer):
    kind: ClassVar[str] = "conv"


@dataclass(frozen=True)
class Dense(MatrixLayer):
    kind: ClassVar[str] = "dense"
    flattens_input: ClassVar[bool] = True


@dataclass(frozen=True)
class DepthwiseConv(MatrixLayer):
    """A depthwise convolution (the source's Conv with group = channels, one kh x kw filter
    per channel): output channel c sums its own input channel's window only,

        acc[c] = sum over taps k = ky*kw + kx of  w[c, k] * x[y0 + ky, x0 + kx, c]

    `weights` is [channels, kh*kw] (columns (ky, kx)), so fan_in = kh*kw and the threshold
    folding, tie checks and border tables of a matrix layer apply per channel unchanged;
    out_channels == in_channels. The hardware is a vector-vector unit: PE channels, SIMD taps
    in parallel."""

    kind: ClassVar[str] = "dwconv"

    @property
    def fan_in(self) -> int:
        """MW: the taps of one channel's window."""
        return self.kernel[0] * self.kernel[1]


@dataclass(frozen=True)
class BorderTable:
    """Compile-time correction for the FBNA pad pattern of a zero-padded source conv.

    Output row oy belongs to row class `row_class[oy]` (0 = no tap outside the image),
    likewise columns; `parity = (stride_y*oy + stride_x*ox) % 2` selects the phase of the
    pad pattern under the window. `corrections[r, c, parity, o]` is the sum over the window's
    out-of-bounds taps of weight x pad value: what the hardware adds on top of the zero-padded
    source's accumulator.
    """

    row_class: np.ndarray  # int [OH]
    col_class: np.ndarray  # int [OW]
    corrections: np.ndarray  # int64 [R, C, 2, out_channels]

    def position_corrections(self, stride: tuple[int, int]) -> np.ndarray:
        """int64 [OH, OW, out_channels]: the correction at every output position."""
        oy = np.arange(len(self.row_class))[:, None]
        ox = np.arange(len(self.col_class))[None, :]
        parity = (stride[0] * oy + stride[1] * ox) % 2
        return self.corrections[self.row_class[:, None], self.col_class[None, :], parity]


@dataclass(frozen=True)
class MaxPool:
    """Max-pool: the OR of sign bits, or the signed max of multi-level values, per channel
    over each kh x kw window of the map padded by `pads` (top, left, bottom, right).

    A padded position never wins (ONNX MaxPool pads with -inf): the window's max is that of
    its in-bounds positions. `pads` also holds the partial windows of a ceil_mode pool (the
    importer adds them to the bottom / right padding).

    `minimum`: per channel, True where the pool takes the min instead (the source pools the
    accumulators before a multi-level quantizer that falls on this channel: the step of the
    max is the min of the steps); None: the max everywhere.

    `before_activation`: the source pools its producer's pre-activation values (BinaryNet's
    conv -> MaxPool -> BatchNorm -> sign / quantizer); only in the raw IR, until
    passes.pool_order moves the producer's flips past the pool (sign) or sets `minimum`
    (multi-level)."""

    name: str
    in_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    inputs: tuple[str, ...] = ()
    before_activation: bool = False
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    minimum: np.ndarray | None = None  # bool [C]
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "maxpool"
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        t, l, b, r = self.pads
        return ((h + t + b - self.kernel[0]) // self.stride[0] + 1, (w + l + r - self.kernel[1]) // self.stride[1] + 1, c)

    @property
    def padded(self) -> bool:
        return any(self.pads)

    @property
    def takes_min(self) -> bool:
        """Some channel pools its minimum."""
        return self.minimum is not None and bool(np.any(self.minimum))

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        return inputs()[0]

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return inputs()[0]

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return inputs()[0]

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1) or not _ints(self.kernel, 2, 1) or not _ints(self.stride, 2, 1):
            return "in_shape must be 3 positive integers, kernel and stride 2"
        if not _ints(self.pads, 4, 0):
            return "pads must be 4 non-negative integers"
        if self.pads[0] >= self.kernel[0] or self.pads[2] >= self.kernel[0] or self.pads[1] >= self.kernel[1] or \
                self.pads[3] >= self.kernel[1]:
            return "pads must be smaller than the kernel (a window of padding alone has no max)"
        if self.minimum is not None and (not _array(self.minimum, "b") or self.minimum.shape != (self.in_shape[2],)):
            return "minimum must be a bool array, one per channel"
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        return "output is empty" if min(self.out_shape[:2]) < 1 else None


@dataclass(frozen=True)
class SumPool:
    """Sum pooling, no padding: per channel, the integer sum over each kh x kw window of the
    input value (a sign bit counts as +-1); a global pool is one window of the whole map.

    The source averages: it computes the float32 sum of the dequantized inputs (q x
    `input_scale`) and divides it by `divisor` (onnxruntime's AveragePool, GlobalAveragePool
    and ReduceMean divide, they do not multiply by 1/N). Where that sum is exact (the scale's
    significand and the sum's bits fit float32's 24), the source's mean of the integer sum S is
    float32(float32(S * input_scale) / divisor) -- `source_mean` -- and what follows (a
    `Threshold`, a `Dense`, the head) folds 1/divisor into its own scale or thresholds.
    `input_scale` is 1.0 where the input is the raw accumulators of the last matrix layer
    (their per-channel scale goes to the head)."""

    name: str
    in_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    input_scale: float = 1.0
    inputs: tuple[str, ...] = ()
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "sumpool"
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return ((h - self.kernel[0]) // self.stride[0] + 1, (w - self.kernel[1]) // self.stride[1] + 1, c)

    @property
    def divisor(self) -> int:
        """The window's element count: the source's mean is the sum divided by it."""
        return self.kernel[0] * self.kernel[1]

    @property
    def is_global(self) -> bool:
        """One window covering the whole map (GlobalAveragePool, ReduceMean over H and W)."""
        return tuple(self.kernel) == tuple(self.in_shape[:2])

    def source_mean(self, sums: np.ndarray) -> np.ndarray:
        """float32: the source's mean of integer window sums (exact where the sum is, see the
        class docstring; passes.thresholds checks that)."""
        products = np.asarray(sums, np.float32) * np.float32(self.input_scale)
        return (products.astype(np.float32) / np.float32(self.divisor)).astype(np.float32)

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        lo, hi = inputs()[0]
        return lo * self.divisor, hi * self.divisor

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return signed_width(*value_range())

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return False

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1) or not _ints(self.kernel, 2, 1) or not _ints(self.stride, 2, 1):
            return "in_shape must be 3 positive integers, kernel and stride 2"
        if not _is_real(self.input_scale) or self.input_scale <= 0:
            return "input_scale must be a positive finite number"
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        return "output is empty" if min(self.out_shape[:2]) < 1 else None


@dataclass(frozen=True)
class Join:
    """A residual join: the elementwise integer sum of two values of the same shape,

        sum = (a << shifts[0]) + (b << shifts[1])

    with a, b the operands' integers (a sign bit counts as +-1). The source adds the
    dequantized tensors, a * operand_scales[0] + b * operand_scales[1] in float32; the
    importer admits scales whose ratio is a power of two, so one unit of `sum` is the smaller
    scale and the sum is exact. What follows a join (a `Threshold`, the head)
    reads its source value from the operands (passes.thresholds evaluates the source's float
    sum of every operand pair, so ties of the float add are caught, not assumed away)."""

    name: str
    in_shape: tuple[int, int, int]
    operand_scales: tuple[float, float]
    shifts: tuple[int, int] = (0, 0)
    inputs: tuple[str, ...] = ()
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "add"
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)
    arity: ClassVar[int] = 2

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.in_shape

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        ranges = inputs()
        return (sum(r[0] << s for r, s in zip(ranges, self.shifts)),
                sum(r[1] << s for r, s in zip(ranges, self.shifts)))

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return signed_width(*value_range())

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return False

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1) or not _ints(self.shifts, 2, 0) or max(self.shifts) > 16:
            return "in_shape must be 3 positive integers and shifts 2 integers in [0, 16]"
        if not (isinstance(self.operand_scales, tuple) and len(self.operand_scales) == 2 and
                all(_is_real(v) and v > 0 for v in self.operand_scales)):
            return "operand_scales must be 2 positive finite numbers"
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        return None  # any two integer values of one shape add (the shifts align their scales)


@dataclass(frozen=True)
class Concat:
    """A channel concatenation (torch.cat along channels) of N >= 2 values of one height and
    width: output pixel k is the operands' pixel k side by side, operand 0's `channels[0]`
    channels first. `in_shape` is (H, W, sum of `channels`), the concatenation's own shape;
    operand i has shape (H, W, channels[i]) (`operand_shapes`).

    The source concatenates the dequantized tensors (q_i * operand_scales[i]); the importer
    admits scales whose ratios are powers of two, so each operand's integers are shifted left
    by `shifts[i]` into one unit, the smallest scale (a sign bit counts as +-1), and the value
    is exact. Sign bits only, none shifted: the value is sign bits (wiring only); otherwise
    every element is a two's complement integer as wide as the widest operand needs."""

    name: str
    in_shape: tuple[int, int, int]
    channels: tuple[int, ...]
    operand_scales: tuple[float, ...]
    shifts: tuple[int, ...]
    inputs: tuple[str, ...] = ()
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "concat"
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)
    arity: ClassVar[int | None] = None  # N >= 2 values

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.in_shape

    @property
    def operand_shapes(self) -> tuple[tuple[int, int, int], ...]:
        """The shape of each input, in input order (`validate` checks each producer's)."""
        h, w, _ = self.in_shape
        return tuple((h, w, c) for c in self.channels)

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        ranges = inputs()
        return (min(r[0] << s for r, s in zip(ranges, self.shifts)),
                max(r[1] << s for r, s in zip(ranges, self.shifts)))

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        bits = inputs()
        if all(b == 1 for b in bits) and not any(self.shifts):
            return 1
        return max((2 if b == 1 else b) + s for b, s in zip(bits, self.shifts))  # a sign bit widens to +-1

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return all(inputs()) and not any(self.shifts)

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1) or not _ints(self.channels, None, 1) or len(self.channels) < 2:
            return "in_shape must be 3 positive integers and channels at least 2 positive integers"
        if sum(self.channels) != self.in_shape[2]:
            return f"channels {list(self.channels)} do not add up to the {self.in_shape[2]} of in_shape"
        if not _ints(self.shifts, len(self.channels), 0) or max(self.shifts) > 16:
            return "shifts must be one integer in [0, 16] per operand"
        if not (isinstance(self.operand_scales, tuple) and len(self.operand_scales) == len(self.channels) and
                all(_is_real(v) and v > 0 for v in self.operand_scales)):
            return "operand_scales must be one positive finite number per operand"
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        if len(self.inputs) != len(self.channels):
            return f"{len(self.inputs)} inputs for {len(self.channels)} operands (channels)"
        return None


@dataclass(frozen=True)
class Threshold:
    """A standalone activation on an integer value (a `Join`'s sum, a pool's sum): per channel,
    a sign (`out_levels == 0`: bit = (x >= T) XOR flip) or FINN's MultiThreshold
    (`out_levels = L >= 2`: out_offset + the number of the L-1 thresholds passed), exactly as a
    matrix layer's fused activation.

    Raw IR: `chain` (the float ops the source applies to its value of x) and `act_quant` (None:
    a sign); fold_thresholds replaces them by `thresholds` and `flip`. The source's value of x
    is, after a `Join`, its float sum of the operands (evaluated from every operand pair);
    after any other node, float32(x) itself: the importer starts the chain with x's scale (a
    quantizer re-applied to a quantized activation)."""

    name: str
    in_shape: tuple[int, int, int]
    chain: tuple[AffineOp, ...] = ()
    act_quant: IntQuant | None = None
    thresholds: np.ndarray | None = None  # int64 [C] (sign) or [C, L-1]
    flip: np.ndarray | None = None  # bool [C]
    out_levels: int = 0
    out_offset: int = 0
    inputs: tuple[str, ...] = ()
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "threshold"
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.in_shape

    @property
    def out_channels(self) -> int:
        return self.in_shape[2]

    @property
    def binarize(self) -> bool:
        return True

    @property
    def out_range(self) -> tuple[int, int]:
        return activation_range(self.out_levels, self.out_offset)

    @property
    def out_bits(self) -> int:
        return 1 if self.out_levels == 0 else signed_width(*self.out_range)

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        return self.out_range

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return self.out_bits

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return self.out_levels == 0

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1):
            return "in_shape must be 3 positive integers"
        for key in ("out_levels", "out_offset"):
            if not _is_int(getattr(self, key)):
                return f"{key} must be an integer, not {getattr(self, key)!r}"
        if self.act_quant is not None and not isinstance(self.act_quant, IntQuant):
            return "act_quant must be folded into thresholds before saving"
        if self.thresholds is not None and not _array(self.thresholds, "i"):
            return "thresholds must be an integer array"
        if self.flip is not None and not _array(self.flip, "b"):
            return "flip must be a bool array"
        if (self.thresholds is None) != (self.flip is None):
            return "thresholds and flip come together"
        why = _check_chain(self.chain)
        if why:
            return why
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        source = net.producers(self)[0]
        if net.is_bipolar(source):
            return (f"thresholds a sum, not the sign bits of '{source.name}'")
        if self.out_levels == 1 or self.out_levels < 0:
            return (f"out_levels={self.out_levels}: 0 (sign) or at least 2")
        if self.thresholds is not None:
            c = self.out_channels
            t_shape = (c,) if self.out_levels == 0 else (c, self.out_levels - 1)
            if self.thresholds.shape != t_shape or self.flip is None or self.flip.shape != (c,):
                return (f"thresholds must be {t_shape} and flip one per channel")
        return None


@dataclass(frozen=True)
class OutputHead:
    """Host-side affine head: y = chain(acc * acc_scale) in float32, per output channel."""

    name: str
    in_shape: tuple[int, int, int]
    acc_scale: np.ndarray  # float32 [C]
    chain: tuple[AffineOp, ...]
    inputs: tuple[str, ...] = ()
    source: Source = ()  # the source's ONNX nodes it comes from (see `Source`)

    kind: ClassVar[str] = "output_head"
    flattens_input: ClassVar[bool] = False  # reads its input flattened (a dense layer)

    @property
    def out_features(self) -> int:
        return int(np.prod(self.in_shape))

    # The value it produces, given its inputs' (Network.value_range, element_bits, is_bipolar)
    def range_of(self, inputs: Callable[[], list[tuple[int, int]]]) -> tuple[int, int]:
        raise TypeError(f"'{self.name}' produces no integer value")

    def bits_of(self, inputs: Callable[[], list[int]], value_range: Callable[[], tuple[int, int]]) -> int:
        return 0

    def bipolar_of(self, inputs: Callable[[], list[bool]]) -> bool:
        return False

    def field_error(self) -> str | None:
        """What is wrong with its fields' types and ranges (None: nothing; `validate`)."""
        if not _ints(self.in_shape, 3, 1):
            return "in_shape must be 3 positive integers"
        if not _array(self.acc_scale, "f"):
            return _scale_error(self.acc_scale)
        if self.acc_scale.shape not in ((self.in_shape[2],), (self.out_features,)):
            return "acc_scale must have one entry per output"
        why = _check_chain(self.chain)
        if why:
            return why
        return None

    def input_error(self, net: Network, feeds_head: Any) -> str | None:
        """What is wrong with it given its inputs in `net` (None: nothing; `validate`).
        `feeds_head`: the matrix layer whose raw accumulators reach the head."""
        source = net.producers(self)[0]
        summed = net.producer(source) if isinstance(source, SumPool) else source
        if not isinstance(summed, MatrixLayer) or summed.binarize:
            return (f"must take the raw accumulators of a matrix layer (or their sum pool), not '{source.name}'")
        return None


def activation_range(levels: int, offset: int) -> tuple[int, int]:
    """The integers an activation emits: -1 and 1 for a sign (levels 0), else offset ..
    offset + levels - 1 (a matrix layer's fused activation and a `Threshold` alike)."""
    if levels == 0:
        return -1, 1
    return offset, offset + levels - 1


def signed_width(lo: int, hi: int) -> int:
    """The narrowest two's-complement width (>= 2) that holds every integer in [lo, hi]."""
    bits = 2
    while lo < -(2 ** (bits - 1)) or hi > 2 ** (bits - 1) - 1:
        bits += 1
    return bits


Layer = InputQuant | Conv | DepthwiseConv | Dense | MaxPool | SumPool | Join | Concat | Threshold | OutputHead
# Narrower views of `Layer` that a validated network guarantees (for typing):
Producer = InputQuant | Conv | DepthwiseConv | Dense | MaxPool | SumPool | Join | Concat | Threshold  # a node whose value another node consumes
Consumer = Conv | DepthwiseConv | Dense | MaxPool | SumPool | Join | Concat | Threshold | OutputHead  # a node that consumes values
DatapathLayer = Conv | DepthwiseConv | Dense | MaxPool | SumPool | Join | Concat | Threshold  # a hardware node
LAYER_TYPES = {cls.kind: cls for cls in (InputQuant, Conv, DepthwiseConv, Dense, MaxPool, SumPool, Join, Concat, Threshold,
                                         OutputHead)}


@dataclass(frozen=True)
class Network:
    name: str
    layers: tuple[Layer, ...]  # the nodes, in topological order
    source: dict[str, Any] = field(default_factory=dict)  # provenance: file name, hash, warnings

    @property
    def input_quant(self) -> InputQuant:
        """The input boundary: the node that consumes the graph input."""
        return next(layer for layer in self.layers if isinstance(layer, InputQuant))

    @property
    def head(self) -> OutputHead:
        """The output boundary: the node whose value is the graph output."""
        return next(layer for layer in self.layers if isinstance(layer, OutputHead))

    @property
    def datapath(self) -> tuple[DatapathLayer, ...]:
        """The hardware nodes, in topological order."""
        return tuple(layer for layer in self.layers if not isinstance(layer, (InputQuant, OutputHead)))

    @property
    def matrix_layers(self) -> list[Conv | DepthwiseConv | Dense]:
        return [layer for layer in self.layers if isinstance(layer, MatrixLayer)]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def producers(self, layer: Layer) -> tuple[Layer, ...]:
        """The nodes whose values `layer` consumes, in input order."""
        return tuple(self.layer(name) for name in getattr(layer, "inputs", ()))

    @overload
    def producer(self, layer: OutputHead) -> Conv | DepthwiseConv | Dense | SumPool: ...  # validate(): a matrix layer or its sum pool
    @overload
    def producer(self, layer: Layer) -> Producer: ...

    def producer(self, layer: Layer) -> Producer:
        """The one node feeding `layer` (every datapath node and the head has exactly one)."""
        (only,) = self.producers(layer)
        assert not isinstance(only, OutputHead), "validate(): the head's value feeds no node"
        return only

    @property
    def consumers(self) -> dict[str, tuple[Consumer, ...]]:
        """Value (= producing node's name) -> the nodes that consume it."""
        out: dict[str, list[Consumer]] = {layer.name: [] for layer in self.layers}
        for layer in self.layers:
            if isinstance(layer, InputQuant):  # consumes the graph input
                continue
            for name in layer.inputs:
                out.setdefault(name, []).append(layer)
        return {k: tuple(v) for k, v in out.items()}

    # What a node's value is (its integers, bits, sign-bit form) is the node kind's own rule
    # (`range_of`, `bits_of`, `bipolar_of` on each node class), given its inputs' values.
    def element_bits(self, layer: Layer) -> int:
        """Bits per element of the value `layer` produces (1: bipolar sign bits; otherwise
        two's complement integers; the head's are float outputs: 0)."""
        return layer.bits_of(lambda: [self.element_bits(p) for p in self.producers(layer)], lambda: self.value_range(layer))

    def is_bipolar(self, layer: Layer) -> bool:
        """Whether the value `layer` produces is sign bits (bit 1 = +1, bit 0 = -1)."""
        return layer.bipolar_of(lambda: [self.is_bipolar(p) for p in self.producers(layer)])

    def value_range(self, layer: Layer) -> tuple[int, int]:
        """The integers the value of `layer` takes (sign bits: -1 and 1; the last matrix
        layer's accumulators: its `acc_range`)."""
        return layer.range_of(lambda: [self.value_range(p) for p in self.producers(layer)])

    def head_accumulators(self) -> Conv | DepthwiseConv | Dense:
        """The matrix layer whose raw accumulators reach the head (directly, or summed by a
        `SumPool` in between)."""
        source = self.producer(self.head)
        if isinstance(source, SumPool):
            inner = self.producer(source)
            assert isinstance(inner, MatrixLayer), "validate(): a head's pool sums raw accumulators"
            return inner  # type: ignore[return-value]  # Conv | DepthwiseConv | Dense
        return source

    def replace_layer(self, new: Layer) -> Network:
        return dataclasses.replace(
            self, layers=tuple(new if layer.name == new.name else layer for layer in self.layers)
        )


def chain_network(name: str, layers: tuple[Layer, ...] | list[Layer], source: dict[str, Any] | None = None) -> Network:
    """A straight chain: each node consumes the one before it (InputQuant first, OutputHead
    last). For builders of synthetic networks; the importer names its edges itself."""
    nodes: list[Layer] = []
    for i, layer in enumerate(layers):
        if i > 0:
            assert not isinstance(layer, InputQuant), "only the first node is the input quantizer"
            layer = dataclasses.replace(layer, inputs=(nodes[-1].name,))
        nodes.append(layer)
    return validate(Network(name=name, layers=tuple(nodes), source=dict(source or {})))


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------
MAX_INPUT_BITS = 16


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _is_real(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float | np.floating)) and bool(np.isfinite(v))


def _ints(v: Any, n: int | None, lo: int) -> bool:
    return isinstance(v, tuple) and (n is None or len(v) == n) and all(_is_int(d) and d >= lo for d in v)


def _array(v: Any, kind: str) -> bool:
    """kind: 'b' bool, 'i' integer, 'f' finite float."""
    if not isinstance(v, np.ndarray):
        return False
    if kind == "b":
        return v.dtype == np.bool_
    if kind == "i":
        return np.issubdtype(v.dtype, np.integer)
    return np.issubdtype(v.dtype, np.floating) and bool(np.all(np.isfinite(v)))


def _scale_error(scale: Any) -> str:
    """What is wrong with an `acc_scale` that is not a finite float array: an infinite or NaN
    entry is the source's (its input scale x weight scale), so say which channel and what."""
    if isinstance(scale, np.ndarray) and np.issubdtype(scale.dtype, np.floating) and scale.size:
        flat = scale.reshape(-1)
        bad = int(np.flatnonzero(~np.isfinite(flat))[0])
        return (f"the accumulator scale (input scale x weight scale) of channel {bad} is {float(flat[bad])!r}: "
                "the source's quantizer scales must be finite (an infinite weight scale is what Brevitas' default "
                "weight quantizer exports at weight_bit_width=1; use a binary one, e.g. "
                "weight_quant=brevitas.quant.SignedBinaryWeightPerTensorConst)")
    return "acc_scale must be a finite float array"


def _check_chain(chain: Any) -> str | None:
    if not isinstance(chain, tuple):
        return "chain must be a list of affine steps"
    for op in chain:
        if not isinstance(op, AffineOp) or op.kind not in AffineOp.KINDS or not _is_real(op.eps) or op.eps < 0:
            return "chain holds a malformed affine step"
        if not isinstance(op.params, dict) or not all(isinstance(k, str) and _array(v, "f") for k, v in op.params.items()):
            return f"affine step '{op.kind}': params must be finite float arrays"
        need = ({"scale", "bias", "mean", "var"} if op.kind == "batchnorm" else set() if op.kind in ("relu", "round")
                else {"lo", "hi"} if op.kind == "clip" else {"c"})
        if set(op.params) != need:
            return f"affine step '{op.kind}': params must be {sorted(need)}"
    return None


def _check_types(net: Network) -> None:
    """Field types and ranges (a hand-edited ir.json must fail here, not deep in an engine)."""
    if not isinstance(net.name, str) or not isinstance(net.source, dict) or not isinstance(net.layers, tuple):
        raise UserError("IR: name must be a string, source an object and layers a list")
    for layer in net.layers:
        if not isinstance(layer, tuple(LAYER_TYPES.values())) or not isinstance(layer.name, str):
            raise UserError("IR: every layer needs a known kind and a string name")
        source = getattr(layer, "source", ())
        if not (isinstance(source, tuple) and all(isinstance(s, tuple) and len(s) == 2 and
                                                  all(isinstance(v, str) for v in s) for s in source)):
            raise UserError(f"IR layer '{layer.name}': source must be a list of [ONNX node, module] pairs")
        why = layer.field_error()
        if why:
            raise UserError(f"IR layer {describe(layer)}: {why}")


def validate(net: Network) -> Network:
    """Check the invariants in the module docstring; raise UserError naming the layer."""

    def bad(layer: Any, why: str) -> UserError:
        return UserError(f"IR layer {describe(layer)}: {why}")

    _check_types(net)
    _check_graph(net)
    iq = net.input_quant
    if not (1 <= iq.bits <= 16) or iq.zero_point != int(iq.zero_point) or not iq.scale > 0:
        raise bad(iq, "needs 1 to 16 bits, an integer zero point and a positive scale")
    if not net.matrix_layers:
        raise UserError("IR: the network has no matrix layer")
    feeds_head: Layer = net.producer(net.head)
    if isinstance(feeds_head, SumPool):  # the head reads the sums of the last layer's accumulators
        feeds_head = net.producer(feeds_head)
    for layer in (*net.datapath, net.head):
        # Per edge: each producer's value must be what this node takes.
        # (A node of several operands of different shapes, a concat, gives `operand_shapes`.)
        wants = getattr(layer, "operand_shapes", None) or (tuple(layer.in_shape),) * len(layer.inputs)
        for source, want in zip(net.producers(layer), wants):
            assert not isinstance(source, OutputHead)  # _check_graph: the head's value feeds no node
            shape = tuple(source.out_shape)
            flattens = layer.flattens_input and int(np.prod(want)) == int(np.prod(shape))
            if tuple(want) != shape and not flattens:
                raise bad(layer, f"input shape {tuple(want)} != {source.name}'s output {shape}")
        why = layer.input_error(net, feeds_head)
        if why:
            raise bad(layer, why)
    return net


def _check_graph(net: Network) -> None:
    """Names, boundaries, topological order, arity (a `Join` takes two values, a `Concat` two
    or more, every other node but the input quantizer one); a value may feed several nodes
    (a fork)."""
    names = [layer.name for layer in net.layers]
    if len(set(names)) != len(names):
        raise UserError("IR: layer names are not unique")
    boundaries = [sum(isinstance(layer, t) for layer in net.layers) for t in (InputQuant, OutputHead)]
    if boundaries != [1, 1]:
        raise UserError("IR: a network has exactly one InputQuant and one OutputHead")
    seen: set[str] = set()
    for layer in net.layers:
        inputs = tuple(getattr(layer, "inputs", ()))
        if not isinstance(getattr(layer, "inputs", ()), tuple) or not all(isinstance(n, str) for n in inputs):
            raise UserError(f"IR layer '{layer.name}': inputs must be node names")
        expect = getattr(type(layer), "arity", 1)  # a node kind's `arity` (default one value; None: N >= 2)
        if len(inputs) != expect and not (expect is None and len(inputs) >= 2):
            raise UserError(f"IR layer '{layer.name}': a {layer.kind} node takes {expect or 'at least 2'} input(s), "
                            f"not {len(inputs)}")
        for name in inputs:
            if name not in seen:
                raise UserError(f"IR layer '{layer.name}': input '{name}' is not produced by an earlier node")
        seen.add(layer.name)
    for name, consumers in net.consumers.items():
        producer = net.layer(name)
        if isinstance(producer, OutputHead) and consumers:
            raise UserError(f"IR layer '{name}': the output head's value feeds no node")
        if not consumers and not isinstance(producer, OutputHead):
            raise UserError(f"IR layer '{name}': its value is never used")
        if len(consumers) > 1 and any(isinstance(c, OutputHead) for c in consumers):
            raise UserError(f"IR layer '{name}': the value feeding the output head feeds no other node")


# --------------------------------------------------------------------------------------
# Serialization: ir.json (structure) + weights.npz (arrays), both byte-deterministic
# --------------------------------------------------------------------------------------
class _ArrayStore:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, key: str, array: np.ndarray) -> dict[str, str]:
        self.arrays[key] = np.ascontiguousarray(array)
        return {"array": key}


def _encode(value: Any, key: str, store: _ArrayStore) -> Any:
    if isinstance(value, np.ndarray):
        return store.put(key, value)
    if isinstance(value, AffineOp):
        return {
            "affine": value.kind,
            "eps": value.eps,
            "params": {k: store.put(f"{key}.{k}", v) for k, v in sorted(value.params.items())},
        }
    if isinstance(value, BorderTable):
        return {"border": {f.name: store.put(f"{key}.{f.name}", getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple | list):
        return [_encode(v, f"{key}.{i}", store) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if "array" in value:
            if not isinstance(value["array"], str) or value["array"] not in arrays:
                raise KeyError(f"array {value['array']!r} is not in weights.npz")
            return arrays[value["array"]]
        if "affine" in value:
            params = {k: _decode(v, arrays) for k, v in value["params"].items()}
            return AffineOp(kind=value["affine"], params=params, eps=value["eps"])
        if "border" in value:
            return BorderTable(**{k: _decode(v, arrays) for k, v in value["border"].items()})
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v, arrays) for v in value)
    return value


def to_json(net: Network) -> tuple[str, dict[str, np.ndarray]]:
    store = _ArrayStore()
    layers = []
    for layer in net.layers:
        entry: dict[str, Any] = {"kind": layer.kind}
        for f in dataclasses.fields(layer):
            entry[f.name] = _encode(getattr(layer, f.name), f"{layer.name}.{f.name}", store)
        layers.append(entry)
    doc = {"format": IR_FORMAT_VERSION, "name": net.name, "source": net.source, "layers": layers}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n", store.arrays


def from_json(text: str, arrays: dict[str, np.ndarray]) -> Network:
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise UserError(f"IR: ir.json must hold a JSON object, not {type(doc).__name__}")
        if doc.get("format") == 1:
            raise UserError("IR: ir.json is format 1 (a chain by position, written by an older bnn2hls); "
                            "compile the model again")
        if doc.get("format") != IR_FORMAT_VERSION:
            raise UserError(f"IR: format {doc.get('format')!r} is not {IR_FORMAT_VERSION}")
        if not isinstance(doc.get("layers"), list) or not all(isinstance(e, dict) for e in doc["layers"]):
            raise UserError("IR: 'layers' must be a list of objects")
        layers = []
        for entry in doc["layers"]:
            cls = LAYER_TYPES.get(entry.get("kind")) if isinstance(entry.get("kind"), str) else None
            if cls is None:
                raise UserError(f"IR: unknown layer kind {entry.get('kind')!r}")
            names = {f.name for f in dataclasses.fields(cls)}
            unknown = set(entry) - names - {"kind"}
            if unknown:
                raise UserError(f"IR layer {entry.get('name')!r}: unknown fields {sorted(unknown)}")
            kwargs = {f.name: _decode(entry[f.name], arrays) for f in dataclasses.fields(cls) if f.name in entry}
            if cls is InputQuant:
                kwargs["preprocess"] = tuple((step[0], step[1]) for step in kwargs["preprocess"])
            layers.append(cls(**kwargs))
        net = Network(name=doc["name"], layers=tuple(layers), source=doc.get("source", {}))
        return validate(net)
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError, OverflowError) as exc:
        raise UserError(f"IR: malformed ir.json ({type(exc).__name__}: {exc})") from None


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez stamps the current time into the zip; this writer is byte-deterministic."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arrays[key], allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def save(net: Network, out_dir: Path) -> None:
    text, arrays = to_json(validate(net))
    (out_dir / "ir.json").write_text(text)
    write_npz(out_dir / "weights.npz", arrays)


def load(out_dir: Path) -> Network:
    ir_path, weights_path = Path(out_dir) / "ir.json", Path(out_dir) / "weights.npz"
    if not ir_path.is_file() or not weights_path.is_file():
        raise UserError(f"{out_dir}: not a compiled output (no ir.json / weights.npz)")
    try:
        npz = np.load(weights_path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise UserError(f"{weights_path}: not an .npz archive; compile again")
        with npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{weights_path}: unreadable ({str(exc) or type(exc).__name__}); compile again") from None
    try:
        text = read_bytes(ir_path, "IR").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{ir_path}: not UTF-8 text ({exc.reason} at byte {exc.start}); compile again") from None
    return from_json(text, arrays)
