"""HLS C++ building blocks (hls_lib/hls) in C simulation: per configuration a small generated
testbench streams random vectors / frames through one block (g++ -std=c++17 against the
ap_types headers of the hls4ml wheel, as bnn2hls/engines/hls_sim.py builds) and prints the output
words, which must equal a numpy model exactly: bnn::mvau_* (binary / multi-bit inputs and
weights; sign, multi-threshold and raw outputs), the depthwise bnn::vvau_* (windows of taps x
channels, each channel dotted with its own weights), and the three blocks on the window walker
(bnn_window.h): bnn::swg (padding, border classes), bnn::maxpool (binary OR, signed max; padded,
min channels) and
bnn::sumpool (global and windowed sums)."""
from __future__ import annotations

import re
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from bnn2hls.hw.mvau_memories import acc_width, clamp_thresholds, flip_words, signed_width, thr_width, threshold_words, weight_words
from bnn2hls.reference import maxpool_layer, sumpool_layer
from bnn2hls.resources import resource_dir
from sim.stimulus import pool_image
from tests.rtl.test_mvau import random_thresholds, random_weights

pytestmark = pytest.mark.tier("rtl")

CXXFLAGS = ("-std=c++17", "-O1", "-Wall", "-Wextra")


def toolchain() -> str:
    from bnn2hls.errors import UserError
    from bnn2hls.engines.hls_sim import ap_types_dir

    exe = shutil.which("g++")
    if exe is None:
        pytest.skip("g++ not installed")
    try:
        return exe, ap_types_dir()
    except UserError as err:
        pytest.skip(str(err))


def chunk_bits(width: int) -> int:
    """bnn::rom<W>::CHUNK_BITS."""
    return 8 if width <= 8 else 16 if width <= 16 else 32 if width <= 32 else 64


