"""The FBNA pad pattern: the one place that defines which value the hardware pads with.

A binary datapath has no 0, so out-of-bounds taps read +1 or -1, alternating along the
border and with the phase flipped from one channel to the next (Guo et al., FBNA):

    pad(c, y, x) = +1  if (y + x + c) is even  else  -1

where (y, x) are image coordinates (negative or >= H/W outside the image). The value at an
in-bounds position is irrelevant: only out-of-bounds taps read the pattern.
"""
import numpy as np


def pad_bits(channels: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """bool [len(ys), len(xs), channels]: the pattern's bit (1 <-> +1) at those coordinates."""
    total = ys[:, None, None] + xs[None, :, None] + np.arange(channels)[None, None, :]
    return (total % 2) == 0


def pad_values(channels: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """int8 [len(ys), len(xs), channels]: the pattern as +1/-1 values."""
    return np.where(pad_bits(channels, ys, xs), 1, -1).astype(np.int8)


def pad_binary_image(bits: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """bits: bool [N, H, W, C] -> bool [N, H+t+b, W+l+r, C], border filled with the pattern."""
    t, l, b, r = pads
    n, h, w, c = bits.shape
    ys = np.arange(-t, h + b)
    xs = np.arange(-l, w + r)
    out = np.broadcast_to(pad_bits(c, ys, xs), (n, len(ys), len(xs), c)).copy()
    out[:, t : t + h, l : l + w, :] = bits
    return out
