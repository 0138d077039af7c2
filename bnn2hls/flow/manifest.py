"""OUT/manifest.json: the sha256 of every file `compile` generated, so `run` and `report`
refuse a tampered or incomplete output directory instead of computing with it.

Listed: every file compile writes except report.json (which `report` rewrites) and the
manifest itself. Not listed, and never checked: what later commands add (report.html and
its plots, sim/, synth/). The manifest is byte-deterministic (sorted keys, no timestamps).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import UserError

MANIFEST = "manifest.json"
FORMAT = 1
UNLISTED = frozenset({MANIFEST, "report.json"})
REQUIRED = ("ir.json", "weights.npz", "source.onnx")  # what every compiled output has


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(out: Path, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    out = Path(out)
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel not in UNLISTED and rel not in skip:
            files[rel] = {"sha256": _digest(path), "size": path.stat().st_size}
    return {"format": FORMAT, "files": files}


def write(out: Path, skip: frozenset[str] = frozenset()) -> Path:
    """Write OUT/manifest.json listing OUT's files as they are now (call it last)."""
    path = Path(out) / MANIFEST
    path.write_text(json.dumps(build(out, skip), indent=1, sort_keys=True) + "\n")
    return path


def verify(out: Path) -> None:
    """Refuse (UserError naming the first file at fault) unless every file of the manifest is
    present and unchanged."""
    out = Path(out)
    if not out.is_dir():
        raise UserError(f"{out}: no such directory (compile a model into it first)")
    path = out / MANIFEST
    if not path.is_file():
        raise UserError(f"{out}: not a compiled output, or one from an older bnn2hls (no {MANIFEST}); compile again")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
        files = doc["files"] if isinstance(doc, dict) and doc.get("format") == FORMAT else None
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("sha256"), str)
            and isinstance(v.get("size"), int) for k, v in files.items()
        ):
            raise ValueError("unexpected structure")
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path}: malformed ({exc}); compile again") from None
    for rel in REQUIRED:
        if rel not in files:
            raise UserError(f"{path}: does not list {rel}; compile again")
    for rel in sorted(files):
        entry = files[rel]
        target = out / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise UserError(f"{path}: lists a path outside OUT ({rel!r}); compile again")
        if not target.is_file():
            raise UserError(f"{target}: missing from the compiled output; compile again")
        if target.stat().st_size != entry["size"] or _digest(target) != entry["sha256"]:
            raise UserError(f"{target}: changed since compile (sha256 differs from {MANIFEST}); compile again")
