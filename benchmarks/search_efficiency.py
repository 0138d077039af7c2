"""Does the Deepbit binary search find the same best model within budget as exhaustively
training a grid, with fewer trainings?

Grid: depths x widths (every other rung of the search's width ladder by default). The
exhaustive baseline trains every grid point and keeps the most accurate one whose predicted
cost fits the board and meets the throughput target. The binary search (bnn2hls.search.deepbit)
asks the cost charts for the widest feasible width per depth and trains only those. Both
use the same seeded, deterministic training, so a candidate both train gets the same
accuracy.

    python benchmarks/search_efficiency.py [--dataset mnist5k] [--board pynq-z2]
        [--min-fps 400000] [--depths 1,2,3] [--work DIR] [--workers 2]

Trainings are cached in DIR/results.jsonl (rerun = resume). The last line printed is one JSON
object: grid_trainings, binary_search_trainings, training_ratio, the best key and accuracy of
each, same_best_accuracy, predictions (cost-chart queries of the binary search), seconds.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from bnn2hls.search import backends, deepbit
from bnn2hls.search.candidates import WIDTHS, Candidate
from bnn2hls.search.run import RunOptions, train_within_budget

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--min-fps", type=float, default=400_000.0)
    ap.add_argument("--depths", default="1,2,3")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "search_efficiency")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    t_start = time.monotonic()
    depths = tuple(int(d) for d in args.depths.split(","))
    widths = WIDTHS[::2]  # 16, 32, 64, ..., 1024
    spec = deepbit.SearchSpec(dataset=args.dataset, backend="fpga", device=args.board, objective="lut",
                              min_fps=args.min_fps, depths=depths, widths=widths, probes=0)
    backend = backends.get("fpga")
    args.work.mkdir(parents=True, exist_ok=True)
    opts = RunOptions(workers=args.workers, progress=sys.stderr.isatty())

    # Binary search: cost charts only, then one training per depth.
    plan = deepbit.plan_search(backend, spec)
    # Exhaustive: every grid point trained, then filtered by the same predicted feasibility.
    grid = [Candidate(args.dataset, d, w) for d in depths for w in widths]
    predictions = {c.key: plan.predictions.get(c.key) or deepbit.predict(backend, spec, c) for c in grid}
    grid_plan = deepbit.Plan(frontier=[], order=grid, predictions=predictions)
    results = train_within_budget(spec, grid_plan, args.work, opts, deadline=math.inf)

    def best(cands: list[Candidate]) -> dict:
        recs = [results[deepbit.result_key(c, spec)] for c in cands]
        return deepbit.pick_winner(recs)

    grid_best = best(grid)
    search_best = best(plan.frontier)
    for r in sorted(results.values(), key=lambda r: (r["candidate"]["depth"], r["candidate"]["width"])):
        print(f"  {r['key']:<20} accuracy {r['accuracy']:.3f}  predicted LUT {r['predicted']['objective']:>9,.0f}  "
              f"{'feasible' if r['feasible'] else 'infeasible'}{'  <- binary search' if any(c.key == r['key'] for c in plan.frontier) else ''}",
              file=sys.stderr)
    print(json.dumps({
        "dataset": args.dataset, "board": args.board, "min_fps": args.min_fps, "depths": list(depths),
        "widths": list(widths),
        "grid_trainings": len(grid), "binary_search_trainings": len(plan.frontier),
        "training_ratio": round(len(grid) / len(plan.frontier), 2),
        "predictions": len(plan.chart),
        "grid_best": grid_best["key"], "grid_best_accuracy": grid_best["accuracy"],
        "binary_search_best": search_best["key"], "binary_search_best_accuracy": search_best["accuracy"],
        "same_best_accuracy": grid_best["accuracy"] == search_best["accuracy"],
        "frontier": [c.key for c in plan.frontier],
        "seconds": round(time.monotonic() - t_start, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
