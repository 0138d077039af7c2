"""Memory images for `bnn_mvau` (hls_lib/rtl/bnn_mvau.sv): the three `$readmemh` files in the
layouts of hls_lib/rtl/README.md, plus the accumulator/threshold widths the RTL expects.

Pure Python + numpy; the Verilog backend and the cocotb benches both use it.

Layouts (NF = MH/PE folds, SF = MW/SIMD column steps):
- weights: depth NF*SF, word PE*SIMD*W_B bits; address nf*SF + sf, field
  [(pe*SIMD + s)*W_B +: W_B] holds the weight of output nf*PE + pe, column sf*SIMD + s
  (W_B == 1: bit 1 is +1; W_B > 1: two's complement).
- thresholds: depth N_CLASSES*NF, word PE*T*THR_W bits with T = LEVELS-1 thresholds per
  channel (T = 1 for a sign output); address cls*NF + nf, lane pe, level i at
  [(pe*T + i)*THR_W +: THR_W] (unsigned popcount thresholds for binary x binary, two's
  complement accumulator thresholds otherwise).
- flip: depth NF, word PE bits; bit pe is the flip of output nf*PE + pe.

Each file has one word per line, as ceil(width/4) hex digits, address 0 first. A weight ROM
deeper than its block RAMs is stored in banks of a block RAM's depth side by side (bnn_mvau's
WBANK_D, `weight_bank_depth`): line a holds words a, WBANK_D + a, ..., bank b at bits [b*word +: word], the last
bank padded with zero words.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "clog2", "acc_width", "thr_width", "acc_range", "clamp_thresholds",
    "weight_words", "threshold_words", "flip_words", "write_memh", "write_mvau_memories",
    "signed_width", "weight_range", "is_popcount", "mvau_out_width", "BLOCK_RAM_SHAPES", "weight_bank_depth",
    "weight_banks", "bank_words",
]

# The shapes (words, bits) of an 18-kbit block RAM: an ECP5 DP16KD, a Xilinx RAMB18. A weight
# ROM deeper than its block RAMs' shape, left to synthesis, is block RAMs cascaded in depth
# whose outputs pass a select in the read's own cycle (CNV's dense1: 16 DP16KD deep, 12.5 ns);
# bnn_mvau instead reads banks of one block RAM's depth side by side and selects the word in a
# registered stage of its own.
BLOCK_RAM_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def weight_bank_depth(depth: int, width: int) -> int:
    """bnn_mvau's WBANK_D for a weight ROM of `depth` words of `width` bits: the block RAM
    depth whose side-by-side banks take the fewest block RAMs (then the fewest banks), or 0
    (one bank) when that is a single bank. CNV_1W1A's conv4 (2,304 x 128): banks of 512, 18
    blocks (20 cascaded); dense1 (32,768 x 8): banks of 2,048, 15 blocks (16 cascaded)."""
    def blocks_banks(shape: tuple[int, int]) -> tuple[int, int]:
        banks = -(-depth // shape[0])
        return -(-banks * width // shape[1]), banks

    best = min(BLOCK_RAM_SHAPES, key=blocks_banks)
    return best[0] if depth > best[0] else 0


def weight_banks(depth: int, bank_depth: int) -> int:
    """Banks of a `depth`-word ROM stored in banks of `bank_depth` words (0: one bank), as
    bnn_mvau's WB."""
    return -(-depth // bank_depth) if bank_depth and depth > bank_depth else 1


def bank_words(words: list[int], width: int, bank_depth: int) -> list[int]:
    """The file image of a ROM of `width`-bit `words` stored in banks of `bank_depth` words
    side by side: line a holds words a, bank_depth + a, ... (bank b at bits [b*width +: width],
    missing words 0). bank_depth 0: `words` as they are."""
    banks = weight_banks(len(words), bank_depth)
    if banks == 1:
        return list(words)
    padded = list(words) + [0] * (banks * bank_depth - len(words))
    lines = []
    for a in range(bank_depth):
        line = 0
        for b in range(banks):
            line |= padded[b * bank_depth + a] << (b * width)
        lines.append(line)
    return lines


def clog2(n: int) -> int:
    """Verilog's $clog2: ceil(log2(n)), 0 for n <= 1."""
    return max(0, int(n) - 1).bit_length()


def is_popcount(in_bits: int = 1, w_bits: int = 1) -> bool:
    """Binary inputs x binary weights: the XNOR-popcount datapath (unsigned accumulator)."""
    return in_bits == 1 and w_bits == 1


def _peak_log2(in_bits: int, w_bits: int) -> int:
    """log2(xmax * wmax): xmax = 1 (binary) or 2**(IN_B-1), wmax = 1 or 2**(W_B-1)."""
    return (in_bits - 1 if in_bits > 1 else 0) + (w_bits - 1 if w_bits > 1 else 0)


def acc_width(mw: int, in_bits: int = 1, w_bits: int = 1) -> int:
    """ACC_W: binary x binary gives an unsigned popcount in [0, MW]; every other combination a
    signed sum with |sum| <= MW * xmax * wmax: clog2(MW) + log2(xmax*wmax) + 2 bits (for binary
    weights that is today's clog2(MW) + IN_B + 1)."""
    if is_popcount(in_bits, w_bits):
        return clog2(mw + 1)
    return clog2(mw) + _peak_log2(in_bits, w_bits) + 2


def thr_width(mw: int, in_bits: int = 1, w_bits: int = 1) -> int:
    """THR_W: binary x binary thresholds are unsigned in [0, MW+1]; the others signed in
    [lo, hi+1] (see `acc_range`)."""
    return clog2(mw + 2) if is_popcount(in_bits, w_bits) else acc_width(mw, in_bits, w_bits) + 1


def acc_range(mw: int, in_bits: int = 1, w_bits: int = 1) -> tuple[int, int]:
    """(lo, hi): the accumulator's reachable range."""
    if is_popcount(in_bits, w_bits):
        return 0, mw
    bound = mw * 2 ** _peak_log2(in_bits, w_bits)
    return -bound, bound


def clamp_thresholds(thresholds: np.ndarray, mw: int, in_bits: int = 1, w_bits: int = 1) -> np.ndarray:
    """int64 copy clipped to [lo, hi+1]. No comparison `acc >= thr` changes: below lo is
    always true like lo, above hi is never true like hi+1. Any shape (sign or multi-level)."""
    lo, hi = acc_range(mw, in_bits, w_bits)
    return np.clip(np.asarray(thresholds, np.int64), lo, hi + 1)


def signed_width(lo: int, hi: int) -> int:
    """Bits of the narrowest two's complement type holding every integer in [lo, hi]."""
    bits = 1
    while not (-(2 ** (bits - 1)) <= lo and hi <= 2 ** (bits - 1) - 1):
        bits += 1
    return bits


def weight_range(w_bits: int) -> tuple[int, int]:
    """The integers a W_B-bit weight holds (W_B == 1: -1 and +1)."""
    return (-1, 1) if w_bits == 1 else (-(2 ** (w_bits - 1)), 2 ** (w_bits - 1) - 1)


def mvau_out_width(mh: int, binarize: bool, levels: int = 0, o_bits: int = 1, acc_w: int = 0) -> int:
    """Width of bnn_mvau's m_tdata: MH*ACC_W raw, MH*O_B multi-threshold, MH sign."""
    if not binarize:
        return mh * acc_w
    return mh * o_bits if levels >= 2 else mh


def _pack_rows(bits: np.ndarray) -> list[int]:
    """bool [rows, width] -> one int per row, column j at bit j."""
    bits = np.asarray(bits, bool)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def weight_words(weights: np.ndarray, pe: int, simd: int, w_bits: int = 1) -> list[int]:
    """W_B == 1: bool [MH, MW] (True = +1) -> NF*SF words of PE*SIMD bits.
    W_B > 1: int [MH, MW] -> NF*SF words of PE*SIMD*W_B bits, field (pe*SIMD + s) two's
    complement. Raises if a weight does not fit W_B bits."""
    if w_bits == 1:
        weights = np.asarray(weights, bool)
    else:
        weights = np.asarray(weights, np.int64)
    mh, mw = weights.shape
    if mh % pe or mw % simd:
        raise ValueError(f"PE={pe} must divide MH={mh} and SIMD={simd} must divide MW={mw}")
    nf, sf = mh // pe, mw // simd
    tiles = weights.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3)  # [nf, sf, pe, simd]
    if w_bits == 1:
        return _pack_rows(tiles.reshape(nf * sf, pe * simd))
    lo, hi = weight_range(w_bits)
    if weights.size and (weights.min() < lo or weights.max() > hi):
        raise ValueError(f"weights in [{weights.min()}, {weights.max()}] do not fit W_B={w_bits}")
    # Bit j of field f is bit f*W_B + j of the word: expand each value into its W_B bits.
    fields = tiles.reshape(nf * sf, pe * simd) & ((1 << w_bits) - 1)
    bits = (fields[:, :, None] >> np.arange(w_bits)) & 1
    return _pack_rows(bits.reshape(nf * sf, pe * simd * w_bits).astype(bool))


