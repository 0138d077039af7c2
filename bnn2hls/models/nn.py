"""Torch modules for training BNNs that bnn2hls compiles with no padding correction."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ir import padding_pattern


class AlternatingPad2d(nn.Module):
    """Pad a +1/-1 activation with the FBNA pattern instead of zeros.

    The border reads +1/-1 alternating along each row and column, with the phase flipped
    from one channel to the next (`bnn2hls.ir.padding_pattern`): a binary datapath stays binary,
    and a model trained with it needs no border correction in hardware.

    Exported to ONNX as a zero `Pad` followed by an `Add` of the border pattern; bnn2hls'
    importer recognizes the pair and folds it into the next convolution. Place it between a
    binary activation quantizer and a `QuantConv2d(padding=0)`.
    """

    def __init__(self, padding: int | tuple[int, int, int, int]):
        super().__init__()
        # (top, left, bottom, right)
        self.pads = (padding,) * 4 if isinstance(padding, int) else tuple(padding)

    def border(self, channels: int, height: int, width: int) -> torch.Tensor:
        t, l, b, r = self.pads
        values = padding_pattern.pad_values(channels, np.arange(-t, height + b), np.arange(-l, width + r))
        values = values.transpose(2, 0, 1).astype(np.float32)
        values[:, t : t + height, l : l + width] = 0.0
        return torch.from_numpy(np.ascontiguousarray(values))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, l, b, r = self.pads
        _, c, h, w = x.shape
        return F.pad(x, (l, r, t, b)) + self.border(c, h, w).to(x.dtype)

    def extra_repr(self) -> str:
        return f"pads={self.pads}"
