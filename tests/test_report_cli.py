"""`compile` and `report` say what the design costs and whether it fits its board;
`--target-fps` on a board respects the board's budget; `report --synth` measures with yosys."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bnn2hls.estimate import cost_model, fit
from bnn2hls import ir
from bnn2hls.cli import main

pytestmark = pytest.mark.tier("unit")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def odd_out(exported, tmp_path_factory):
    path, _ = exported("oddnet")
    out = tmp_path_factory.mktemp("report") / "odd"
    assert main(["compile", str(path), "-o", str(out), "--board", "pynq-z2", "--target-fps", "20000"]) == 0
    return out


def test_compile_records_estimates_and_fit(odd_out):
    doc = json.loads((odd_out / "report.json").read_text())
    net = ir.load(odd_out)
    est = cost_model.estimate(net)
    n = doc["network"]
    assert n["est_lut"] == est.resources.lut > 0 and n["est_bram18"] == est.resources.bram18
    assert n["est_lut_total"] == est.resources.lut_total
    assert n["est_fps"] >= 20000
    for layer in net.datapath:
        entry = doc["layers"][layer.name]
        assert entry["est_lut"] == est.layers[layer.name].resources.lut > 0
        assert "est_bram18" in entry and "est_ff" in entry
    assert doc["board"]["name"] == "pynq-z2" and doc["fit"]["fits"] is True
    assert doc["fit"]["lines"][0].startswith("Fits pynq-z2")


class _Page(HTMLParser):
    """Collects image and link targets and checks that every opened element is closed."""

    VOID = {"img", "meta", "br", "link", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.refs += [a[k] for k in ("src", "href") if k in a]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


def check_page(page: Path) -> list[Path]:
    """The page is well formed and every reference resolves to a decodable image beside it."""
    import matplotlib.image

    parser = _Page()
    parser.feed(page.read_text())
    assert parser.stack == []
    targets = []
    for ref in parser.refs:
        assert not re.match(r"^(/|[a-z]+:)", ref), ref  # relative: the directory can be moved or mailed
        target = page.parent / ref
        assert target.read_bytes()[:8] == PNG_MAGIC
        h, w, _ = matplotlib.image.imread(target).shape
        assert w > 100 and h > 100
        targets.append(target)
    return targets


def test_report_prints_table_and_writes_html(odd_out, capsys):
    rc, out, _ = _cli(capsys, "report", odd_out)
    assert rc == 0
    assert re.search(r"^conv1\s+conv", out, re.M) and "est LUT" in out and "Fits pynq-z2" in out
    names = {p.name for p in check_page(odd_out / "report.html")}
    assert names >= {"report_lut.png", "report_bram.png", "report_cycles.png", "report_budget.png"}


def test_compile_warns_when_over_budget(exported, tmp_path, capsys):
    path, _ = exported("CNV_1W1A")
    rc, out, err = _cli(capsys, "compile", path, "-o", tmp_path / "cnv", "--board", "icebreaker")
    assert rc == 0
    assert err.startswith("warning: Does NOT fit icebreaker") and "over budget in LUT" in err
    assert "LUT is dominated by" in err and "BRAM18 is dominated by" in err
    assert json.loads((tmp_path / "cnv" / "report.json").read_text())["fit"]["fits"] is False


def test_target_fps_respects_the_board_budget(exported, tmp_path, capsys):
    path, _ = exported("CNV_1W1A")
    rc, _, err = _cli(capsys, "compile", path, "-o", tmp_path / "fast", "--board", "pynq-z2", "--target-fps", "30000")
    assert rc == 2 and not (tmp_path / "fast").exists()
    m = re.fullmatch(r"error: --target-fps 30000: the folding that reaches it needs ([\d,]+) LUT of 53,200 on pynq-z2; "
                     r"the fastest folding that fits reaches ([\d,]+) frames/s at 100 MHz "
                     r"\(board clock; fmax not predicted for xc7\)\n", err)
    assert m, err
    reachable = float(m.group(2).replace(",", ""))
    assert 3000 < reachable < 30000
    # ... and asking for that rate gives a design that fits
    rc, out, _ = _cli(capsys, "compile", path, "-o", tmp_path / "ok", "--board", "pynq-z2", "--target-fps", str(reachable))
    assert rc == 0 and "Fits pynq-z2" in out
    doc = json.loads((tmp_path / "ok" / "report.json").read_text())
    assert doc["network"]["est_fps"] >= reachable * 0.999 and doc["fit"]["fits"]


def test_fastest_fitting_folding_is_the_fastest(exported):
    from bnn2hls.flow.compiler import build_network
    from bnn2hls.frontend.onnx_import import load_model
    from bnn2hls.hw.folding import estimate_cycles, fold_parallelism

    path, _ = exported("TFC_1W1A")
    net = build_network(load_model(path), "tfc")
    board = {"name": "small", "part": "x", "resources": {"lut": 6000, "ff": 20000, "bram18": 20, "dsp": 0}}
    best, est = fit.fastest_fitting_folding(net, board)
    assert fit.fits(est, board)
    cycles = estimate_cycles(best)["est_cycles_per_frame"]
    faster = fold_parallelism(net, cycles - 1)
    assert not fit.fits(cost_model.estimate(faster), board)
    assert fit.fastest_fitting_folding(net, {"resources": {"lut": 10, "ff": 10, "bram18": 0, "dsp": 0}}) is None


@pytest.mark.tier("rtl")
def test_report_synth_measures_with_yosys(odd_out, capsys):
    rc, out, _ = _cli(capsys, "report", odd_out, "--synth")
    assert rc == 0 and "yosys (xc7" in out
    doc = json.loads((odd_out / "report.json").read_text())
    s, n = doc["synth"], doc["network"]
    assert s["lut"] > 0 and s["ff"] > 0 and "bram18" in s and "dsp" in s and "carry" in s
    assert set(s["layers"]) == set(doc["layer_order"])
    assert abs(n["est_lut"] - s["lut"]) <= 0.20 * s["lut"], (n["est_lut"], s["lut"])
    assert doc["fit"]["source"] == "yosys"
    assert "yosys LUT" in (odd_out / "report.html").read_text()
    check_page(odd_out / "report.html")
