"""Where the non-Python parts of bnn2hls live: templates/, hls_lib/, boards/, sim/.

In a source checkout they are top-level folders of the repository, next to the package: the
checkout the package is imported from is the one whose files are used (two checkouts side by
side never mix their hls_lib). A wheel installs them as the data packages
`bnn2hls._templates`, `bnn2hls._hls_lib`, `bnn2hls._boards`, `bnn2hls._sim` (see
pyproject.toml). Both layouts resolve here and nowhere else.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
RESOURCE_DIRS = ("templates", "hls_lib", "boards", "sim")


def _source_checkout() -> Path | None:
    root = _PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "hls_lib").is_dir() else None


def resource_dir(name: str) -> Path:
    if name not in RESOURCE_DIRS:
        raise KeyError(name)
    checkout = _source_checkout()
    if checkout is not None:
        return checkout / name
    spec = importlib.util.find_spec(f"bnn2hls._{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    raise FileNotFoundError(f"bnn2hls: its {name}/ folder is missing from this installation")


def data_file(name: str) -> Path:
    """A data file shipped inside the package (bnn2hls/data/: cost-model coefficients, device
    parameters), in a checkout and in a wheel alike."""
    return _PACKAGE / "data" / name
