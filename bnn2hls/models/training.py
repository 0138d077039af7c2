"""The training loop shared by `bnn2hls demo` and the architecture search's candidates.

Brevitas' binary quantizers pass gradients straight through to latent float weights; those are
trained with Adam under a cosine learning rate and clipped to [-1, 1] after every step so a
sign can always flip back. Deterministic given the model's initial state, the seed and the
torch thread count (`torch_session` sets the thread count and the seed the model is built with).
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def torch_session(threads: int, seed: int) -> Iterator[None]:
    """For the body: torch on `threads` threads, its global RNG seeded with `seed`, Brevitas'
    fast_hadamard_transform warning silenced. The caller's torch RNG state, thread count and
    warning filters are restored afterwards."""
    import torch

    prev_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
        torch.set_num_threads(threads)
        try:
            torch.manual_seed(seed)
            yield
        finally:
            torch.set_num_threads(prev_threads)


def latent_weights(model) -> list:
    """The float weights behind the model's binary-weight (Brevitas) layers."""
    return [m.weight for m in model.modules() if hasattr(m, "weight_quant") and getattr(m, "weight", None) is not None]


class DeadlineReached(Exception):
    """`train_binarized` passed its hard `deadline` (mid-epoch): the model is not usable."""


def train_binarized(model, x: np.ndarray, y: np.ndarray, epochs: int, seed: int, batch: int, lr: float,
                    max_seconds: float | None = None, deadline: float | None = None) -> tuple[int, bool]:
    """Train `model` in place on (x, y) for `epochs` epochs of shuffled mini-batches (the
    shuffles drawn from a generator seeded with `seed`); the cosine schedule spans all `epochs`.

    `max_seconds` caps the time: the first epoch always completes, after that training stops
    at the first epoch boundary past the budget. Returns (epochs completed, stopped early).
    `deadline` (a `time.time()` wall-clock instant, so it can be handed to another process) is
    a hard stop checked after every step: past it, `DeadlineReached` is raised.
    The model is left in train mode.
    """
    import torch
    from torch import nn

    xs, ys = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))
    steps_per_epoch = math.ceil(len(xs) / batch)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    latent = latent_weights(model)
    gen = torch.Generator().manual_seed(seed)
    start = time.monotonic()
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), batch):
            idx = perm[i : i + batch]
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                for w in latent:
                    w.clamp_(-1.0, 1.0)
            if deadline is not None and time.time() >= deadline:
                raise DeadlineReached(f"deadline reached after {epoch} epochs and {i // batch + 1} steps")
        done = epoch + 1
        if max_seconds is not None and done < epochs and time.monotonic() - start > max_seconds:
            return done, True
    return epochs, False
