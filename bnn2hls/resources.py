"""Where the non-Python parts of bnn2hls live: templates/, hls_lib/, boards/, sim/.

In a source checkout they are top-level folders of the repository; a wheel installs them as
the data packages `bnn2hls._templates`, `bnn2hls._hls_lib`, `bnn2hls._boards`, `bnn2hls._sim`
(see pyproject.toml). Both layouts resolve here and nowhere else.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCE_DIRS = ("templates", "hls_lib", "boards", "sim")


def resource_dir(name: str) -> Path:
    if name not in RESOURCE_DIRS:
        raise KeyError(name)
    spec = importlib.util.find_spec(f"bnn2hls._{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return _REPO_ROOT / name
