"""OUT/manifest.json: the sha256 of every file `compile` generated, so `run` and `report`
refuse a tampered or incomplete output directory instead of computing with it.

Listed: every file compile writes but the manifest itself; report.json too, whose entry
`report` renews when it rewrites the file (`refresh`). What later commands add is not listed: report.html and its plots
(report_*.png), sim/ (the engines' build cache, keyed by the hash of the verified sources)
and synth/. Every other file in OUT must be listed: an unlisted file (one whose entry was
removed, or one added) is refused like a changed one, as is a listed file that is missing, a
symbolic link, or anything else that is not a regular file. The manifest is
byte-deterministic (sorted keys, no timestamps).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..safeio import qpath, read_json

MANIFEST = "manifest.json"
FORMAT = 1
UNLISTED = frozenset({MANIFEST})
# What every compiled output has (the rtl and hls engines read the rtl/ and hls/ ones first).
REQUIRED = ("ir.json", "weights.npz", "source.onnx", "rtl/files.f", "rtl/stream.json", "hls/stream.json",
            "hls/bnn_top.cpp")
# Written by later commands (report, run --engine rtl/hls, report --synth): never listed.
LATER_DIRS = ("sim", "synth")
LATER_FILES = ("report.html",)
LATER_PREFIX = ("report_", ".png")


def _written_later(rel: str) -> bool:
    top = rel.split("/", 1)[0]
    return (top in LATER_DIRS or rel in LATER_FILES or rel in UNLISTED
            or ("/" not in rel and rel.startswith(LATER_PREFIX[0]) and rel.endswith(LATER_PREFIX[1])))


def _entries(out: Path) -> list[tuple[str, Path]]:
    """(relative posix path, path) of everything in OUT but the directories, links not
    followed, what later commands write left out."""
    found = []
    for root, dirs, files in os.walk(out, followlinks=False):
        base = Path(root)
        for name in [*files, *(d for d in dirs if (base / d).is_symlink())]:
            rel = (base / name).relative_to(out).as_posix()
            if not _written_later(rel):
                found.append((rel, base / name))
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()
                   and not _written_later((base / d).relative_to(out).as_posix())]
    return sorted(found)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(out: Path, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    out = Path(out)
    files = {}
    for rel, path in _entries(out):
        if rel not in skip:
            files[rel] = {"sha256": _digest(path), "size": path.stat().st_size}
    return {"format": FORMAT, "files": files}


def write(out: Path, skip: frozenset[str] = frozenset()) -> Path:
    """Write OUT/manifest.json listing OUT's files as they are now (call it last)."""
    return _save(Path(out), build(out, skip))


def _save(out: Path, doc: dict[str, Any]) -> Path:
    path = out / MANIFEST
    tmp = out / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)  # atomic: a concurrent verify sees the old manifest or the new one
    return path


def refresh(out: Path, rels: tuple[str, ...]) -> None:
    """Renew the entries of `rels` (files a later command rewrote, e.g. `report`'s
    report.json) in a manifest that `verify` accepted."""
    out = Path(out)
    doc = read_json(out / MANIFEST, "manifest")
    for rel in rels:
        path = out / rel
        doc["files"][rel] = {"sha256": _digest(path), "size": path.stat().st_size}
    _save(out, doc)


def verify(out: Path) -> None:
    """Refuse (UserError naming the first file at fault) unless every file of the manifest is
    present and unchanged and every file compile owns is listed."""
    out = Path(out)
    if not out.is_dir():
        what = "not a directory" if out.exists() else "no such directory"
        raise UserError(f"{qpath(out)}: {what} (compile a model into it first)")
    path = out / MANIFEST
    if not path.is_file():
        raise UserError(f"{qpath(out)}: not a compiled output, or one from an older bnn2hls (no {MANIFEST}); compile again")
    doc = read_json(path, "manifest")
    try:
        files = doc["files"] if isinstance(doc, dict) and doc.get("format") == FORMAT else None
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("sha256"), str)
            and isinstance(v.get("size"), int) for k, v in files.items()
        ):
            raise ValueError("unexpected structure")
    except (ValueError, KeyError) as exc:
        raise UserError(f"{qpath(path)}: malformed ({exc}); compile again") from None
    for rel in REQUIRED:
        if rel not in files:
            raise UserError(f"{qpath(path)}: does not list {rel}; compile again")
    for rel, target in _entries(out):
        if rel not in files:
            raise UserError(f"{qpath(target)}: not listed in {MANIFEST} (added or its entry removed since compile); "
                            "compile again")
    for rel in sorted(files):
        entry = files[rel]
        target = out / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or _written_later(rel):
            raise UserError(f"{qpath(path)}: lists a path that is not compile's ({qpath(rel)}); compile again")
        if target.is_symlink() or not target.is_file():
            raise UserError(f"{qpath(target)}: missing from the compiled output (or not a regular file); compile again")
        try:
            changed = target.stat().st_size != entry["size"] or _digest(target) != entry["sha256"]
        except OSError as exc:
            raise UserError(f"{qpath(target)}: unreadable ({exc.strerror or exc}); compile again") from None
        if changed:
            raise UserError(f"{qpath(target)}: changed since compile (sha256 differs from {MANIFEST}); compile again")
