"""compile: source model -> OUT directory (ir.json, weights.npz, source.onnx, report.json,
rtl/ with the generated Verilog, hls/ with the generated HLS C++, and with --board a
project/ for that board).

OUT is built in a temporary sibling directory and renamed into place at the very end, so a
failure never leaves a partial OUT behind. Everything written is byte-deterministic.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import onnx

from ..estimate import fit
from .. import ir
from . import manifest
from ..reports import report
from ..backends import hls as hls_backend
from ..backends import project
from ..backends import rtl as rtl_backend
from ..hw.boards import Board, load_board
from ..errors import UserError
from ..frontend.onnx_import import import_model, load_model, model_digest
from ..passes import fold_thresholds, move_pool_flips, resolve_padding
from ..hw.folding import apply_folding_spec
from ..passes.thresholds import tie_report, tie_summary
from ..safeio import qpath, refuse_symlink, writing

DEFAULT_CLOCK_MHZ = 100.0
SOURCE_MODEL = "source.onnx"


def build_network(model: onnx.ModelProto, name: str, folding: dict[str, Any] | None = None,
                  target_fps: float | None = None, clock_mhz: float = DEFAULT_CLOCK_MHZ,
                  board: Board | None = None) -> ir.Network:
    """The whole front half: import, fold thresholds, resolve padding, choose folding (with a
    board, `target_fps` must be reachable within its budget)."""
    if folding is not None and target_fps is not None:
        raise UserError("--folding and --target-fps are mutually exclusive")
    if folding is not None:
        check_folding_spec(folding)
    net = import_model(model, name)
    # Read before folding: the check evaluates the layers' float chains.
    ties = tie_report(net)
    summary = tie_summary(net, ties)
    warnings = [] if summary is None else [summary]
    net = fold_thresholds(net)
    net = move_pool_flips(net)  # before resolve_padding: it may negate a consumer's weights
    net = resolve_padding(net)
    if folding is not None:
        net = apply_folding_spec(net, folding)
    elif target_fps is not None:
        if not target_fps > 0:
            raise UserError("--target-fps must be positive")
        if board is not None:
            net = fit.fold_within_budget(net, target_fps, clock_mhz, board)
        else:  # the default clock, on xc7 (no fitted fmax model: the clock stays the default)
            net, _ = fit.fold_for_rate(net, target_fps, clock_mhz, fit.board_family(None))
    # `warnings`: where the network cannot equal its source bit for bit (compile prints them);
    # `ties`: the float ties per layer (report.json lists them).
    net = ir.Network(name=net.name, layers=net.layers,
                     source={"sha256": model_digest(model), "warnings": warnings, "ties": ties})
    return ir.validate(net)


def check_folding_spec(spec: Any) -> None:
    """pe/simd must be JSON integers: not true/false (a bool is an int in Python), not floats
    or strings. (Divisibility and positivity are checked against the layers.)"""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), dict):
        raise UserError('folding: expected {"layers": {"<layer name>": {"pe": P, "simd": S}}}')
    for name, entry in spec["layers"].items():
        if not isinstance(entry, dict):
            raise UserError(f"folding: layer '{name}': expected {{\"pe\": P, \"simd\": S}}")
        for key in ("pe", "simd"):
            value = entry.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"folding: layer '{name}': {key} must be a positive integer, not {json.dumps(value)}")


OUTPUT_MARKER = "ir.json"  # a directory holding it is ours to replace
TMP_PREFIX = ".bnn2hls-tmp-"  # + <hash of OUT's name>-<random>: a compile's OUT being built
OLD_PREFIX = ".bnn2hls-old-"  # + <hash of OUT's name>-<random>: the OUT it replaces, until deleted
OWNER_FILE = ".bnn2hls-owner"  # "<pid> <process start time>" of the compile owning a tmp/old dir
NAME_MAX = 255
STALE_WITHOUT_OWNER_S = 3600.0  # a tmp/old dir with no owner file is stale after an hour


def check_output_dir(out: Path) -> Path:
    """Refuse an OUT that compile cannot (or must not) replace; return it resolved.

    Called before anything is computed or written.
    """
    given = out
    refuse_symlink(Path(out), "-o")  # resolving would write at the link's target
    try:
        out = Path(out).resolve()
    except (OSError, RuntimeError) as exc:
        raise UserError(f"-o {given}: {exc}") from None
    if len(os.fsencode(out.name)) > NAME_MAX:
        raise UserError(f"-o {given}: the name is longer than {NAME_MAX} bytes")
    if out == Path(out.anchor):
        raise UserError(f"-o {given}: refusing to replace the root directory")
    parent = out.parent
    if not parent.is_dir():
        raise UserError(f"-o {given}: parent directory {parent} does not exist")
    cwd = Path.cwd().resolve()
    if cwd == out or out in cwd.parents:
        raise UserError(f"-o {given}: is (or contains) the current directory; refusing to replace it "
                        f"(run compile from outside {out})")
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir():
            raise UserError(f"-o {given}: exists and is not a directory")
        if any(out.iterdir()) and not (out / OUTPUT_MARKER).is_file():
            raise UserError(f"-o {given}: a non-empty directory that is not a bnn2hls output; refusing to replace it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"-o {given}: cannot write to its parent directory {parent} (permission denied or read-only)")
    return out


def _name_hash(out: Path) -> str:
    return hashlib.sha256(os.fsencode(out.name)).hexdigest()[:12]


def _process_start(pid: int) -> str:
    """The kernel's start time of `pid` (so a recycled pid is not mistaken for its owner)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return "?"