def threshold_words(thresholds: np.ndarray, pe: int, thr_w: int, signed: bool = False, levels: int = 0) -> list[int]:
    """Threshold memory words (values already clamped), two's complement when `signed`.

    levels < 2 (a sign output): int [N_CLASSES, MH] (or [MH]) -> N_CLASSES*NF words of PE*THR_W
    bits, lane pe at [pe*THR_W +: THR_W] (as before).
    levels >= 2 (multi-threshold): int [N_CLASSES, MH, LEVELS-1] (or [MH, LEVELS-1]) ->
    N_CLASSES*NF words of PE*(LEVELS-1)*THR_W bits, lane pe, level i at
    [(pe*(LEVELS-1) + i)*THR_W +: THR_W]. A 3-D array is accepted without `levels` too.
    Raises if a value does not fit."""
    thresholds = np.asarray(thresholds, np.int64)
    if levels >= 2:
        if thresholds.ndim == 2:
            thresholds = thresholds[None]
        if thresholds.ndim != 3 or thresholds.shape[2] != levels - 1:
            raise ValueError(f"multi-threshold tables are [N_CLASSES, MH, {levels - 1}], got {thresholds.shape}")
    elif thresholds.ndim < 3:
        thresholds = np.atleast_2d(thresholds)[:, :, None]
    n_classes, mh, per = thresholds.shape
    if mh % pe:
        raise ValueError(f"PE={pe} must divide MH={mh}")
    lo, hi = (-(2 ** (thr_w - 1)), 2 ** (thr_w - 1) - 1) if signed else (0, 2 ** thr_w - 1)
    if thresholds.size and (thresholds.min() < lo or thresholds.max() > hi):
        raise ValueError(f"thresholds in [{thresholds.min()}, {thresholds.max()}] do not fit "
                         f"{'signed' if signed else 'unsigned'} THR_W={thr_w}")
    mask = (1 << thr_w) - 1
    words = []
    for row in thresholds.reshape(n_classes * (mh // pe), pe * per):
        word = 0
        for field, value in enumerate(row.tolist()):
            word |= (value & mask) << (field * thr_w)
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
                        in_bits: int = 1, thr_w: int | None = None, w_bits: int = 1,
                        levels: int = 0, bank_depth: int | None = None) -> dict[str, Path]:
    """Write the memory files of one `bnn_mvau` instance into `directory`.

    weights: bool [MH, MW] (True = +1) for w_bits == 1, else int [MH, MW] (e.g. int8) of
    w_bits-bit signed values; thresholds: int [N_CLASSES, MH] (or [MH]) for a sign output, or
    int [N_CLASSES, MH, LEVELS-1] (or [MH, LEVELS-1]) with levels >= 2, in the accumulator
    domain (popcount for binary x binary), clamped here to [lo, hi+1]; flip: bool [MH].
    thresholds=None means BINARIZE=0: only the weight file is written.
    thr_w defaults to `thr_width(MW, in_bits, w_bits)`.

    bank_depth: the weight ROM's WBANK_D (default `weight_bank_depth` of its NF*SF words; the
    instance must be given the same).

    Returns {"WEIGHT_FILE": path, "THRESH_FILE": path, "FLIP_FILE": path} (the last two only
    when thresholds are given), keyed by the RTL parameter names.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = np.asarray(weights, bool) if w_bits == 1 else np.asarray(weights, np.int64)
    mh, mw = weights.shape
    words = weight_words(weights, pe, simd, w_bits)
    bank_depth = weight_bank_depth(len(words), pe * simd * w_bits) if bank_depth is None else bank_depth
    banks = weight_banks(len(words), bank_depth)
    files = {"WEIGHT_FILE": write_memh(directory / f"{prefix}_weights.mem",
                                       bank_words(words, pe * simd * w_bits, bank_depth), banks * pe * simd * w_bits)}
    if thresholds is not None:
        thr_w = thr_width(mw, in_bits, w_bits) if thr_w is None else thr_w
        thr = np.asarray(thresholds)
        if levels >= 2:
            thr = thr[None] if thr.ndim == 2 else thr
            per = levels - 1
        else:
            thr = np.atleast_2d(thr)
            per = 1
        thr = clamp_thresholds(thr, mw, in_bits, w_bits)
        if thr.shape[1] != mh:
            raise ValueError(f"thresholds have {thr.shape[1]} channels, weights {mh}")
        flip = np.zeros(mh, bool) if flip is None else np.asarray(flip, bool)
        files["THRESH_FILE"] = write_memh(directory / f"{prefix}_thresh.mem",
                                          threshold_words(thr, pe, thr_w, signed=not is_popcount(in_bits, w_bits),
                                                          levels=levels),
                                          pe * per * thr_w)
        files["FLIP_FILE"] = write_memh(directory / f"{prefix}_flip.mem", flip_words(flip, pe), pe)
    return files
