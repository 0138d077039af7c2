"""The search space: binarized MLPs or convnets of a given depth and width on an offline dataset.

A `Candidate` is (dataset, depth, width[, family, residual, input_bits]). The mlp family (the
default): `depth` hidden layers of `width` neurons, each binary weights -> BatchNorm -> sign,
then a binary linear layer to the classes and a final BatchNorm1d (BNN-PYNQ's TensorNorm), as
`bnn2hls.flow.demo` builds its 784-256-256-10 model. The cnn family: `depth` binary 3x3 convs of
`width` channels, max-pools and a binary dense classifier by the fixed rule of
`bnn2hls.search.cnn`, optionally with a shortcut around every conv of equal in/out shape
(`residual`) and an 8-bit input (`input_bits`).

Three views of a candidate:
- `predicted_network(c)`: its IR with random contents (`bnn2hls.models.synthetic`), instantly and
  without torch -- what the cost backends evaluate during the search. Structurally equal
  (shapes, input bits, binarize flags, kinds) to the compiled IR of the trained model;
  `structure` is the comparison key.
- `build_model(c)` / `train_candidate(c)`: the Brevitas model, trained briefly on CPU,
  seeded and deterministic for a given thread count.
- `evaluate_candidate(c, seed, out_dir)`: train, export QONNX, import with the compiler and
  check the IR reference engine against torch on the whole test split. Top-level with
  picklable arguments: worker processes run it.

Input encoding: both datasets are float pixels in [0, 1]; the model maps them to 2x - 1 and
binarizes with a sign (x >= 0 -> +1), i.e. a pixel is "on" at >= half intensity. For MNIST
that is >= 127.5/255, for the 8x8 digits (0..16) >= 8/16. So both are 1-channel binary
images, 784 and 64 input bits, exactly as the demo does it.

Held-out split: `data.split(x, y, TEST_FRACTION, SPLIT_SEED)` with a FIXED split seed, so
all candidates (and all training seeds) are ranked on the same test images. (Selecting on it
makes it a validation set; the search has no other.)
"""
from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..models import data
from .. import ir
from ..models.training import DeadlineReached, torch_session, train_binarized

# ---------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    name: str
    shape: tuple[int, int, int]  # the source input, (C, H, W), float pixels in [0, 1]
    input_bits: int  # datapath bits per input value (1: sign of 2x - 1)
    classes: int
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    epochs: int  # default training length (see EPOCHS below)

    @property
    def features(self) -> int:
        return int(np.prod(self.shape))


DATASETS: dict[str, Dataset] = {
    "mnist5k": Dataset("mnist5k", data.MNIST_SHAPE, 1, 10, data.mnist5k, epochs=8),  # 4,000 train / 1,000 test
    "digits": Dataset("digits", data.DIGITS_SHAPE, 1, 10, data.digits, epochs=15),  # 1,438 train / 359 test
}

TEST_FRACTION = 0.2
SPLIT_SEED = 0

# The width ladder the binary search walks: about sqrt(2) apart (x1.5, x1.33), every rung a
# multiple of 8 (2^k or 3 * 2^k), so PE/SIMD foldings of 2, 4, 8 always divide and larger
# powers of two divide most rungs. 13 rungs: a binary search needs at most 4 probes.
WIDTHS: tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)

# The cnn family's epochs: a 28x28 conv stack costs far more per image than an MLP (one thread,
# mnist5k: cnn-d2-c16 ~5 s per epoch, cnn-d4-c64 ~40 s), and 3 epochs reach 90+ %.
CNN_EPOCHS = {"mnist5k": 3, "digits": 6}
FAMILIES = ("mlp", "cnn")

# Training defaults for `training.train_binarized` (Adam, cosine schedule, latent weights clipped
# to [-1, 1]; the demo uses the same loop).
# Epochs are per dataset (`Dataset.epochs`): 8 on mnist5k (40 steps each; one thread:
# 784-256-256-10 ~3 s, 784-1024x4-10 ~25 s), 15 on the 8x8 digits (15 steps each). Measured
# on mnist5k, 6 -> 10 epochs gains about 1 point at every width and keeps the ranking.
EPOCHS = {name: ds.epochs for name, ds in DATASETS.items()}
BATCH = 100
LR = 1e-2


def dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None


