"""Where candidate evaluations run: a local process pool (default) or Ray tasks.

Both take the same top-level, picklable function and arguments and hand back results as they
complete, so the search loop does not know which one it drives.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

from ..errors import UserError

EXECUTORS = ("local", "ray")
PARENT_POLL_S = 0.5  # how often a worker checks that the search process is still alive


def _exit_with_parent(parent_pid: int) -> None:
    """Pool-worker initializer: the worker dies with the search process, even when that one is
    SIGKILLed and cannot shut its pool down (a worker holds about 550 MB).

    On Linux the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG); a daemon
    thread that polls the parent pid covers other systems and the case where the parent died
    before the prctl call.

    Python warnings are silenced here as in the CLI's main process (cli.main): a worker's
    library warnings (torch, brevitas) would otherwise interleave with the command's output
    and break its one-line error rule."""
    warnings.simplefilter("ignore")
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="bnn2hls-parent-watch", daemon=True).start()


class LocalExecutor:
    """A process pool. `spawn`, not fork: torch and a forked parent's thread pools do not mix.
    Its workers exit when the search process dies (`_exit_with_parent`)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_exit_with_parent, initargs=(os.getpid(),))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def next_done(self, handles: list[Future], timeout: float | None = None) -> tuple[Future, Any, BaseException | None] | None:
        """The first finished handle with its result or exception; None if none finished
        within `timeout` seconds."""
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        if not done:
            return None
        h = next(iter(done))
        return h, (None if h.exception() else h.result()), h.exception()

    def kill(self, handles: Sequence[Future] = ()) -> None:
        """Stop now: kill the workers (running tasks are lost) and drop queued tasks."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for p in processes:
            try:
                p.kill()
            except (OSError, AttributeError):
                pass
        for p in processes:
            p.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """The same evaluations as Ray tasks (one CPU each). Without `address` a local Ray instance
    with `workers` CPUs is started and shut down again; with one, the tasks go to that cluster."""

    def __init__(self, workers: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray: the `ray` package is not installed") from None
        self._ray = ray
        self.workers = workers
        self._started = not ray.is_initialized()
        if self._started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if address is None:
                kwargs["num_cpus"] = workers
            try:
                ray.init(address=address, **kwargs)
            except Exception as exc:  # a wrong address is the user's error, not a crash
                raise UserError(f"--address {address}: cannot start or reach Ray ({type(exc).__name__}: {exc})") from None
        self._remote: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(num_cpus=1)(fn)
        return self._remote[fn].remote(*args, **kwargs)

    def next_done(self, handles: list[Any], timeout: float | None = None) -> tuple[Any, Any, BaseException | None] | None:
        ready, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
        if not ready:
            return None
        h = ready[0]
        try:
            return h, self._ray.get(h), None
        except Exception as exc:  # the task's own exception, wrapped by Ray
            return h, None, exc

    def kill(self, handles: Sequence[Any] = ()) -> None:
        """Stop now: force-cancel the running tasks, then close."""
        for h in handles:
            try:
                self._ray.cancel(h, force=True)
            except Exception:  # already finished, or the cluster is gone
                pass
        self.close()

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def _call_in_own_group(conn: Any, parent_pid: int, fn: Callable[..., Any], args: tuple) -> None:
    os.setsid()  # its own process group: a timeout kills what it started too (Verilator, yosys)
    _exit_with_parent(parent_pid)
    try:
        conn.send((True, fn(*args)))
    except BaseException as exc:  # handed to the parent, which re-raises it
        try:
            conn.send((False, exc))
        except Exception:  # an exception that does not pickle
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


class TimedOut(Exception):
    """`call_with_timeout`: the call did not finish in time and was killed."""


def call_with_timeout(fn: Callable[..., Any], args: tuple, timeout: float) -> Any:
    """fn(*args) in a spawned process in its own process group; after `timeout` seconds the
    whole group (with any tools it started) is killed and `TimedOut` is raised. The call's own
    exception is re-raised here. fn and args must pickle."""
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_call_in_own_group, args=(send, os.getpid(), fn, args))
    proc.start()
    assert proc.pid is not None  # set by start()
    send.close()
    try:
        if recv.poll(max(timeout, 0.0)):
            try:
                ok, value = recv.recv()
            except EOFError:  # died without answering
                proc.join(5)
                ok, value = False, RuntimeError(f"the process died (exit code {proc.exitcode})")
            if ok:
                return value
            raise value
        raise TimedOut(f"not done after {timeout:.0f} s")
    finally:
        try:  # the whole group, with any tools it started (refused before its setsid: no group yet)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
        recv.close()


def check_executor(kind: str, workers: int, address: str | None = None) -> None:
    if kind not in EXECUTORS:
        raise UserError(f"--executor {kind}: must be one of {', '.join(EXECUTORS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"--workers {workers}: must be an integer >= 1")
    if address is not None and kind != "ray":
        raise UserError("--address needs --executor ray")


def make_executor(kind: str, workers: int, address: str | None = None) -> LocalExecutor | RayExecutor:
    check_executor(kind, workers, address)
    return LocalExecutor(workers) if kind == "local" else RayExecutor(workers, address)
