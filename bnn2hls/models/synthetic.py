"""Synthetic networks: a compiled-looking `ir.Network` built directly from a shape spec, with
random weights and thresholds spread like trained BatchNorm ones. No torch, no export, no
training: what cost models and the characterization sweep need when only the structure
matters.

    input_spec  = (H, W, C, bits)      the datapath input (bits 1 = binary, else signed ints)
    layer_specs = [("conv", MH, k, stride, pad, PE, SIMD[, "alternating"][, {options}]),
                   ("pool", k, stride),
                   ("dense", MH, PE, SIMD[, {options}]), ...]
    options: {"w": weight bits (default 1), "levels": L (a multi-threshold output of L levels,
             default 0: a sign), "offset": the value of level 0 (default -(L // 2))}

The last matrix layer emits raw accumulators (no thresholds), every other one thresholds.
Zero-padded binary convs get their real border table, as `resolve_padding` would give them.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .. import ir
from ..passes.padding import border_table, needs_border_table


def _thresholds(rng: np.random.Generator, mh: int, fan_in: int, in_bits: int, w_bits: int = 1,
                levels: int = 0) -> np.ndarray:
    """Dot-domain thresholds spread like zoo.randomize_batchnorm's (about sqrt(fan-in)): one
    per channel, or L-1 sorted ones per channel for a multi-threshold."""
    scale = math.sqrt(fan_in) * (2 ** (in_bits - 1) if in_bits > 1 else 1) * (2 ** (w_bits - 1) if w_bits > 1 else 1)
    if not levels:
        return np.round(rng.normal(0.0, 0.7 * scale, mh)).astype(np.int64)
    return np.sort(np.round(rng.normal(0.0, 0.7 * scale, (mh, levels - 1))), axis=1).astype(np.int64)


def synthetic_network(name: str, input_spec: tuple[int, int, int, int], layer_specs: list[tuple],
                      seed: int | None = None, *, source_shape: tuple[int, ...] | None = None,
                      preprocess: tuple[tuple[str, Any], ...] = ()) -> ir.Network:
    """A validated network of the given structure with random contents.

    `seed` defaults to the sum of the name's character codes (what the characterization
    sweep has always used). `source_shape` (default (C, H, W)) and `preprocess` set the
    host-side input quantizer's view of the source input, e.g. (1, 28, 28) and a
    reshape for an MLP whose datapath input is (1, 1, 784).
    """
    h, w, c, bits = input_spec
    rng = np.random.default_rng(sum(map(ord, name)) if seed is None else seed)
    shape = (h, w, c)
    matrix_idx = [i for i, s in enumerate(layer_specs) if s[0] in ("conv", "dense")]
    layers: list = [ir.InputQuant(name="input", source_shape=(c, h, w) if source_shape is None else tuple(source_shape),
                                  preprocess=tuple(preprocess), bits=bits, scale=1.0, out_shape=shape)]
    in_bits = bits
    values = layers[0].value_range  # the integers the current value takes
    for i, s in enumerate(layer_specs):
        lname = f"{s[0]}{i}"
        if s[0] == "pool":
            layer: ir.DatapathLayer = ir.MaxPool(name=lname, in_shape=shape, kernel=(s[1], s[1]), stride=(s[2], s[2]))
        elif s[0] in ("avgpool", "gap"):  # a sum pool: ("avgpool", k, stride) or ("gap",) over the whole map
            kernel, strides = ((s[1], s[1]), (s[2], s[2])) if s[0] == "avgpool" else (shape[:2], (1, 1))
            layer = ir.SumPool(name=lname, in_shape=shape, kernel=kernel, stride=strides)
            values = (values[0] * layer.divisor, values[1] * layer.divisor)
            in_bits = ir.signed_width(*values)
        else:
            last = i == matrix_idx[-1]
            opts = s[-1] if isinstance(s[-1], dict) else {}
            s = tuple(v for v in s if not isinstance(v, dict))
            w_bits, levels = int(opts.get("w", 1)), 0 if last else int(opts.get("levels", 0))
            if s[0] == "conv":
                _, mh, k, stride, pad, pe, simd, *mode = s
                kernel, strides, pads, in_shape = (k, k), (stride, stride), (pad, pad, pad, pad), shape
                cls: type[ir.Conv | ir.Dense] = ir.Conv
            elif s[0] == "dense":
                _, mh, pe, simd = s
                mode = []
                kernel, strides, pads, in_shape = (1, 1), (1, 1), (0, 0, 0, 0), (1, 1, int(np.prod(shape)))
                cls = ir.Dense
            else:
                raise ValueError(f"synthetic_network: unknown layer kind {s[0]!r} in {s!r}")
            fan_in = kernel[0] * kernel[1] * in_shape[2]
            if w_bits == 1:
                weights = rng.random((mh, fan_in)) < 0.5
            else:  # narrow-range integers, as Brevitas' signed weight quantizers give
                top = 2 ** (w_bits - 1) - 1
                weights = rng.integers(-top, top + 1, (mh, fan_in)).astype(np.int8)
            layer = cls(name=lname, in_shape=in_shape, out_channels=mh, kernel=kernel, stride=strides, pads=pads,
                        input_bits=in_bits, weights=weights,
                        acc_scale=np.ones(mh, np.float32), binarize=not last, pad_mode=mode[0] if mode else "zero",
                        thresholds=None if last else _thresholds(rng, mh, fan_in, in_bits, w_bits, levels),
                        flip=None if last else rng.random(mh) < 0.3, pe=pe, simd=simd, weight_bits=w_bits,
                        out_levels=levels, out_offset=int(opts.get("offset", -(levels // 2))) if levels else 0)
            if needs_border_table(layer):
                layer = dataclasses.replace(layer, border=border_table(layer))
            in_bits, values = layer.out_bits, layer.out_range
        layers.append(layer)
        shape = layer.out_shape
    layers.append(ir.OutputHead(name="head", in_shape=shape, acc_scale=np.ones(shape[2], np.float32), chain=()))
    return ir.chain_network(name, layers)


__all__ = ["synthetic_network"]