@functools.lru_cache(maxsize=None)
def load_split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of a dataset, loaded once per process (read-only)."""
    ds = dataset(name)
    arrays = data.split(*ds.load(), TEST_FRACTION, SPLIT_SEED)
    for a in arrays:
        a.setflags(write=False)
    return arrays  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    dataset: str
    depth: int  # hidden layers (mlp) or binary convs (cnn)
    width: int  # neurons per hidden layer (mlp) or channels per conv (cnn)
    family: str = "mlp"
    residual: bool = False  # cnn: a shortcut around every conv of equal in/out shape
    input_bits: int = 1  # cnn: 1 (sign of 2x - 1) or 8

    def __post_init__(self) -> None:
        dataset(self.dataset)
        if self.family not in FAMILIES:
            raise ValueError(f"Candidate: family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if not (isinstance(self.depth, int) and self.depth >= 1):
            raise ValueError(f"Candidate: depth must be an int >= 1, got {self.depth!r}")
        if not (isinstance(self.width, int) and self.width >= 1):
            raise ValueError(f"Candidate: width must be an int >= 1, got {self.width!r}")
        if self.family == "mlp" and (self.residual or self.input_bits != 1):
            raise ValueError("Candidate: residual and input_bits are cnn options")
        if self.input_bits not in (1, 8) or not isinstance(self.residual, bool):
            raise ValueError(f"Candidate: input_bits must be 1 or 8 and residual a bool, got {self.input_bits!r}, "
                             f"{self.residual!r}")
        if self.residual and self.depth < 2:
            raise ValueError("Candidate: a cnn of depth 1 has no conv of equal in/out shape to put a shortcut around")

    @property
    def key(self) -> str:
        if self.family == "mlp":
            return f"{self.dataset}-d{self.depth}-w{self.width}"
        return (f"{self.dataset}-cnn-d{self.depth}-c{self.width}" + ("-res" if self.residual else "")
                + ("" if self.input_bits == 1 else f"-in{self.input_bits}"))

    @property
    def info(self) -> Dataset:
        return dataset(self.dataset)

    @property
    def epochs(self) -> int:
        """Default training length."""
        return self.info.epochs if self.family == "mlp" else CNN_EPOCHS[self.dataset]

    @property
    def topology(self) -> str:
        """e.g. "784-256-256-10", or "c16-c16r-mp-fc10" (cnn; r: with a shortcut)."""
        if self.family == "cnn":
            from .cnn import topology

            return topology(self.depth, self.width, self.info.shape[1:], self.residual, self.info.classes)
        return "-".join(map(str, (self.info.features, *[self.width] * self.depth, self.info.classes)))

    def to_dict(self) -> dict[str, Any]:
        """The fields; an mlp candidate's are (dataset, depth, width) alone, as before the cnn
        family (so old results.jsonl files read back the same)."""
        d = asdict(self)
        if self.family == "mlp":
            for k in ("family", "residual", "input_bits"):
                d.pop(k)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(dataset=str(d["dataset"]), depth=int(d["depth"]), width=int(d["width"]),
                   family=str(d.get("family", "mlp")), residual=bool(d.get("residual", False)),
                   input_bits=int(d.get("input_bits", 1)))


def _as_candidate(c: Candidate | dict[str, Any]) -> Candidate:
    return c if isinstance(c, Candidate) else Candidate.from_dict(c)


# ---------------------------------------------------------------------------------------
# Predicted IR (no torch)
# ---------------------------------------------------------------------------------------


def predicted_network(c: Candidate, seed: int = 0) -> ir.Network:
    """The candidate's compiled IR with synthetic contents and PE = SIMD = 1.

    Same layers, shapes, input bits and binarize flags as `compiler.build_network` gives the
    trained and exported model, and the same host-side input step (2x - 1, flatten, sign),
    so `reference.run` accepts the dataset's images. Weights and thresholds are random.
    """
    from ..models.synthetic import synthetic_network

    info = c.info
    if c.family == "cnn":
        from . import cnn

        return cnn.predicted_network(c.key, info.shape, info.classes, c.depth, c.width, c.residual, c.input_bits, seed)
    layers = [("dense", c.width, 1, 1)] * c.depth + [("dense", info.classes, 1, 1)]
    preprocess = (("affine", ir.AffineOp("mul", {"c": np.array(2.0, np.float32)})),
                  ("affine", ir.AffineOp("sub", {"c": np.array(1.0, np.float32)})),
                  ("reshape", (info.features,)))
    return synthetic_network(c.key, (1, 1, info.features, info.input_bits), layers, seed,
                             source_shape=info.shape, preprocess=preprocess)


def structure(net: ir.Network) -> list[tuple]:
    """What cost models see of a network, without contents: one tuple per layer (kind, shapes,
    kernel/stride/pads, input bits, binarize, thresholded, folding), and the matrix layers'
    names (a folding names them)."""
    rows: list[tuple] = [tuple(layer.name for layer in net.matrix_layers)]
    for layer in net.layers:
        if isinstance(layer, ir.InputQuant):
            rows.append((layer.kind, tuple(layer.source_shape), tuple(layer.out_shape), layer.bits))
        elif isinstance(layer, ir.MatrixLayer):
            rows.append((layer.kind, tuple(layer.in_shape), tuple(layer.out_shape), layer.kernel, layer.stride,
                         layer.pads, layer.input_bits, layer.binarize, layer.thresholds is not None,
                         layer.border is not None, tuple(layer.weights.shape), layer.pe, layer.simd, layer.out_levels,
                         layer.pad_mode))
        elif isinstance(layer, ir.MaxPool):
            rows.append((layer.kind, tuple(layer.in_shape), tuple(layer.out_shape), layer.kernel, layer.stride,
                         *((tuple(layer.pads),) if layer.padded else ())))
        elif isinstance(layer, ir.Join):
            rows.append((layer.kind, tuple(layer.in_shape), tuple(layer.shifts),
                         tuple(net.element_bits(p) for p in net.producers(layer))))
        elif isinstance(layer, ir.Threshold):
            rows.append((layer.kind, tuple(layer.in_shape), layer.out_levels))
        else:
            rows.append((layer.kind, tuple(layer.in_shape)))
    return rows


# ---------------------------------------------------------------------------------------
# Torch model and training
# ---------------------------------------------------------------------------------------


def build_model(c: Candidate):
    """The Brevitas model (train mode, freshly initialised from torch's global RNG)."""
    from torch import nn

    from ..models.zoo import _binary_act, _linear, _Sequential

    info = c.info
    if c.family == "cnn":
        from . import cnn

        return cnn.build_model(info.shape, info.classes, c.depth, c.width, c.residual, c.input_bits)
    layers: list = [nn.Flatten(), _binary_act()]
    fan_in = info.features
    for _ in range(c.depth):
        layers += [_linear(fan_in, c.width), nn.BatchNorm1d(c.width), _binary_act()]
        fan_in = c.width
    layers += [_linear(fan_in, info.classes), nn.BatchNorm1d(info.classes)]
    return _Sequential(*layers)


@dataclass
class TrainResult:
    model: Any  # torch.nn.Module, eval mode
    accuracy: float  # on the held-out test split
    train_seconds: float
    epochs_done: int
    stopped_early: bool  # by max_seconds


def _predict(model, x: np.ndarray):
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(np.array(x))).numpy()


