"""The `bnn2hls` command line. User errors print one `error: ...` line and exit 2."""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import UserError
from .safeio import WRITE_ERRORS, check_npy, one_line, qpath, refuse_symlink, writing

ENGINES = ("ref", "onnx", "rtl", "hls")


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus a message; the contract is exactly one `error:` line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bnn2hls", description="Binarized neural networks -> verified streaming FPGA accelerators.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("compile", help="compile a QONNX model into an output directory")
    c.add_argument("model", type=Path, help="QONNX file (Brevitas export_qonnx; MODEL.onnx.data beside it)")
    c.add_argument("-o", "--out", type=Path, required=True, help="output directory (replaced atomically)")
    c.add_argument("--board", help="target board (`bnn2hls boards` lists them): sets the clock and writes OUT/project")
    fold = c.add_mutually_exclusive_group()
    fold.add_argument("--folding", type=Path, help='JSON {"layers": {"<layer>": {"pe": P, "simd": S}}}')
    fold.add_argument("--target-fps", type=float, help="choose the cheapest folding that reaches this frame rate")

    r = sub.add_parser("run", help="run a compiled network on inputs")
    r.add_argument("out", type=Path, help="compiled output directory")
    r.add_argument("--input", type=Path, required=True, help="float32 .npy [N, ...] in the source model's input space")
    r.add_argument("--engine", choices=ENGINES, default="ref")
    r.add_argument("-o", "--output", type=Path, required=True, help="where to write float32 .npy [N, outputs]")
    r.add_argument("--trace", action="store_true", help="rtl: write an FST waveform to OUT/sim/trace.fst")
    r.add_argument("--gap-pct", type=int, default=0, help="rtl: percent of cycles the input stream idles (protocol test)")
    r.add_argument("--stall-pct", type=int, default=0, help="rtl: percent of cycles the output is not ready (protocol test)")

    sub.add_parser("boards", help="list the boards bnn2hls can target")

    rep = sub.add_parser("report", help="print the cost report of a compiled network; write OUT/report.html")
    rep.add_argument("out", type=Path, help="compiled output directory")
    rep.add_argument("--synth", action="store_true",
                     help="also synthesize the Verilog with yosys (per layer, cached) and record the counts")
    rep.add_argument("--board", help="check the fit against this board (default: the board OUT was compiled for); "
                     "--pnr places and routes on it when it is an open-toolchain board")
    rep.add_argument("--jobs", type=int, default=2, help="--synth: parallel yosys runs")
    rep.add_argument("--pnr", action="store_true",
                     help="also place and route the accelerator with yosys + nextpnr (minutes; cached) on an "
                          "open-toolchain board (ulx3s-85f unless --board or OUT's board is one) and record fmax, "
                          "utilisation and the critical path")
    rep.add_argument("--seed", type=int, help="--pnr: nextpnr's placement seed (default 1)")
    rep.add_argument("--pnr-clock", type=float, metavar="MHZ",
                     help="--pnr: the clock constraint nextpnr works to (default: the board's clock)")

    s = sub.add_parser("search", help="hardware-aware architecture search (Deepbit): cost charts + binary search over width")
    s.add_argument("--family", choices=("mlp", "cnn"), default="mlp",
                   help="mlp: depth x width binarized MLPs; cnn: depth binary 3x3 convs x channels (fixed pooling and classifier rule)")
    s.add_argument("--board", help="FPGA board: the fpga backend's device (default pynq-z2); the winner is compiled for it")
    s.add_argument("--dataset", required=True, help="mnist5k (5,000 MNIST digits) or digits (8x8)")
    s.add_argument("--backend", default="fpga", help="cost backend: fpga, gpu, rram or an installed plug-in")
    s.add_argument("--device", help="gpu/rram device (default: the backend's default device)")
    s.add_argument("--objective", choices=("lut", "fps", "latency"), default="lut",
                   help="Pareto cost axis: lut = the backend's own cost (FPGA LUTs, GPU latency, RRAM energy)")
    s.add_argument("--min-fps", type=float, help="throughput target (fpga default: 400000 for mlp, 50000 for cnn)")
    s.add_argument("--depths", default="1,2,3,4",
                   help="depths to search, comma separated: hidden layers (mlp, 1 to 16) or binary convs (cnn, 1 to 8)")
    s.add_argument("--residual", choices=("off", "on", "both"), default="off",
                   help="cnn: a shortcut around every conv of equal in/out shape: never, always, or both as a search dimension")
    s.add_argument("--input-bits", type=int, choices=(1, 8), default=1, help="cnn: binary (1) or 8-bit input")
    s.add_argument("--max-minutes", type=float, default=10.0,
                   help="time budget of the whole run, including verifying the winner")
    s.add_argument("--executor", choices=("local", "ray"), default="local")
    s.add_argument("--address", help="--executor ray: address of a running Ray cluster (default: start a local one)")
    s.add_argument("--workers", type=int, default=2, help="trainings in parallel")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-verify", action="store_true", help="skip compiling/simulating/synthesizing the winner")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("-o", "--out", type=Path, required=True, help="search directory (a rerun resumes it)")

    d = sub.add_parser("demo", help="train a small BNN on offline MNIST, compile and verify it")
    d.add_argument("-o", "--out", type=Path, default=Path("demo_out"))
    d.add_argument("--seconds", type=float, default=45.0, help="training time budget (per model with --residual)")
    d.add_argument("--residual", action="store_true",
                   help="train a small residual BNN and a plain one of the same layers; compare their accuracies")
    d.add_argument("--no-rtl", action="store_true", help="--residual: skip the Verilog (compile in memory, check the reference)")
    return p


