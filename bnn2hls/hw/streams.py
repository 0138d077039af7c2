"""How frames travel on the accelerator's AXI-Streams: one word per pixel, channel c at bit c
(binary) or at [c*B +: B] as a two's complement field (multi-bit input); the last layer emits,
per output pixel, one ACC_W-bit field per channel (unsigned popcount for binary inputs, signed
accumulator for multi-bit inputs).

The rtl and hls engines and the generated board driver all pack and unpack through here.
"""
from __future__ import annotations

import numpy as np


def pack_words(values: np.ndarray, bits: int) -> list[int]:
    """values: int/bool [..., C] -> one Python int per leading index, element c at [c*bits +: bits]."""
    values = np.asarray(values)
    flat = values.reshape(-1, values.shape[-1]).astype(np.int64)
    mask = (1 << bits) - 1
    fields = (flat & mask).astype(object)
    words = []
    for row in fields:
        word = 0
        for c in range(len(row) - 1, -1, -1):
            word = (word << bits) | int(row[c])
        words.append(word)
    return words


def unpack_words(words: list[int], fields: int, bits: int, signed: bool) -> np.ndarray:
    """The inverse of pack_words: int64 [len(words), fields]."""
    out = np.zeros((len(words), fields), np.int64)
    mask = (1 << bits) - 1
    for i, word in enumerate(words):
        for c in range(fields):
            v = (word >> (c * bits)) & mask
            if signed and v >> (bits - 1):
                v -= 1 << bits
            out[i, c] = v
    return out


def to_hex_lines(words: list[int], bits: int) -> str:
    digits = max(1, -(-bits // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def from_hex_lines(text: str) -> list[int]:
    return [int(line, 16) for line in text.split()]
