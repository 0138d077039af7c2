"""Golden outputs for refactors that must not change what `compile` writes.

Compiles every zoo network at a few foldings (with --board pynq-z2, so project/ is written too)
into DIR/<net>__<folding>/out, and next to it writes
- estimate.json: cost_model.estimate(net).to_dict(), every number;
- synth_units.json: what `report --synth` would hand yosys (synth.network_units: per unit its
  top, file names and sha256 of their text, memory file names and sha256, instance -> label).

Run it on two checkouts and compare with `diff -r` (or --compare A B):

    PYTHONPATH=/tmp/golden python benchmarks/lowering_golden.py /tmp/golden-out
    PYTHONPATH=.            python benchmarks/lowering_golden.py /tmp/new-out
    python benchmarks/lowering_golden.py --compare /tmp/golden-out /tmp/new-out

The QONNX exports are cached in --onnx-dir (default DIR/../lowering-onnx), so both runs read
the same model bytes. --quick limits it to oddnet, TFC and padnet at one folding each.
"""
from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

BOARD = "pynq-z2"


def foldings(name: str) -> list[tuple[str, dict]]:
    """(label, spec) pairs; spec {"preset": style} | {"zoo": "bnn_pynq"} | {"target_fps": N}."""
    if name == "CNV_1W1A":
        return [("unit", {"preset": "unit"}), ("mid", {"preset": "mid"}), ("bnn_pynq", {"zoo": "bnn_pynq"}),
                ("wide", {"preset": "wide"})]
    out = [("unit", {"preset": "unit"}), ("mid", {"preset": "mid"}), ("wide", {"preset": "wide"})]
    if name in ("TFC_1W1A", "padnet"):
        out.append(("fps", {"target_fps": 200000}))
    return out


QUICK = {"oddnet": "mid", "TFC_1W1A": "wide", "padnet": "mid"}


def export(name: str, onnx_dir: Path) -> Path:
    from bnn2hls.models import zoo
    from bnn2hls.frontend.torch_export import export_qonnx

    path = onnx_dir / f"{name}.onnx"
    if not path.is_file():
        onnx_dir.mkdir(parents=True, exist_ok=True)
        module, example = zoo.build(name, 0)
        with tempfile.TemporaryDirectory(dir=onnx_dir) as tmp:
            export_qonnx(module, example, Path(tmp) / path.name)
            for f in Path(tmp).iterdir():
                f.replace(onnx_dir / f.name)
    return path


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def compile_one(name: str, label: str, spec: dict, model_path: Path, dest: Path) -> None:
    from bnn2hls.flow import compiler
    from bnn2hls.estimate import cost_model, synth
    from bnn2hls import ir
    from bnn2hls.models import zoo
    from bnn2hls.frontend.onnx_import import load_model
    from bnn2hls.hw.folding import folding_preset

    model = load_model(model_path)
    folding = target_fps = None
    if "preset" in spec or "zoo" in spec:
        base = compiler.build_network(model, model_path.stem)
        folding = folding_preset(base, spec["preset"]) if "preset" in spec else zoo.bnn_pynq_folding(base)
    else:
        target_fps = spec["target_fps"]
    dest.mkdir(parents=True, exist_ok=True)
    compiler.compile_file(model_path, dest / "out", folding=folding, target_fps=target_fps, board=BOARD)
    net = ir.load(dest / "out")
    (dest / "estimate.json").write_text(json.dumps(cost_model.estimate(net).to_dict(), indent=1, sort_keys=True) + "\n")
    with tempfile.TemporaryDirectory() as scratch:
        _, layers, top = synth.network_units(dest / "out", Path(scratch))
    doc = {}
    for unit in [*layers.values(), top]:
        doc[unit.name] = {"top": unit.top, "files": {k: _sha(v) for k, v in unit.files.items()},
                          "file_order": list(unit.files), "memories": {k: _sha(v) for k, v in sorted(unit.memories.items())},
                          "instances": unit.instances}
    (dest / "synth_units.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def compare(a: Path, b: Path) -> int:
    """Every file under a and b, byte for byte; prints a summary, returns the number of differences."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    bad = sorted(files_a ^ files_b)
    same = 0
    for rel in sorted(files_a & files_b):
        if filecmp.cmp(a / rel, b / rel, shallow=False):
            same += 1
        else:
            bad.append(rel)
    cases = sorted({rel.parts[0] for rel in files_a | files_b})
    for rel in bad[:50]:
        print(f"DIFFERS: {rel}")
    print(json.dumps({"cases": len(cases), "files_compared": len(files_a & files_b), "identical": same,
                      "differences": len(bad)}))
    return len(bad)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path, nargs="?")
    ap.add_argument("--onnx-dir", type=Path)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated network names")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        return 1 if compare(*args.compare) else 0
    from bnn2hls.models import zoo

    onnx_dir = args.onnx_dir or args.dir.resolve().parent / "lowering-onnx"
    names = list(QUICK) if args.quick else list(zoo.ALL)
    if args.only:
        names = args.only.split(",")
    for name in names:
        model_path = export(name, onnx_dir)
        for label, spec in foldings(name):
            if args.quick and label != QUICK[name]:
                continue
            t = time.perf_counter()
            compile_one(name, label, spec, model_path, args.dir / f"{name}__{label}")
            print(f"{name} {label}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
