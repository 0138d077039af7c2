"""The repository explains itself: references to design facts point to docs/DESIGN.md (in this
repository) and name a section it has, never a document outside it."""
from __future__ import annotations

import pytest

import re
from pathlib import Path

pytestmark = pytest.mark.tier("unit")

ROOT = Path(__file__).resolve().parent.parent
DIRS = ("bnn2hls", "tests", "benchmarks", "sim", "hls_lib", "templates")
SUFFIXES = {".py", ".sv", ".v", ".h", ".hpp", ".cpp", ".j2", ".md", ".txt", ".tcl", ".json"}


def _texts() -> dict[Path, str]:
    files = [ROOT / "README.md"] + [p for d in DIRS for p in (ROOT / d).rglob("*")
                                    if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return {p: p.read_text(errors="replace") for p in files if p != Path(__file__).resolve()}


def test_no_reference_to_an_outside_guide():
    bad = [str(p.relative_to(ROOT)) for p, text in _texts().items() if "GUIDE.md" in text]
    assert not bad, bad


def test_design_references_name_existing_sections():
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    sections = {int(m) for m in re.findall(r"^## (\d+)\. ", design, flags=re.M)}
    assert sections == set(range(1, len(sections) + 1)) and len(sections) >= 5
    cited = {(p, int(n)) for p, text in _texts().items() for n in re.findall(r"docs/DESIGN\.md section (\d+)", text)}
    assert cited, "nothing cites docs/DESIGN.md"
    missing = sorted(f"{p.relative_to(ROOT)}: section {n}" for p, n in cited if n not in sections)
    assert not missing, missing
    assert "docs/DESIGN.md" in (ROOT / "README.md").read_text()