def _cmd_compile(args: argparse.Namespace) -> int:
    from .reports import report
    from .flow.compiler import compile_file
    from .hw.folding import load_folding_spec

    folding = load_folding_spec(args.folding) if args.folding else None
    net = compile_file(args.model, args.out, folding=folding, target_fps=args.target_fps, board=args.board)
    doc = report.load(args.out)
    n = doc["network"]
    for warning in net.source.get("warnings", ()):
        print(f"warning: {one_line(warning)}", file=sys.stderr)
    print(f"compiled {net.name}: {len(net.datapath)} datapath layers -> {args.out}")
    print(f"estimate: {n['est_cycles_per_frame']:,} cycles/frame = {_rate(n['est_fps'])} frames/s {clock_phrase(n)}, "
          f"{n['est_lut_total']:,} LUT ({n['est_lutram']:,} as RAM), {n['est_ff']:,} FF, {n['est_bram18']:,} BRAM18")
    if args.target_fps is not None and n["est_fps"] < args.target_fps:
        print(f"warning: --target-fps {args.target_fps:g} is out of reach: the fully parallel folding "
              f"reaches {_rate(n['est_fps'])} frames/s (bottleneck {n['bottleneck']})", file=sys.stderr)
    _print_fit(doc)
    return 0


def clock_phrase(network: dict[str, Any]) -> str:
    """Which clock a report's frame rates assume: "at 100 MHz (board clock; ...)"."""
    from .estimate.fmax_model import clock_phrase as phrase

    return phrase(network)


def _search_clock(predicted: dict[str, Any]) -> str:
    """" at 100 MHz (board clock)" for an fpga candidate's predicted frame rate."""
    clock = predicted.get("clock_mhz")
    if clock is None:
        return ""
    board = predicted.get("board_clock_mhz", clock)
    return f" at {clock:g} MHz ({'board clock' if clock >= board else f'predicted fmax; board clock {board:g} MHz'})"


def _rate(fps: float) -> str:
    return f"{fps:,.0f}" if fps >= 100 else f"{fps:.3g}"


