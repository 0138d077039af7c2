"""Device catalogs of the analytic cost backends (gpu, rram): a JSON data file, read once,
looked up by device name.

The file holds {"default": NAME, "devices": {NAME: {field: value, ...}, ...}}; each backend
supplies the factory that turns one entry into its device dataclass, and the function that
prices a network on one device.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

from ...errors import UserError

if TYPE_CHECKING:
    from ...ir import Network
    from ..cost import Cost

D = TypeVar("D")
Factory = Callable[[str, dict[str, Any]], D]


@lru_cache(maxsize=None)
def load_catalog(path: Path, factory: Factory) -> tuple[str, dict[str, D]]:
    """(default device name, name -> device) from the data file `path`, each device built by
    `factory(name, entry)`; read once per (path, factory)."""
    doc = json.loads(Path(path).read_text())
    return doc["default"], {name: factory(name, entry) for name, entry in doc["devices"].items()}


class DeviceCatalog(Generic[D]):
    """The `kind` devices ("gpu", "rram": names them in error messages) of a data file, read on
    first use."""

    def __init__(self, kind: str, path: Path, factory: Factory) -> None:
        self.kind, self.path, self.factory = kind, path, factory

    def _load(self) -> tuple[str, dict[str, D]]:
        return load_catalog(self.path, self.factory)

    @property
    def default(self) -> str:
        return self._load()[0]

    def names(self) -> list[str]:
        return list(self._load()[1])

    def pick(self, name: str) -> D:
        """The device called `name`; UserError naming the known ones if there is none."""
        devices = self._load()[1]
        if name not in devices:
            raise UserError(f"--device {name}: unknown {self.kind} device (known: {', '.join(devices)})")
        return devices[name]


class CatalogBackend(Generic[D]):
    """A cost backend (`bnn2hls.search.cost.CostBackend`) whose devices come from a catalog and
    that has no parallelism knob, so `estimate` ignores `min_fps`. A subclass sets `name`,
    `catalog` and `estimate_on(net, device) -> Cost` (a staticmethod)."""

    name: str
    catalog: DeviceCatalog[D]

    @staticmethod
    def estimate_on(net: Network, device: D, /) -> Cost:
        raise NotImplementedError

    def devices(self) -> list[str]:
        return self.catalog.names()

    def default_device(self) -> str:
        return self.catalog.default

    def estimate(self, net: Network, device: str, min_fps: float | None = None) -> Cost:
        return self.estimate_on(net, self.catalog.pick(device))
