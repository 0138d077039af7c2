"""`bnn2hls search`: plan with the cost charts, train within the time budget, verify the winner.

Output directory (kept between runs, so a rerun resumes):
- `search.json`   the settings; a rerun with other settings is refused
- `results.jsonl` one line per trained candidate, appended as each one completes (a candidate
                  that trained but did not compile is a line with `failed` and its `error`;
                  a rerun retries it)
- `candidates/<key>/model.onnx` every trained candidate's QONNX export
- `pareto.json`   the accuracy/cost front, every prediction of the binary searches, the winner
                  with its measured numbers
- `pareto.png`    the front (all trained candidates, infeasible ones crossed out)
- `winner/model.onnx` and `winner/out/` (its compiled output)

The winner is measured, not only predicted: it is compiled (for the board with the fpga
backend), its reference engine is compared with the QONNX executor on test images; with the
fpga backend it is also simulated in Verilator (outputs must equal the reference bit for bit,
cycles per frame are measured) and synthesized with yosys (measured LUTs against predicted).
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..safeio import read_json
from . import backends, deepbit
from .candidates import DATASETS, Candidate, error_line, evaluate_candidate, load_split, predicted_network
from .cost import Cost
from .executors import TimedOut, call_with_timeout, check_executor, make_executor

# Share of the time budget kept for verifying the winner after training stops (fpga: Verilator
# build + simulation + yosys; the first yowasp call alone compiles for about a minute).
FINALIST_SHARE = {"fpga": 0.45, "gpu": 0.15, "rram": 0.15}
FINALIST_MIN_S = {"fpga": 150.0, "gpu": 30.0, "rram": 30.0}
MIN_TRAIN_S = 30.0  # with verification, the budget must leave at least this much for training
# At the training deadline, running trainings stop at their next step (they get the deadline);
# a worker that has not answered GRACE_S later (still importing torch, say) is killed.
GRACE_S = 2.0
RTL_FRAMES = 32  # test images simulated in Verilator
ONNX_FRAMES = 16  # test images run through the QONNX executor (slow: one node at a time)
SETTINGS = "search.json"


@dataclass(frozen=True)
class RunOptions:
    max_minutes: float = 10.0
    executor: str = "local"
    address: str | None = None
    workers: int = 2
    progress: bool = True
    verify: bool = True  # compile, simulate and synthesize the winner


DEFAULT_MIN_FPS = {"mlp": 400_000.0, "cnn": 50_000.0}


def default_min_fps(backend: str, family: str = "mlp") -> float | None:
    """The FPGA's default throughput target. mlp: 400k frames/s (250 cycles per frame at
    100 MHz), the regime of FINN's MNIST MLPs, where a PYNQ-Z2's LUTs bound the width of a
    binarized MLP mid-ladder. cnn: 50k frames/s (2,000 cycles per frame: a 28x28 map streams
    one pixel per cycle, so no convnet on it passes ~110k), where the PYNQ-Z2 bounds the channel
    count mid-ladder (48-96). GPUs and RRAM crossbars have no folding knob and no default target."""
    return DEFAULT_MIN_FPS.get(family, DEFAULT_MIN_FPS["mlp"]) if backend == "fpga" else None


def _check_dir(out: Path, spec: deepbit.SearchSpec) -> None:
    settings = out / SETTINGS
    if out.exists():
        if not out.is_dir():
            raise UserError(f"-o {out}: exists and is not a directory")
        if settings.is_file():
            old = read_json(settings, "search settings")
            new = json.loads(json.dumps(spec.to_dict()))  # tuples as JSON lists, as stored
            if old != new:
                diff = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
                raise UserError(f"-o {out}: holds a search with other settings ({', '.join(diff)}); use another directory")
        elif any(out.iterdir()):
            raise UserError(f"-o {out}: a non-empty directory that is not a bnn2hls search; refusing to write into it")
    else:
        if not out.parent.is_dir():
            raise UserError(f"-o {out}: parent directory {out.parent} does not exist")
    out.mkdir(exist_ok=True)
    settings.write_text(json.dumps(spec.to_dict(), indent=1, sort_keys=True) + "\n")


def _cost_summary(cost: Cost) -> dict[str, Any]:
    d = cost.to_dict()
    details = d.pop("details")
    if "folding" in details:
        d["folding"] = details["folding"]
    for key in ("clock_mhz", "board_clock_mhz"):  # the fpga's: the clock its fps assumes
        if key in details:
            d[key] = details[key]
    return d


def _record(spec: deepbit.SearchSpec, c: Candidate, cost: Cost, result: dict[str, Any], out: Path) -> dict[str, Any]:
    if result.get("failed"):  # trained, but did not export or compile: never feasible, never on the front
        return {
            "result_key": deepbit.result_key(c, spec), "key": c.key, "candidate": c.to_dict(), "seed": spec.seed,
            "failed": True, "error": result["error"], "accuracy": None, "torch_accuracy": result["accuracy"],
            "train_seconds": result["train_seconds"], "epochs_done": result["epochs_done"],
            "stopped_early": result["stopped_early"], "predicted": _cost_summary(cost), "feasible": False,
            "axis": deepbit.axis_value(cost, spec.objective),
        }
    return {
        "result_key": deepbit.result_key(c, spec), "key": c.key, "candidate": c.to_dict(), "seed": spec.seed,
        # the compiled network's accuracy: what the hardware computes (torch's is kept too)
        "accuracy": result["reference_accuracy"], "torch_accuracy": result["accuracy"], "agree": result["agree"],
        "train_seconds": result["train_seconds"], "epochs_done": result["epochs_done"],
        "stopped_early": result["stopped_early"], "model": str(Path(result["model"]).relative_to(out)),
        "predicted": _cost_summary(cost), "feasible": deepbit.feasible(cost, spec),
        "axis": deepbit.axis_value(cost, spec.objective),
    }


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="training", unit="model", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def train_within_budget(spec: deepbit.SearchSpec, plan: deepbit.Plan, out: Path, opts: RunOptions,
                        deadline: float) -> dict[str, dict[str, Any]]:
    """Evaluate the plan's candidates in order, `workers` at a time, appending each result to
    results.jsonl; start no new training after `deadline`. Returns every result (old and new)."""
    results_path = out / deepbit.RESULTS
    dropped = deepbit.repair_results(results_path)
    results_path.touch()  # exists (maybe empty) even if nothing finishes
    if dropped:
        print(f"{results_path}: dropped {dropped} damaged line{'s' if dropped != 1 else ''} (an interrupted write); "
              f"{'its candidate is' if dropped == 1 else 'their candidates are'} retrained", file=sys.stderr)
    done = deepbit.load_results(results_path)
    # a failed candidate (it did not compile) is retried: the compiler may have learnt since
    todo = [c for c in plan.order if deepbit.result_key(c, spec) not in done or done[deepbit.result_key(c, spec)].get("failed")]
    bar = _progress(len(plan.order), len(plan.order) - len(todo), opts.progress)
    if not todo:
        bar.close()
        return done
    executor = make_executor(opts.executor, opts.workers, opts.address)
    wall_deadline = time.time() + (deadline - time.monotonic())  # workers compare it with their own clock
    running: dict[Any, Candidate] = {}
    interrupted: list[Candidate] = []
    killed = False
    try:
        while todo or running:
            while todo and len(running) < opts.workers and time.monotonic() < deadline:
                c = todo.pop(0)
                handle = executor.submit(evaluate_candidate, c.to_dict(), spec.seed, str(out / "candidates" / c.key),
                                         deadline=wall_deadline)
                running[handle] = c
            if not running:
                break
            # wake at the deadline (to stop submitting) and GRACE_S after it (to kill stragglers)
            now = time.monotonic()
            wake = deadline - now if now < deadline else deadline + GRACE_S - now
            got = executor.next_done(list(running), timeout=max(wake, 0.0))
            if got is None:
                if time.monotonic() >= deadline + GRACE_S:
                    interrupted += running.values()
                    executor.kill(list(running))
                    killed = True
                    running.clear()
                continue
            handle, result, error = got
            c = running.pop(handle)
            if error is not None:
                raise RuntimeError(f"training {c.key} failed: {type(error).__name__}: {error}") from error
            if result.get("interrupted"):
                interrupted.append(c)
                continue
            rec = _record(spec, c, plan.predictions[c.key], result, out)
            deepbit.append_result(results_path, rec)
            done[rec["result_key"]] = rec
            bar.update(1)
            if rec.get("failed"):
                bar.write(f"  {c.key:<22} {c.topology:<22} FAILED (torch accuracy {rec['torch_accuracy']:.3f}): {rec['error']}",
                          file=sys.stderr)
                continue
            bar.write(f"  {c.key:<22} {c.topology:<22} accuracy {rec['accuracy']:.3f}  "
                      f"predicted {rec['predicted']['objective_name']} {rec['predicted']['objective']:,.0f}  "
                      f"{'fits' if rec['feasible'] else 'does not fit'}  ({result['train_seconds']:.1f} s)",
                      file=sys.stderr)  # with the bar, so stdout keeps only the summary
    finally:
        bar.close()
        if not killed:
            if running:  # an error or Ctrl-C: do not wait for the others
                executor.kill(list(running))
            else:
                executor.close()
    if interrupted:
        print(f"time budget: {len(interrupted)} trainings stopped at the deadline, not recorded "
              f"({', '.join(c.key for c in interrupted)})", file=sys.stderr)
    if todo:
        print(f"time budget: {len(todo)} planned candidates not trained ({', '.join(c.key for c in todo)})", file=sys.stderr)
    return done


def verify_winner(spec: deepbit.SearchSpec, winner: dict[str, Any], out: Path, board: str | None) -> dict[str, Any]:
    """Compile the winner, compare engines, and (fpga) simulate and synthesize it."""
    from ..engines import qonnx_runner
    from .. import reference
    from ..flow.compiler import compile_file, load_source_model

    wdir = out / "winner"
    # yosys results of an earlier, interrupted verification of the same winner: keyed by the
    # synthesized sources (bnn2hls.estimate.synth), so a rerun resumes the synthesis where it stopped
    synth_cache = {p.name: p.read_bytes() for p in (wdir / "out" / "synth").glob("cache-*.json")}
    if wdir.exists():
        shutil.rmtree(wdir)
    wdir.mkdir()
    src = out / winner["model"]
    model = wdir / "model.onnx"
    shutil.copyfile(src, model)
    if src.with_name(src.name + ".data").is_file():
        shutil.copyfile(src.with_name(src.name + ".data"), model.with_name(model.name + ".data"))
    folding = winner["predicted"].get("folding") if spec.backend == "fpga" else None
    fpga_board = spec.device if spec.backend == "fpga" else board
    t0 = time.monotonic()
    net = compile_file(model, wdir / "out", folding=folding, board=fpga_board)
    if synth_cache:
        (wdir / "out" / "synth").mkdir(exist_ok=True)
        for name, data in synth_cache.items():
            (wdir / "out" / "synth" / name).write_bytes(data)
    verified: dict[str, Any] = {"compile_s": round(time.monotonic() - t0, 2), "out": "winner/out"}
    _, _, x_test, y_test = load_split(spec.dataset)
    x = np.array(x_test)
    ref = reference.run(net, x)
    verified["reference_accuracy"] = float((ref.argmax(1) == y_test).mean())
    onnx = qonnx_runner.run(load_source_model(wdir / "out"), x[:ONNX_FRAMES])
    verified["onnx_frames"] = ONNX_FRAMES
    verified["onnx_max_abs_diff"] = float(np.max(np.abs(onnx - ref[:ONNX_FRAMES])))
    verified["onnx_equal"] = bool(np.allclose(onnx, ref[:ONNX_FRAMES], atol=1e-5, rtol=0))
    if spec.backend != "fpga":
        return verified
    from ..estimate import fit
    from ..flow import manifest
    from ..reports import report, report_html
    from ..engines import rtl_sim

    t0 = time.monotonic()
    sim = rtl_sim.run(net, wdir / "out", x[:RTL_FRAMES])
    verified["rtl_frames"] = RTL_FRAMES
    verified["rtl_bit_exact"] = bool(np.array_equal(sim.outputs, ref[:RTL_FRAMES]))
    verified["rtl_cycles_per_frame"] = sim.perf["cycles_per_frame"]
    verified["est_cycles_per_frame"] = sim.perf["est_cycles_per_frame"]
    verified["rtl_s"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    doc = report.measure(report.load(wdir / "out"), wdir / "out")
    verified["synth_s"] = round(time.monotonic() - t0, 1)
    report.save(doc, wdir / "out")
    manifest.refresh(wdir / "out", (report.REPORT_FILE,))  # `run` and `report` still accept the winner's OUT
    report_html.write_html(doc, wdir / "out")
    m, used = doc["synth"], fit.usage(doc["synth"])[0]
    predicted = winner["predicted"]["objective"]
    verified["measured"] = {"lut": m["lut"], "lutram": m["lutram"], "lut_total": int(used.lut), "ff": m["ff"],
                          "bram18": m["bram18"], "dsp": m["dsp"], "carry": m["carry"]}
    verified["predicted_lut_total"] = predicted
    verified["lut_error_pct"] = round((predicted - used.lut) / max(1.0, used.lut) * 100, 1)
    verified["measured_fits"] = doc["fit"]["fits"]  # yosys counts against the board
    clock = doc["network"]["clock_mhz"]
    verified["measured_fps"] = clock * 1e6 / sim.perf["cycles_per_frame"]
    verified["meets_min_fps"] = spec.min_fps is None or verified["measured_fps"] >= spec.min_fps
    return verified


def shortcut_costs(spec: deepbit.SearchSpec, c: Candidate, board: str | None = None) -> dict[str, Any]:
    """What the shortcuts of a cnn candidate cost on each built-in backend: its predicted
    cost without and with them (same depth and width), at each backend's default device (the
    fpga at the search's board and target, or pynq-z2 at the cnn default target). A backend
    that cannot price the residual network says why (`error`)."""
    plain = Candidate(c.dataset, c.depth, c.width, family="cnn", residual=False, input_bits=c.input_bits)
    res = Candidate(c.dataset, c.depth, c.width, family="cnn", residual=True, input_bits=c.input_bits)
    out: dict[str, Any] = {}
    for name in ("fpga", "gpu", "rram"):
        backend = backends.get(name)
        if name == spec.backend:
            device, min_fps = spec.device, spec.min_fps
        else:
            device = (board or backend.default_device()) if name == "fpga" else backend.default_device()
            min_fps = default_min_fps(name, "cnn")
        row: dict[str, Any] = {"device": device, "min_fps": min_fps}
        for label, cand in (("off", plain), ("on", res)):
            try:
                cost = backend.estimate(predicted_network(cand, spec.seed), device, min_fps)
            except Exception as exc:  # noqa: BLE001 -- reported, as the plan reports unpriced candidates
                row[label] = {"error": error_line(exc)}
                continue
            row[label] = {"objective_name": cost.objective_name, "objective": cost.objective, "fps": cost.fps,
                          "latency_us": cost.latency_s * 1e6, "fits": cost.fits, "usage": dict(cost.usage)}
        if "objective" in row["off"] and "objective" in row["on"]:
            row["objective_delta_pct"] = round((row["on"]["objective"] / row["off"]["objective"] - 1) * 100, 2)
            row["latency_delta_pct"] = round((row["on"]["latency_us"] / row["off"]["latency_us"] - 1) * 100, 2)
        out[name] = row
    return out


def residual_report(spec: deepbit.SearchSpec, records: list[dict[str, Any]], winner: dict[str, Any] | None,
                    board: str | None = None) -> dict[str, Any]:
    """The residual switch in pareto.json: what was searched, whether the winner uses
    shortcuts, every (depth, width) trained both ways (accuracy and predicted cost without and
    with), and what the winner's shortcuts cost on each backend (`shortcut_costs`)."""
    doc: dict[str, Any] = {"searched": spec.residual, "winner_uses_shortcuts": None, "pairs": [], "shortcut_cost": None}
    by_shape: dict[tuple[int, int], dict[bool, dict[str, Any]]] = {}
    for r in records:
        cand = r["candidate"]
        by_shape.setdefault((cand["depth"], cand["width"]), {})[bool(cand.get("residual", False))] = r
    for (depth, width), pair in sorted(by_shape.items()):
        if len(pair) == 2:
            off, on = pair[False], pair[True]
            doc["pairs"].append({"depth": depth, "width": width, "accuracy_off": off["accuracy"],
                                 "accuracy_on": on["accuracy"], "objective_name": off["predicted"]["objective_name"],
                                 "objective_off": off["predicted"]["objective"], "objective_on": on["predicted"]["objective"],
                                 "feasible_off": off["feasible"], "feasible_on": on["feasible"]})
    if winner is not None:
        c = Candidate.from_dict(winner["candidate"])
        doc["winner_uses_shortcuts"] = c.residual
        if c.depth >= 2:
            doc["shortcut_cost"] = shortcut_costs(spec, c, board)
    return doc


