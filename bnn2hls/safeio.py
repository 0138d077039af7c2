"""Reading and writing what the user hands us, and naming it in messages, in one place each.

- `qpath`: a path as a message shows it (one line, printable, whatever bytes it holds).
- `read_json`: a JSON file, bounded in size and nesting (a `/dev/zero` or a 100,000-deep
  document is a UserError, not a hang or a RecursionError).
- `check_npy`: an .npy file's header against its size before numpy allocates anything.
- `writing`: maps an OSError of a write (ENOSPC, EFBIG, EROFS, EACCES...) to a UserError.
- `refuse_symlink`: the one rule for an output path (`-o`) that is a symbolic link.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from .errors import UserError

MAX_JSON_BYTES = 64 << 20  # far above any folding spec, board file, ir.json or manifest we write
MAX_JSON_DEPTH = 64  # our documents nest at most a handful of levels


def qpath(path: Any) -> str:
    """`path` for a one-line message: as is when it is printable text, else quoted with its
    odd characters escaped (a newline as \\n, a byte that is not UTF-8 as \\xNN)."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    clean = _decoded(text)
    if clean == text and text.isprintable():
        return text
    return "'" + "".join("\\'" if ch == "'" else _printable(ch) for ch in clean) + "'"


def _decoded(text: str) -> str:
    """Bytes that are not UTF-8 (a path's surrogate escapes) as \\xNN text."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def _printable(ch: str) -> str:
    return ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")


def one_line(message: str) -> str:
    """A message made safe to print as one line on any terminal encoding."""
    return "".join(map(_printable, _decoded(message)))


def _depth(doc: Any) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def open_regular(path: Path, what: str) -> BinaryIO:
    """`path` opened for reading if it is a regular file; a device (/dev/zero), FIFO (which
    would block until someone writes), socket or directory is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UserError(f"{what} {qpath(path)}: unreadable ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"{what} {qpath(path)}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bytes(path: Path, what: str, limit: int = MAX_JSON_BYTES) -> bytes:
    """At most `limit` bytes of a regular file (a device, FIFO or directory is refused)."""
    try:
        with open_regular(path, what) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UserError(f"{what} {qpath(path)}: unreadable ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise UserError(f"{what} {qpath(path)}: larger than {limit >> 20} MiB; not a file bnn2hls reads")
    return data


def read_json(path: Path, what: str, limit: int = MAX_JSON_BYTES) -> Any:
    """A UTF-8 JSON document, bounded in size (`limit` bytes) and nesting (MAX_JSON_DEPTH).
    `what` names it in errors (an option like "--folding", or "board file")."""
    data = read_bytes(path, what, limit)
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} {qpath(path)}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise UserError(f"{what} {qpath(path)}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise UserError(f"{what} {qpath(path)}: not valid JSON ({one_line(str(exc))})") from None
    if _depth(doc) > MAX_JSON_DEPTH:
        raise UserError(f"{what} {qpath(path)}: nested deeper than {MAX_JSON_DEPTH} levels")
    return doc


def check_npy(path: Path, what: str) -> None:
    """Refuse an .npy file whose header does not fit its size (a header claiming 10^11 frames
    would have numpy allocate them) or whose dtype holds Python objects."""
    try:
        with open_regular(path, what) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(6)
            if head[:2] == b"PK":
                return  # a zip: an .npz archive, which the caller names
            if head != b"\x93NUMPY":
                raise UserError(f"{what} {qpath(path)}: not a readable .npy file (no .npy header)")
            f.seek(0)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=1 << 16)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=1 << 16)
            offset = f.tell()
    except OSError as exc:
        raise UserError(f"{what} {qpath(path)}: unreadable ({exc.strerror or exc})") from None
    except (ValueError, SyntaxError, TypeError) as exc:
        raise UserError(f"{what} {qpath(path)}: not a readable .npy file ({one_line(str(exc))})") from None
    if dtype.hasobject:
        raise UserError(f"{what} {qpath(path)}: holds Python objects ({dtype}); expected numbers")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need != size - offset:
        raise UserError(f"{what} {qpath(path)}: its header claims shape {list(shape)} of {dtype} "
                        f"({need:,} bytes) but the file holds {size - offset:,}")


WRITE_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file too large (ulimit -f?)",
                errno.EROFS: "read-only file system", errno.EDQUOT: "disk quota exceeded"}


@contextmanager
def writing(what: str, staged: tuple[Path, Path] | None = None) -> Iterator[None]:
    """Within the block, an OSError (ENOSPC, EFBIG, EROFS, EACCES...) becomes one UserError:
    `<what>: cannot write <file> (<reason>)`. `staged` = (temporary dir, final dir): a file
    in the first is named as it would be in the second."""
    try:
        yield
    except OSError as exc:
        reason = WRITE_ERRORS.get(exc.errno or 0) or exc.strerror or str(exc)
        target = exc.filename2 if exc.filename2 else exc.filename  # a copy's destination
        if target and staged is not None:
            try:
                target = staged[1] / Path(os.fsdecode(target)).relative_to(staged[0])
            except ValueError:
                pass
        where = f" {qpath(target)}" if target else ""
        raise UserError(f"{what}: cannot write{where} ({reason})") from None


def refuse_symlink(path: Path, option: str) -> None:
    """An output path (`-o`) must not be a symbolic link, dangling or not: following it would
    create or replace something elsewhere than where the user pointed."""
    if os.path.islink(path):  # False, not an error, for a name too long to look up
        raise UserError(f"{option} {qpath(path)}: is a symbolic link; name the real path "
                        f"(bnn2hls never writes through a link)")
