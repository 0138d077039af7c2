"""Running an external tool (Verilator, make, g++, a simulation binary, yosys) so that it never
outlives bnn2hls.

`run_tool` starts the tool under a small watchdog (a Python process, the leader of a new
process group: the tool and everything it starts, make, c++, cc1plus, stay in that group):
- the call returns normally: the tool has exited (its children are reaped by then);
- the call is interrupted (SIGINT -> KeyboardInterrupt, the CLI's SIGTERM handler, a
  timeout, any exception): the whole group is killed with SIGKILL before the exception
  goes on;
- bnn2hls dies without running any code (SIGKILL, or SIGTERM outside the CLI): on Linux the
  kernel sends the watchdog SIGTERM (prctl PR_SET_PDEATHSIG), and the watchdog kills its
  group. The kernel sends that signal when the *thread* that started the watchdog exits, so
  call run_tool from a thread that lives as long as the call (the CLI's main thread does).
  Elsewhere than Linux the watchdog also polls its parent's pid (every 0.2 s).
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

# argv: [python, -c, WATCHDOG, parent_pid, tool, args...]. It is the group leader; it kills the
# group (itself included) when its parent dies or when it is told to stop.
WATCHDOG = r"""
import os, signal, subprocess, sys, threading, time
parent = int(sys.argv[1])
def stop(*_):
    os.killpg(0, signal.SIGKILL)
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(s, stop)
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
if os.getppid() != parent:
    stop()
def watch():
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            stop()
threading.Thread(target=watch, daemon=True).start()
try:
    code = subprocess.call(sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"{sys.argv[2]}: {exc.strerror}\n")
    code = 127
sys.exit(code if code >= 0 else 128 - code)
"""


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_tool(cmd: Sequence[str], *, timeout: float | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
    """subprocess.run(cmd, capture_output=True, text=True, **kwargs) under the watchdog: the tool
    and all it starts are killed when this call does not return normally or bnn2hls dies.
    A timeout raises subprocess.TimeoutExpired after killing them."""
    argv = [sys.executable, "-I", "-S", "-c", WATCHDOG, str(os.getpid()), *map(str, cmd)]
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    if kwargs["text"]:
        kwargs.setdefault("errors", "replace")  # a tool may print any bytes (a path, a binary)
    capture = kwargs.pop("capture_output")
    if capture:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL, **kwargs)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException:
        kill_group(proc.pid)  # before the wait: the group's id is not free for reuse yet
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the file `path` (created if missing) for the block: two bnn2hls
    processes building into one directory take turns. The kernel releases it when the
    holder dies, however it dies."""
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
