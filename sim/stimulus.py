"""Random block inputs shared by the cocotb benches and the HLS block tests (numpy only, so
both a bench running inside the simulator and a plain pytest can import it)."""
from __future__ import annotations

import numpy as np


def pool_image(rng: np.random.Generator, frames: int, h: int, w: int, c: int, bits: int) -> np.ndarray:
    """[frames, H, W, C] max-pool input: sparse-ish +1 bits (bool) for B = 1, so OR results are
    not almost always all ones; for B > 1 signed values skewed low, so the maximum is not
    almost always the top value, with both ends of the range present."""
    if bits == 1:
        return rng.random((frames, h, w, c)) < 0.2
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    image = np.minimum(rng.integers(lo, hi + 1, (frames, h, w, c)), rng.integers(lo, hi + 1, (frames, h, w, c)))
    image[0, 0, 0, :] = hi
    image[0, -1, -1, :] = lo
    return image
