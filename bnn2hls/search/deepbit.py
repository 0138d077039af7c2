"""The Deepbit search: cost charts + a binary search over width per depth.

1. **Cost charts.** A cost backend (`bnn2hls.search.backends`) predicts, from a candidate's
   synthetic IR (`candidates.predicted_network`) and in milliseconds, whether it fits the
   device and how fast it runs. No training is needed to know a candidate's cost.
2. **Binary search.** For every depth d in `depths`, a binary search over the width ladder
   finds the widest width w*(d) whose predicted cost fits the device and meets `min_fps`
   (feasibility falls with width: a wider layer never needs fewer lanes or memory bits). Since
   accuracy grows with width, w*(d) is the most accurate affordable model of depth d: it costs
   log2(|ladder|) predictions and one training, where an exhaustive grid costs |ladder|
   trainings.
3. **Training.** The frontier candidates w*(d) are trained first (short, seeded, CPU; in a
   local process pool or as Ray tasks), then, while the time budget lasts, cheaper "probe"
   widths below each frontier (every `probe_step` rungs down) that fill in the accuracy/cost
   Pareto front. Every evaluation is appended to `results.jsonl` as it completes; a rerun reads
   it back and trains only what is missing.
4. **Finalist.** The most accurate feasible candidate (ties: the cheaper) is the winner; the
   caller (`search.run`) compiles, simulates and synthesizes it.

Families (`SearchSpec.family`): "mlp" (depth = hidden layers, width on `WIDTHS`) and "cnn"
(depth = binary 3x3 convs, width = channels on `cnn.CONV_WIDTHS`; `bnn2hls.search.cnn`). For
the cnn family `residual` is a search dimension: "off", "on" (a shortcut around every conv of
equal in/out shape) or "both" (each depth >= 2 is searched with and without shortcuts, two
binary searches, and both frontiers are trained). A candidate whose cost a backend cannot
predict (it raises: a node it has no hardware or cost coefficients for) is infeasible, and the plan keeps its
error line (`Plan.unpriced`).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import UserError
from .candidates import FAMILIES, WIDTHS, Candidate, error_line, predicted_network
from .cnn import CONV_WIDTHS
from .cnn import MAX_DEPTH as CNN_MAX_DEPTH
from .cost import Cost, CostBackend

OBJECTIVES = ("lut", "fps", "latency")
# The deepest network searched. Each depth costs about 4 predictions of a network that deep
# (milliseconds at 16) and its frontier candidate is trained on one CPU thread; a 784-1024x16-10
# MLP already takes about 15 s per mnist5k epoch. Deeper binarized MLPs of this kind do not
# train in minutes, and asking for thousands of depths only stalls planning.
MAX_DEPTH = 16
RESIDUAL = ("off", "on", "both")


def max_depth(family: str) -> int:
    return CNN_MAX_DEPTH if family == "cnn" else MAX_DEPTH


def default_widths(family: str) -> tuple[int, ...]:
    return CONV_WIDTHS if family == "cnn" else WIDTHS


def parse_depths(text: str, family: str = "mlp") -> tuple[int, ...]:
    """`--depths`: comma-separated integers in 1..MAX_DEPTH (duplicates allowed), sorted and
    deduplicated. Empty items are refused."""
    items = text.split(",")
    if any(not item.strip() for item in items):
        raise UserError(f"--depths {text}: empty item; expected comma-separated integers, e.g. 1,2,3,4")
    try:
        depths = {int(item) for item in items}
    except ValueError:
        raise UserError(f"--depths {text}: expected comma-separated integers, e.g. 1,2,3,4") from None
    top = max_depth(family)
    if min(depths) < 1 or max(depths) > top:
        raise UserError(f"--depths {text}: depths must be between 1 and {top}" + (" for the cnn family" if family == "cnn" else ""))
    return tuple(sorted(depths))


@dataclass(frozen=True)
class SearchSpec:
    dataset: str
    backend: str
    device: str
    objective: str  # the cost axis of the Pareto front: lut (backend's own cost) | fps | latency
    min_fps: float | None
    depths: tuple[int, ...] = (1, 2, 3, 4)
    widths: tuple[int, ...] = WIDTHS
    probes: int = 3  # cheaper widths trained per depth after the frontier, time permitting
    probe_step: int = 2  # rungs between probes
    seed: int = 0
    family: str = "mlp"  # mlp | cnn
    residual: str = "off"  # cnn: off | on | both
    input_bits: int = 1  # cnn: 1 | 8

    def to_dict(self) -> dict[str, Any]:
        """The settings (search.json); the cnn fields only where they differ from an mlp
        search's, so an mlp search directory written before them resumes."""
        d = asdict(self)
        for k, default in (("family", "mlp"), ("residual", "off"), ("input_bits", 1)):
            if d[k] == default:
                d.pop(k)
        return d

    def residual_options(self, depth: int) -> tuple[bool, ...]:
        """With or without shortcuts at this depth (a depth-1 cnn has no conv to put one around)."""
        if self.family != "cnn" or self.residual == "off" or depth < 2:
            return (False,)
        return (True,) if self.residual == "on" else (False, True)

    def candidate(self, depth: int, width: int, residual: bool = False) -> Candidate:
        if self.family == "mlp":
            return Candidate(self.dataset, depth, width)
        return Candidate(self.dataset, depth, width, family="cnn", residual=residual, input_bits=self.input_bits)