def _owner_alive(owner: str) -> bool:
    try:
        pid_text, start = owner.split()
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    return start == "?" or _process_start(pid) in ("?", start)


def _write_owner(directory: Path) -> None:
    (directory / OWNER_FILE).write_text(f"{os.getpid()} {_process_start(os.getpid())}\n")


def clean_stale(out: Path) -> list[Path]:
    """Remove the temporary directories of earlier compiles of `out` that were killed
    (SIGKILL, power loss): those whose owner process is gone, or that carry no owner file
    and are older than STALE_WITHOUT_OWNER_S. A live compile's directories are kept."""
    removed: list[Path] = []
    tag = _name_hash(out)
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not any(entry.name.startswith(f"{prefix}{tag}-") for prefix in (TMP_PREFIX, OLD_PREFIX)):
            continue
        if entry.is_symlink() or not entry.is_dir():
            continue
        try:
            owner = (entry / OWNER_FILE).read_text()
            stale = not _owner_alive(owner)
        except FileNotFoundError:
            try:
                stale = time.time() - entry.stat().st_mtime > STALE_WITHOUT_OWNER_S
            except OSError:
                continue
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def atomic_output_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes `out` only if the block succeeds.

    An existing `out` is replaced only if it is empty or a previous bnn2hls output; it is
    moved aside before the swap and deleted after it, so `out` is never half-written. The
    temporary names are short (`.bnn2hls-tmp-<hash of the name>-<random>`) and carry an
    owner file, so a later compile of the same `out` removes those a killed compile left.
    """
    out = check_output_dir(out)
    parent = out.parent
    clean_stale(out)
    tag = _name_hash(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{tag}-", dir=parent))
    except OSError as exc:
        raise UserError(f"-o {out}: cannot create a directory in {parent} ({exc.strerror or exc})") from None
    old = parent / f"{OLD_PREFIX}{tmp.name[len(TMP_PREFIX):]}"
    try:
        try:
            _write_owner(tmp)
        except OSError as exc:
            raise UserError(f"-o {out}: cannot write in {parent} ({exc.strerror or exc})") from None
        with writing(f"-o {qpath(out)}", staged=(tmp, out)):  # ENOSPC, EFBIG (ulimit -f), EROFS...: one line
            yield tmp
        try:
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; outputs are ordinary directories
            (tmp / OWNER_FILE).unlink()
            if out.exists():
                os.replace(out, old)
                _write_owner(old)
            os.replace(tmp, out)
        except OSError as exc:
            raise UserError(f"-o {out}: cannot put the output in place ({exc.strerror or exc})") from None
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(net: ir.Network, model: onnx.ModelProto, out: Path, board: Board | None = None) -> None:
    clock_mhz = board.clock_mhz if board is not None else DEFAULT_CLOCK_MHZ
    with atomic_output_dir(out) as tmp:
        ir.save(net, tmp)
        # Keep the source model (weights inlined) so `run --engine onnx` needs nothing else.
        (tmp / SOURCE_MODEL).write_bytes(model.SerializeToString(deterministic=True))
        stream = rtl_backend.generate(net, tmp / "rtl")
        hls_backend.generate(net, tmp / "hls")
        if board is not None:
            project.generate(net, board, tmp / "project", stream.to_dict())
        doc = report.build_report(net, clock_mhz, board)
        report.save(doc, tmp)
        manifest.write(tmp, skip=frozenset({OWNER_FILE}))


def compile_model(model: onnx.ModelProto, name: str, out: Path | None = None, folding: dict[str, Any] | None = None,
                  target_fps: float | None = None, board: str | None = None) -> ir.Network:
    """The one compile path of the CLI and the Python API: a loaded QONNX model -> the
    compiled network, written to `out` when given (board project included)."""
    target = load_board(board) if board is not None else None  # an unknown board fails first
    if out is not None:
        check_output_dir(out)
    clock = target.clock_mhz if target is not None else DEFAULT_CLOCK_MHZ
    net = build_network(model, name, folding=folding, target_fps=target_fps, clock_mhz=clock, board=target)
    if out is not None:
        write_output(net, model, out, target)
    return net


def compile_file(model_path: Path, out: Path, folding: dict[str, Any] | None = None,
                 target_fps: float | None = None, board: str | None = None) -> ir.Network:
    if board is not None:
        load_board(board)  # an unknown board fails first
    check_output_dir(out)  # before the (slow) import; checked again right before writing
    model = load_model(model_path)
    return compile_model(model, Path(model_path).stem, out, folding=folding, target_fps=target_fps, board=board)


def load_source_model(out: Path) -> onnx.ModelProto:
    path = Path(out) / SOURCE_MODEL
    if not path.is_file():
        raise UserError(f"{out}: not a compiled output (no {SOURCE_MODEL})")
    return load_model(path)
