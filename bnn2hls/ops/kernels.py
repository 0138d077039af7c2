"""The numpy building blocks the op kernels share: window views, bit packing, XNOR-popcount,
integer views of sign bits, multi-thresholds, and the window walk of a sliding window."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Rows per block of the XOR-popcount loop: a block's [rows, C_out] uint64 XOR temporary of
# 2**14 elements (128 KiB) and its counts stay in the L2 cache while all words are summed.
_BLOCK_ELEMENTS = 1 << 14


def windows(image: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """[N, H, W, C] -> [N, OH, OW, kh*kw*C], window columns ordered (ky, kx, c)."""
    n, h, w, c = image.shape
    view = sliding_window_view(image, kernel, axis=(1, 2))[:, :: stride[0], :: stride[1]]
    oh = (h - kernel[0]) // stride[0] + 1
    ow = (w - kernel[1]) // stride[1] + 1
    view = view[:, :oh, :ow]  # [N, OH, OW, C, kh, kw]
    return view.transpose(0, 1, 2, 4, 5, 3).reshape(n, oh, ow, -1)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """bool [..., M] -> uint64 [..., ceil(M/64)], bit i of the vector at bit i%64 of word i//64;
    the tail is zero-filled (zeros XOR zeros adds nothing to the mismatch count)."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    pad = (-packed.shape[-1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((*packed.shape[:-1], pad), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view(np.uint64)


def packed_windows(image: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """bool [N, H, W, C] -> uint64 [N*OH*OW, words]: every window packed as `pack_bits` packs
    it, i.e. exactly pack_bits(windows(image, kernel, stride)) flattened over positions."""
    n, h, w, c = image.shape
    if c % 8:
        cols = pack_bits(windows(image, kernel, stride))
        return cols.reshape(-1, cols.shape[-1])
    # A pixel's C channels fill C/8 whole bytes, so packing each pixel first and then
    # gathering windows of bytes in (ky, kx, byte) order gives the same bytes as packing the
    # (ky, kx, c) window: bit c of pixel (ky, kx) lands at window bit (ky*kw + kx)*C + c
    # either way. The im2col copy then moves bytes instead of bools (8x less data).
    pixels = np.packbits(image, axis=-1, bitorder="little")  # [N, H, W, C/8]
    view = sliding_window_view(pixels, kernel, axis=(1, 2))[:, :: stride[0], :: stride[1]]
    oh = (h - kernel[0]) // stride[0] + 1
    ow = (w - kernel[1]) // stride[1] + 1
    view = view[:, :oh, :ow].transpose(0, 1, 2, 4, 5, 3)  # [N, OH, OW, kh, kw, C/8]
    nbytes = kernel[0] * kernel[1] * (c // 8)
    words = -(-nbytes // 8)
    # One copy straight into the word buffer; bytes past the window stay zero (pack_bits' tail).
    out = np.zeros((n * oh * ow, words * 8), np.uint8)
    out[:, :nbytes].reshape(n, oh, ow, *view.shape[3:])[...] = view
    return out.view(np.uint64)


def xnor_popcount(acts: np.ndarray, weights: np.ndarray, bits: int) -> np.ndarray:
    """acts uint64 [M, W], weights uint64 [O, W] -> int32 [M, O]: matching bits per pair.

    Mismatches are summed word by word: for word k, XOR the activations' column k against
    every output channel's word k ([rows, O]), popcount and add. Iterating over words, not
    reducing a [rows, O, W] temporary along its short last axis, keeps every numpy call a
    long flat loop; blocking the rows keeps the temporaries in cache. The sum accumulates in
    the smallest unsigned type that holds `bits` (less memory traffic per word): a partial
    sum never exceeds the full count <= bits, so it cannot overflow.
    """
    m, words = acts.shape
    o = weights.shape[0]
    count_type = np.min_scalar_type(bits)
    mismatches = np.empty((m, o), count_type)
    weight_words = np.ascontiguousarray(weights.T)  # [W, O]: word k of every channel, contiguous
    rows = max(1, _BLOCK_ELEMENTS // o)
    xor_buf = np.empty((rows, o), np.uint64)
    ones_buf = np.empty((rows, o), np.uint8)  # a word's popcount is <= 64
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        acc, xor, ones = mismatches[start:stop], xor_buf[: stop - start], ones_buf[: stop - start]
        for k in range(words):
            np.bitwise_xor(acts[start:stop, k, None], weight_words[k], out=xor)
            if k == 0:
                np.bitwise_count(xor, out=acc)
            else:
                np.bitwise_count(xor, out=ones)
                np.add(acc, ones, out=acc)
    return np.subtract(np.int32(bits), mismatches, dtype=np.int32)


def integers(x: np.ndarray) -> np.ndarray:
    """A value as int64 integers: sign bits become -1/+1."""
    return np.where(x, 1, -1).astype(np.int64) if x.dtype == np.bool_ else x.astype(np.int64)


def multi_threshold(layer: Any, acc: np.ndarray) -> np.ndarray:
    """int [..., C] accumulators -> int64 levels: out_offset + sum_i ((acc >= T_i) ^ flip)
    (a matrix layer's fused activation or a `Threshold`)."""
    assert layer.thresholds is not None and layer.flip is not None
    count = np.zeros(acc.shape, np.int64)
    for i in range(layer.out_levels - 1):
        count += (acc >= layer.thresholds[:, i]) ^ layer.flip
    return count + layer.out_offset


def window_need(in_shape: tuple[int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
                out_hw: tuple[int, int], pads: tuple[int, int, int, int] = (0, 0, 0, 0)) -> np.ndarray:
    """The need map of a window walk over the map padded by `pads` (a pool): output item k
    leaves when the walk reaches its window's last (padded) position, having read every input
    item before that position."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = out_hw
    h, w = in_shape[:2]
    t, l = pads[0], pads[1]
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    rows, cols = oy * sh + kh - 1, ox * sw + kw - 1  # padded coordinates
    in_row = (rows >= t) & (rows < t + h)
    need = np.clip(rows - t, 0, h) * w + np.where(in_row, np.clip(cols - l + 1, 0, w), 0) - 1
    return need.reshape(-1)