def _print_fit(doc: dict) -> None:
    if "fit" not in doc:
        return
    lines = doc["fit"]["lines"]
    stream = sys.stdout if doc["fit"]["fits"] else sys.stderr
    print(("" if doc["fit"]["fits"] else "warning: ") + lines[0], file=stream)
    for line in lines[1:]:
        print(f"  {line}", file=stream)


def load_input(path: Path) -> np.ndarray:
    """--input: a numeric .npy array [N, ...] with N >= 1 (N = 0 is refused by every engine)."""
    if not Path(path).is_file():
        raise UserError(f"--input {qpath(path)}: no such file")
    check_npy(path, "--input")  # the header against the file's size, before numpy allocates
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        reason = one_line(str(exc).splitlines()[0]) if str(exc) else "empty or truncated"
        raise UserError(f"--input {qpath(path)}: not a readable .npy file ({reason})") from None
    if not isinstance(x, np.ndarray):
        x.close()
        raise UserError(f"--input {qpath(path)}: an .npz archive; expected a single .npy array [N, ...]")
    if np.issubdtype(x.dtype, np.complexfloating):
        raise UserError(f"--input {qpath(path)}: complex numbers ({x.dtype}); the model's input is real")
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2:
        raise UserError(f"--input {qpath(path)}: expected a numeric array [N, ...], got {x.dtype} {list(x.shape)}")
    if x.shape[0] == 0:
        raise UserError(f"--input {qpath(path)}: no frames (shape {list(x.shape)}); give at least one")
    with np.errstate(all="ignore"):
        y = x.astype(np.float32)
    if np.isfinite(x).all() and not np.isfinite(y).all():
        raise UserError(f"--input {qpath(path)}: values beyond float32's range (largest magnitude "
                        f"{float(np.abs(x).max()):.3g}); the model's input is float32")
    return y