def rom_table(name: str, words: list[int], width: int) -> str:
    """A `bnn::rom<width>` constant table: word -> K chunks, chunk k = bits [k*CB +: CB]."""
    cb = chunk_bits(width)
    k = -(-width // cb)
    rows = ", ".join("{" + ", ".join(f"{(w >> (j * cb)) & ((1 << cb) - 1):#x}ULL" for j in range(k)) + "}" for w in words)
    return f"static const bnn::rom<{width}>::chunk_t {name}[][bnn::rom<{width}>::K] = {{{rows}}};\n"


def word_table(name: str, words: list[int], width: int) -> str:
    """Words of any width as rows of 64-bit chunks (for testbench inputs)."""
    k = -(-width // 64)
    rows = ", ".join("{" + ", ".join(f"{(w >> (64 * j)) & (2**64 - 1):#x}ULL" for j in range(k)) + "}" for w in words)
    return f"static const unsigned long long {name}[][{k}] = {{{rows}}};\n"


TB_HELPERS = """
#include <cstdio>
template <int W>
ap_uint<W> from_chunks(const unsigned long long* c) {
    ap_uint<W> v = 0;
    for (int lo = 0, j = 0; lo < W; lo += 64, j++) {
        const int hi = (lo + 63 < W - 1) ? lo + 63 : W - 1;
        v.range(hi, lo) = c[j];
    }
    return v;
}
template <int W>
void print_hex(const ap_uint<W>& w) {
    const int D = (W + 3) / 4;
    ap_uint<4 * D> p = w;
    for (int d = D - 1; d >= 0; d--) std::printf("%x", (unsigned)p.range(4 * d + 3, 4 * d).to_uint());
    std::printf("\\n");
}
"""


def compile_and_run(source: str, tmp_path) -> list[int]:
    exe, ap_types = toolchain()
    (tmp_path / "tb.cpp").write_text(source)
    build = subprocess.run([exe, *CXXFLAGS, "-I", str(resource_dir("hls_lib") / "hls"), "-isystem", str(ap_types),
                            "tb.cpp", "-o", "tb"], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-4000:]
    # No warning located in the blocks' own headers (the ap_types headers warn by themselves).
    own = [line for line in build.stderr.splitlines() if re.search(r"/bnn_\w+\.h:\d+:\d+: warning", line)]
    assert not own, "\n".join(own)
    run = subprocess.run(["./tb"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "WARNING" not in run.stdout + run.stderr, (run.stdout + run.stderr)[-2000:]
    return [int(line, 16) for line in run.stdout.split()]


def pack_fields(values, bits: int) -> int:
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (i * bits) for i, v in enumerate(values))


def param_struct(name: str, params: dict[str, int]) -> str:
    """A block's parameters as the struct of named constants its template takes (as the
    generated <layer>_params.h declares it)."""
    members = "".join(f"    static const int {k} = {int(v)};\n" for k, v in params.items())
    return f"struct {name} {{\n{members}}};\n"


# ------------------------------------------------------------------------------------ MVAU
# id: (MW, MH, PE, SIMD, IN_B, W_B, BINARIZE, LEVELS, OFFSET, N_CLASSES)
MVAU_CASES = {
    "bin_sign_classes": (36, 8, 2, 6, 1, 1, 1, 0, 0, 3),  # mvau_threshold (as before)
    "bin_raw": (32, 6, 3, 8, 1, 1, 0, 0, 0, 1),  # mvau_acc (as before)
    "in1_w2_sign": (24, 8, 4, 6, 1, 2, 1, 0, 0, 1),  # mvau_threshold_w
    "in2_w2_lv4_classes": (18, 8, 4, 9, 2, 2, 1, 4, -2, 4),  # mvau_multithreshold
    "in8_w4_raw": (27, 8, 2, 3, 8, 4, 0, 0, 0, 1),  # mvau_acc_w
    "in2_w1_lv3": (16, 6, 6, 16, 2, 1, 1, 3, -1, 1),  # mvau_multithreshold, binary weights
    "in1_w1_lv4": (40, 10, 5, 8, 1, 1, 1, 4, 0, 1),  # popcount-domain multi-threshold
    "in1_w1_lv3_classes": (36, 6, 2, 12, 1, 1, 1, 3, -1, 9),  # ... per border class (zero padding)
}


# The depthwise unit (bnn::vvau_*): MW = taps, MH = channels, a vector is a window of MW x MH.
VVAU_CASES = {
    "bin_sign_classes_pe2_simd3": (9, 8, 2, 3, 1, 1, 1, 0, 0, 18),  # vvau_threshold
    "in2_w2_lv3_full": (9, 6, 6, 9, 2, 2, 1, 3, -1, 1),  # vvau_multithreshold
    "in8_w1_raw_pe1": (4, 6, 1, 2, 8, 1, 0, 0, 0, 1),  # vvau_acc
    "in1_w2_sign_simd1": (9, 4, 2, 1, 1, 2, 1, 0, 0, 1),  # vvau_threshold_w
    "in2_w4_raw": (4, 6, 3, 4, 2, 4, 0, 0, 0, 1),  # vvau_acc_w
    "in1_w1_lv4_classes": (9, 6, 3, 3, 1, 1, 1, 4, -2, 9),  # vvau_multithreshold per border class
}


def mvau_model(x, classes, weights, thresholds, flip, in_b, w_b, binarize, levels, offset, o_b, acc_w,
               depthwise=False):
    if depthwise:  # x: windows [N, MW taps * MH channels], (k, c) order
        mh, mw = weights.shape
        xv = (np.where(x, 1, -1) if in_b == 1 else x).astype(np.int64).reshape(len(x), mw, mh)
        wv = np.where(weights, 1, -1) if w_b == 1 else weights.astype(np.int64)
        acc = np.einsum("nkc,ck->nc", xv, wv)
        if in_b == 1 and w_b == 1:
            acc = (acc + mw) // 2  # matches
    elif in_b == 1 and w_b == 1:
        acc = (x[:, None, :] == weights[None, :, :]).sum(axis=2).astype(np.int64)
    else:
        xv = np.where(x, 1, -1) if in_b == 1 else x.astype(np.int64)
        wv = np.where(weights, 1, -1) if w_b == 1 else weights.astype(np.int64)
        acc = xv @ wv.T
    out = []
    for a, cls in zip(acc, classes):
        if not binarize:
            out.append(pack_fields(a, acc_w))
        elif levels >= 2:
            passed = (a[:, None] >= thresholds[cls]) ^ flip[:, None]
            out.append(pack_fields(offset + passed.sum(axis=1), o_b))
        else:
            out.append(pack_fields((a >= thresholds[cls]) ^ flip, 1))
    return out


@pytest.mark.parametrize("name", list(MVAU_CASES))
def test_hls_mvau(name, tmp_path):
    run_hls_unit(name, tmp_path, *MVAU_CASES[name])


@pytest.mark.parametrize("name", list(VVAU_CASES))
def test_hls_vvau(name, tmp_path):
    run_hls_unit(name, tmp_path, *VVAU_CASES[name], unit="vvau")


def run_hls_unit(name, tmp_path, mw, mh, pe, simd, in_b, w_b, binarize, levels, offset, n_classes, unit="mvau"):
    rng = np.random.default_rng(sum(map(ord, name)))
    depthwise = unit == "vvau"
    elements = mw * mh if depthwise else mw  # per input vector
    vectors = 30
    weights = random_weights(rng, mh, mw, w_b)
    per = levels - 1 if levels >= 2 else 0
    thresholds = clamp_thresholds(random_thresholds(rng, n_classes, mh, mw, in_b, w_b, per), mw, in_b, w_b)
    flip = rng.random(mh) < 0.5
    if in_b == 1:
        x = rng.random((vectors, elements)) < 0.5
        x[0], x[1] = True, False
    else:
        lo, hi = -(2 ** (in_b - 1)), 2 ** (in_b - 1) - 1
        x = rng.integers(lo, hi + 1, (vectors, elements))
        x[0], x[1] = lo, hi
    classes = rng.integers(0, n_classes, vectors)
    acc_w, t_w = acc_width(mw, in_b, w_b), thr_width(mw, in_b, w_b)
    o_b = signed_width(offset, offset + levels - 1) if levels >= 2 else 1
    expected = mvau_model(x, classes, weights, thresholds, flip, in_b, w_b, binarize, levels, offset, o_b, acc_w,
                          depthwise)

    xw = elements * in_b
    user_w = max(1, (n_classes - 1).bit_length())
    out_w = mh * acc_w if not binarize else mh * o_b if levels >= 2 else mh
    nt = per or 1
    src = f'#include "bnn_{unit}.h"\n' + TB_HELPERS
    src += rom_table("WEIGHTS", weight_words(weights, pe, simd, w_b), pe * simd * w_b)
    if binarize:
        src += rom_table("THRESHOLDS", threshold_words(thresholds, pe, t_w, signed=not (in_b == 1 and w_b == 1),
                                                       levels=levels), pe * nt * t_w)
        src += rom_table("FLIPS", flip_words(flip, pe), pe)
    src += word_table("X", [pack_fields(v, in_b) for v in x.astype(np.int64)], xw)
    src += f"static const unsigned CLS[] = {{{', '.join(str(int(c)) for c in classes)}}};\n"
    in_t = f"bnn::Window<{xw}, {user_w}>" if n_classes > 1 else f"ap_uint<{xw}>"
    common = f"{mw}, {mh}, {pe}, {simd}, {in_b}"
    if not binarize:
        call = (f"bnn::{unit}_acc<{common}, {acc_w}, {vectors}>(in, out, WEIGHTS)" if w_b == 1 else
                f"bnn::{unit}_acc_w<{common}, {w_b}, {acc_w}, {vectors}>(in, out, WEIGHTS)")
    elif levels >= 2:
        call = (f"bnn::{unit}_multithreshold<{common}, {w_b}, {levels}, {o_b}, {offset}, {n_classes}, {acc_w}, {t_w}, "
                f"{vectors}>(in, out, WEIGHTS, THRESHOLDS, FLIPS)")
    elif w_b == 1:
        call = f"bnn::{unit}_threshold<{common}, {n_classes}, {acc_w}, {t_w}, {vectors}>(in, out, WEIGHTS, THRESHOLDS, FLIPS)"
    else:
        call = (f"bnn::{unit}_threshold_w<{common}, {w_b}, {n_classes}, {acc_w}, {t_w}, {vectors}>"
                f"(in, out, WEIGHTS, THRESHOLDS, FLIPS)")
    src += f"""
int main() {{
    hls::stream<{in_t}> in;
    hls::stream<ap_uint<{out_w}> > out;
    for (int v = 0; v < {vectors}; v++) {{
        {in_t} word;
        {"word.data = from_chunks<%d>(X[v]); word.cls = CLS[v];" % xw if n_classes > 1 else "word = from_chunks<%d>(X[v]); (void)CLS;" % xw}
        in.write(word);
    }}
    {call};
    while (!out.empty()) print_hex<{out_w}>(out.read());
    return 0;
}}
"""
    got = compile_and_run(src, tmp_path)
    assert len(got) == vectors
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"{name}: vector {i} (class {classes[i]}): got {g:#x}, expected {e:#x}"


# --------------------------------------------------------------------------------- max-pool
# (C, IN_B, H, W, (KH, KW), (SH, SW))
MAXPOOL_CASES = {
    "b1_k2_s2": (5, 1, 7, 9, (2, 2), (2, 2)),
    "b2_k3_s2": (4, 2, 9, 7, (3, 3), (2, 2)),
    "b4_k2x3_s1x2": (3, 4, 6, 8, (2, 3), (1, 2)),
}


@pytest.mark.parametrize("name", list(MAXPOOL_CASES))
def test_hls_maxpool(name, tmp_path):
    c, b, h, w, (kh, kw), (sh, sw) = MAXPOOL_CASES[name]
    frames = 3
    rng = np.random.default_rng(sum(map(ord, name)))
    image = pool_image(rng, frames, h, w, c, b)
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    pooled = maxpool_layer(SimpleNamespace(kernel=(kh, kw), stride=(sh, sw), out_shape=(oh, ow, c)), image)
    expected = [pack_fields(pooled[n, y, x].astype(np.int64), b) for n in range(frames) for y in range(oh) for x in range(ow)]
    pixels = [pack_fields(image[n, y, x].astype(np.int64), b) for n in range(frames) for y in range(h) for x in range(w)]
    params = param_struct("Params", {"C": c, "IN_B": b, "H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw})
    src = '#include "bnn_maxpool.h"\n' + TB_HELPERS + params + word_table("P", pixels, c * b)
    src += f"""
int main() {{
    for (int f = 0; f < {frames}; f++) {{
        hls::stream<ap_uint<{c * b}> > in, out;
        for (int i = 0; i < {h * w}; i++) in.write(from_chunks<{c * b}>(P[f * {h * w} + i]));
        bnn::maxpool<Params>(in, out);
        while (!out.empty()) print_hex<{c * b}>(out.read());
    }}
    return 0;
}}
"""
    assert compile_and_run(src, tmp_path) == expected


# (C, IN_B, H, W, (KH, KW), (SH, SW), (PAD_T, PAD_L, PAD_B, PAD_R), min channels)
MAXPOOL_PADDED_CASES = {
    "b1_k3_s2_pad1": (5, 1, 7, 8, (3, 3), (2, 2), (1, 1, 1, 1), (0, 0, 0, 0, 0)),
    "b3_k3_s2_ceil_min": (4, 3, 7, 6, (3, 3), (2, 2), (0, 0, 0, 1), (1, 0, 1, 1)),
    "b2_k3_s2_pad1_min": (3, 2, 6, 6, (3, 3), (2, 2), (1, 1, 1, 1), (0, 1, 1)),
    "b1_k2_s2_ceil_min": (4, 1, 5, 5, (2, 2), (2, 2), (0, 0, 1, 1), (1, 0, 0, 1)),
}

MAXPOOL_PADDED_SLOW = ("b2_k3_s2_pad1_min", "b1_k2_s2_ceil_min")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in MAXPOOL_PADDED_SLOW else n
                                  for n in MAXPOOL_PADDED_CASES])
def test_hls_maxpool_padded(name, tmp_path):
    """bnn::maxpool_padded: padded positions never win; min channels pool their minimum."""
    c, b, h, w, (kh, kw), (sh, sw), pads, minimum = MAXPOOL_PADDED_CASES[name]
    frames = 3
    rng = np.random.default_rng(sum(map(ord, name)))
    image = pool_image(rng, frames, h, w, c, b)
    t, l, bt, r = pads
    oh, ow = (h + t + bt - kh) // sh + 1, (w + l + r - kw) // sw + 1
    layer = SimpleNamespace(kernel=(kh, kw), stride=(sh, sw), out_shape=(oh, ow, c), pads=pads,
                            minimum=np.asarray(minimum, bool))
    pooled = maxpool_layer(layer, image)
    expected = [pack_fields(pooled[n, y, x].astype(np.int64), b) for n in range(frames) for y in range(oh) for x in range(ow)]
    pixels = [pack_fields(image[n, y, x].astype(np.int64), b) for n in range(frames) for y in range(h) for x in range(w)]
    params = param_struct("Params", {"C": c, "IN_B": b, "H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw,
                                     "PAD_T": t, "PAD_L": l, "PAD_B": bt, "PAD_R": r})
    src = '#include "bnn_maxpool.h"\n' + TB_HELPERS + params + word_table("P", pixels, c * b)
    src += f"static const unsigned short MIN_CH[{c}] = {{{', '.join(str(int(v)) for v in minimum)}}};\n"
    src += f"""
int main() {{
    for (int f = 0; f < {frames}; f++) {{
        hls::stream<ap_uint<{c * b}> > in, out;
        for (int i = 0; i < {h * w}; i++) in.write(from_chunks<{c * b}>(P[f * {h * w} + i]));
        bnn::maxpool_padded<Params>(in, out, MIN_CH);
        while (!out.empty()) print_hex<{c * b}>(out.read());
    }}
    return 0;
}}
"""
    assert compile_and_run(src, tmp_path) == expected


# --------------------------------------------------------------------------------- sum-pool
# (C, IN_B, SIGNED, O_B, H, W, (KH, KW), (SH, SW))
SUMPOOL_CASES = {
    "global_signs": (6, 1, 1, 7, 5, 4, (5, 4), (1, 1)),
    "global_unsigned_popcounts": (3, 5, 0, 11, 4, 5, (4, 5), (1, 1)),
    "b3_k2_s2": (4, 3, 1, 6, 7, 9, (2, 2), (2, 2)),
    "b1_k3x2_s1x2": (5, 1, 1, 4, 6, 7, (3, 2), (1, 2)),
}


@pytest.mark.parametrize("name", list(SUMPOOL_CASES))
def test_hls_sumpool(name, tmp_path):
    c, b, signed, ob, h, w, (kh, kw), (sh, sw) = SUMPOOL_CASES[name]
    frames = 3
    rng = np.random.default_rng(sum(map(ord, name)))
    lo, hi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if signed else (0, 2**b - 1)
    image = rng.random((frames, h, w, c)) < 0.5 if b == 1 else rng.integers(lo, hi + 1, (frames, h, w, c))
    if b > 1:
        image[0], image[1] = hi, lo  # the extreme sums
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    sums = sumpool_layer(SimpleNamespace(kernel=(kh, kw), stride=(sh, sw), out_shape=(oh, ow, c)), image)
    expected = [pack_fields(sums[n, y, x], ob) for n in range(frames) for y in range(oh) for x in range(ow)]
    pixels = [pack_fields(image[n, y, x].astype(np.int64), b) for n in range(frames) for y in range(h) for x in range(w)]
    params = param_struct("Params", {"C": c, "H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw, "IN_B": b,
                                     "SIGNED": signed, "O_B": ob})
    src = '#include "bnn_sumpool.h"\n' + TB_HELPERS + params + word_table("P", pixels, c * b)
    src += f"""
int main() {{
    for (int f = 0; f < {frames}; f++) {{
        hls::stream<ap_uint<{c * b}> > in;
        hls::stream<ap_uint<{c * ob}> > out;
        for (int i = 0; i < {h * w}; i++) in.write(from_chunks<{c * b}>(P[f * {h * w} + i]));
        bnn::sumpool<Params>(in, out);
        while (!out.empty()) print_hex<{c * ob}>(out.read());
    }}
    return 0;
}}
"""
    assert compile_and_run(src, tmp_path) == expected


# ------------------------------------------------------------------------------ sliding window
# (C, IN_B, H, W, (KH, KW), (SH, SW), (PAD_T, PAD_L, PAD_B, PAD_R))
SWG_CASES = {
    "bin_k3_s2_pad1_classes": (5, 1, 7, 6, (3, 3), (2, 2), (1, 1, 1, 1)),
    "b8_k2x3_s1x2_asym": (3, 8, 5, 7, (2, 3), (1, 2), (1, 0, 0, 2)),
    "bin_k1_w1": (4, 1, 4, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
}


@pytest.mark.parametrize("name", list(SWG_CASES))
def test_hls_swg(name, tmp_path):
    from bnn2hls.ir.padding_pattern import pad_binary_image
    from bnn2hls.passes.padding import _axis_classes
    from bnn2hls.reference import windows

    c, b, h, w, (kh, kw), (sh, sw), pads = SWG_CASES[name]
    t, l, bt, r = pads
    frames = 2
    rng = np.random.default_rng(sum(map(ord, name)))
    if b == 1:
        image = rng.random((frames, h, w, c)) < 0.5
        padded = pad_binary_image(image, pads)
    else:
        image = rng.integers(-(2 ** (b - 1)), 2 ** (b - 1), (frames, h, w, c))
        padded = np.pad(image, ((0, 0), (t, bt), (l, r), (0, 0)))  # multi-bit pads read 0
    wins = windows(padded, (kh, kw), (sh, sw))  # [N, OH, OW, KH*KW*C], (ky, kx, c)
    oh, ow = wins.shape[1:3]
    rows, row_keys = _axis_classes(oh, h, kh, sh, t)
    cols, col_keys = _axis_classes(ow, w, kw, sw, l)
    user_w = max(1, (len(row_keys) * len(col_keys) * 2 - 1).bit_length())
    expected = [(int(rows[y]) * len(col_keys) + int(cols[x])) * 2 + (sh * y + sw * x) % 2 << (kh * kw * c * b)
                | pack_fields(wins[n, y, x].astype(np.int64), b)
                for n in range(frames) for y in range(oh) for x in range(ow)]
    pixels = [pack_fields(image[n, y, x].astype(np.int64), b) for n in range(frames) for y in range(h) for x in range(w)]
    params = param_struct("Params", {"C": c, "IN_B": b, "H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw,
                                     "PAD_T": t, "PAD_L": l, "PAD_B": bt, "PAD_R": r, "N_ROW_CLASSES": len(row_keys),
                                     "N_COL_CLASSES": len(col_keys), "USER_W": user_w})
    win_w = kh * kw * c * b
    src = '#include "bnn_swg.h"\n' + TB_HELPERS + params + word_table("P", pixels, c * b)
    src += f"static const unsigned short ROWS[] = {{{', '.join(str(int(v)) for v in rows)}}};\n"
    src += f"static const unsigned short COLS[] = {{{', '.join(str(int(v)) for v in cols)}}};\n"
    src += f"""
int main() {{
    for (int f = 0; f < {frames}; f++) {{
        hls::stream<ap_uint<{c * b}> > in;
        hls::stream<bnn::Window<{win_w}, {user_w}> > out;
        for (int i = 0; i < {h * w}; i++) in.write(from_chunks<{c * b}>(P[f * {h * w} + i]));
        bnn::swg<Params>(in, out, ROWS, COLS);
        while (!out.empty()) {{
            const bnn::Window<{win_w}, {user_w}> win = out.read();
            print_hex<{win_w + user_w}>((ap_uint<{user_w}>(win.cls), win.data));
        }}
    }}
    return 0;
}}
"""
    got = compile_and_run(src, tmp_path)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"{name}: window {i}: got {g:#x}, expected {e:#x}"
