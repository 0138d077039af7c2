"""What every IR op kind defines, and the registry that finds it (see bnn2hls/ops/__init__.py).

An op kind is a subclass of `Op` bound to one IR node class (`node`, a dataclass of
bnn2hls.ir: the data that ir.json serializes). It owns, in one place, every behaviour of the
pipeline that depends on the kind:

- `kernel(layer, xs)`: the reference arithmetic (numpy, bit-exact with the hardware) on the
  values of its inputs, in `layer.inputs` order;
- `need(layer, operand, net)`: per output item (pixel) of a frame, the last item of input
  `operand` it reads first (hw/fifo_sizing composes these into the reconvergent FIFO bounds);
  `input_fifo_depth(layer)`: the FIFO the op wants in front of it;
- `summary(layer)`: its entry in report.json, past kind and shapes;
- `blocks`: the hardware block kinds (hw/blocks, by their `kind` name) that implement it, in
  stream order: the lowering rule;
- `work(layer, net)`: what it computes per frame, backend-neutral (`Work`), which every cost
  backend prices (search/backends): never a zero, never a silent skip;
- `example()`: a small validated, compiled network holding it, for the completeness tests.

Kinds register themselves (`Op.__init_subclass__`); `op_of(layer)` finds a layer's. An op with
several inputs (a residual join, a channel concat) gets them all: `kernel` takes a list and
`need` is per operand; how many it takes is its node's `arity` (ir, checked by validate).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..ir import Network, signed_width

REGISTRY: dict[type, type["Op"]] = {}
MIN_FIFO_DEPTH = 2  # a FIFO between two layers that need no more


@dataclass(frozen=True)
class MatrixWork:
    """A matrix product per frame: `positions` output positions, each `groups` independent
    dot products of K = `k` terms into N = `n` outputs (a depthwise conv: one group per
    channel, n = 1), on `planes` input bit-planes (input bits) and `weight_bits`-bit weights.
    `shape` names the loop nest ("conv": implicit GEMM over windows, "dense": GEMV,
    "depthwise": grouped), which a backend may price differently; `k_words` is the packed
    32-bit words of K per output and plane where the activations' layout forces more than
    ceil(k / 32) (a channels-last conv reads whole words per tap), else None."""

    shape: str
    positions: int
    k: int
    n: int
    planes: int
    weight_bits: int = 1
    groups: int = 1
    k_words: int | None = None


@dataclass(frozen=True)
class Work:
    """What an op computes and moves for one frame, backend-neutral.

    `bits_in`: bits read from every input value; `elements_out` elements written at
    `bits_out` bits each; `positions`: the output positions (the serial steps of a
    position-by-position engine); `ops`: the elementwise operations besides any matrix
    product (a pool's ORs / maxes / adds, a join's adds, an activation's compares);
    `matrix`: the matrix product, if any; `label`: what kind of kernel it is ("matrix",
    "pool", "elementwise") for the reports."""

    label: str
    bits_in: int
    elements_out: int
    bits_out: int
    positions: int
    ops: int
    matrix: MatrixWork | None = None
    weight_bits_total: int = 0

    def __post_init__(self) -> None:
        assert self.bits_in > 0 and self.elements_out > 0 and self.positions > 0, self
        assert self.ops > 0 or self.matrix is not None, f"{self}: an op that computes nothing"


class Op(ABC):
    """One IR op kind (see the module docstring)."""

    node: ClassVar[type]
    blocks: ClassVar[tuple[str, ...]] = ()  # () : not lowered yet (hw.lower refuses it; tests/test_ops.py fails)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        node = cls.__dict__.get("node")
        if node is not None:
            assert node not in REGISTRY, f"{node.__name__}: two ops claim it ({REGISTRY[node].__name__}, {cls.__name__})"
            REGISTRY[node] = cls

    @abstractmethod
    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        """The op's output for its input values `xs` ([N, H, W, C] each, in input order)."""

    @abstractmethod
    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        """[output items per frame] -> the last item (per frame) of input `operand` read
        before producing it (-1: none)."""

    def input_fifo_depth(self, layer: Any) -> int:
        """Depth of the FIFO in front of the op (past a join's reconvergent bound)."""
        return MIN_FIFO_DEPTH

    @abstractmethod
    def summary(self, layer: Any) -> dict[str, Any]:
        """The op's own fields of its report.json entry (kind and shapes are added)."""

    @abstractmethod
    def work(self, layer: Any, net: Network) -> Work:
        """What the op computes and moves per frame, for the cost backends."""

    @abstractmethod
    def example(self) -> Network:
        """A small validated, compiled network that holds the op."""


def op_class(node: type) -> type[Op] | None:
    """The op kind registered for an IR node class (None: none)."""
    return REGISTRY.get(node)


def op_of(layer: Any) -> Op:
    """The op kind of `layer` (an instance; ops hold no state)."""
    cls = REGISTRY.get(type(layer))
    if cls is None:
        raise TypeError(f"no op kind is registered for {type(layer).__name__} ('{getattr(layer, 'name', '?')}')")
    return cls()


def value_bits(net: Network, layer: Any) -> int:
    """Bits per element of the value `layer` produces, as a kernel stores it: the element bits,
    or for raw accumulators (a matrix layer that does not threshold) their signed width."""
    if getattr(layer, "binarize", True) is False:
        return signed_width(*net.value_range(layer))
    return net.element_bits(layer)


def items(shape: tuple[int, int, int]) -> int:
    """Stream items (pixels) of a value of `shape` per frame."""
    return shape[0] * shape[1]
