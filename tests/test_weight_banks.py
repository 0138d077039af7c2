"""Deep weight ROMs stored as side-by-side banks (bnn2hls/hw/mvau_memories.py: weight_bank_depth,
bank_words; bnn_mvau's WBANK_D): the bank depth chosen, the file image, and the compiled RTL
of a network whose weights span several block RAMs in depth."""
from __future__ import annotations

import numpy as np
import pytest

from bnn2hls.hw.mvau_memories import BLOCK_RAM_SHAPES, bank_words, weight_bank_depth

pytestmark = pytest.mark.tier("unit")


@pytest.mark.parametrize("depth, width, bank_depth", [
    (2304, 128, 512),      # CNV_1W1A conv4 at BNN-PYNQ's folding: 512 x 36 blocks side by side
    (32768, 8, 2048),      # CNV_1W1A dense1: 2,048 x 9
    (32768, 4, 16384),     # CNV_1W1A dense0: two 16,384 x 1 banks, 4 bits each
    (50176, 1, 2048),      # TFC dense0 at PE = SIMD = 1
    (15680, 1, 0),         # fits one 16,384 x 1 block RAM in depth
    (1024, 64, 0),         # 1,024 x 18 blocks, one bank
    (36, 1024, 0),         # shallow and wide
])
def test_bank_depth(depth, width, bank_depth):
    assert weight_bank_depth(depth, width) == bank_depth


def test_banks_never_take_more_block_rams_than_one_deep_rom():
    """Against the fewest block RAMs a single deep ROM of the same words could take."""
    for depth in (600, 2049, 4096, 9000, 33000):
        for width in (1, 3, 8, 36, 100):
            d = weight_bank_depth(depth, width)
            if not d:
                continue
            banks = -(-depth // d)
            side_by_side = min(-(-d // sd) * -(-banks * width // sw) for sd, sw in BLOCK_RAM_SHAPES)
            stacked = min(-(-depth // sd) * -(-width // sw) for sd, sw in BLOCK_RAM_SHAPES)
            assert side_by_side <= stacked, (depth, width, d)


def test_bank_words_puts_word_a_of_every_bank_on_line_a():
    words = [int(v) for v in np.arange(11) + 1]
    lines = bank_words(words, 4, 4)  # banks of 4 words: 1-4, 5-8, 9-11 and a zero word
    assert lines == [w0 | (w1 << 4) | (w2 << 8) for w0, w1, w2 in ((1, 5, 9), (2, 6, 10), (3, 7, 11), (4, 8, 0))]
    assert bank_words(words, 4, 0) == words
    assert bank_words(words, 4, 16) == words


def test_lowered_network_banks_a_deep_rom(exported):
    """TFC at PE = SIMD = 1: dense0's 50,176 one-bit words reach the RTL as 25 banks of 2,048
    (the instance's WBANK_D and the file image agree); dense3 (640 words) stays one bank."""
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model
    from bnn2hls.hw import lower

    path, _ = exported("TFC_1W1A")
    from bnn2hls.hw.folding import apply_folding_spec

    net = build_network(load_model(path), "tfc")
    net = apply_folding_spec(net, {"layers": {layer.name: {"pe": 1, "simd": 1} for layer in net.matrix_layers}})
    graph = lower(net)
    mvaus = {b.layer.name: b for b in graph.blocks if b.kind == "mvau"}
    dense0, dense3 = mvaus["dense0"], mvaus["dense3"]
    weights = next(m for m in dense0.memories if m.key == "weights")
    assert dense0.params["WBANK_D"] == weights.bank_depth == 2048
    assert (weights.banks, weights.rtl_width, len(weights.rtl_words)) == (25, 25, 2048)
    rng = np.random.default_rng(0)
    for a, b in zip(rng.integers(0, 2048, 50), rng.integers(0, 25, 50)):
        word = b * 2048 + a
        expect = weights.words[word] if word < weights.depth else 0
        assert (weights.rtl_words[a] >> b) & 1 == expect
    assert "WBANK_D" not in dense3.params
    assert next(m for m in dense3.memories if m.key == "weights").rtl_words == \
        next(m for m in dense3.memories if m.key == "weights").words
