"""The registry of cost backends (`fpga`, `gpu`, `rram`, plug-ins).

Backends are found through the entry-point group `bnn2hls.cost_backends`: an installed
package adds one with

    [project.entry-points."bnn2hls.cost_backends"]
    mybackend = "mypackage.cost:MyBackend"

where `MyBackend()` implements `bnn2hls.search.cost.CostBackend`. The built-in table below
is the fallback for a source checkout whose installed metadata predates a backend; entry
points of the same name override it. Nothing is imported until `get` asks for a backend,
so a broken plug-in only fails when it is used.
"""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from ...errors import UserError
from ..cost import CostBackend

GROUP = "bnn2hls.cost_backends"

BUILTIN: dict[str, str] = {
    "fpga": "bnn2hls.search.backends.fpga:FpgaBackend",
    "gpu": "bnn2hls.search.backends.gpu:GpuBackend",
    "rram": "bnn2hls.search.backends.rram:RramBackend",
}


@lru_cache(maxsize=1)
def _registry() -> dict[str, EntryPoint]:
    """name -> entry point: the built-ins, overridden and extended by installed entry points."""
    found = {name: EntryPoint(name=name, value=value, group=GROUP) for name, value in BUILTIN.items()}
    found.update({ep.name: ep for ep in entry_points(group=GROUP)})
    return dict(sorted(found.items()))


def available() -> list[str]:
    """The names `get` accepts (listed without importing the backends)."""
    return list(_registry())


def get(name: str) -> CostBackend:
    """A fresh instance of the backend registered as `name`."""
    registry = _registry()
    if name not in registry:
        raise UserError(f"--backend {name}: unknown cost backend (known: {', '.join(registry)})")
    entry = registry[name]
    try:
        factory = entry.load()
    except (ImportError, AttributeError) as exc:
        raise UserError(f"--backend {name}: cannot load {entry.value} ({type(exc).__name__}: {exc})") from None
    return factory()
