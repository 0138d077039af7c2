"""bnn::concat (hls_lib/hls/bnn_concat.h) in C simulation: random pixels on N input streams of
B-bit elements, the output words equal numpy's concatenate along channels (input 0 in the low
bits), frame after frame; a g++ build as the other blocks' (tests/test_hls_blocks.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_hls_blocks import TB_HELPERS, compile_and_run, pack_fields, word_table

# id: (B, channels per input, pixels per frame)
CONCAT_CASES = {
    "bin_two": (1, (3, 5), 12),
    "b2_three": (2, (2, 3, 1), 9),
    "b4_wide": (4, (20, 13), 6),  # a 132-bit output word
}


@pytest.mark.parametrize("name", list(CONCAT_CASES))
def test_hls_concat(name, tmp_path):
    b, cs, pixels = CONCAT_CASES[name]
    frames = 2
    rng = np.random.default_rng(sum(map(ord, name)))
    if b == 1:
        parts = [rng.random((frames * pixels, c)) < 0.5 for c in cs]
    else:
        parts = [rng.integers(-(2 ** (b - 1)), 2 ** (b - 1), (frames * pixels, c)) for c in cs]
    expected = [pack_fields(row.astype(np.int64), b) for row in np.concatenate(parts, axis=1)]
    ct = sum(cs)
    src = '#include "bnn_concat.h"\n' + TB_HELPERS
    for i, (c, part) in enumerate(zip(cs, parts)):
        src += word_table(f"P{i}", [pack_fields(row.astype(np.int64), b) for row in part], c * b)
    decl = "".join(f"        hls::stream<ap_uint<{c * b}> > in{i};\n" for i, c in enumerate(cs))
    fill = "".join(f"        for (int k = 0; k < {pixels}; k++) in{i}.write(from_chunks<{c * b}>(P{i}[f * {pixels} + k]));\n"
                   for i, c in enumerate(cs))
    ins = ", ".join(f"in{i}" for i in range(len(cs)))
    targs = ", ".join(map(str, (b, pixels, *cs)))
    src += f"""
int main() {{
    for (int f = 0; f < {frames}; f++) {{
{decl}        hls::stream<ap_uint<{ct * b}> > out;
{fill}        bnn::concat<{targs}>({ins}, out);
        while (!out.empty()) print_hex<{ct * b}>(out.read());
    }}
    return 0;
}}
"""
    assert compile_and_run(src, tmp_path) == expected
