"""Where candidate evaluations run: a local process pool (default) or Ray tasks.

Both take the same top-level, picklable function and arguments and hand back results as they
complete, so the search loop does not know which one it drives.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable

from ..errors import UserError

EXECUTORS = ("local", "ray")


class LocalExecutor:
    """A process pool. `spawn`, not fork: torch and a forked parent's thread pools do not mix."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def next_done(self, handles: list[Future]) -> tuple[Future, Any, BaseException | None]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        h = next(iter(done))
        return h, (None if h.exception() else h.result()), h.exception()

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

    def next_done(self, handles: list[Any]) -> tuple[Any, Any, BaseException | None]:
        ready, _ = self._ray.wait(handles, num_returns=1)
        h = ready[0]
        try:
            return h, self._ray.get(h), None
        except Exception as exc:  # the task's own exception, wrapped by Ray
            return h, None, exc

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def check_executor(kind: str, workers: int, address: str | None = None) -> None:
    if kind not in EXECUTORS:
        raise UserError(f"--executor {kind}: must be one of {', '.join(EXECUTORS)}")
    if workers < 1:
        raise UserError("--workers must be at least 1")
    if address is not None and kind != "ray":
        raise UserError("--address needs --executor ray")


def make_executor(kind: str, workers: int, address: str | None = None) -> LocalExecutor | RayExecutor:
    check_executor(kind, workers, address)
    return LocalExecutor(workers) if kind == "local" else RayExecutor(workers, address)
