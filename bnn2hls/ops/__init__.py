"""The IR op kinds, one module each, found through one registry (see base.py for what a kind
owns): `op_of(layer)` is a layer's kind, `kinds()` every registered one.

The node dataclasses themselves stay in bnn2hls.ir (the data ir.json serializes, below every
stage); each op module binds its node class (`Op.node`) and holds every behaviour of the
pipeline that depends on the kind. Adding an op: docs/ADDING_AN_OP.md."""
from __future__ import annotations

from .base import MIN_FIFO_DEPTH, REGISTRY, MatrixWork, Op, Work, op_class, op_of
from .concat import ConcatOp
from .join import JoinOp
from .matrix import ConvOp, DenseOp, DepthwiseConvOp, MatrixOp
from .maxpool import MaxPoolOp
from .sumpool import SumPoolOp
from .threshold import ThresholdOp


def kinds() -> list[type[Op]]:
    """Every registered op kind, in registration order."""
    return list(REGISTRY.values())


__all__ = ["Op", "Work", "MatrixWork", "REGISTRY", "MIN_FIFO_DEPTH", "op_of", "op_class", "kinds", "MatrixOp",
           "ConvOp", "DenseOp", "DepthwiseConvOp", "MaxPoolOp", "SumPoolOp", "JoinOp", "ConcatOp", "ThresholdOp"]