def train_candidate(c: Candidate, seed: int = 0, epochs: int | None = None, threads: int = 1,
                    max_seconds: float | None = None, batch: int = BATCH, lr: float = LR,
                    deadline: float | None = None) -> TrainResult:
    """Train briefly: Adam on the latent float weights, cosine LR over `epochs`, latent
    weights clipped to [-1, 1] after every step. Deterministic for a given (seed, threads).

    `max_seconds` caps the training time; the first epoch always completes, after that the
    loop stops at the first epoch boundary past the budget (`stopped_early`; the accuracy then depends on the
    machine's speed). `deadline` (wall clock, `time.time()`) is a hard stop checked after every
    step: past it, `training.DeadlineReached` is raised. The loop is
    `bnn2hls.models.training.train_binarized`, shared with the demo.
    The caller's torch RNG state and thread count are left as found.
    """
    c = _as_candidate(c)
    epochs = c.epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError("train_candidate: epochs must be >= 1")
    x_train, y_train, x_test, y_test = load_split(c.dataset)
    with torch_session(threads, seed):
        model = build_model(c)
        start = time.monotonic()
        epochs_done, stopped = train_binarized(model, x_train, y_train, epochs, seed, batch, lr, max_seconds,
                                               deadline)
        train_s = time.monotonic() - start
        out = _predict(model, x_test)
    accuracy = float((out.argmax(1) == y_test).mean())
    return TrainResult(model=model, accuracy=accuracy, train_seconds=train_s, epochs_done=epochs_done,
                       stopped_early=stopped)