# --------------------------------------------------------------------------------------
# Cost charts and the binary search
# --------------------------------------------------------------------------------------
def predict(backend: CostBackend, spec: SearchSpec, c: Candidate) -> Cost:
    """The candidate's predicted cost. With the fps objective the FPGA folds for the fastest
    design that fits (min_fps=None), otherwise for the cheapest that reaches min_fps."""
    min_fps = None if spec.objective == "fps" else spec.min_fps
    return backend.estimate(predicted_network(c, spec.seed), spec.device, min_fps)


def feasible(cost: Cost | None, spec: SearchSpec) -> bool:
    """Fits and meets the target; an unpriced candidate (None) is not feasible."""
    return cost is not None and cost.meets(spec.min_fps)


def axis_value(cost: Cost, objective: str) -> float:
    """The Pareto cost axis, lower is better (fps is negated)."""
    if objective == "fps":
        return -cost.fps
    if objective == "latency":
        return cost.latency_s * 1e6
    return cost.objective


def axis_label(objective: str, cost_name: str) -> str:
    return {"fps": "predicted frames/s (higher is better)", "latency": "predicted latency (us)"}.get(
        objective, f"predicted {cost_name}")


@dataclass
class Probe:
    """One prediction made by the binary search."""

    candidate: Candidate
    cost: Cost | None  # None: the backend could not price it (Plan.unpriced has the error line)
    feasible: bool


def widest_feasible(predict_fn: Callable[[Candidate], Cost | None], spec: SearchSpec, depth: int,
                    residual: bool = False) -> tuple[int | None, list[Probe]]:
    """Index of the widest feasible rung of `spec.widths` at this depth (None: not even the
    narrowest fits), and the predictions made on the way (about log2(len(widths)))."""
    lo, hi, best = 0, len(spec.widths) - 1, None
    probes: list[Probe] = []
    while lo <= hi:
        mid = (lo + hi) // 2
        c = spec.candidate(depth, spec.widths[mid], residual)
        cost = predict_fn(c)
        ok = feasible(cost, spec)
        probes.append(Probe(c, cost, ok))
        if ok:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best, probes


@dataclass
class Plan:
    """What to train, in order, and every prediction behind it."""

    frontier: list[Candidate]
    order: list[Candidate]  # frontier first, then probe rounds
    predictions: dict[str, Cost]  # candidate key -> predicted cost
    chart: list[Probe] = field(default_factory=list)  # the binary searches' predictions
    unpriced: dict[str, str] = field(default_factory=dict)  # candidate key -> why the backend could not price it


