"""Channel concatenation (ir.Concat, torch.cat along channels): output pixel k is the
operands' pixel k side by side, operand 0's channels first; each operand's integers shifted
left by its shift (a sign bit counts as +-1), or the sign bits as they are where every
operand is sign bits and none is shifted. Its hardware block is hw/blocks/concat.py
(hls_lib/rtl/bnn_concat.sv, hls_lib/hls/bnn_concat.h)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Concat, Conv, InputQuant, Network, OutputHead, validate
from .base import Op, Work, items, value_bits
from .kernels import integers


def concat_layer(layer: Concat, xs: Sequence[np.ndarray]) -> np.ndarray:
    """[N, H, W, C_i] each -> [N, H, W, sum C_i]: bool where every operand is sign bits and
    none is shifted, else int64 (x_i << shifts[i], sign bits as +-1)."""
    if all(x.dtype == np.bool_ for x in xs) and not any(layer.shifts):
        return np.concatenate(xs, axis=-1)
    return np.concatenate([integers(x) << s for x, s in zip(xs, layer.shifts)], axis=-1)


def concat_example() -> Network:
    """input (binary 4x4x2) -+-> conv_a 1x1 (signs, scale 2) --+-> concat (shifts 1, 0) -> conv 1x1 (3-bit input) -> head
                              '-> conv_b 1x1 (2-bit levels) ----'"""
    rng = np.random.default_rng(7)
    iq = InputQuant(name="input", source_shape=(2, 4, 4), preprocess=(), bits=1, scale=1.0, out_shape=(4, 4, 2))

    def conv(name: str, src: str, cin: int, cout: int, in_bits: int, levels: int | None) -> Conv:
        binarize = levels is not None
        thresholds = None
        if levels == 0:
            thresholds = rng.integers(-2, 2, cout)
        elif levels:
            thresholds = np.sort(rng.integers(-3, 3, (cout, levels - 1)), axis=1)
        return Conv(name=name, in_shape=(4, 4, cin), out_channels=cout, kernel=(1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
                    input_bits=in_bits, weights=rng.random((cout, cin)) < 0.5, acc_scale=np.ones(cout, np.float32),
                    binarize=binarize, thresholds=thresholds, flip=(rng.random(cout) < 0.3) if binarize else None,
                    out_levels=levels or 0, out_offset=-2 if levels else 0, inputs=(src,))

    a = conv("conv_a", "input", 2, 3, 1, 0)
    b = conv("conv_b", "input", 2, 2, 1, 4)
    cat = Concat(name="concat0", in_shape=(4, 4, 5), channels=(3, 2), operand_scales=(2.0, 1.0), shifts=(1, 0),
                 inputs=("conv_a", "conv_b"))
    last = conv("conv_c", "concat0", 5, 3, 3, None)
    head = OutputHead(name="head", in_shape=(4, 4, 3), acc_scale=np.ones(3, np.float32), chain=(), inputs=("conv_c",))
    return validate(Network("example_concat", (iq, a, b, cat, last, head)))


class ConcatOp(Op):
    node = Concat
    blocks = ("concat",)

    def kernel(self, layer: Any, xs: Sequence[np.ndarray]) -> np.ndarray:
        return concat_layer(layer, xs)

    def need(self, layer: Any, operand: int, net: Network) -> np.ndarray:
        return np.arange(items(layer.out_shape))  # item k of every operand, in step (as a join)

    def summary(self, layer: Any) -> dict[str, Any]:
        return {"channels": list(layer.channels), "shifts": list(layer.shifts)}

    def work(self, layer: Any, net: Network) -> Work:
        """Every operand read at its bits, every element written (one copy or widening each)."""
        h, w, c = layer.out_shape
        bits_in = h * w * sum(ci * value_bits(net, p) for ci, p in zip(layer.channels, net.producers(layer)))
        return Work(label="elementwise", bits_in=bits_in, elements_out=h * w * c, bits_out=value_bits(net, layer),
                    positions=h * w, ops=h * w * c)

    def example(self) -> Network:
        return concat_example()
