"""The host's side of running the accelerator, shared by the rtl and hls engines: quantize and
pack input frames into stream words, and turn the last layer's output words back into the
source model's outputs (border correction of a last conv, float32 head)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import datapath
from .. import reference
from ..hw import streams
from ..errors import UserError
from ..ir import Network


def encode_inputs(net: Network, x: np.ndarray, in_bits: int) -> list[int]:
    """float32 [N, *source_shape] -> one stream word per input pixel, frames back to back."""
    act = reference.quantize_input(net.input_quant, x)  # [N, H, W, C]
    if len(act) == 0:
        raise UserError("--input: no frames")
    return streams.pack_words(act.astype(np.int64), in_bits)


def decode_outputs(net: Network, words: list[int], frames: int, fmt: dict[str, Any]) -> np.ndarray:
    """Output stream words (OUT/rtl/stream.json format) -> float32 [N, outputs]."""
    expected = frames * fmt["out_pixels"]
    if len(words) != expected:
        raise UserError(f"the accelerator produced {len(words)} of {expected} output words")
    fields = streams.unpack_words(words, fmt["out_fields"], fmt["out_field_width"], fmt["out_signed"])
    oh, ow, c = net.head.in_shape
    # popcounts -> the zero-padded source's accumulators (or their window sums)
    acc = datapath.head_values(net, fields.reshape(frames, oh, ow, c))
    return reference.apply_head(net.head, acc)
