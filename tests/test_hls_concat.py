"""bnn::concat (hls_lib/hls/bnn_concat.h) in C simulation: random pixels on N input streams,
the output words equal numpy's concatenate of the operands' values (a sign bit is +-1, each
operand shifted by its S) in BO-bit fields, input 0 in the low bits, frame after frame; a g++
build as the other blocks' (tests/test_hls_blocks.py). The template arguments are the block
kind's (bnn2hls/hw/blocks/concat.py: `hls_template_args`, `out_bits`)."""
from __future__ import annotations

import numpy as np
import pytest

from bnn2hls.hw.blocks.concat import hls_template_args, out_bits
from tests.test_hls_blocks import TB_HELPERS, compile_and_run, pack_fields, word_table

pytestmark = pytest.mark.tier("rtl")

# id: (channels, element bits, shifts per operand; pixels per frame)
CONCAT_CASES = {
    "bin_two": ((3, 5), (1, 1), (0, 0), 12),
    "b2_three": ((2, 3, 1), (2, 2, 2), (0, 0, 0), 9),
    "b4_wide": ((20, 13), (4, 4), (0, 0), 6),  # a 132-bit output word
    "sign_beside_b2_shifted": ((3, 2, 4), (1, 2, 2), (0, 1, 0), 7),  # BO = 3
    "sign_shifted_beside_b3": ((5, 3), (1, 3), (2, 0), 5),  # +-4 beside 3-bit values, BO = 4
}


def values(rng, n: int, c: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Random fields and their values (a sign bit: +-1)."""
    if b == 1:
        bits = rng.random((n, c)) < 0.5
        return bits, np.where(bits, 1, -1)
    v = rng.integers(-(2 ** (b - 1)), 2 ** (b - 1), (n, c))
    return v, v


@pytest.mark.parametrize("name", [n if n in ("bin_two", "sign_beside_b2_shifted") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in CONCAT_CASES])
def test_hls_concat(name, tmp_path):
    cs, bs, ss, pixels = CONCAT_CASES[name]
    bo = out_bits(bs, ss)
    frames = 2
    rng = np.random.default_rng(sum(map(ord, name)))
    parts = [values(rng, frames * pixels, c, b) for c, b in zip(cs, bs)]
    joined = np.concatenate([v.astype(np.int64) << s for (_, v), s in zip(parts, ss)], axis=1)
    expected = [pack_fields(row > 0 if bo == 1 else row, bo) for row in joined]
    src = '#include "bnn_concat.h"\n' + TB_HELPERS
    for i, ((fields, _), c, b) in enumerate(zip(parts, cs, bs)):
        src += word_table(f"P{i}", [pack_fields(row.astype(np.int64), b) for row in fields], c * b)
    decl = "".join(f"        hls::stream<ap_uint<{c * b}> > in{i};\n" for i, (c, b) in enumerate(zip(cs, bs)))
    fill = "".join(f"        for (int k = 0; k < {pixels}; k++) in{i}.write(from_chunks<{c * b}>(P{i}[f * {pixels} + k]));\n"
                   for i, (c, b) in enumerate(zip(cs, bs)))
    ins = ", ".join(f"in{i}" for i in range(len(cs)))
    targs = ", ".join(hls_template_args(bo, pixels, cs, bs, ss))
    ct = sum(cs)
    src += f"""
int main() {{
    for (int f = 0; f < {frames}; f++) {{
{decl}        hls::stream<ap_uint<{ct * bo}> > out;
{fill}        bnn::concat<{targs}>({ins}, out);
        while (!out.empty()) print_hex<{ct * bo}>(out.read());
    }}
    return 0;
}}
"""
    assert compile_and_run(src, tmp_path) == expected