# ---------------------------------------------------------------------------------------
# Export, compile, verify
# ---------------------------------------------------------------------------------------


def export_candidate(model, c: Candidate, path: str | Path) -> Path:
    """QONNX export (writes `path` and `path.data`) with the dataset's example input."""
    import torch

    from ..frontend.torch_export import export_qonnx

    c = _as_candidate(c)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return export_qonnx(model, torch.zeros(1, *c.info.shape), path)


def compiled_network(path: str | Path, c: Candidate) -> ir.Network:
    """Import an exported candidate with the compiler (folded thresholds, PE = SIMD = 1)."""
    from ..flow.compiler import build_network
    from ..frontend.onnx_import import load_model

    return build_network(load_model(Path(path)), _as_candidate(c).key)


def evaluate_candidate(c: Candidate | dict[str, Any], seed: int = 0, out_dir: str | Path = ".",
                       epochs: int | None = None, threads: int = 1, max_seconds: float | None = None,
                       deadline: float | None = None) -> dict[str, Any]:
    """Train, export to out_dir/model.onnx, import with the compiler, and run the IR
    reference engine on the whole test split. Returns a JSON-able dict:
    candidate, seed, accuracy (torch), reference_accuracy (the compiled IR), agree (fraction
    of test images on which torch and the reference pick the same class), n_test,
    train_seconds, epochs_done, stopped_early, seconds (total), model (path).

    `deadline` (wall clock, `time.time()`: the search's time budget) is a hard stop: if it
    passes before or during training, nothing is exported and the dict is only
    {candidate, key, seed, interrupted: True, seconds}.

    A trained model that does not export, compile or run in the reference engine (a residual
    candidate before the compiler builds joins, say) is a failed candidate, not a crash: the
    dict is {candidate, key, seed, failed: True, error (one line), accuracy (torch),
    train_seconds, epochs_done, stopped_early, seconds}."""
    from .. import reference

    t0 = time.monotonic()
    c = _as_candidate(c)
    out_dir = Path(out_dir)
    try:
        if deadline is not None and time.time() >= deadline:
            raise DeadlineReached("deadline reached before training started")
        result = train_candidate(c, seed=seed, epochs=epochs, threads=threads, max_seconds=max_seconds,
                                 deadline=deadline)
    except DeadlineReached:
        return {"candidate": c.to_dict(), "key": c.key, "seed": seed, "interrupted": True,
                "seconds": round(time.monotonic() - t0, 3)}
    trained = {"train_seconds": round(result.train_seconds, 3), "epochs_done": result.epochs_done,
               "stopped_early": result.stopped_early}
    _, _, x_test, y_test = load_split(c.dataset)
    try:
        path = export_candidate(result.model, c, out_dir / "model.onnx")
        net = compiled_network(path, c)
        torch_out = _predict(result.model, x_test)
        ref_out = reference.run(net, np.array(x_test))
    except Exception as exc:  # noqa: BLE001 -- recorded as a failed candidate, with its error line
        return {"candidate": c.to_dict(), "key": c.key, "seed": seed, "failed": True, "error": error_line(exc),
                "accuracy": result.accuracy, **trained, "seconds": round(time.monotonic() - t0, 3)}
    torch_pred, ref_pred = torch_out.argmax(1), ref_out.argmax(1)
    return {
        "candidate": c.to_dict(),
        "key": c.key,
        "seed": seed,
        "accuracy": result.accuracy,
        "reference_accuracy": float((ref_pred == y_test).mean()),
        "agree": float((torch_pred == ref_pred).mean()),
        "n_test": int(len(y_test)),
        **trained,
        "seconds": round(time.monotonic() - t0, 3),
        "model": str(path),
    }


def error_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


__all__ = ["Candidate", "Dataset", "DATASETS", "WIDTHS", "EPOCHS", "TrainResult", "build_model", "predicted_network",
           "structure", "train_candidate", "export_candidate", "compiled_network", "evaluate_candidate", "load_split",
           "dataset", "error_line", "FAMILIES", "CNN_EPOCHS"]
