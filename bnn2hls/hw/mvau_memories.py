"""Memory images for `bnn_mvau` (hls_lib/rtl/bnn_mvau.sv): the three `$readmemh` files in the
layouts of hls_lib/rtl/README.md, plus the accumulator/threshold widths the RTL expects.

Pure Python + numpy; the Verilog backend and the cocotb benches both use it.

Layouts (NF = MH/PE folds, SF = MW/SIMD column steps):
- weights: depth NF*SF, word PE*SIMD bits; address nf*SF + sf, bit pe*SIMD + s holds the
  weight of output nf*PE + pe, column sf*SIMD + s (1 is +1).
- thresholds: depth N_CLASSES*NF, word PE*THR_W bits; address cls*NF + nf, lane pe at
  [pe*THR_W +: THR_W] (two's complement for multi-bit inputs).
- flip: depth NF, word PE bits; bit pe is the flip of output nf*PE + pe.

Each file has one word per line, as ceil(width/4) hex digits, address 0 first.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "clog2", "acc_width", "thr_width", "acc_range", "clamp_thresholds",
    "weight_words", "threshold_words", "flip_words", "write_memh", "write_mvau_memories",
]


def clog2(n: int) -> int:
    """Verilog's $clog2: ceil(log2(n)), 0 for n <= 1."""
    return max(0, int(n) - 1).bit_length()


def acc_width(mw: int, in_bits: int = 1) -> int:
    """ACC_W: binary inputs give an unsigned popcount in [0, MW]; multi-bit inputs give a
    signed sum of +-x with |sum| <= MW * 2**(IN_B-1)."""
    return clog2(mw + 1) if in_bits == 1 else clog2(mw) + in_bits + 1


def thr_width(mw: int, in_bits: int = 1) -> int:
    """THR_W: binary thresholds are unsigned in [0, MW+1]; multi-bit ones signed in
    [lo, hi+1] (see `acc_range`)."""
    return clog2(mw + 2) if in_bits == 1 else acc_width(mw, in_bits) + 1


def acc_range(mw: int, in_bits: int = 1) -> tuple[int, int]:
    """(lo, hi): the accumulator's reachable range."""
    if in_bits == 1:
        return 0, mw
    bound = mw * 2 ** (in_bits - 1)
    return -bound, bound


def clamp_thresholds(thresholds: np.ndarray, mw: int, in_bits: int = 1) -> np.ndarray:
    """int64 copy clipped to [lo, hi+1]. No comparison `acc >= thr` changes: below lo is
    always true like lo, above hi is never true like hi+1."""
    lo, hi = acc_range(mw, in_bits)
    return np.clip(np.asarray(thresholds, np.int64), lo, hi + 1)


def _pack_rows(bits: np.ndarray) -> list[int]:
    """bool [rows, width] -> one int per row, column j at bit j."""
    bits = np.asarray(bits, bool)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def weight_words(weights: np.ndarray, pe: int, simd: int) -> list[int]:
    """bool [MH, MW] -> NF*SF words of PE*SIMD bits."""
    weights = np.asarray(weights, bool)
    mh, mw = weights.shape
    if mh % pe or mw % simd:
        raise ValueError(f"PE={pe} must divide MH={mh} and SIMD={simd} must divide MW={mw}")
    nf, sf = mh // pe, mw // simd
    tiles = weights.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3)  # [nf, sf, pe, simd]
    return _pack_rows(tiles.reshape(nf * sf, pe * simd))


def threshold_words(thresholds: np.ndarray, pe: int, thr_w: int, signed: bool = False) -> list[int]:
    """int [N_CLASSES, MH] (already clamped) -> N_CLASSES*NF words of PE*THR_W bits, lane pe
    at [pe*THR_W +: THR_W] (two's complement when `signed`). Raises if a value does not fit."""
    thresholds = np.atleast_2d(np.asarray(thresholds, np.int64))
    n_classes, mh = thresholds.shape
    if mh % pe:
        raise ValueError(f"PE={pe} must divide MH={mh}")
    lo, hi = (-(2 ** (thr_w - 1)), 2 ** (thr_w - 1) - 1) if signed else (0, 2 ** thr_w - 1)
    if thresholds.size and (thresholds.min() < lo or thresholds.max() > hi):
        raise ValueError(f"thresholds in [{thresholds.min()}, {thresholds.max()}] do not fit "
                         f"{'signed' if signed else 'unsigned'} THR_W={thr_w}")
    mask = (1 << thr_w) - 1
    words = []
    for row in thresholds.reshape(n_classes * (mh // pe), pe):
        word = 0
        for lane, value in enumerate(row.tolist()):
            word |= (value & mask) << (lane * thr_w)
        words.append(word)
    return words


def flip_words(flip: np.ndarray, pe: int) -> list[int]:
    """bool [MH] -> NF words of PE bits."""
    flip = np.asarray(flip, bool).reshape(-1)
    if flip.size % pe:
        raise ValueError(f"PE={pe} must divide MH={flip.size}")
    return _pack_rows(flip.reshape(-1, pe))


def write_memh(path: str | Path, words: list[int], width: int) -> Path:
    """Write `words` for `$readmemh`: one word per line, ceil(width/4) hex digits."""
    path = Path(path)
    digits = max(1, -(-width // 4))
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words))
    return path


def write_mvau_memories(directory: str | Path, prefix: str, weights: np.ndarray,
                        thresholds: np.ndarray | None, flip: np.ndarray | None, pe: int, simd: int,
                        in_bits: int = 1, thr_w: int | None = None) -> dict[str, Path]:
    """Write the memory files of one `bnn_mvau` instance into `directory`.

    weights: bool [MH, MW] (True = +1); thresholds: int [N_CLASSES, MH] (or [MH]) in the
    accumulator domain (popcount for binary inputs), clamped here to [lo, hi+1];
    flip: bool [MH]. thresholds=None means BINARIZE=0: only the weight file is written.
    thr_w defaults to `thr_width(MW, in_bits)`.

    Returns {"WEIGHT_FILE": path, "THRESH_FILE": path, "FLIP_FILE": path} (the last two only
    when thresholds are given), keyed by the RTL parameter names.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = np.asarray(weights, bool)
    mh, mw = weights.shape
    files = {"WEIGHT_FILE": write_memh(directory / f"{prefix}_weights.mem", weight_words(weights, pe, simd), pe * simd)}
    if thresholds is not None:
        thr_w = thr_width(mw, in_bits) if thr_w is None else thr_w
        thr = clamp_thresholds(np.atleast_2d(thresholds), mw, in_bits)
        if thr.shape[1] != mh:
            raise ValueError(f"thresholds have {thr.shape[1]} channels, weights {mh}")
        flip = np.zeros(mh, bool) if flip is None else np.asarray(flip, bool)
        files["THRESH_FILE"] = write_memh(directory / f"{prefix}_thresh.mem", threshold_words(thr, pe, thr_w, signed=in_bits != 1), pe * thr_w)
        files["FLIP_FILE"] = write_memh(directory / f"{prefix}_flip.mem", flip_words(flip, pe), pe)
    return files