def check_output_file(path: Path) -> Path:
    """-o Y.npy: refuse before any engine runs unless Y can be written exactly there."""
    refuse_symlink(path, "-o")
    if path.suffix != ".npy":
        raise UserError(f"-o {qpath(path)}: the output file must end in .npy")
    if path.is_dir():
        raise UserError(f"-o {path}: is a directory; name a .npy file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"-o {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"-o {path}: not writable (permission denied or read-only)")
    return path


def _check_sim_dir(out: Path, engine: str) -> None:
    """The rtl and hls engines build and run their simulation in OUT/sim."""
    sim = out / "sim"
    if sim.is_symlink():  # the build cache is not verified: it must at least be OUT's own
        raise UserError(f"{qpath(sim)}: is a symbolic link; --engine {engine} builds only inside OUT (remove it)")
    where = sim if sim.exists() else out
    if (sim.exists() and not sim.is_dir()) or not os.access(where, os.W_OK | os.X_OK):
        raise UserError(f"{where}: not writable; --engine {engine} builds and runs its simulation in {sim}")


def _save_output(path: Path, y: np.ndarray) -> None:
    """Write Y atomically (a temporary file beside it, then rename)."""
    tmp = path.with_name(f".{path.name[:200]}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, y.astype(np.float32))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"-o {path}: cannot write it ({exc.strerror or exc})") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from . import ir, reference
    from .flow import manifest
    from .engines import qonnx_runner
    from .flow.compiler import load_source_model

    if not (0 <= args.gap_pct < 100 and 0 <= args.stall_pct < 100):
        raise UserError("--gap-pct and --stall-pct must be in [0, 100)")
    check_output_file(args.output)
    manifest.verify(args.out)
    net = ir.load(args.out)
    x = load_input(args.input)
    if args.engine in ("rtl", "hls"):
        _check_sim_dir(args.out, args.engine)
    try:
        if args.engine == "ref":
            y = reference.run(net, x)
        elif args.engine == "onnx":
            y = qonnx_runner.run(load_source_model(args.out), x)
        elif args.engine == "hls":
            from .engines import hls_sim

            y = hls_sim.run(net, args.out, x)
        else:
            from .engines import rtl_sim

            sim = rtl_sim.run(net, args.out, x, trace=args.trace, gap_pct=args.gap_pct, stall_pct=args.stall_pct)
            y = sim.outputs
            print(f"rtl: {sim.perf['cycles_per_frame']:.1f} cycles/frame (estimate {sim.perf['est_cycles_per_frame']}), "
                  f"latency {sim.perf['latency_cycles']} cycles -> {args.out / 'sim' / 'rtl_perf.json'}")
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise UserError(f"--engine {args.engine}: cannot read or write{where} ({exc.strerror or exc})") from None
    _save_output(args.output, y)
    print(f"{args.engine}: {len(x)} frames -> {args.output}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .flow import manifest
    from .reports import report, report_html
    from .hw.boards import load_board

    if not args.pnr and (args.seed is not None or args.pnr_clock is not None):
        raise UserError(f"{'--seed' if args.seed is not None else '--pnr-clock'} applies to --pnr only")
    manifest.verify(args.out)
    doc = report.load(args.out)
    if args.board is not None:
        doc = report.with_board(doc, load_board(args.board))
    if args.synth:
        if args.jobs < 1:
            raise UserError("--jobs must be at least 1")
        with writing(f"report --synth {qpath(args.out)}"):
            doc = report.measure(doc, args.out, jobs=args.jobs)
    if args.pnr:
        from .estimate import pnr

        board, note = pnr.pnr_board(args.board, doc.get("board", {}).get("name"))
        if note:
            print(f"note: {note}", file=sys.stderr)
        seed = pnr.DEFAULT_SEED if args.seed is None else args.seed
        with writing(f"report --pnr {qpath(args.out)}"):
            doc = report.measure_pnr(doc, args.out, board, seed, clock_mhz=args.pnr_clock, progress=sys.stderr)
    with writing(f"report {qpath(args.out)}"):
        path = report.save(doc, args.out)
        manifest.refresh(args.out, (report.REPORT_FILE,))
        page = report_html.write_html(doc, args.out)
    _print_report(doc)
    _print_fit(doc)
    if "pnr" in doc:
        _print_pnr(doc["pnr"])
    print(f"report: {path}, {page}")
    return 0


def _print_report(doc: dict) -> None:
    net, syn = doc["network"], doc.get("synth")
    cols = f"{'layer':<12}{'kind':<8}{'PE':>5}{'SIMD':>6}{'MACs':>12}{'cycles':>10}{'est LUT':>9}{'est FF':>8}{'est BRAM':>9}"
    if syn:
        cols += f"{'LUT':>8}{'LUTRAM':>8}{'FF':>8}{'BRAM18':>8}"
    print(cols)
    for name in doc["layer_order"]:
        e = doc["layers"][name]
        row = (f"{name:<12}{e['kind']:<8}{e.get('pe', ''):>5}{e.get('simd', ''):>6}{e.get('macs', ''):>12}"
               f"{e['est_cycles_per_frame']:>10}{e['est_lut_total']:>9}{e['est_ff']:>8}{e['est_bram18']:>9}")
        if syn:
            s = syn["layers"][name]
            row += f"{s['lut']:>8}{s['lutram']:>8}{s['ff']:>8}{s['bram18']:>8}"
        print(row)
    total = (f"{'network':<31}{net['macs']:>12}{net['est_cycles_per_frame']:>10}{net['est_lut_total']:>9}"
             f"{net['est_ff']:>8}{net['est_bram18']:>9}")
    if syn:
        total += f"{syn['lut']:>8}{syn['lutram']:>8}{syn['ff']:>8}{syn['bram18']:>8}"
    print(total)
    print(f"network: {net['est_cycles_per_frame']:,} cycles/frame (bottleneck {net['bottleneck']}), "
          f"{_rate(net['est_fps'])} frames/s {clock_phrase(net)}")
    if syn:
        print(f"yosys ({syn['family']}, {syn['yosys_seconds']:.0f} s): {syn['lut']:,} LUT + {syn['lutram']:,} LUTRAM, "
              f"{syn['ff']:,} FF, {syn['bram18']:,} BRAM18, {syn['dsp']:,} DSP, {syn['carry']:,} CARRY; "
              f"estimate {net['est_lut']:,} LUT ({(net['est_lut'] - syn['lut']) / max(1, syn['lut']) * 100:+.1f} %)")


def _print_pnr(p: dict) -> None:
    u, cp = p["utilisation"], p["critical_path"]
    met = "met" if p["meets_clock"] else "NOT met"
    print(f"place and route ({p['board']}, {p['device']}, seed {p['seed']}): fmax {p['fmax_mhz']:.1f} MHz "
          f"(constraint {p['clock_mhz']:g} MHz: {met}), {_rate(p['fps_at_fmax'])} frames/s at fmax "
          f"({p['fmax_mhz']:.1f} MHz, measured)")
    if p.get("predicted_fmax_mhz") is not None:
        print(f"  predicted fmax {p['predicted_fmax_mhz']:.1f} MHz ({p['predicted_critical']}): "
              f"{p['fmax_prediction_error'] * 100:+.1f} % of place and route")
    print(f"  used: {u['lut4']:,} LUT4, {u['ff']:,} FF, {u['carry']:,} carry, {u['bram']:,} block RAM, {u['dsp']:,} DSP; "
          "device cells " + ", ".join(f"{k} {used:,}/{avail:,}" for k, (used, avail) in u["device"].items()))
    if cp:
        print(f"  critical path: {cp['from']} -> {cp['to']}, {cp['total_ns']:.2f} ns "
              f"(logic {cp['logic_ns']:.2f} ns, routing {cp['routing_ns']:.2f} ns) through {' > '.join(cp['through'])}")


def _cmd_search(args: argparse.Namespace) -> int:
    from .search import backends
    from .search.deepbit import SearchSpec, default_widths, parse_depths
    from .search.run import RunOptions, check_budget, check_seed, default_min_fps, run_search

    refuse_symlink(args.out, "-o")
    check_budget(args.max_minutes, args.backend, not args.no_verify)
    check_seed(args.seed)

    backend = backends.get(args.backend)
    if args.backend == "fpga":
        if args.device is not None:
            raise UserError("--device is for the gpu and rram backends; the fpga backend's device is --board")
        device = args.board or backend.default_device()
    else:
        device = args.device or backend.default_device()
    if args.family == "mlp" and (args.residual != "off" or args.input_bits != 1):
        raise UserError("--residual and --input-bits are options of the cnn family (--family cnn)")
    depths = parse_depths(args.depths, args.family)
    min_fps = args.min_fps if args.min_fps is not None else default_min_fps(args.backend, args.family)
    spec = SearchSpec(dataset=args.dataset, backend=args.backend, device=device, objective=args.objective,
                      min_fps=min_fps, depths=depths, widths=default_widths(args.family), seed=args.seed,
                      family=args.family, residual=args.residual, input_bits=args.input_bits)
    opts = RunOptions(max_minutes=args.max_minutes, executor=args.executor, address=args.address,
                      workers=args.workers, progress=not args.quiet, verify=not args.no_verify)
    doc = run_search(spec, args.out, opts, board=args.board)
    print(f"search: {doc['trained']} trained, {len(doc['front'])} Pareto points ({doc['axis']}) in {doc['seconds']:.0f} s")
    for p in doc["front"]:
        print(f"  {p['key']:<22} accuracy {p['accuracy']:.3f}  {p['predicted']['objective_name']} "
              f"{p['predicted']['objective']:,.1f}  {_rate(p['predicted']['fps'])} frames/s{_search_clock(p['predicted'])}")
    for f in doc.get("failed", []):
        print(f"  {f['key']:<22} failed to compile (torch accuracy {f['torch_accuracy']:.3f}): {f['error']}")
    w = doc["winner"]
    if w is None:
        if doc["trained"] == 0:
            print(f"no candidate finished training within --max-minutes {args.max_minutes:g}; give it more time "
                  f"(a rerun with the same -o resumes)", file=sys.stderr)
        else:
            print("no trained candidate is feasible", file=sys.stderr)
        return 1
    print(f"winner: {w['key']} accuracy {w['accuracy']:.3f}, predicted {w['predicted']['objective_name']} "
          f"{w['predicted']['objective']:,.1f}")
    v = w.get("verified")
    if v and v.get("timed_out"):
        print(f"  verification stopped by the time budget after {v['budget_s']:.0f} s")
    elif v and "error" in v:
        print(f"  verification failed: {v['error']}")
    elif v:
        line = f"  compiled -> {args.out / v['out']}; QONNX executor {'equal' if v['onnx_equal'] else 'DIFFERS'}"
        if "rtl_bit_exact" in v:
            line += (f"; RTL {'bit-exact' if v['rtl_bit_exact'] else 'MISMATCH'} on {v['rtl_frames']} images, "
                     f"{v['rtl_cycles_per_frame']:.0f} cycles/frame; yosys {v['measured']['lut_total']:,} LUT "
                     f"(predicted {v['predicted_lut_total']:,.0f}, {v['lut_error_pct']:+.1f} %)")
        print(line)
    res = doc.get("residual")
    if res is not None:
        print(f"residual ({res['searched']}): the winner {'uses' if res['winner_uses_shortcuts'] else 'does not use'} shortcuts"
              + "".join(f"; d{p['depth']} c{p['width']} accuracy {p['accuracy_off']:.3f} -> {p['accuracy_on']:.3f} with them"
                        for p in res["pairs"]))
        for name, row in (res.get("shortcut_cost") or {}).items():
            if "objective_delta_pct" in row:
                print(f"  shortcuts on {name} ({row['device']}): {row['on']['objective_name']} "
                      f"{row['off']['objective']:,.1f} -> {row['on']['objective']:,.1f} ({row['objective_delta_pct']:+.1f} %), "
                      f"latency {row['latency_delta_pct']:+.1f} %")
            else:
                print(f"  shortcuts on {name} ({row['device']}): not priced ({row['on'].get('error') or row['off'].get('error')})")
    print(f"results: {args.out / 'results.jsonl'}, {args.out / 'pareto.json'}, {args.out / 'pareto.png'}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .flow.demo import check_seconds, run_demo, run_residual_demo

    refuse_symlink(args.out, "-o")
    check_seconds(args.seconds)
    if args.residual:
        return run_residual_demo(args.out, seconds=args.seconds, rtl=not args.no_rtl)
    if args.no_rtl:
        raise UserError("--no-rtl applies to --residual only")
    return run_demo(args.out, seconds=args.seconds)


def _cmd_boards(args: argparse.Namespace) -> int:
    from .hw.boards import list_boards

    for board in list_boards():
        print(board.summary())
    return 0


COMMANDS = {"boards": _cmd_boards, "compile": _cmd_compile, "run": _cmd_run, "report": _cmd_report, "demo": _cmd_demo,
            "search": _cmd_search}


ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM})


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that cleanups run (tools started by bnn2hls are
    killed, temporary directories removed) before the process exits."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Whatever goes wrong with what the user gave, stderr gets exactly one
    `error: ...` line and the exit status is 2: Python warnings (numpy's overflow and
    ComplexWarning, libraries' deprecations) are silenced here, in this one place, since every
    condition they would flag is checked and refused by name."""
    for stream in (sys.stdout, sys.stderr):  # a path with bytes that are not UTF-8 prints escaped
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            args = _parser().parse_args(argv)
            return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # `bnn2hls ... | head -1`: the reader is gone; say nothing more
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        # The environment, not bnn2hls: a full disk, a file size limit, a read-only or
        # forbidden directory, reached somewhere no command names its own option for.
        where = f"{qpath(exc.filename)}: " if exc.filename else ""
        print(f"error: {where}{one_line(WRITE_ERRORS.get(exc.errno or 0) or exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
