"""QONNX (as written by Brevitas' export_qonnx) -> bnn2hls IR.

The importer walks the graph once in topological order and gives every tensor a *role*:

  Const       a compile-time value (initializers, Constant nodes, quantized weights)
  Host        the float input before the input quantizer (steps run on the host)
  Act         a quantized datapath activation (binary, or the multi-bit first-layer input)
  Padded      a binary activation padded by a Pad node (zeros, or the FBNA pattern when an
              Add of the pattern follows: bnn2hls.models.nn.AlternatingPad2d)
  Acc         a matrix layer's output plus the per-channel float ops applied to it since
  Mean        an average pool of an Act: the datapath's integer window sums (a SumPool node)
              plus the per-channel float ops applied to the mean since (until a quantizer)
  Deq         a quantized activation's float value plus the per-channel float ops applied to
              it since (ReActNet's RSign shift and RPReLU on a quantized stream, a ReLU after
              a quantized add, a Hardtanh), until a quantizer makes it a `Threshold`
  Sum         a residual join's sum (an `Add` of two quantized activations) plus the
              per-channel float ops applied to it since; a quantizer makes it a `Threshold`
  Cat         a channel concatenation of matrix layers' accumulators, until its quantizer

A `Concat` of quantized activations along channels is an `Act` again (a `Concat` node).

A tensor may feed several nodes (a fork): its role is read by each consumer.

A node is accepted only if its inputs' roles fit one of the patterns below; anything else is
a UserError naming the node and its op type. The result is the *raw* IR: matrix layers still
carry their float `chain` (BatchNorm, scales, biases); the passes fold it.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from ..ir import padding_pattern
from ..errors import UserError
from ..ir import ROUNDING_MODES, AffineOp, Concat, Conv, Dense, DepthwiseConv, InputQuant, IntQuant, Join, MatrixLayer, MaxPool, Network, OutputHead, SumPool, Threshold, apply_chain, describe, signed_width, validate


# ---------------------------------------------------------------------------------------
# Tensor roles
# ---------------------------------------------------------------------------------------
@dataclass
class Const:
    value: np.ndarray
    binary_scale: np.ndarray | None = None  # set when value came from a bipolar quantizer
    int_weights: tuple[np.ndarray, np.ndarray, int] | None = None  # (q, scale, bits) from a multi-bit quantizer
    # set when value came from a quantizer too wide for weights (a bias quantizer): (bits, its node)
    wide_quant: tuple[int, str] | None = None


@dataclass
class Host:
    shape: tuple[int, ...]  # without batch
    steps: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Act:
    shape: tuple[int, ...]  # source layout without batch: (C, H, W) or (F,)
    bits: int
    scale: float
    flattened_from: tuple[int, int, int] | None = None  # (C, H, W) before a flatten
    producer: str = "input_quant"  # the IR node whose value this is
    # A per-channel activation quantizer's scales (XNOR-Net++ style), float32 [C]; `scale` is
    # then their largest. Only a quantizer or a max-pool reads such a value: it has no single
    # integer grid for a matrix layer, an add, a concat or an average pool.
    channel_scale: np.ndarray | None = None


@dataclass
class Padded:
    act: Act
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    mode: str  # "zero" until an Add of the FBNA pattern makes it "alternating"


@dataclass
class Acc:
    layer_index: int
    shape: tuple[int, ...]
    chain: list[AffineOp] = field(default_factory=list)
    flattened: bool = False  # only the output head may flatten a conv's accumulators
    # A max-pool of the accumulators before the activation (BinaryNet's conv -> MaxPool ->
    # BatchNorm -> sign / quantizer): (kernel, stride, pads); `shape` is then the pooled shape.
    pool: tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]] | None = None
    # An average pool of the last layer's accumulators before the output (a GAP head):
    # (kernel, stride); `shape` is then the pooled shape and the head reads a SumPool.
    avg: tuple[tuple[int, int], tuple[int, int]] | None = None


@dataclass
class Mean:
    """The source's average pool of a quantized activation. `act` is the pooled value as the
    datapath carries it: the integer window sums of the SumPool node `act.producer`, with
    `act.scale` the source value of one unit (the input's scale / the window size). `chain`:
    per-channel float ops the source applies to the mean since, before a quantizer."""

    act: Act
    chain: list[AffineOp] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.act.shape

    @property
    def channel_axis(self) -> int | None:
        """The channel axis of the (possibly flattened) mean: a flattened 1x1 map is its channels."""
        if len(self.act.shape) == 3:
            return 0
        src = self.act.flattened_from
        return 0 if src is not None and src[1:] == (1, 1) else None


@dataclass
class Deq:
    """Float ops on a quantized activation (`act`: its integers times `act.scale`), pending
    until a quantizer: ReActNet's RSign (a learned per-channel shift, then a sign) and RPReLU
    (shift, PReLU, shift) on the block's quantized stream, a ReLU (or Hardtanh) after a
    quantized add. The quantizer makes it a standalone `Threshold` on the activation's
    integers, its chain the scale then these ops, folded by the exact evaluation at every
    reachable integer (`passes.thresholds.threshold_node_of`)."""

    act: Act
    chain: list[AffineOp] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.act.shape


@dataclass
class Sum:
    join: str  # the Join node's name
    shape: tuple[int, ...]  # source layout without batch: (C, H, W) or (F,)
    chain: list[AffineOp] = field(default_factory=list)


@dataclass
class Cat:
    """A channel concatenation of unquantized accumulators (ReActNet's order: BatchNorm per
    branch, cat, then one quantizer) or of unquantized residual sums (ReActNet's downsampling
    block: each 1x1 branch plus the shortcut, cat, RPReLU, then the quantizer), pending until
    that quantizer: a per-tensor quantizer is elementwise, quant(f(cat(a, b))) =
    cat(quant(f_a(a)), quant(f_b(b))) for per-channel float ops f (`chain`, over the
    concatenated channels), so it becomes each part's own activation and the `Concat` reads
    the quantized parts."""

    parts: list[Acc | Sum]
    shape: tuple[int, ...]
    chain: list[AffineOp] = field(default_factory=list)


class _Importer:
    def __init__(self, model: onnx.ModelProto, name: str):
        self.model = model
        self.name = name
        self.roles: dict[str, Any] = {}
        self.layers: list[Any] = []
        self.input_quant: InputQuant | None = None
        self.node: onnx.NodeProto | None = None

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, why: str) -> UserError:
        node = self.node
        where = node_label(node) if node is not None else "graph"
        return UserError(f"{where}: {why}")

    def named(self, name: str) -> str:
        """The IR node `name` for a message, with the source it comes from (`ir.describe`)."""
        layers = [self.input_quant, *self.layers]
        return describe(next((l for l in layers if l is not None and l.name == name), None) or _Named(name))

    def role(self, tensor: str) -> Any:
        if tensor == "":
            return None
        if tensor not in self.roles:
            raise self.fail(f"input '{tensor}' is not produced by any node")
        return self.roles[tensor]

    def const(self, tensor: str, what: str) -> np.ndarray:
        r = self.role(tensor)
        if not isinstance(r, Const):
            raise self.fail(f"{what} must be a constant")
        return r.value

    def attrs(self) -> dict[str, Any]:
        assert self.node is not None  # called by the op handlers only
        return {a.name: onnx.helper.get_attribute_value(a) for a in self.node.attribute}

    def unique_name(self, base: str) -> str:
        taken = {layer.name for layer in self.layers}
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        return name

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> Network:
        graph = self.model.graph
        for init in graph.initializer:
            self.roles[init.name] = Const(numpy_helper.to_array(init))
        inputs = [i for i in graph.input if i.name not in self.roles]
        if len(inputs) != 1:
            raise UserError(f"graph: expected exactly one input, found {len(inputs)}")
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) < 2 or any(d <= 0 for d in dims[1:]):
            raise UserError(f"graph input '{inputs[0].name}': needs a static shape [N, ...], got {dims}")
        self.roles[inputs[0].name] = Host(shape=tuple(dims[1:]))
        for node in graph.node:
            self.node = node
            handler = getattr(self, f"op_{node.op_type}", None)
            if handler is None or node.domain not in ("", "ai.onnx", "qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general"):
                raise self.fail(f"unsupported op type '{node.op_type}'")
            before = (self.input_quant, list(self.layers))
            outputs = handler(*node.input)
            self._record_source(node, *before)
            if not isinstance(outputs, tuple):
                outputs = (outputs,)
            for tensor, value in zip(node.output, outputs):
                self.roles[tensor] = value
        self.node = None
        if len(graph.output) != 1:
            raise UserError(f"graph: expected exactly one output, found {len(graph.output)}")
        out = self.roles.get(graph.output[0].name)
        if isinstance(out, Mean):
            raise UserError(f"graph output '{graph.output[0].name}': an average pool of quantized values cannot be the "
                            "output; follow it with a QuantLinear/QuantConv, or pool the last layer's outputs")
        if isinstance(out, Deq):
            raise UserError(f"graph output '{graph.output[0].name}': float ops on the quantized activation of "
                            f"{self.named(out.act.producer)} are not supported as the output; quantize them and end with a "
                            "Conv/Gemm/MatMul")
        if isinstance(out, Sum):
            raise UserError(f"graph output '{graph.output[0].name}': the sum of the residual add {self.named(out.join)} is not "
                            "supported as the output; quantize it and end with a Conv/Gemm/MatMul")
        if not isinstance(out, Acc):
            raise UserError(f"graph output '{graph.output[0].name}': must be the (affine) output of the last Conv/Gemm/MatMul")
        if out.pool is not None:
            raise UserError(f"graph output '{graph.output[0].name}': a max-pool of the last layer's accumulators is not supported")
        last = self.layers[out.layer_index]
        for layer in self.layers:
            if isinstance(layer, MatrixLayer) and not layer.binarize and layer is not last:
                raise UserError(f"layer {describe(layer)}: its output is neither quantized nor the graph output")
        feed: MatrixLayer | SumPool = last
        acc_scale = last.acc_scale
        if out.avg is not None:
            # A GAP head: the datapath sums the accumulators; 1/divisor joins their scale (the
            # steps before the pool are affine, so the source's mean of them is their value at
            # the mean accumulator, up to float rounding).
            (kh, kw), (sh, sw) = out.avg
            feed = SumPool(name=self.unique_name(f"avgpool{sum(isinstance(l, SumPool) for l in self.layers)}"),
                           in_shape=last.out_shape, kernel=(kh, kw), stride=(sh, sw), inputs=(last.name,))
            self.layers.append(feed)
            acc_scale = (last.acc_scale / np.float32(feed.divisor)).astype(np.float32)
        head = OutputHead(
            name="head",
            in_shape=feed.out_shape,
            acc_scale=acc_scale,
            chain=tuple(self._channels_last(op, last) for op in out.chain),
            inputs=(feed.name,),
            source=tuple((n.name or n.output[0], module_of(n)) for n in graph.node if graph.output[0].name in n.output),
        )
        assert self.input_quant is not None  # every activation descends from it
        return validate(Network(name=self.name, layers=(self.input_quant, *self.layers, head)))

    def _record_source(self, node: onnx.NodeProto, input_quant: InputQuant | None, layers: list[Any]) -> None:
        """Every IR node that `node`'s handler made or changed comes (also) from `node`: its
        `source` gains (the ONNX node's name, its torch module path)."""
        entry = (node.name or node.output[0], module_of(node))
        if self.input_quant is not None and self.input_quant is not input_quant and entry not in self.input_quant.source:
            self.input_quant = dataclasses.replace(self.input_quant, source=(*self.input_quant.source, entry))
        before = {id(layer) for layer in layers}  # (`layers` keeps them alive: the ids are theirs)
        for i, layer in enumerate(self.layers):
            if id(layer) not in before and entry not in layer.source:
                self.layers[i] = dataclasses.replace(layer, source=(*layer.source, entry))

    # -- constants and plumbing ---------------------------------------------------------------
    def op_Constant(self) -> Const:
        attrs = self.attrs()
        if "value" not in attrs:
            raise self.fail("only tensor-valued Constant nodes are supported")
        return Const(numpy_helper.to_array(attrs["value"]))

    def op_Relu(self, x: str) -> Any:
        """A monotone step of a layer's chain (or of the input's preprocessing): folded into
        the thresholds by the same exact evaluation as the affine steps."""
        r = self.role(x)
        op = AffineOp(kind="relu", params={})
        if isinstance(r, Host):
            return Host(shape=r.shape, steps=[*r.steps, ("affine", op)])
        if isinstance(r, (Acc, Mean, Sum, Deq, Cat)):
            return dataclasses.replace(r, chain=[*r.chain, op])
        if isinstance(r, Act):
            return self._deq(r, op, "Relu")
        raise self.fail("Relu is supported only after a Conv/Gemm/MatMul, a residual Add or a quantizer (before a "
                        "quantizer) or on the raw input")

    def op_PRelu(self, x: str, slope: str) -> Any:
        """PReLU before a sign or quantizer (ReActNet's RPReLU is shift, PReLU, shift): one
        more step of the chain, folded by the same exact evaluation. The slope broadcasts by
        the ONNX rule, like any other constant of the chain; a negative slope makes the
        chain non-monotone, which the threshold pass refuses."""
        r = self.role(x)
        c = self.const(slope, "PRelu slope").astype(np.float32)
        if isinstance(r, Host):
            self._broadcast(c, r.shape)
            return Host(shape=r.shape, steps=[*r.steps, ("affine", AffineOp(kind="prelu", params={"c": c}))])
        if isinstance(r, Acc):
            shape = r.shape if not r.flattened else (int(np.prod(r.shape)),)
            per_channel = self._per_channel(c, shape, channel_axis=None if r.flattened else 0)
            return dataclasses.replace(r, chain=[*r.chain, AffineOp(kind="prelu", params={"c": per_channel})])
        if isinstance(r, Mean):
            per_channel = self._per_channel(c, r.shape, channel_axis=r.channel_axis)
            return dataclasses.replace(r, chain=[*r.chain, AffineOp(kind="prelu", params={"c": per_channel})])
        if isinstance(r, (Sum, Cat)):
            return dataclasses.replace(r, chain=[*r.chain, AffineOp(kind="prelu", params={"c": self._per_channel(c, r.shape, 0)})])
        if isinstance(r, Deq):
            return dataclasses.replace(r, chain=[*r.chain, AffineOp(kind="prelu", params={"c": self._per_channel(c, r.shape, 0)})])
        if isinstance(r, Act):
            self._deq_check(r, "PRelu")
            return self._deq(r, AffineOp(kind="prelu", params={"c": self._per_channel(c, r.shape, 0)}), "PRelu")
        raise self.fail("PRelu is supported only after a Conv/Gemm/MatMul, a residual Add or a quantizer (before a "
                        "quantizer) or on the raw input")

    def op_Clip(self, x: str, lo: str = "", hi: str = "") -> Any:
        """nn.Hardtanh (BinaryNet's activation before the sign), or a clamp: one more monotone
        (non-decreasing) step of the chain, folded by the same exact evaluation. Before a sign
        it changes nothing where [lo, hi] holds 0; before a multi-bit quantizer the thresholds
        absorb it (levels outside [lo, hi] are never reached)."""
        r = self.role(x)
        bounds = []
        for tensor, default, what in ((lo, -np.finfo(np.float32).max, "min"), (hi, np.finfo(np.float32).max, "max")):
            if not tensor:
                bounds.append(np.full(1, default, np.float32))
                continue
            v = self.const(tensor, f"Clip {what}").astype(np.float32).reshape(-1)
            if v.size != 1 or not np.isfinite(v).all():
                raise self.fail(f"Clip {what} must be one finite number, got {v.tolist()}")
            bounds.append(v)
        if bounds[0][0] > bounds[1][0]:
            raise self.fail(f"Clip min {float(bounds[0][0])!r} is above its max {float(bounds[1][0])!r}")
        op = AffineOp(kind="clip", params={"lo": bounds[0], "hi": bounds[1]})
        if isinstance(r, Host):
            return Host(shape=r.shape, steps=[*r.steps, ("affine", op)])
        if isinstance(r, Const):
            return Const(op.apply(r.value.astype(np.float32)).astype(np.float32))
        if isinstance(r, (Acc, Mean, Sum, Deq, Cat)):
            return dataclasses.replace(r, chain=[*r.chain, op])
        if isinstance(r, Act):
            return self._deq(r, op, "Clip")
        raise self.fail("Clip (Hardtanh) is supported only before a quantizer (after a Conv/Gemm/MatMul, a residual "
                        "Add, an average pool or a quantizer), in the output's float ops, or on the raw input")

    def _deq_check(self, r: Act, what: str) -> None:
        if r.flattened_from is not None:
            raise self.fail(f"{what} on the flattened activation of {self.named(r.producer)}: apply it before flattening")

    def _deq(self, r: Act, op: AffineOp, what: str) -> Deq:
        """A float op on a quantized activation: pending until a quantizer (`Deq`)."""
        self._deq_check(r, what)
        return Deq(r, [op])

    def op_Identity(self, x: str) -> Any:
        return self.role(x)

    def op_Reshape(self, x: str, shape: str) -> Any:
        target = [int(v) for v in self.const(shape, "Reshape shape")]
        return self._reshape(x, target)

    def op_Flatten(self, x: str) -> Any:
        axis = self.attrs().get("axis", 1)
        if axis != 1:
            raise self.fail("only Flatten with axis=1 is supported")
        return self._reshape(x, [-1, -1])

    def _reshape(self, x: str, target: list[int]) -> Any:
        r = self.role(x)
        if isinstance(r, Const):
            return Const(r.value.reshape(target))
        if isinstance(r, Sum):
            raise self.fail(f"{self._unquantized_sum(r)} is reshaped; quantize it before the Reshape/Flatten")
        if isinstance(r, Deq):
            raise self.fail(self._unquantized_deq(r, "are reshaped"))
        shape = r.shape if not isinstance(r, Padded) else None
        if shape is None:
            raise self.fail("cannot reshape a padded tensor")
        size = int(np.prod(shape))
        if target == [-1, -1]:
            new: tuple[int, ...] = (size,)
        else:
            if not target or target[0] not in (1, -1, 0):
                raise self.fail(f"Reshape must keep the batch dimension first, got {target}")
            rest = [d if d != 0 else shape[i] for i, d in enumerate(target[1:])]
            if -1 in rest:
                known = int(np.prod([d for d in rest if d != -1]))
                rest = [size // known if d == -1 else d for d in rest]
            new = tuple(rest)
            if int(np.prod(new)) != size:
                raise self.fail(f"Reshape {target} does not fit a tensor of shape {shape}")
        if isinstance(r, Host):
            return Host(shape=new, steps=[*r.steps, ("reshape", new)])
        if isinstance(r, Act):
            return self._reshape_act(r, new)
        if isinstance(r, Mean):
            if r.chain and new != r.shape and (len(new) != 1 or r.channel_axis is None):
                raise self.fail("flattening a pooled map before its quantizer is supported only for a 1x1 map")
            return Mean(self._reshape_act(r.act, new), r.chain)
        if isinstance(r, Acc) and (new == r.shape or len(new) == 1) and r.pool is None:
            return dataclasses.replace(r, flattened=r.flattened or new != r.shape)
        raise self.fail("cannot reshape an accumulator; place the Reshape after the sign")

    def _reshape_act(self, r: Act, new: tuple[int, ...]) -> Act:
        if new == r.shape:
            return r
        if len(r.shape) == 3 and len(new) == 1:
            return Act(shape=new, bits=r.bits, scale=r.scale, flattened_from=r.shape, producer=r.producer,
                       channel_scale=r.channel_scale)
        if len(r.shape) == 1 and len(new) == 1:
            return r
        raise self.fail(f"only flattening (C, H, W) activations is supported, not {r.shape} -> {new}")

    # -- quantizers ---------------------------------------------------------------------------
    def op_BipolarQuant(self, x: str, scale: str) -> Any:
        s = self.const(scale, "BipolarQuant scale").astype(np.float32)
        if np.any(s <= 0):
            raise self.fail("BipolarQuant scale must be positive")
        return self._binarize(x, s)

    def op_Quant(self, x: str, scale: str, zeropt: str, bitwidth: str) -> Any:
        s = self.const(scale, "Quant scale").astype(np.float32)
        zp = self.const(zeropt, "Quant zero point").astype(np.float32)
        bits_f = float(np.asarray(self.const(bitwidth, "Quant bit width")).reshape(-1)[0])
        attrs = self.attrs()
        signed = bool(attrs.get("signed", 1))
        narrow = bool(attrs.get("narrow", 0))
        rounding = attrs.get("rounding_mode", b"ROUND")
        rounding = (rounding.decode() if isinstance(rounding, bytes) else str(rounding)).upper()
        if bits_f != int(bits_f) or bits_f < 1:
            raise self.fail(f"bit width {bits_f} is not a positive integer")
        bits = int(bits_f)
        r = self.role(x)
        if bits == 1 and signed:
            if np.any(zp != 0):
                raise self.fail("1-bit Quant with a zero point is not bipolar")
            if np.any(s <= 0):
                raise self.fail("Quant scale must be positive")
            return self._binarize(x, s)
        if isinstance(r, Const):
            return self._quantize_weights(r, s, zp, bits, signed, narrow, rounding)
        per_channel = self._channel_scales(r, s)
        if per_channel is not None and per_channel.size == 1:
            s = per_channel  # one value for every channel, spelled out per channel
        elif per_channel is not None:
            # x / s_c, then the quantizer at scale 1: QONNX's Quant divides elementwise first
            if zp.size != 1:
                raise self.fail("a per-channel activation quantizer with per-channel zero points is not supported")
            r = self._with_step(r, AffineOp(kind="div", params={"c": per_channel}))
            act = self._quantize_role(r, np.ones(1, np.float32), zp, bits, signed, narrow, rounding)
            return dataclasses.replace(act, scale=float(per_channel.max()), channel_scale=per_channel)
        return self._quantize_role(r, s, zp, bits, signed, narrow, rounding)

    def _quantize_role(self, r: Any, s: np.ndarray, zp: np.ndarray, bits: int, signed: bool, narrow: bool,
                      rounding: str) -> Any:
        if isinstance(r, Host):
            if s.size != 1 or zp.size != 1:
                raise self.fail("the input quantizer needs a scalar scale and zero point")
            if rounding.upper() not in ROUNDING_MODES:
                raise self.fail(f"unsupported rounding mode {rounding!r}")
            if bits > 16:
                raise self.fail(f"input quantizer of {bits} bits: at most 16 are supported")
            if not np.isfinite(s).all() or np.any(s <= 0):
                raise self.fail("the input quantizer's scale must be positive and finite")
            if not np.isfinite(zp).all() or np.any(zp != np.round(zp)):
                # q - zp must be an integer for the datapath to carry it exactly.
                raise self.fail(f"the input quantizer's zero point {float(zp.reshape(-1)[0])!r} is not an integer")
            return self._make_input_quant(
                r, bits=bits, scale=float(s.reshape(-1)[0]), zero_point=float(zp.reshape(-1)[0]),
                signed=signed, narrow=narrow, rounding=rounding.upper(),
            )
        if isinstance(r, Acc):
            return self._multi_level(r, s, zp, bits, signed, narrow, rounding)
        if isinstance(r, Cat):
            return self._concat([self._quantize_role(part, s, zp, bits, signed, narrow, rounding)
                                 for part in self._cat_parts(r)])
        if isinstance(r, (Mean, Deq)):
            if bits > 8:
                raise self.fail(f"{bits}-bit hidden activations: at most 8 bits are supported")
            act_scale, zero = self._quant_scalars(s, zp, "activation quantizer")
            if rounding not in ROUNDING_MODES:
                raise self.fail(f"unsupported rounding mode {rounding!r}")
            quant = IntQuant(scale=act_scale, zero_point=zero, bits=bits, signed=signed, narrow=narrow, rounding=rounding)
            if isinstance(r, Deq):
                return self._threshold_deq(r, quant, act_scale)
            return self._threshold_mean(r, quant, act_scale)
        if isinstance(r, (Sum, Act)):
            if bits > 8:
                raise self.fail(f"{bits}-bit hidden activations: at most 8 bits are supported")
            q_scale, zero = self._quant_scalars(s, zp, "activation quantizer")
            if rounding not in ROUNDING_MODES:
                raise self.fail(f"unsupported rounding mode {rounding!r}")
            quant = IntQuant(scale=q_scale, zero_point=zero, bits=bits, signed=signed, narrow=narrow, rounding=rounding)
            return self._threshold(r, quant, q_scale) if isinstance(r, Sum) else self._requantize(r, quant, q_scale)
        raise self.fail(f"a {bits}-bit quantizer here is not supported (only on the raw input, on weights, "
                        "after a Conv/Gemm/MatMul or a residual Add and their per-channel float ops, or on a "
                        "quantized activation)")

    def _channel_scales(self, r: Any, s: np.ndarray) -> np.ndarray | None:
        """A hidden activation quantizer's scale tensor as float32 [C], or [1] where it holds
        one value (None: a single scale already, or a role that is not a hidden activation).
        Broadcast by the ONNX rule: Brevitas' `scaling_per_output_channel=True` with
        `per_channel_broadcastable_shape=(1, C, 1, 1)`."""
        if s.size == 1 or not isinstance(r, (Acc, Sum, Mean, Deq, Act, Cat)):
            return None
        if isinstance(r, Cat):
            raise self.fail("a per-channel activation quantizer after a Concat is not supported; quantize each branch")
        if isinstance(r, Acc) and r.flattened:
            raise self.fail("quantize before flattening")
        axis = r.channel_axis if isinstance(r, Mean) else 0
        c = self._per_channel(s.astype(np.float32), r.shape, channel_axis=axis)
        if not np.isfinite(c).all() or np.any(c <= 0):
            raise self.fail("the activation quantizer's scales must be positive and finite")
        return c

    def _with_step(self, r: Any, op: AffineOp) -> Any:
        """`r` with one more float step before its quantizer (a quantized activation: pending)."""
        if isinstance(r, Act):
            self._deq_check(r, "a per-channel quantizer")
            return Deq(r, [op])
        return dataclasses.replace(r, chain=[*r.chain, op])

    def _quant_scalars(self, s: np.ndarray, zp: np.ndarray, what: str) -> tuple[float, int]:
        if s.size != 1 or zp.size != 1:
            raise self.fail(f"{what} needs a scalar scale and zero point")
        scale, zero = float(s.reshape(-1)[0]), float(zp.reshape(-1)[0])
        if not np.isfinite(scale) or scale <= 0:
            raise self.fail(f"{what}: the scale must be positive and finite")
        if not np.isfinite(zero) or zero != round(zero):
            raise self.fail(f"{what}: the zero point {zero!r} is not an integer")
        return scale, int(zero)

    def _quantize_weights(self, r: Const, s: np.ndarray, zp: np.ndarray, bits: int, signed: bool, narrow: bool,
                          rounding: str) -> Const:
        """A multi-bit weight quantizer: keep the integers q (the datapath's weights) and the
        scale (folded into acc_scale), and the dequantized value as QONNX computes it."""
        if bits > 32:
            raise self.fail(f"a {bits}-bit constant quantizer: at most 8 bits for weights, 32 for biases")
        if not signed:
            raise self.fail("unsigned weight quantizers are not supported")
        if np.any(zp != 0):
            raise self.fail("weight quantizers with a zero point are not supported")
        if not np.isfinite(s).all() or np.any(s <= 0):
            raise self.fail("the weight scale must be positive and finite")
        quant = IntQuant(scale=1.0, zero_point=0, bits=bits, signed=True, narrow=narrow, rounding=rounding)
        w = r.value.astype(np.float32)
        try:
            full_scale = np.broadcast_to(s, np.broadcast_shapes(s.shape, w.shape))
        except ValueError:
            raise self.fail(f"weight scale of shape {list(s.shape)} does not broadcast to the weights' shape {list(w.shape)}") from None
        if full_scale.shape != w.shape:
            raise self.fail(f"weight scale of shape {list(s.shape)} changes the weights' shape {list(w.shape)}")
        # QONNX divides by the scale elementwise (not by a per-channel reciprocal).
        q = quant.quantize((w / full_scale).astype(np.float32))
        value = (q.astype(np.float32) * s).astype(np.float32)
        if bits > 8:  # a bias quantizer (Brevitas' Int32Bias, Int16Bias): only its float value is used
            assert self.node is not None
            return Const(value, wide_quant=(bits, node_label(self.node)))
        return Const(value, int_weights=(q.astype(np.int8), s, bits))

    def _multi_level(self, r: Acc, s: np.ndarray, zp: np.ndarray, bits: int, signed: bool, narrow: bool,
                     rounding: str) -> Act:
        """A multi-bit (or unsigned 1-bit) quantizer after a matrix layer's chain: the layer
        becomes a multi-threshold unit whose output is q - zero_point."""
        if r.flattened:
            raise self.fail("quantize before flattening")
        if r.avg is not None:
            raise self.fail(AVG_OF_ACCUMULATORS)
        if bits > 8:
            raise self.fail(f"{bits}-bit hidden activations: at most 8 bits are supported")
        scale, zero = self._quant_scalars(s, zp, "activation quantizer")
        if rounding not in ROUNDING_MODES:
            raise self.fail(f"unsupported rounding mode {rounding!r}")
        layer = self.layers[r.layer_index]
        if layer.binarize:
            raise self.fail(f"the output of {describe(layer)} is quantized a second time; quantize it once and use the "
                            "quantized value wherever it is needed")
        quant = IntQuant(scale=scale, zero_point=zero, bits=bits, signed=signed, narrow=narrow, rounding=rounding)
        lo, hi = quant.int_range
        self.layers[r.layer_index] = dataclasses.replace(
            layer, binarize=True, chain=tuple(self._channels_last(op, layer) for op in r.chain), act_quant=quant,
            out_levels=hi - lo + 1, out_offset=lo - zero,
        )
        # A pending max-pool of the accumulators (conv -> MaxPool -> BatchNorm -> quantizer)
        # pools the levels: the max on rising channels, the min on falling ones (pool_order).
        producer = layer.name if r.pool is None else self._pool_layer(self.layers[r.layer_index], r.pool,
                                                                      before_activation=True).name
        return Act(shape=r.shape, bits=self.layers[r.layer_index].out_bits, scale=scale, producer=producer)

    def _binarize(self, x: str, scale: np.ndarray) -> Any:
        r = self.role(x)
        if isinstance(r, Const):
            return Const(np.where(r.value >= 0, 1.0, -1.0).astype(np.float32) * scale, binary_scale=scale)
        per_channel = self._channel_scales(r, scale)
        if per_channel is not None and per_channel.size == 1:
            scale = per_channel  # one value for every channel, spelled out per channel
        elif per_channel is not None:  # the sign does not depend on the (positive) scale
            act = self._binarize_role(r, np.ones(1, np.float32))
            return dataclasses.replace(act, scale=float(per_channel.max()), channel_scale=per_channel)
        return self._binarize_role(r, scale)

    def _binarize_role(self, r: Any, scale: np.ndarray) -> Any:
        if isinstance(r, Host):
            if scale.size != 1:
                raise self.fail("the input quantizer needs a scalar scale")
            return self._make_input_quant(r, bits=1, scale=float(scale.reshape(-1)[0]))
        if isinstance(r, Acc):
            return self._binarize_acc(r, scale)
        if isinstance(r, Cat):
            return self._concat([self._binarize_role(part, scale) for part in self._cat_parts(r)])
        if isinstance(r, Act) and r.bits == 1:
            return Act(shape=r.shape, bits=1, scale=float(scale.reshape(-1)[0]), flattened_from=r.flattened_from,
                       producer=r.producer)
        if isinstance(r, (Mean, Deq)):
            if scale.size != 1:
                raise self.fail("activation quantizers need a scalar scale")
            if isinstance(r, Deq):
                return self._threshold_deq(r, None, float(scale.reshape(-1)[0]))
            return self._threshold_mean(r, None, float(scale.reshape(-1)[0]))
        if isinstance(r, (Sum, Act)):
            if scale.size != 1:
                raise self.fail("activation quantizers need a scalar scale")
            s = float(scale.reshape(-1)[0])
            return self._threshold(r, None, s) if isinstance(r, Sum) else self._requantize(r, None, s)
        raise self.fail("cannot binarize this tensor")

    def _binarize_acc(self, r: Acc, scale: np.ndarray) -> Act:
        """A sign after a matrix layer's chain: the layer binarizes."""
        if r.flattened:
            raise self.fail("binarize before flattening")
        if scale.size != 1:
            raise self.fail("activation quantizers need a scalar scale")
        if r.avg is not None:
            raise self.fail(AVG_OF_ACCUMULATORS)
        layer = self.layers[r.layer_index]
        if layer.binarize:
            raise self.fail(f"the output of {describe(layer)} is quantized a second time; quantize it once and use the "
                            "quantized value wherever it is needed")
        self.layers[r.layer_index] = dataclasses.replace(
            layer, binarize=True, chain=tuple(self._channels_last(op, layer) for op in r.chain)
        )
        producer = layer.name if r.pool is None else self._pool_layer(layer, r.pool, before_activation=True).name
        return Act(shape=r.shape, bits=1, scale=float(scale.reshape(-1)[0]), producer=producer)

    def _threshold_mean(self, r: Mean, quant: IntQuant | None, scale: float) -> Act:
        """A quantizer after an average pool (and its float ops): a standalone `Threshold` on
        the pool's integer sums (a sign for `quant` None); passes.thresholds reads its
        thresholds off the source's float mean of every reachable sum."""
        pool = self._layer(r.act.producer)
        assert isinstance(pool, SumPool)
        c = pool.out_shape[2]
        chain = tuple(self._per_channel_op(op, c, pool.name) for op in r.chain)
        levels: dict[str, Any] = {} if quant is None else {
            "act_quant": quant, "out_levels": quant.int_range[1] - quant.int_range[0] + 1,
            "out_offset": quant.int_range[0] - quant.zero_point}
        node = Threshold(name=self.unique_name(f"threshold{sum(isinstance(l, Threshold) for l in self.layers)}"),
                         in_shape=pool.out_shape, chain=chain, inputs=(pool.name,), **levels)
        self.layers.append(node)
        return Act(shape=r.act.shape, bits=node.out_bits, scale=scale, flattened_from=r.act.flattened_from,
                   producer=node.name)

    def _threshold_deq(self, r: Deq, quant: IntQuant | None, scale: float) -> Act:
        """A quantizer after float ops on a quantized activation (RSign, RPReLU, a ReLU after
        a quantized add): a standalone `Threshold` on the activation's integers, its chain the
        activation's scale (QONNX's dequantized value, q * scale in float32) then the ops.
        A binary activation has no integer stream to threshold: the ops and the quantizer
        must give its two values back (then it is the same sign bits at the new scale)."""
        act = r.act
        unit = act.channel_scale if act.channel_scale is not None else np.full(1, act.scale, np.float32)
        step = AffineOp(kind="mul", params={"c": unit})
        if act.bits == 1:
            c = act.shape[0]
            chain = [self._per_channel_op(op, c, act.producer) for op in [step, *r.chain]]
            x = np.broadcast_to(np.array([[-1.0], [1.0]], np.float32), (2, c))
            y = apply_chain(tuple(chain), x)
            out = np.where(y >= 0, 1, -1) if quant is None else quant.quantize(y)
            want = x.astype(np.int64)
            if np.array_equal(out, want):  # QONNX's value: out * scale
                return dataclasses.replace(act, scale=scale, channel_scale=None)
            o = int(np.flatnonzero((out != want).any(axis=0))[0])
            raise self.fail(f"float ops on the binary activation of {self.named(act.producer)} then this quantizer change its "
                            f"values (channel {o}: -1, +1 become {out[0, o]}, {out[1, o]}); not supported on sign bits "
                            "(apply the shift before that sign, or quantize the stream to more than 1 bit)")
        return self._threshold_node(act.producer, act.shape, [step, *r.chain], quant, scale)

    def _make_input_quant(self, host: Host, **quant: Any) -> Act:
        if self.input_quant is not None:
            raise self.fail("a second quantizer on the raw input")
        shape = host.shape
        if len(shape) == 3:
            out_shape = (shape[1], shape[2], shape[0])
        elif len(shape) == 1:
            out_shape = (1, 1, shape[0])
        else:
            raise self.fail(f"quantized input must be (C, H, W) or (F,), got {shape}")
        graph_input = [i for i in self.model.graph.input if i.name not in {t.name for t in self.model.graph.initializer}][0]
        source_shape = tuple(d.dim_value for d in graph_input.type.tensor_type.shape.dim[1:])
        self.input_quant = InputQuant(
            name="input_quant", source_shape=source_shape, preprocess=tuple(host.steps),
            out_shape=out_shape, **quant,
        )
        # The datapath carries q - zero_point as a signed integer: an unsigned b-bit input
        # takes b + 1 bits on the stream (stream_bits), a bipolar one a single bit.
        return Act(shape=shape, bits=self.input_quant.stream_bits, scale=quant["scale"], producer=self.input_quant.name)

    # -- residual joins and standalone activations -----------------------------------------------
    def _residual_add(self, ra: Any, rb: Any) -> Sum:
        """`Add` of two computed tensors: a residual join. Both operands must be quantized
        activations (the outputs of quantizers), so that the add is an integer add: the join
        sums the integers, shifted to the smaller of the two scales. An average pool of a
        quantized activation (ReActNet's AvgPool2d shortcut) is its integer window sums, of the
        input's scale over the window size: an operand like any other."""
        ra, rb = (r.act if isinstance(r, Mean) and not r.chain and r.act.flattened_from is None else r for r in (ra, rb))
        for r in (ra, rb):
            if isinstance(r, Deq):
                raise self.fail(self._unquantized_deq(r, "are added"))
            if isinstance(r, Sum):
                raise self.fail(f"{self._unquantized_sum(r)} is added again without requantization; quantize it "
                                "(a QuantIdentity or QuantReLU after the first Add) before the next residual add")
            if isinstance(r, Acc):
                raise self.fail(f"residual Add of the unquantized output of {describe(self.layers[r.layer_index])} (the "
                                "float result of a Conv/Gemm/MatMul and its BatchNorm or scales): quantize both operands "
                                "of a residual add (e.g. a QuantIdentity with a shared or fixed power-of-two scale) so "
                                "that it adds integers")
            if isinstance(r, Host):
                raise self.fail("residual Add of the raw network input: quantize it first (the input quantizer)")
            if not isinstance(r, Act):
                raise self.fail("an Add of two computed tensors is supported only as a residual add of two quantized "
                                "activations")
        a, b = ra, rb
        assert isinstance(a, Act) and isinstance(b, Act)
        self._single_scale(a, "a residual Add")
        self._single_scale(b, "a residual Add")
        if a.shape != b.shape:
            raise self.fail(f"residual Add of tensors of shapes {list(a.shape)} and {list(b.shape)}: the operands "
                            "must have the same shape (no broadcasting)")
        if a.flattened_from is not None or b.flattened_from is not None:
            raise self.fail("residual Add of flattened activations: add before flattening")
        if len(a.shape) not in (1, 3):
            raise self.fail(f"residual Add of tensors of shape {list(a.shape)}: (C, H, W) or (F,) expected")
        shifts = _power_of_two_shifts(a.scale, b.scale)
        if shifts is None:
            raise self.fail(f"residual Add of {self.named(a.producer)} (scale {a.scale!r}) and {self.named(b.producer)} (scale {b.scale!r}): "
                            "the ratio of the operands' scales is not a power of two, so their sum is not an integer "
                            "sum; quantize both operands with a shared quantizer (one QuantIdentity instance) or with "
                            "fixed power-of-two scales (scaling_impl_type=CONST, restrict_scaling_type=POWER_OF_TWO)")
        in_shape = (a.shape[1], a.shape[2], a.shape[0]) if len(a.shape) == 3 else (1, 1, a.shape[0])
        join = Join(name=self.unique_name(f"add{sum(isinstance(l, Join) for l in self.layers)}"), in_shape=in_shape,
                    operand_scales=(a.scale, b.scale), shifts=shifts, inputs=(a.producer, b.producer))
        self.layers.append(join)
        return Sum(join=join.name, shape=a.shape)

    def _single_scale(self, r: Act, what: str) -> None:
        if r.channel_scale is not None:
            raise self.fail(f"the activation of {self.named(r.producer)} has per-channel scales (a per-channel activation "
                            f"quantizer), so {what} has no single integer grid to read it on; use a per-tensor "
                            "quantizer there, or follow it by one (a sign, say)")

    def _unquantized_deq(self, r: Deq, what: str) -> str:
        ops = ", ".join(op.kind for op in r.chain) or "float ops"
        return (f"the float ops ({ops}) on the quantized activation of {self.named(r.act.producer)} {what} unquantized; end them "
                "in a quantizer (a QuantIdentity, QuantReLU or binary quantizer) first")

    def _unquantized_sum(self, r: Sum) -> str:
        return f"the unquantized sum of the residual add {self.named(r.join)}"

    def _threshold(self, r: Sum, quant: IntQuant | None, scale: float) -> Act:
        """A quantizer after a residual join (and its float ops): a standalone activation."""
        return self._threshold_node(r.join, r.shape, r.chain, quant, scale)

    def _threshold_node(self, source: str, shape: tuple[int, ...], chain: list[AffineOp], quant: IntQuant | None,
                        scale: float) -> Act:
        in_shape = (shape[1], shape[2], shape[0]) if len(shape) == 3 else (1, 1, shape[0])
        levels, offset = 0, 0
        if quant is not None:
            lo, hi = quant.int_range
            levels, offset = hi - lo + 1, lo - quant.zero_point
        layer = Threshold(name=self.unique_name(f"act{sum(isinstance(l, Threshold) for l in self.layers)}"),
                          in_shape=in_shape, act_quant=quant, out_levels=levels, out_offset=offset, inputs=(source,))
        layer = dataclasses.replace(layer, chain=tuple(self._channels_last(op, layer) for op in chain))
        self.layers.append(layer)
        return Act(shape=shape, bits=layer.out_bits, scale=scale, producer=layer.name)

    def _requantize(self, r: Act, quant: IntQuant | None, scale: float) -> Act:
        """A quantizer on an already quantized activation (a shared quantizer applied to a
        residual block's input, say). Where it gives back every reachable value unchanged (the
        same scale, a range that holds them all) it is no node at all; otherwise it is a
        standalone activation whose chain first takes the integer to the source's value."""
        if r.channel_scale is not None:
            return self._threshold_deq(Deq(r, []), quant, scale)
        values = self._act_values(r)
        x = (values.astype(np.float32) * np.float32(r.scale)).astype(np.float32)  # QONNX: (q - zp) * scale
        y = np.where(x >= 0, 1, -1) if quant is None else quant.quantize(x)
        if np.array_equal(y, values) and np.float32(scale) == np.float32(r.scale):
            return r
        if r.bits == 1:
            raise self.fail(f"requantizing the binary activation of {self.named(r.producer)} (scale {r.scale!r}) to other values "
                            f"(scale {scale!r}) is not supported; use the same scale, or add the binary values as they are")
        if r.flattened_from is not None:
            raise self.fail("requantize before flattening")
        step = AffineOp(kind="mul", params={"c": np.full(1, r.scale, np.float32)})
        return self._threshold_node(r.producer, r.shape, [step], quant, scale)

    def _act_values(self, r: Act) -> np.ndarray:
        """The integers an activation can take (sign bits: -1 and +1)."""
        if r.bits == 1:
            return np.array([-1, 1], np.int64)
        assert self.input_quant is not None  # every activation descends from it
        partial = Network(name=self.name, layers=(self.input_quant, *self.layers))
        lo, hi = partial.value_range(partial.layer(r.producer))
        return np.arange(lo, hi + 1, dtype=np.int64)

    # -- channel concatenation -------------------------------------------------------------------
    def op_Concat(self, *tensors: str) -> Act | Cat:
        """torch.cat along channels of quantized activations: a `Concat` node (`_concat`); of
        matrix layers' accumulators (each after its own BatchNorm or scales): a pending `Cat`
        that the quantizer after it resolves."""
        axis = self.attrs().get("axis")
        roles = [self.role(t) for t in tensors]
        if len(tensors) < 2:
            raise self.fail(f"Concat of {len(tensors)} tensor(s): at least 2 are concatenated")
        twice = next((r for i, (t, r) in enumerate(zip(tensors, roles)) if t in tensors[:i]), None)
        if twice is not None:
            what = (twice.producer if isinstance(twice, Act) else self.layers[twice.layer_index].name
                    if isinstance(twice, Acc) else "a tensor")
            raise self.fail(f"the value of '{what}' is concatenated with itself (torch.cat([x, x])); the hardware "
                            "concat reads distinct operands")
        accs = all((isinstance(r, Acc) and not r.flattened and r.avg is None or isinstance(r, Sum))
                   and len(r.shape) == 3 for r in roles)
        for t, r in zip(tensors, roles):
            if isinstance(r, Sum) and not accs:
                raise self.fail(f"{self._unquantized_sum(r)} is concatenated with quantized tensors; quantize it "
                                "before the Concat, or concatenate unquantized sums and conv outputs only and "
                                "quantize the concatenation")
            if isinstance(r, Deq):
                raise self.fail(self._unquantized_deq(r, "are concatenated"))
            if isinstance(r, Acc) and not accs:
                raise self.fail(f"Concat of the unquantized output of {describe(self.layers[r.layer_index])} (the float "
                                "result of a Conv/Gemm/MatMul and its BatchNorm or scales) with other tensors: "
                                "quantize every operand before the Concat, or concatenate conv outputs only and "
                                "quantize the concatenation")
            if isinstance(r, Host):
                raise self.fail("Concat of the raw network input: quantize it first (the input quantizer)")
            if not isinstance(r, (Act, Acc, Sum)) or (isinstance(r, Act) and r.flattened_from is not None):
                raise self.fail(f"Concat of '{t}': only quantized (C, H, W) or (F,) activations (the outputs of "
                                "quantizers, not flattened, padded or constant) or conv outputs before one quantizer "
                                "are concatenated")
        parts: list[Any] = roles
        rank = len(parts[0].shape)
        if any(len(a.shape) != rank for a in parts) or rank not in (1, 3):
            raise self.fail(f"Concat of tensors of shapes {[list(a.shape) for a in parts]}: (C, H, W) or (F,) each")
        if axis is None or axis % (rank + 1) != 1:
            raise self.fail(f"Concat along axis {axis} of [N, {', '.join(map(str, parts[0].shape))}] tensors: only a "
                            "channel concatenation (axis 1: torch.cat(..., dim=1)) is supported")
        if any(a.shape[1:] != parts[0].shape[1:] for a in parts):
            raise self.fail(f"Concat of tensors of shapes {[list(a.shape) for a in parts]}: the heights and widths differ")
        if accs:
            return Cat(parts=list(roles), shape=(sum(a.shape[0] for a in parts), *parts[0].shape[1:]))
        return self._concat(roles)

    def _cat_parts(self, r: Cat) -> list[Acc | Sum]:
        """The parts of a pending concatenation, each with its channels' slice of the float ops
        applied to the concatenation since."""
        parts: list[Acc | Sum] = []
        start = 0
        for part in r.parts:
            c = part.shape[0]
            ops = [AffineOp(kind=op.kind, eps=op.eps,
                            params={k: (v if v.size == 1 else v[start:start + c]) for k, v in op.params.items()})
                   for op in r.chain]
            parts.append(dataclasses.replace(part, chain=[*part.chain, *ops]))
            start += c
        return parts

    def _concat(self, acts: list[Act]) -> Act:
        """The `Concat` node of quantized activations of one height and width: scales whose
        ratios are powers of two share the smallest as the unit (the others shift left), so
        the concatenation is exact."""
        names = [a.producer for a in acts]
        for a in acts:
            self._single_scale(a, "a Concat")
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise self.fail(f"the value of {self.named(twice)} is concatenated with itself; the hardware concat reads distinct "
                            "operands")
        unit = min(np.float32(a.scale) for a in acts)
        shifts = []
        for a in acts:
            pair = _power_of_two_shifts(a.scale, float(unit))
            if pair is None:
                other = next(b for b in acts if np.float32(b.scale) == unit)
                raise self.fail(f"Concat of {self.named(a.producer)} (scale {a.scale!r}) and {self.named(other.producer)} (scale "
                                f"{other.scale!r}): the ratio of the operands' scales is not a power of two, so their "
                                "values have no common integer grid; quantize every operand with a shared quantizer "
                                "(one QuantIdentity instance) or with fixed power-of-two scales "
                                "(scaling_impl_type=CONST, restrict_scaling_type=POWER_OF_TWO)")
            shifts.append(pair[0])
        channels = tuple(a.shape[0] for a in acts)
        hw = (acts[0].shape[1], acts[0].shape[2]) if len(acts[0].shape) == 3 else (1, 1)
        node = Concat(name=self.unique_name(f"concat{sum(isinstance(l, Concat) for l in self.layers)}"),
                      in_shape=(*hw, sum(channels)), channels=channels, operand_scales=tuple(a.scale for a in acts),
                      shifts=tuple(shifts), inputs=tuple(names))
        self.layers.append(node)
        assert self.input_quant is not None  # every activation descends from it
        bits = Network(self.name, (self.input_quant, *self.layers)).element_bits(node)
        if bits > 16:
            raise self.fail(f"the concatenation needs {bits} bits per element (operand shifts {shifts}); at most 16")
        return Act(shape=(sum(channels), *acts[0].shape[1:]), bits=bits, scale=float(unit), producer=node.name)

    # -- elementwise ---------------------------------------------------------------------------
    def op_Mul(self, a: str, b: str) -> Any:
        return self._elementwise("mul", a, b)

    def op_Add(self, a: str, b: str) -> Any:
        ra, rb = self.role(a), self.role(b)
        padded = ra if isinstance(ra, Padded) else rb if isinstance(rb, Padded) else None
        if padded is not None:
            other = rb if padded is ra else ra
            return self._add_pad_pattern(padded, other)
        if not isinstance(ra, Const) and not isinstance(rb, Const):
            return self._residual_add(ra, rb)
        return self._elementwise("add", a, b)

    def op_Sub(self, a: str, b: str) -> Any:
        return self._elementwise("sub", a, b)

    def op_Div(self, a: str, b: str) -> Any:
        return self._elementwise("div", a, b)

    def _elementwise(self, kind: str, a: str, b: str) -> Any:
        ra, rb = self.role(a), self.role(b)
        if isinstance(ra, Const) and isinstance(rb, Const):
            fn = {"mul": np.multiply, "add": np.add, "sub": np.subtract, "div": np.divide}[kind]
            return Const(fn(ra.value, rb.value).astype(ra.value.dtype))
        if isinstance(ra, Const):
            if kind == "div":
                raise self.fail("dividing a constant by a tensor is not supported")
            kind = {"sub": "rsub"}.get(kind, kind)
            ra, rb = rb, ra
        if not isinstance(rb, Const):
            raise self.fail("elementwise ops need one constant operand")
        c = rb.value.astype(np.float32)
        if isinstance(ra, Host):
            # Host steps run in the source layout with numpy's broadcasting, which is ONNX's.
            self._broadcast(c, ra.shape)
            op = AffineOp(kind=kind, params={"c": c})
            return Host(shape=ra.shape, steps=[*ra.steps, ("affine", op)])
        if isinstance(ra, Acc):
            shape = ra.shape if not ra.flattened else (int(np.prod(ra.shape)),)
            per_channel = self._per_channel(c, shape, channel_axis=None if ra.flattened else 0)
            return dataclasses.replace(ra, chain=[*ra.chain, AffineOp(kind=kind, params={"c": per_channel})])
        if isinstance(ra, Mean):
            per_channel = self._per_channel(c, ra.shape, channel_axis=ra.channel_axis)
            return dataclasses.replace(ra, chain=[*ra.chain, AffineOp(kind=kind, params={"c": per_channel})])
        if isinstance(ra, (Sum, Deq, Cat)):
            per_channel = self._per_channel(c, ra.shape, channel_axis=0)
            return dataclasses.replace(ra, chain=[*ra.chain, AffineOp(kind=kind, params={"c": per_channel})])
        if isinstance(ra, Act):
            self._deq_check(ra, f"'{kind}'")
            return self._deq(ra, AffineOp(kind=kind, params={"c": self._per_channel(c, ra.shape, channel_axis=0)}), kind)
        raise self.fail("elementwise ops are supported on the raw input, and between a Conv/Gemm/MatMul, a residual "
                        "Add, an average pool or a quantizer and the next quantizer")

    def _broadcast(self, c: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """c broadcast onto [1, *shape] by the ONNX (numpy) rule; it must not change the shape."""
        full = (1, *shape)
        try:
            out = np.broadcast_shapes(c.shape, full)
        except ValueError:
            raise self.fail(f"constant of shape {list(c.shape)} does not broadcast to the tensor's shape {list(full)}") from None
        if out != full:
            raise self.fail(f"constant of shape {list(c.shape)} would change the tensor's shape {list(full)} to {list(out)}")
        return np.broadcast_to(c, full)[0]

    def _per_channel(self, c: np.ndarray, shape: tuple[int, ...], channel_axis: int | None) -> np.ndarray:
        """The values of constant `c`, applied to a tensor of `shape` (no batch), as one value
        per channel ([C]) or one for all ([1]). The datapath folds only such constants into
        thresholds. The decision follows ONNX broadcasting, never the element count: a (C,)
        constant on a (C, H, W) tensor runs along W, and is accepted only if its values are
        equal along every axis but the channel axis (`channel_axis` None: no such axis)."""
        full = self._broadcast(c, shape)
        flat = full.reshape(-1)
        if np.array_equal(flat, np.full_like(flat, flat[0]), equal_nan=True):
            return flat[:1].copy()
        if channel_axis is not None:
            per = np.moveaxis(full, channel_axis, 0).reshape(shape[channel_axis], -1)
            if np.array_equal(per, np.repeat(per[:, :1], per.shape[1], axis=1), equal_nan=True):
                return np.ascontiguousarray(per[:, 0])
        axes = ("channels", "height", "width") if len(shape) == 3 else ("features",)
        if channel_axis is None:
            where = "after the accumulators were flattened"
        else:
            varying = [axes[i] for i in range(len(shape)) if i != channel_axis and full.shape[i] > 1
                       and not np.array_equal(full, np.repeat(np.take(full, [0], axis=i), full.shape[i], axis=i), equal_nan=True)]
            where = f"along {' and '.join(varying)} (ONNX broadcasts a constant of shape {list(c.shape)} onto [N, {', '.join(map(str, shape))}] from the right)"
        raise self.fail(f"constant of shape {list(c.shape)} varies {where}; only a scalar or one value per channel "
                        f"(shape [C, 1, 1] or [1, C, 1, 1] for conv outputs) folds into the thresholds")

    def op_BatchNormalization(self, x: str, scale: str, bias: str, mean: str, var: str) -> Acc | Sum | Mean:
        r = self.role(x)
        if isinstance(r, Mean) and r.channel_axis is not None:
            pass  # BatchNorm of a pooled mean, before its quantizer
        elif isinstance(r, Act) and r.flattened_from is None:
            r = Deq(r, [])  # BatchNorm of a quantized stream, before a quantizer
        elif not isinstance(r, (Acc, Sum, Deq)) or (isinstance(r, Acc) and r.flattened):
            raise self.fail("BatchNormalization must follow a Conv/Gemm/MatMul, a residual Add, or an average pool (before "
                            "a quantizer)")
        channels = r.shape[0]
        params = {}
        for key, tensor in (("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
            v = self.const(tensor, f"BatchNormalization {key}").astype(np.float32).reshape(-1)
            if v.size == 1:
                v = np.full(channels, v[0], np.float32)
            if v.shape != (channels,):
                raise self.fail(f"BatchNormalization {key} has {v.size} entries for {channels} channels")
            params[key] = v.reshape((channels,) + (1,) * (len(r.shape) - 1))
        eps = float(self.attrs().get("epsilon", 1e-5))
        if not (eps >= 0 and np.isfinite(eps)):
            raise self.fail(f"BatchNormalization epsilon {eps}: must be a non-negative number")
        for key, v in params.items():
            if not np.all(np.isfinite(v)):
                raise self.fail(f"BatchNormalization {key} holds NaN or infinity")
        bad = np.flatnonzero((params["var"].reshape(-1) + np.float32(eps)) <= 0)
        if bad.size:
            raise self.fail(f"BatchNormalization var + epsilon is not positive for channel {int(bad[0])} "
                            f"(var {float(params['var'].reshape(-1)[bad[0]]):g}): the source model divides by its "
                            "square root there")
        return dataclasses.replace(r, chain=[*r.chain, AffineOp(kind="batchnorm", params=params, eps=eps)])

    def _channels_last(self, op: AffineOp, layer: MatrixLayer | Threshold) -> AffineOp:
        """Re-lay a per-channel constant from the source's [1, C, 1, 1]/[C, 1, 1] to [C]."""
        return self._per_channel_op(op, layer.out_channels, layer.name)

    @staticmethod
    def _per_channel_op(op: AffineOp, channels: int, name: str) -> AffineOp:
        params = {}
        for key, v in op.params.items():
            flat = np.asarray(v, np.float32).reshape(-1)
            if flat.size not in (1, channels):
                raise UserError(f"layer '{name}': per-channel constant of {flat.size} entries for {channels} channels")
            params[key] = np.broadcast_to(flat, (channels,)).astype(np.float32)
        return AffineOp(kind=op.kind, params=params, eps=op.eps)

    # -- padding --------------------------------------------------------------------------------
    def op_Pad(self, x: str, pads: str = "", value: str = "", axes: str = "") -> Padded:
        r = self.role(x)
        attrs = self.attrs()
        if attrs.get("mode", b"constant") not in (b"constant", "constant"):
            raise self.fail("only constant-mode Pad is supported")
        if isinstance(r, Sum):
            raise self.fail(f"{self._unquantized_sum(r)} is padded; quantize it first")
        if isinstance(r, Deq):
            raise self.fail(self._unquantized_deq(r, "are padded"))
        if not isinstance(r, Act) or r.bits != 1 or len(r.shape) != 3:
            raise self.fail("Pad is supported only on binary (C, H, W) activations before a Conv")
        self._single_scale(r, "a padded Conv")
        if axes:
            raise self.fail("Pad with explicit axes is not supported")
        fill = float(self.const(value, "Pad value").reshape(-1)[0]) if value else 0.0
        if fill != 0.0:
            raise self.fail("only zero Pad (optionally followed by the FBNA pattern Add) is supported")
        p = [int(v) for v in (self.const(pads, "Pad pads") if pads else attrs.get("pads", []))]
        if len(p) != 8 or any(p[i] != 0 for i in (0, 1, 4, 5)) or min(p) < 0:
            raise self.fail(f"only non-negative spatial padding of an NCHW tensor is supported, got {p}")
        return Padded(act=r, pads=(p[2], p[3], p[6], p[7]), mode="zero")

    def _add_pad_pattern(self, padded: Padded, other: Any) -> Padded:
        if padded.mode != "zero" or not isinstance(other, Const):
            raise self.fail("only the FBNA pattern constant may be added to a padded activation")
        c, h, w = padded.act.shape
        t, l, b, r = padded.pads
        expect = np.zeros((c, h + t + b, w + l + r), np.float32)
        pattern = padding_pattern.pad_values(c, np.arange(-t, h + b), np.arange(-l, w + r)).transpose(2, 0, 1)
        border = np.ones_like(expect, bool)
        border[:, t : t + h, l : l + w] = False
        expect[border] = pattern[border] * padded.act.scale
        got = other.value.astype(np.float32)
        if got.shape not in (expect.shape, (1, *expect.shape)) or not np.array_equal(got.reshape(expect.shape), expect):
            raise self.fail("the constant added to the padded tensor is not the FBNA +1/-1 border pattern")
        return Padded(act=padded.act, pads=padded.pads, mode="alternating")

    # -- layers ---------------------------------------------------------------------------------
    def _weights(self, tensor: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(weights as the datapath holds them, the quantizer's scale, bits): bool signs for
        bipolar weights, int8 q for multi-bit ones."""
        r = self.role(tensor)
        if not isinstance(r, Const):
            raise self.fail("weights must be constant")
        if r.binary_scale is not None:
            return r.value > 0, r.binary_scale, 1
        if r.int_weights is not None:
            q, scale, bits = r.int_weights
            return q, scale, bits
        if r.wide_quant is not None:
            bits, quantizer = r.wide_quant
            raise self.fail(f"{bits}-bit weights from {quantizer}: at most 8 bits are supported")
        raise self.fail("weights are not quantized: quantize them with a Brevitas weight quantizer (1 to 8 bits)")

    def _input_act(self, tensor: str) -> tuple[Act, tuple[int, int, int, int], str]:
        r = self.role(tensor)
        if isinstance(r, Padded):
            return r.act, r.pads, r.mode
        if isinstance(r, Act):
            self._single_scale(r, "this layer")
            return r, (0, 0, 0, 0), "zero"
        if isinstance(r, Mean):
            if r.chain:
                raise self.fail("the float ops after an average pool must end in a quantizer before this layer")
            return r.act, (0, 0, 0, 0), "zero"
        if isinstance(r, Sum):
            raise self.fail(f"{self._unquantized_sum(r)} feeds this layer; quantize the sum first (a QuantIdentity, "
                            "QuantReLU or binary quantizer after the Add)")
        if isinstance(r, Deq):
            raise self.fail(self._unquantized_deq(r, "feed this layer"))
        raise self.fail("input must be a quantized activation (binary, or the quantized network input)")

    def _weight_scale(self, scale: np.ndarray, weight_shape: tuple[int, ...], out_axis: int) -> np.ndarray:
        """The bipolar quantizer's scale as one value per output channel. The scale broadcasts
        onto the weight tensor by the ONNX rule; a scale that varies along any other axis (an
        input-channel scale that happens to have as many entries as there are outputs) has
        no per-output form and is refused."""
        try:
            full = np.broadcast_to(scale, np.broadcast_shapes(scale.shape, weight_shape))
        except ValueError:
            raise self.fail(f"weight scale of shape {list(scale.shape)} does not broadcast to the weights' shape {list(weight_shape)}") from None
        if full.shape != tuple(weight_shape):
            raise self.fail(f"weight scale of shape {list(scale.shape)} changes the weights' shape {list(weight_shape)}")
        per = np.moveaxis(full, out_axis, 0).reshape(weight_shape[out_axis], -1)
        if not np.array_equal(per, np.repeat(per[:, :1], per.shape[1], axis=1)):
            raise self.fail(f"weight scale of shape {list(scale.shape)} varies along an axis other than the output "
                            f"channels (axis {out_axis} of weights {list(weight_shape)}); only per-tensor and "
                            "per-output-channel scales are supported")
        return np.ascontiguousarray(per[:, 0]).astype(np.float32)

    def _window(self, op: str, in_hw: tuple[int, int], kernel: tuple[int, int] | None = None,
                stride_default_kernel: bool = False, extra_pads: tuple[int, int, int, int] = (0, 0, 0, 0)) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
        """A 2-D sliding window's attributes, checked against each other and the tensors:
        (kernel, strides, pads as top, left, bottom, right). `kernel`: the weights' (kh, kw)
        (a Conv), which kernel_shape must equal when given; pools take it from kernel_shape.
        Strides default to 1, or to the kernel (MaxPool's convention in our exports)."""
        attrs = self.attrs()

        def ints(key: str, length: int, default: list[int] | None) -> list[int]:
            value = attrs.get(key, default)
            if value is None:
                raise self.fail(f"{op} has no {key}")
            if not isinstance(value, (list, tuple)) or len(value) != length or not all(isinstance(v, int) for v in value):
                raise self.fail(f"{op} {key} {list(value) if isinstance(value, (list, tuple)) else value!r}: expected "
                                f"{length} integers for a 2-D {'window' if length == 2 else 'window (top, left, bottom, right)'}")
            return [int(v) for v in value]

        given = ints("kernel_shape", 2, list(kernel) if kernel is not None else None)
        if kernel is not None and tuple(given) != tuple(kernel):
            raise self.fail(f"{op} kernel_shape {given} disagrees with its weights' kernel {list(kernel)}")
        if min(given) < 1:
            raise self.fail(f"{op} kernel_shape {given}: must be positive")
        strides = ints("strides", 2, given if stride_default_kernel else [1, 1])
        if min(strides) < 1:
            raise self.fail(f"{op} strides {strides}: must be at least 1")
        dilations = ints("dilations", 2, [1, 1])
        if min(dilations) < 1:
            raise self.fail(f"{op} dilations {dilations}: must be at least 1")
        pads = ints("pads", 4, [0, 0, 0, 0])
        if min(pads) < 0:
            raise self.fail(f"{op} pads {pads}: must not be negative")
        # ONNX orders pads (top, left, bottom, right) = (x1_begin, x2_begin, x1_end, x2_end)
        # `extra_pads`: an explicit pad node before the window (AlternatingPad2d), merged later.
        h = in_hw[0] + pads[0] + pads[2] + extra_pads[0] + extra_pads[2]
        w = in_hw[1] + pads[1] + pads[3] + extra_pads[1] + extra_pads[3]
        if given[0] > h or given[1] > w:
            raise self.fail(f"{op} kernel {given} does not fit the {in_hw[0]}x{in_hw[1]} map (padded {h}x{w})")
        return (given[0], given[1]), (strides[0], strides[1]), (pads[0], pads[1], pads[2], pads[3])

    def op_Conv(self, x: str, w: str, b: str = "") -> Acc:
        act, extra_pads, mode = self._input_act(x)
        attrs = self.attrs()
        group = attrs.get("group", 1)
        if not isinstance(group, int) or group < 1:
            raise self.fail(f"Conv group {group!r}: must be a positive integer")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise self.fail("dilated convolution is not supported")
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise self.fail("auto_pad is not supported; use explicit pads")
        if len(act.shape) != 3:
            raise self.fail(f"Conv input must be (C, H, W), got {act.shape}")
        weights, wscale, weight_bits = self._weights(w)
        # A depthwise conv (QuantConv2d(C, C, k, groups=C)): one filter per channel, weights
        # [C, 1, kh, kw]. Other groupings (several channels per group, or a channel
        # multiplier > 1) have no unit here.
        depthwise = group != 1
        if depthwise and not (group == act.shape[0] and weights.ndim == 4 and weights.shape[:2] == (group, 1)):
            raise self.fail(f"grouped convolution with group={group} is not supported (only group=1, or a depthwise "
                            f"conv with group = input channels = output channels: here {act.shape[0]} input channels"
                            + (f", weights {list(weights.shape)})" if weights.ndim == 4 else ")"))
        if weights.ndim != 4 or weights.shape[1] * group != act.shape[0]:
            raise self.fail(f"weights of shape {weights.shape} do not fit {act.shape[0]} input channels")
        cout, _, kh, kw = weights.shape
        _, (sh, sw), p = self._window("Conv", (act.shape[1], act.shape[2]), (kh, kw), extra_pads=extra_pads)
        pads = (p[0] + extra_pads[0], p[1] + extra_pads[1], p[2] + extra_pads[2], p[3] + extra_pads[3])
        if any(p) and mode == "alternating":
            raise self.fail("Conv pads on top of the FBNA pattern padding are not supported")
        stride = (sh, sw)
        c, h, wd = act.shape
        cls, base = (DepthwiseConv, "dwconv") if depthwise else (Conv, "conv")
        layer = cls(
            name=self.unique_name(f"{base}{sum(isinstance(l, cls) for l in self.layers)}"),
            in_shape=(h, wd, c), out_channels=cout, kernel=(kh, kw), stride=stride, pads=pads,
            # [C_out, kh*kw*C_in], columns (ky, kx, c); a depthwise conv's [C, kh*kw]
            input_bits=act.bits, weights=np.ascontiguousarray(weights.transpose(0, 2, 3, 1).reshape(cout, -1)),
            weight_bits=weight_bits,
            acc_scale=(self._weight_scale(wscale, weights.shape, 0) * np.float32(act.scale)).astype(np.float32),
            binarize=False, pad_mode=mode if any(pads) else "zero", inputs=(act.producer,),
        )
        if act.bits > 1 and mode == "alternating":
            raise self.fail("the FBNA pattern applies to binary inputs only")
        if act.bits == 1 and weight_bits > 1 and layer.pad_mode == "zero" and any(pads):
            raise self.fail("a zero-padded conv with binary inputs and multi-bit weights is not supported "
                            "(its border correction needs signed per-class thresholds)")
        return self._add_layer(layer, b)

    def op_Gemm(self, a: str, b: str, c: str = "") -> Acc:
        attrs = self.attrs()
        if attrs.get("transA", 0):
            raise self.fail("Gemm with transA=1 is not supported")
        if attrs.get("alpha", 1.0) != 1.0 or (c and attrs.get("beta", 1.0) != 1.0):
            raise self.fail("Gemm with alpha/beta other than 1 is not supported")
        weights, wscale, weight_bits = self._weights(b)
        if weights.ndim != 2:
            raise self.fail(f"Gemm weights must be a matrix, got shape {list(weights.shape)}")
        out_axis = 0 if attrs.get("transB", 0) else 1
        scale = self._weight_scale(wscale, weights.shape, out_axis)
        return self._dense(a, weights if out_axis == 0 else weights.T, scale, c, weight_bits)

    def op_MatMul(self, a: str, b: str) -> Acc:
        weights, wscale, weight_bits = self._weights(b)
        if weights.ndim != 2:
            raise self.fail(f"MatMul weights must be a matrix, got shape {list(weights.shape)}")
        return self._dense(a, weights.T, self._weight_scale(wscale, weights.shape, 1), "", weight_bits)

    def _dense(self, x: str, weights: np.ndarray, scale: np.ndarray, bias: str, weight_bits: int) -> Acc:
        """`weights`: [out, in]; `scale`: the weight scale per output channel."""
        act, pads, _ = self._input_act(x)
        if any(pads):
            raise self.fail("padding before a dense layer is meaningless")
        if len(act.shape) != 1:
            raise self.fail(f"dense input must be flat (F,), got {act.shape}; add a Flatten")
        if weights.ndim != 2 or weights.shape[1] != act.shape[0]:
            raise self.fail(f"weights of shape {weights.shape} do not fit {act.shape[0]} inputs")
        cout = weights.shape[0]
        if act.flattened_from is not None:
            # The source flattens (C, H, W); our datapath streams (H, W, C).
            c, h, w = act.flattened_from
            weights = weights.reshape(cout, c, h, w).transpose(0, 2, 3, 1).reshape(cout, -1)
        layer = Dense(
            name=self.unique_name(f"dense{sum(isinstance(l, Dense) for l in self.layers)}"),
            in_shape=(1, 1, act.shape[0]), out_channels=cout, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
            input_bits=act.bits, weights=np.ascontiguousarray(weights), weight_bits=weight_bits, inputs=(act.producer,),
            acc_scale=(scale * np.float32(act.scale)).astype(np.float32),
            binarize=False,
        )
        return self._add_layer(layer, bias)

    def _add_layer(self, layer: MatrixLayer, bias: str) -> Acc:
        # (A layer whose accumulators never reach a quantizer is refused at the end, by name:
        # in a graph, the branches of a residual block may interleave.)
        self.layers.append(layer)
        shape = (layer.out_channels, *layer.out_hw) if isinstance(layer, (Conv, DepthwiseConv)) else (layer.out_channels,)
        acc = Acc(len(self.layers) - 1, shape)
        if bias:
            c = self.const(bias, "bias").astype(np.float32).reshape((-1,) + (1,) * (len(shape) - 1))
            acc.chain.append(AffineOp(kind="add", params={"c": c}))
        return acc

    def op_MaxPool(self, x: str) -> Any:
        r = self.role(x)
        attrs = self.attrs()
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
            raise self.fail("MaxPool with auto_pad is not supported; use explicit pads")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise self.fail("dilated MaxPool is not supported")
        if attrs.get("storage_order", 0):
            raise self.fail("MaxPool with storage_order=1 (a second, index output) is not supported")
        shape: tuple[int, ...] = getattr(r, "shape", ())
        kernel, stride, pads = (1, 1), (1, 1), (0, 0, 0, 0)  # not (C, H, W): refused below, by what it is
        if len(shape) == 3:
            kernel, stride, pads = self._pool_window(shape[1], shape[2], bool(attrs.get("ceil_mode", 0)))
        if isinstance(r, Acc):
            return self._pool_accumulators(r, kernel, stride, pads)
        if isinstance(r, Sum):
            raise self.fail(f"{self._unquantized_sum(r)} is max-pooled; quantize it before the pool")
        if isinstance(r, Deq):
            raise self.fail(self._unquantized_deq(r, "are max-pooled"))
        if not isinstance(r, Act) or len(r.shape) != 3:
            raise self.fail("MaxPool is supported only on quantized (C, H, W) activations (place it after the quantizer)")
        c, h, w = r.shape
        layer = MaxPool(name=self.unique_name(f"maxpool{sum(isinstance(l, MaxPool) for l in self.layers)}"),
                        in_shape=(h, w, c), kernel=kernel, stride=stride, inputs=(r.producer,), pads=pads)
        self.layers.append(layer)
        oh, ow, _ = layer.out_shape
        return Act(shape=(c, oh, ow), bits=r.bits, scale=r.scale, producer=layer.name, channel_scale=r.channel_scale)

    def _pool_window(self, h: int, w: int, ceil_mode: bool) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
        """A MaxPool's kernel, strides and pads (top, left, bottom, right). The source pads
        with -inf, so a padded position never wins; ceil_mode's partial windows at the bottom
        and right are more of that padding: the output has ceil((H + pads - K) / S) + 1 rows,
        less one where the last window would start in the bottom padding (onnxruntime's and
        PyTorch's rule), and the bottom padding grows to cover the last window."""
        kernel, stride, pads = self._window("MaxPool", (h, w), stride_default_kernel=True)
        if pads[0] >= kernel[0] or pads[2] >= kernel[0] or pads[1] >= kernel[1] or pads[3] >= kernel[1]:
            raise self.fail(f"MaxPool pads {list(pads)} must be smaller than its kernel {list(kernel)} "
                            "(a window of padding alone has no max)")
        if not ceil_mode:
            return kernel, stride, pads
        return kernel, stride, (pads[0], pads[1], ceil_mode_tail(h, pads[0], pads[2], kernel[0], stride[0]),
                                ceil_mode_tail(w, pads[1], pads[3], kernel[1], stride[1]))

    def _pool_accumulators(self, r: Acc, kernel: tuple[int, int], stride: tuple[int, int],
                           pads: tuple[int, int, int, int]) -> Acc:
        """BinaryNet's order, conv -> MaxPool -> BatchNorm -> sign: the pool is kept pending
        until the sign, then placed after the layer (see passes.pool_order: the max of the
        accumulators before a monotone step is the OR of the steps, or the AND where the
        step falls). The steps before the pool must not reverse the order of the values."""
        layer = self.layers[r.layer_index]
        if r.pool is not None or r.avg is not None or r.flattened or len(r.shape) != 3 or not isinstance(layer, (Conv, DepthwiseConv)):
            raise self.fail("MaxPool of accumulators is supported once, on a conv's (C, H, W) output, before its sign")
        for op in r.chain:
            increasing = op.kind in ("add", "sub") or (op.kind in ("mul", "div") and bool(np.all(op.params["c"] > 0)))
            if not increasing:
                raise self.fail(f"a '{op.kind}' before the MaxPool may reverse the order of the values; only "
                                "biases and positive scales may come between the conv and a pool of its accumulators")
        c, h, w = r.shape
        t, l, b, rt = pads
        oh, ow = (h + t + b - kernel[0]) // stride[0] + 1, (w + l + rt - kernel[1]) // stride[1] + 1
        if min(oh, ow) < 1:
            raise self.fail(f"MaxPool {kernel} does not fit a {h}x{w} map")
        return dataclasses.replace(r, shape=(c, oh, ow), pool=(kernel, stride, pads))

    # -- average pooling ---------------------------------------------------------------------------
    def op_GlobalAveragePool(self, x: str) -> Any:
        r = self.role(x)
        shape: tuple[int, ...] = getattr(r, "shape", ())
        if len(shape) != 3:
            raise self.fail(f"GlobalAveragePool needs a (C, H, W) input, got {shape}")
        return self._average(r, (shape[1], shape[2]), (1, 1), flatten=False)

    def op_ReduceMean(self, x: str, axes: str = "") -> Any:
        """x.mean((2, 3)), x.mean(dim=[-1, -2]), AdaptiveAvgPool2d(1): a global average pool
        (axes from the input since opset 18, the attribute before; keepdims=0 flattens)."""
        attrs = self.attrs()
        r = self.role(x)
        shape: tuple[int, ...] = getattr(r, "shape", ())
        if len(shape) != 3:
            raise self.fail(f"ReduceMean is supported over H and W of a (C, H, W) tensor, not of {shape}")
        given = [int(v) for v in self.const(axes, "ReduceMean axes").reshape(-1)] if axes else list(attrs.get("axes", []))
        if sorted(a % 4 for a in given) != [2, 3]:
            raise self.fail(f"ReduceMean over axes {given}: only the spatial axes (2, 3) are supported (a global average pool)")
        return self._average(r, (shape[1], shape[2]), (1, 1), flatten=not attrs.get("keepdims", 1))

    def op_AveragePool(self, x: str) -> Any:
        attrs = self.attrs()
        r = self.role(x)
        shape: tuple[int, ...] = getattr(r, "shape", ())
        if len(shape) != 3:
            raise self.fail(f"AveragePool needs a (C, H, W) input, got {shape}")
        kernel, stride, _ = self._window("AveragePool", (shape[1], shape[2]))
        if any(attrs.get("pads", [0, 0, 0, 0])) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
            raise self.fail("AveragePool with padding is not supported (its border windows divide by fewer or padded "
                            "elements); pad the map explicitly before a quantizer, or pool without padding")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise self.fail("dilated AveragePool is not supported")
        if len(kernel) != 2 or len(stride) != 2:
            raise self.fail(f"AveragePool must be 2-D, got kernel {list(kernel)}")
        _, h, w = shape
        if attrs.get("ceil_mode", 0) and (ceil_mode_tail(h, 0, 0, kernel[0], stride[0]) or
                                          ceil_mode_tail(w, 0, 0, kernel[1], stride[1])):
            raise self.fail("AveragePool with ceil_mode adds partial windows here (they average fewer elements); "
                            "not supported")
        return self._average(r, (kernel[0], kernel[1]), (stride[0], stride[1]), flatten=False)

    def op_Trunc(self, x: str, scale: str, zeropt: str, in_bits: str, out_scale: str = "", out_bits: str = "") -> Any:
        """Brevitas' TruncAvgPool2d / TruncAdaptiveAvgPool2d: the average pool of a quantized
        activation, then QONNX's Trunc (v2): q = R(clamp(round(mean / scale) / t)) with t =
        2^round(log2(out_scale / scale)), valued q * out_scale. A monotone function of the
        pool's integer sum: a standalone `Threshold` on the SumPool, its chain the Trunc's own
        float steps, read off the exact evaluation at every reachable sum."""
        r = self.role(x)
        if not out_bits:
            raise self.fail("QONNX Trunc v1 (5 inputs, no output scale) is not supported; export with a current Brevitas")
        if not isinstance(r, Mean) or r.chain:
            raise self.fail("Trunc (Brevitas' TruncAvgPool2d) is supported only right after an average pool of a "
                            "quantized activation")
        s, zp, os_ = (self.const(t, f"Trunc {what}").astype(np.float32) for t, what in
                      ((scale, "scale"), (zeropt, "zero point"), (out_scale, "output scale")))
        ob = self.const(out_bits, "Trunc output bit width").astype(np.float32)
        if max(s.size, zp.size, os_.size, ob.size) != 1:
            raise self.fail("Trunc needs a scalar scale, zero point, output scale and output bit width")
        if not (np.isfinite(s).all() and np.isfinite(os_).all() and s.reshape(-1)[0] > 0 and os_.reshape(-1)[0] > 0):
            raise self.fail("Trunc scales must be positive and finite")
        if zp.reshape(-1)[0] != 0:
            raise self.fail(f"Trunc with zero point {float(zp.reshape(-1)[0])!r} is not supported (only 0)")
        bits_f = float(ob.reshape(-1)[0])
        if bits_f != int(bits_f) or not 1 <= bits_f <= 8:
            raise self.fail(f"Trunc output bit width {bits_f}: an integer from 1 to 8 is supported")
        attrs = self.attrs()
        mode = attrs.get("rounding_mode", b"FLOOR")
        mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
        if mode not in ROUNDING_MODES:
            raise self.fail(f"Trunc rounding mode {mode!r} is not supported (supported: {', '.join(ROUNDING_MODES)})")
        t = (2 ** np.round(np.log2(os_ / s))).astype(np.float32)  # as QONNX's trunc_v2 computes it
        chain = [AffineOp(kind="div", params={"c": s.reshape(1)}), AffineOp(kind="round", params={}),
                 AffineOp(kind="div", params={"c": t.reshape(1)})]
        quant = IntQuant(scale=1.0, zero_point=0, bits=int(bits_f), signed=bool(attrs.get("signed", 1)),
                         narrow=bool(attrs.get("narrow", 0)), rounding=mode)
        return self._threshold_mean(Mean(r.act, chain), quant, float(os_.reshape(-1)[0]))

    def _average(self, r: Any, kernel: tuple[int, int], stride: tuple[int, int], flatten: bool) -> Any:
        """An average pool: of a quantized activation (a SumPool node; the mean's scale is the
        input's over the window size), or of the last layer's accumulators before the output."""
        if isinstance(r, Acc):
            layer = self.layers[r.layer_index]
            if r.pool is not None or r.avg is not None or r.flattened or not isinstance(layer, Conv):
                raise self.fail("an average pool of accumulators is supported once, on a conv's (C, H, W) output")
            for op in r.chain:
                if op.kind not in ("mul", "add", "sub", "rsub", "div", "batchnorm"):
                    raise self.fail(f"a '{op.kind}' before an average pool of the accumulators does not commute with "
                                    "the mean; quantize before pooling")
            c, h, w = r.shape
            oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
            if min(oh, ow) < 1:
                raise self.fail(f"average pool {kernel} does not fit a {h}x{w} map")
            return dataclasses.replace(r, shape=(c, oh, ow), avg=(kernel, stride), flattened=flatten)
        if not isinstance(r, Act) or len(r.shape) != 3:
            raise self.fail("an average pool is supported on quantized (C, H, W) activations (after a quantizer) or on "
                            "the last layer's accumulators before the output")
        self._single_scale(r, "an average pool")
        c, h, w = r.shape
        pool = SumPool(name=self.unique_name(f"avgpool{sum(isinstance(l, SumPool) for l in self.layers)}"),
                       in_shape=(h, w, c), kernel=kernel, stride=stride, input_scale=r.scale, inputs=(r.producer,))
        oh, ow, _ = pool.out_shape
        if min(oh, ow) < 1:
            raise self.fail(f"average pool {kernel} does not fit a {h}x{w} map")
        self.layers.append(pool)
        assert self.input_quant is not None
        lo, hi = Network(self.name, (self.input_quant, *self.layers)).value_range(pool)
        bits = signed_width(lo, hi)
        if bits > 16:
            raise self.fail(f"the pooled sums need {bits} bits; at most 16 are supported")
        act = Act(shape=(c, oh, ow), bits=bits, scale=r.scale / pool.divisor, producer=pool.name)
        return Mean(self._reshape_act(act, (c * oh * ow,)) if flatten else act)

    def _layer(self, name: str) -> Any:
        return next(layer for layer in self.layers if layer.name == name)

    def _pool_layer(self, layer: MatrixLayer, pool: tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]],
                    before_activation: bool) -> MaxPool:
        kernel, stride, pads = pool
        node = MaxPool(name=self.unique_name(f"maxpool{sum(isinstance(l, MaxPool) for l in self.layers)}"),
                       in_shape=layer.out_shape, kernel=kernel, stride=stride, inputs=(layer.name,),
                       before_activation=before_activation, pads=pads)
        self.layers.append(node)
        return node


def ceil_mode_tail(size: int, head: int, tail: int, kernel: int, stride: int) -> int:
    """The end padding of one axis of a ceil_mode pool, grown to hold its partial last window:
    the pool has ceil((size + head + tail - kernel) / stride) + 1 windows, less one where the
    last would start in the end padding (onnxruntime's and PyTorch's rule)."""
    out = -(-(size + head + tail - kernel) // stride) + 1
    if (out - 1) * stride >= size + head:
        out -= 1
    return max(tail, (out - 1) * stride + kernel - size - head)


AVG_OF_ACCUMULATORS = ("an average pool of a layer's accumulators is supported only before the output; "
                      "quantize before pooling")


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------
MIN_OPSET = 11  # Pad's pads as an input, Reshape's shape as an input
MAX_OPSET = onnx.defs.onnx_opset_version()
# (op type, input index) that take int64 tensors; every other constant input must be float32
INT64_INPUTS = {("Reshape", 1), ("Pad", 1), ("Pad", 3), ("ReduceMean", 1)}
FLOAT_PARAM_RANK1 = {"BatchNormalization": (1, 2, 3, 4)}  # scale, bias, mean, var: 1-D
_DT = onnx.TensorProto


def load_model(path: Path) -> onnx.ModelProto:
    """Load an ONNX/QONNX file with its external data (Brevitas writes MODEL.onnx.data) and
    refuse what the QONNX executor could not run (`check_model`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # onnx raises DecodeError, OSError, ValidationError ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not a readable ONNX model ({reason})") from None
    if not model.graph.node:
        raise UserError(f"{path}: the ONNX graph is empty")
    check_model(model, path)
    return model


def check_model(model: onnx.ModelProto, path: Path) -> None:
    """Structural checks (opsets, names, tensor types and sizes) with messages naming the
    tensor at fault, then onnx's own full check (QONNX custom-domain ops pass it)."""
    graph = model.graph
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if "ai.onnx" not in opsets:
        raise UserError(f"{path}: no opset import for the default ONNX domain")
    if not MIN_OPSET <= opsets["ai.onnx"] <= MAX_OPSET:
        raise UserError(f"{path}: ONNX opset {opsets['ai.onnx']} is not supported (supported: {MIN_OPSET} to {MAX_OPSET})")
    init_names = [t.name for t in graph.initializer]
    produced = list(init_names) + [o for n in graph.node for o in n.output if o]
    inputs = [i for i in graph.input if i.name not in set(init_names)]
    produced += [i.name for i in inputs]
    seen: set[str] = set()
    for name in produced:
        if name == "":
            raise UserError(f"{path}: a graph input or initializer has an empty name")
        if name in seen:
            raise UserError(f"{path}: tensor name '{name}' is defined more than once")
        seen.add(name)
    for inp in inputs:
        tt = inp.type.tensor_type
        if tt.elem_type != _DT.FLOAT:
            raise UserError(f"graph input '{inp.name}': must be float32, not {_DT.DataType.Name(tt.elem_type)}")
        dims = tt.shape.dim
        if dims and not (dims[0].HasField("dim_value") and dims[0].dim_value == 1):
            # the QONNX executor checks inputs against the declared shape: it runs neither a
            # symbolic ('N') nor a fixed batch other than the frame-at-a-time 1
            got = f"symbolic '{dims[0].dim_param}'" if dims[0].HasField("dim_param") else dims[0].dim_value or "unknown"
            raise UserError(f"graph input '{inp.name}': the batch dimension must be 1 (as Brevitas exports), not {got}")
    uses: dict[str, set[bool]] = {}  # tensor -> {is an int64 slot}
    rank1: dict[str, str] = {}
    for node in graph.node:
        for i, tensor in enumerate(node.input):
            uses.setdefault(tensor, set()).add((node.op_type, i) in INT64_INPUTS)
            if i in FLOAT_PARAM_RANK1.get(node.op_type, ()):
                rank1[tensor] = node.name or node.op_type
    constants = [(t, f"initializer '{t.name}'") for t in graph.initializer]
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for a in node.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    t = onnx.TensorProto()
                    t.CopyFrom(a.t)
                    t.name = node.output[0]
                    constants.append((t, f"Constant '{node.name or node.output[0]}'"))
    scales: dict[str, onnx.NodeProto] = {}  # tensor -> the first quantizer that reads it as its scale
    for node in graph.node:
        if node.op_type in ("Quant", "BipolarQuant", "Trunc") and len(node.input) > 1:
            scales.setdefault(node.input[1], node)
    constant_names = {t.name for t, _ in constants}
    for tensor, what in constants:
        quantizer = scales.get(tensor.name)
        _check_tensor(tensor, what, uses.get(tensor.name, set()), tensor.name in rank1,
                      None if quantizer is None else (quantizer, quantizer.input[0] in constant_names))
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # ValidationError, InferenceError
        reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise UserError(f"{path}: invalid ONNX model ({reason.strip()})") from None


# Why a weight scale is infinite (the usual case: `what` of a quantizer's scale, see `_check_tensor`).
WEIGHT_SCALE_HINT = ("; Brevitas' default weight quantizer at weight_bit_width=1 is a narrow signed integer whose "
                     "only level is 0, so its scale max|w| / 0 is infinite: use a binary weight quantizer, e.g. "
                     "weight_quant=brevitas.quant.SignedBinaryWeightPerTensorConst")


def _check_tensor(t: onnx.TensorProto, what: str, uses: set[bool], rank1: bool,
                  quantizer: tuple[onnx.NodeProto, bool] | None = None) -> None:
    """`quantizer`: (the first quantizer node that reads `t` as its scale, whether it quantizes
    a constant, i.e. weights), for the message on a scale that is not finite."""
    if t.data_location == _DT.EXTERNAL:
        raise UserError(f"{what}: its external data was not loaded")
    dtype: type[np.generic]
    if uses == {True}:
        want, dtype = _DT.INT64, np.int64
    else:
        want, dtype = _DT.FLOAT, np.float32
        if True in uses:
            raise UserError(f"{what}: used both as an integer shape and as float data")
    if t.data_type != want:
        name = _DT.DataType.Name(t.data_type) if t.data_type in _DT.DataType.values() else str(t.data_type)
        raise UserError(f"{what}: data type {name}; expected {_DT.DataType.Name(want)}"
                        + (" (weights and parameters must be float32)" if want == _DT.FLOAT else " (a shape)"))
    if any(d < 0 for d in t.dims):
        raise UserError(f"{what}: negative dimension in {list(t.dims)}")
    count = int(np.prod(t.dims, dtype=np.int64)) if t.dims else 1
    if t.HasField("raw_data"):
        have = len(t.raw_data) // np.dtype(dtype).itemsize
        exact = len(t.raw_data) % np.dtype(dtype).itemsize == 0
    else:
        have = len(t.float_data) if want == _DT.FLOAT else len(t.int64_data)
        exact = True
    if have != count or not exact:
        raise UserError(f"{what}: dims {list(t.dims)} need {count} values but the data holds "
                        f"{'a truncated' if not exact else have}{' value' if not exact else ' values'}")
    if rank1 and len(t.dims) != 1:
        raise UserError(f"{what}: a BatchNormalization parameter must be 1-D, got dims {list(t.dims)}")
    if want == _DT.FLOAT:
        values = numpy_helper.to_array(t)
        if not np.isfinite(values).all():
            index = int(np.flatnonzero(~np.isfinite(values.reshape(-1)))[0])
            if quantizer is not None:
                node, weights = quantizer
                value = values.reshape(-1)[index]
                kind = "infinite" if np.isinf(value) else "NaN"
                raise UserError(f"{node_label(node)}: the {'weight' if weights else 'activation'} quantizer's scale "
                                f"({what}) is {kind}{f' at flat index {index}' if values.size > 1 else ''}"
                                + (WEIGHT_SCALE_HINT if weights and np.isinf(value) else
                                   "; a quantizer's scale must be positive and finite"))
            raise UserError(f"{what}: holds {values.reshape(-1)[index]} at flat index {index}; weights and parameters "
                            "must be finite (the source model computes nothing defined there)")


def _power_of_two_shifts(a: float, b: float) -> tuple[int, int] | None:
    """(shift_a, shift_b) with a * 2**-shift_a == b * 2**-shift_b exactly (one of them 0), or
    None where the ratio of the float32 scales is not an exact power of two."""
    fa, fb = np.float32(a), np.float32(b)
    big, small = max(fa, fb), min(fa, fb)
    k = int(round(float(np.log2(np.float64(big) / np.float64(small)))))
    if np.ldexp(np.float64(small), k) != np.float64(big) or k > 16:
        return None
    return (k, 0) if fa >= fb else (0, k)


@dataclass
class _Named:
    """A name with no IR node behind it (for `_Importer.named`)."""

    name: str


# Brevitas' own modules between the user's module and the exported node (the quantizer
# proxies and their export handlers): a node is named after the user's module above them.
_INTERNAL_MODULES = ("brevitas.proxy.", "brevitas.export.", "brevitas.core.", "onnx_symbolic.", "aten.")


def module_of(node: onnx.NodeProto) -> str:
    """The torch module path of an exported node ("features.2"), where the export kept it (the
    dynamo exporter's `pkg.torch.onnx.name_scopes` and `class_hierarchy` metadata), else ""."""
    meta = {p.key: p.value for p in node.metadata_props}
    try:
        scopes = ast.literal_eval(meta.get("pkg.torch.onnx.name_scopes", "[]"))
        classes = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return ""
    if not (isinstance(scopes, list) and isinstance(classes, list) and len(scopes) == len(classes)):
        return ""
    # The last entry is the op itself; the deepest module above it that is not Brevitas' own.
    for scope, cls in zip(scopes[-2::-1], classes[-2::-1]):
        if isinstance(scope, str) and isinstance(cls, str) and not cls.startswith(_INTERNAL_MODULES):
            return scope
    return ""


def node_label(node: onnx.NodeProto) -> str:
    """An ONNX node for a message: "node 'node_Conv_49' (Conv, module features.0)"."""
    module = module_of(node)
    return f"node '{node.name or node.output[0]}' ({node.op_type}{f', module {module}' if module else ''})"


def model_digest(model: onnx.ModelProto) -> str:
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()


def import_model(model: onnx.ModelProto, name: str = "network") -> Network:
    """Pattern-match a QONNX graph into the raw IR (chains not yet folded)."""
    return _Importer(model, name).run()