def plan_search(backend: CostBackend, spec: SearchSpec) -> Plan:
    predictions: dict[str, Cost] = {}
    unpriced: dict[str, str] = {}

    def predict_cached(c: Candidate) -> Cost | None:
        if c.key not in predictions and c.key not in unpriced:
            try:
                predictions[c.key] = predict(backend, spec, c)
            except Exception as exc:  # noqa: BLE001 -- e.g. a node the backend's hardware or cost model lacks
                unpriced[c.key] = error_line(exc)
        return predictions.get(c.key)

    frontier, chart, tops = [], [], {}
    for depth in spec.depths:
        for residual in spec.residual_options(depth):
            top, probes = widest_feasible(predict_cached, spec, depth, residual)
            chart += probes
            if top is not None:
                tops[(depth, residual)] = top
                frontier.append(spec.candidate(depth, spec.widths[top], residual))
    order = list(frontier)
    for k in range(1, spec.probes + 1):
        for (depth, residual), top in tops.items():
            rung = top - k * spec.probe_step
            if rung >= 0:
                c = spec.candidate(depth, spec.widths[rung], residual)
                predict_cached(c)
                order.append(c)
    return Plan(frontier=frontier, order=order, predictions=predictions, chart=chart, unpriced=unpriced)


# --------------------------------------------------------------------------------------
# results.jsonl and the Pareto front
# --------------------------------------------------------------------------------------
RESULTS = "results.jsonl"


def result_key(c: Candidate, spec: SearchSpec) -> str:
    """Identifies a training: a rerun with another seed or dataset does not reuse it."""
    return f"{c.key}-s{spec.seed}"


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """Completed evaluations by result key. A line cut short by an interrupted run is ignored
    (it is retrained)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "result_key" in rec:
            done[rec["result_key"]] = rec
    return done


def repair_results(path: Path) -> int:
    """Make results.jsonl safe to append to: drop lines that do not parse as a record, above
    all a last line torn by a crash or power loss mid-write (appending to it would merge two
    records into one bad line). Rewritten atomically, and only if needed. Returns the number
    of lines dropped (their candidates are retrained)."""
    if not path.is_file():
        return 0
    raw = path.read_bytes()
    if not raw:
        return 0
    keep, dropped = [], 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            dropped += 1
            continue
        if isinstance(rec, dict) and "result_key" in rec:
            keep.append(line)
        else:
            dropped += 1
    fixed = b"".join(line + b"\n" for line in keep)
    if fixed != raw:
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            f.write(fixed)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return dropped


def append_result(path: Path, record: dict[str, Any]) -> None:
    """Append one line with a single write on an O_APPEND descriptor, then fsync: a crash
    leaves at most a torn last line, which `repair_results` drops on resume."""
    data = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def pareto_front(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feasible records not dominated in (accuracy higher, axis lower), sorted by axis
    (failed candidates are never feasible)."""
    pts = sorted((r for r in records if r["feasible"]), key=lambda r: (r["axis"], -r["accuracy"]))
    front, best_acc = [], -1.0
    for r in pts:
        if r["accuracy"] > best_acc:
            front.append(r)
            best_acc = r["accuracy"]
    return front


def pick_winner(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    feasible_recs = [r for r in records if r["feasible"]]
    if not feasible_recs:
        return None
    return max(feasible_recs, key=lambda r: (r["accuracy"], -r["axis"]))


def check_spec(spec: SearchSpec, backend: CostBackend) -> None:
    if spec.objective not in OBJECTIVES:
        raise UserError(f"--objective {spec.objective}: must be one of {', '.join(OBJECTIVES)}")
    if spec.device not in backend.devices():
        kind = "--board" if spec.backend == "fpga" else "--device"
        raise UserError(f"{kind} {spec.device}: unknown {spec.backend} device (known: {', '.join(backend.devices())})")
    if spec.min_fps is not None and not (spec.min_fps > 0 and math.isfinite(spec.min_fps)):
        raise UserError(f"--min-fps {spec.min_fps:g}: must be a finite number > 0")
    if spec.family not in FAMILIES:
        raise UserError(f"--family {spec.family}: must be one of {', '.join(FAMILIES)}")
    if spec.family == "mlp" and (spec.residual != "off" or spec.input_bits != 1):
        raise UserError("--residual and --input-bits are options of the cnn family (--family cnn)")
    if spec.residual not in RESIDUAL:
        raise UserError(f"--residual {spec.residual}: must be one of {', '.join(RESIDUAL)}")
    if spec.input_bits not in (1, 8):
        raise UserError(f"--input-bits {spec.input_bits}: must be 1 or 8")
    top = max_depth(spec.family)
    if not spec.depths or any(not 1 <= d <= top for d in spec.depths):
        raise UserError(f"--depths {','.join(map(str, spec.depths))}: depths must be between 1 and {top}")