def plot_pareto(records: list[dict[str, Any]], front: list[dict[str, Any]], winner: dict[str, Any] | None,
                label: str, path: Path, objective: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sign = -1.0 if objective == "fps" else 1.0  # plot fps as fps, not its negation
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    def group(r: dict[str, Any]) -> tuple[int, bool]:
        return r["candidate"]["depth"], bool(r["candidate"].get("residual", False))

    for d, res in sorted({group(r) for r in records}):
        pts = [r for r in records if group(r) == (d, res)]
        ok = [r for r in pts if r["feasible"]]
        bad = [r for r in pts if not r["feasible"]]
        sc = ax.scatter([sign * r["axis"] for r in ok], [r["accuracy"] for r in ok], label=f"depth {d}" + (" residual" if res else ""), s=28,
                        marker="s" if res else "o")
        if bad:
            ax.scatter([sign * r["axis"] for r in bad], [r["accuracy"] for r in bad], marker="x", color=sc.get_facecolor()[0])
    if front:
        ax.step([sign * r["axis"] for r in front], [r["accuracy"] for r in front], where="post", color="black",
                linewidth=1, label="Pareto front")
    if winner is not None:
        ax.scatter([sign * winner["axis"]], [winner["accuracy"]], s=160, facecolors="none", edgecolors="red",
                   linewidths=2, label=f"winner {winner['key']}")
    ax.set_xlabel(label)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title("Deepbit search: trained candidates (x: predicted infeasible)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


MAX_MINUTES = 7 * 24 * 60.0  # a week: beyond it, deadlines overflow the clocks' arithmetic for nothing
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are unsigned 32-bit here


def check_budget(max_minutes: float, backend: str, verify: bool) -> None:
    """`--max-minutes`: finite, > 0 and at most MAX_MINUTES; with verification, long enough for
    the winner's verification reserve plus MIN_TRAIN_S of training."""
    if not (isinstance(max_minutes, (int, float)) and math.isfinite(max_minutes) and 0 < max_minutes <= MAX_MINUTES):
        raise UserError(f"--max-minutes {max_minutes:g}: must be a number > 0 and at most {MAX_MINUTES:g} (a week)")
    if verify:
        need = FINALIST_MIN_S.get(backend, 60.0) + MIN_TRAIN_S
        if max_minutes * 60 < need:
            raise UserError(f"--max-minutes {max_minutes:g}: too short to train and verify the winner with the "
                            f"{backend} backend (verification is given {FINALIST_MIN_S.get(backend, 60.0):.0f} s); "
                            f"use at least {math.ceil(need / 6) / 10:g} or pass --no-verify")


def check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed {seed}: must be an integer from 0 to {MAX_SEED}")


def run_search(spec: deepbit.SearchSpec, out: Path, opts: RunOptions, board: str | None = None) -> dict[str, Any]:
    """The whole search, within `opts.max_minutes` from this call: planning, training (stopped
    at its deadline), the winner's verification (killed at the budget's end) and the plots."""
    start = time.monotonic()
    check_budget(opts.max_minutes, spec.backend, opts.verify)
    check_seed(spec.seed)
    backend = backends.get(spec.backend)
    deepbit.check_spec(spec, backend)
    if spec.dataset not in DATASETS:
        raise UserError(f"--dataset {spec.dataset}: unknown (known: {', '.join(DATASETS)})")
    check_executor(opts.executor, opts.workers, opts.address)
    t0 = time.monotonic()
    plan = deepbit.plan_search(backend, spec)
    plan_s = time.monotonic() - t0
    if not plan.frontier:
        target = f" at --min-fps {spec.min_fps:g}" if spec.min_fps is not None else ""
        why = f" (unpriced: {next(iter(plan.unpriced.values()))})" if plan.unpriced else ""
        raise UserError(f"no candidate fits {spec.device}{target}: even width {spec.widths[0]} is predicted "
                        f"infeasible at every depth{why}")
    out = Path(out).resolve()
    _check_dir(out, spec)  # only now: a refused search leaves no directory behind
    print(f"cost charts: {len(plan.chart)} predictions in {plan_s:.2f} s; widest feasible per depth: "
          + ", ".join(f"d{c.depth}{'r' if c.residual else ''} w{c.width}" for c in plan.frontier), file=sys.stderr)
    for key, error in plan.unpriced.items():
        print(f"cost charts: {key} not priced by the {spec.backend} backend (infeasible): {error}", file=sys.stderr)
    budget_s = opts.max_minutes * 60
    reserve = max(FINALIST_MIN_S.get(spec.backend, 60.0), FINALIST_SHARE.get(spec.backend, 0.2) * budget_s) if opts.verify else 0.0
    deadline = start + max(budget_s - reserve, 0.0)
    results = train_within_budget(spec, plan, out, opts, deadline)
    ours = [r for r in results.values() if r["seed"] == spec.seed and r["candidate"]["dataset"] == spec.dataset
            and r["candidate"].get("family", "mlp") == spec.family]
    mine = [r for r in ours if not r.get("failed")]
    failed = [r for r in ours if r.get("failed")]
    front = deepbit.pareto_front(mine)
    winner = deepbit.pick_winner(mine)
    cost_name = next(iter(plan.predictions.values())).objective_name
    label = deepbit.axis_label(spec.objective, cost_name)
    doc: dict[str, Any] = {
        "settings": spec.to_dict(), "axis": label, "trained": len(mine),
        "front": [{k: r[k] for k in ("key", "candidate", "accuracy", "axis", "predicted")} for r in front],
        "chart": [{"key": p.candidate.key, "feasible": p.feasible,
                   **(_cost_summary(p.cost) if p.cost is not None else {"unpriced": plan.unpriced.get(p.candidate.key)})}
                  for p in plan.chart],
        "failed": [{k: r[k] for k in ("key", "candidate", "error", "torch_accuracy")} for r in failed],
        "winner": None,
    }
    if plan.unpriced:
        doc["unpriced"] = dict(plan.unpriced)
    if winner is not None:
        doc["winner"] = {k: winner[k] for k in ("key", "candidate", "accuracy", "torch_accuracy", "axis", "predicted", "model")}
        if opts.verify:
            # the rest of the budget, in a process group that is killed when it runs out
            left = start + budget_s - time.monotonic()
            try:
                doc["winner"]["verified"] = call_with_timeout(verify_winner, (spec, winner, out, board), left)
            except TimedOut:
                doc["winner"]["verified"] = {"timed_out": True, "budget_s": round(max(left, 0.0), 1)}
                print(f"time budget: verifying the winner did not finish in the {max(left, 0.0):.0f} s left; "
                      f"it was stopped (winner/ is incomplete)", file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 -- e.g. a residual winner the hardware does not build yet
                doc["winner"]["verified"] = {"error": error_line(exc)}
                print(f"verifying the winner failed: {error_line(exc)}", file=sys.stderr)
    if spec.family == "cnn":
        doc["residual"] = residual_report(spec, mine, winner, board)
    (out / "pareto.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    plot_pareto(mine, front, winner, label, out / "pareto.png", spec.objective)
    doc["seconds"] = round(time.monotonic() - start, 1)
    return doc
