"""The search under hostile conditions: option values at the edges, a time budget that must
hold, a killed parent, a torn results file; and `demo`'s option checks."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bnn2hls.cli import main
from bnn2hls.search import deepbit, run
from bnn2hls.search.candidates import evaluate_candidate
from bnn2hls.search.executors import TimedOut, call_with_timeout
from bnn2hls.models.training import DeadlineReached, train_binarized

pytestmark = pytest.mark.tier("unit")

ROOT = Path(__file__).resolve().parents[1]


def _one_error_line(capsys, rc: int, option: str) -> str:
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and option in err, err
    return err


# --------------------------------------------------------------------------------------
# Option values
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["--depths", "17"], "--depths"),
    (["--depths", "300"], "--depths"),
    (["--depths", "100000"], "--depths"),
    (["--depths", "1,,2"], "--depths"),
    (["--depths", "1,"], "--depths"),
    (["--depths", ""], "--depths"),
    (["--depths", "0,1"], "--depths"),
    (["--max-minutes", "nan"], "--max-minutes"),
    (["--max-minutes", "inf"], "--max-minutes"),
    (["--max-minutes", "-1"], "--max-minutes"),
    (["--max-minutes", "0"], "--max-minutes"),
    (["--max-minutes", "1"], "--max-minutes"),  # fpga verification alone is given 150 s
    (["--workers", "0", "--no-verify"], "--workers"),
    (["--workers", "-3", "--no-verify"], "--workers"),
    (["--min-fps", "nan"], "--min-fps"),
    (["--min-fps", "inf"], "--min-fps"),
    (["--min-fps", "-5"], "--min-fps"),
    (["--min-fps", "0"], "--min-fps"),
])
def test_search_refuses_bad_values_with_one_line(tmp_path, capsys, argv, option):
    t0 = time.monotonic()
    rc = main(["search", "--dataset", "digits", "--quiet", *argv, "-o", str(tmp_path / "s")])
    _one_error_line(capsys, rc, option)
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "s").exists()


def test_depths_accepts_duplicates_and_caps_at_max_depth():
    assert deepbit.parse_depths("2,1,2") == (1, 2)
    assert deepbit.parse_depths(" 3, 1") == (1, 3)
    assert deepbit.parse_depths(str(deepbit.MAX_DEPTH)) == (deepbit.MAX_DEPTH,)


@pytest.mark.parametrize("seconds", ["-1", "nan", "inf", "-inf", "0"])
def test_demo_refuses_bad_seconds(tmp_path, capsys, seconds):
    rc = main(["demo", "--seconds", seconds, "-o", str(tmp_path / "d")])
    _one_error_line(capsys, rc, "--seconds")
    assert not (tmp_path / "d").exists()


# --------------------------------------------------------------------------------------
# The time budget
# --------------------------------------------------------------------------------------
def test_training_stops_at_a_hard_deadline(tmp_path):
    import numpy as np
    from torch import nn

    model = nn.Linear(4, 2)
    x, y = np.zeros((10, 4), np.float32), np.zeros(10, np.int64)
    with pytest.raises(DeadlineReached):
        train_binarized(model, x, y, epochs=1000, seed=0, batch=2, lr=0.1, deadline=time.time() + 0.2)
    t0 = time.monotonic()
    res = evaluate_candidate({"dataset": "digits", "depth": 1, "width": 16}, 0, tmp_path / "c", deadline=time.time() - 1)
    assert res["interrupted"] and time.monotonic() - t0 < 5 and not (tmp_path / "c").exists()


def test_call_with_timeout_kills_and_returns():
    assert call_with_timeout(math.sqrt, (4.0,), 60) == 2.0
    with pytest.raises(ValueError):
        call_with_timeout(math.sqrt, (-1.0,), 60)
    t0 = time.monotonic()
    with pytest.raises(TimedOut):
        call_with_timeout(time.sleep, (60,), 1.0)
    assert time.monotonic() - t0 < 10


def _search_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bnn2hls", "search", "--quiet", "--no-verify", "-o", str(out), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_max_minutes_caps_the_whole_run(tmp_path):
    """6 s of budget: the two first mnist5k trainings need longer; they are stopped at the
    deadline (not recorded) and the run still ends with a valid pareto.json."""
    out = tmp_path / "s"
    t0 = time.monotonic()
    proc = subprocess.run(_search_cmd(out, "--dataset", "mnist5k", "--max-minutes", "0.1"), env=_env(),
                          capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - t0
    assert proc.returncode in (0, 1), proc.stderr
    assert wall < 6 + 8, (wall, proc.stderr)
    doc = json.loads((out / "pareto.json").read_text())
    lines = (out / deepbit.RESULTS).read_text().splitlines()
    assert doc["trained"] == len(lines) and all(json.loads(line)["result_key"] for line in lines)
    if not lines:
        assert "no candidate finished training within --max-minutes 0.1" in proc.stderr


# --------------------------------------------------------------------------------------
# A killed search leaves no workers behind
# --------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkilled_search_takes_its_workers_along(tmp_path):
    proc = subprocess.Popen(_search_cmd(tmp_path / "s", "--dataset", "mnist5k", "--max-minutes", "5", "--workers", "2"),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t_end = time.monotonic() + 90
        workers: list[int] = []
        while time.monotonic() < t_end and proc.poll() is None:
            workers = [p for p in _children(proc.pid)
                       if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()] if _alive(proc.pid) else []
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, "no pool workers appeared"
        time.sleep(3)  # let them get into their initializer and training
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and any(_alive(p) for p in workers):
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "pool workers outlived their SIGKILLed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# --------------------------------------------------------------------------------------
# results.jsonl after a crash mid-write
# --------------------------------------------------------------------------------------
def test_append_and_repair_results(tmp_path):
    path = tmp_path / deepbit.RESULTS
    deepbit.append_result(path, {"result_key": "k1", "x": 1})
    deepbit.append_result(path, {"result_key": "k2", "x": 2})
    assert deepbit.repair_results(path) == 0
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # power loss in the middle of the second line
    assert deepbit.repair_results(path) == 1
    assert path.read_bytes() == whole.split(b"\n")[0] + b"\n"
    deepbit.append_result(path, {"result_key": "k2", "x": 2})
    assert path.read_bytes() == whole


class _InlineExecutor:
    """Runs a fake evaluation at once (no processes): what train_within_budget records."""

    def __init__(self, *args) -> None:
        self.calls: list[str] = []
        self._results: dict[int, dict] = {}

    def submit(self, fn, cdict, seed, out_dir, deadline=None):
        key = f"{cdict['dataset']}-d{cdict['depth']}-w{cdict['width']}"
        self.calls.append(key)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "model.onnx").write_bytes(b"")
        h = len(self._results)
        self._results[h] = {"candidate": cdict, "key": key, "seed": seed, "accuracy": 0.5, "reference_accuracy": 0.5,
                            "agree": 1.0, "train_seconds": 0.1, "epochs_done": 1, "stopped_early": False,
                            "model": str(Path(out_dir) / "model.onnx")}
        return h

    def next_done(self, handles, timeout=None):
        return handles[0], self._results[handles[0]], None

    def kill(self, handles=()):
        pass

    def close(self):
        pass


def test_torn_results_line_is_dropped_and_retrained_on_resume(tmp_path, monkeypatch):
    from bnn2hls.search import backends

    ex = _InlineExecutor()
    monkeypatch.setattr(run, "make_executor", lambda *a: ex)
    spec = deepbit.SearchSpec(dataset="digits", backend="fpga", device="pynq-z2", objective="lut", min_fps=None,
                              depths=(1,), probes=2)
    plan = deepbit.plan_search(backends.get("fpga"), spec)
    opts = run.RunOptions(workers=1, progress=False, verify=False)
    out = tmp_path / "s"
    out.mkdir()
    run.train_within_budget(spec, plan, out, opts, time.monotonic() + 60)
    path = out / deepbit.RESULTS
    first = path.read_text().splitlines()
    assert len(first) == len(plan.order) == 3
    torn_key = json.loads(first[-1])["result_key"]
    path.write_text("\n".join(first[:-1]) + "\n" + first[-1][: len(first[-1]) // 2])  # torn last line
    ex.calls.clear()
    done = run.train_within_budget(spec, plan, out, opts, time.monotonic() + 60)
    assert ex.calls == [plan.order[-1].key]  # only the torn candidate is retrained
    recs = [json.loads(line) for line in path.read_text().splitlines()]  # every line parses
    keys = [r["result_key"] for r in recs]
    assert sorted(keys) == sorted(set(keys)) and keys.count(torn_key) == 1 and len(keys) == 3
    assert set(done) == set(keys)
