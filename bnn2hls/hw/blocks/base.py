"""What every block kind of the hardware graph defines (bnn2hls/hw/graph.py).

A kind is a subclass of `Block` that owns, in one place:
- `build(ctx)`: its instance for an IR layer (parameters, output stream, memories), or None
  where the layer does not need it;
- `layer_cycles(layer)` / `layer_interval(layer)` / `layer_latency(layer)`: its cycle formula
  and its pipeline depth (hw/folding.py);
- `cost_features(params, tables, acc)`: what the cost model counts for it (cost_model.py);
- `timing_stages(params)`: its register-to-register stages as the fmax model sees them
  (estimate/fmax_model.py): per stage, the structure of its widest combinational path;
- `rtl_params()` and the port flags: its instance in bnn_top.sv (module `module`, from the
  hls_lib/rtl files `rtl_files`);
- `hls(ctx)`: its part of the HLS top (function call, template arguments, header constants,
  tables and memories; hls_lib/hls files `hls_files`).
Kinds register themselves (`Block.__init_subclass__`); `library_rank` orders the RTL library
in files.f (a kind's own `rtl_files` list the modules it instantiates before it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, ClassVar

import numpy as np

from ..mvau_memories import bank_words, weight_banks

REGISTRY: list[type["Block"]] = []

# The hls_lib files that bnn_swg, bnn_maxpool and bnn_sumpool are built on (the input queue and
# the window walker), listed before each of them: a kind's `rtl_files` are in dependency order.
WINDOW_RTL = ("bnn_in_queue.sv", "bnn_window.sv")
WINDOW_HLS = ("bnn_window.h",)


@dataclass(eq=False)
class Stream:
    """An AXI-Stream link (an hls::stream in HLS): tdata `width` bits of `elem_bits`-bit
    elements, and `user_width` bits of tuser (0: none)."""

    layer: str | None  # the IR layer whose block produces it (None: the top's input)
    suffix: str  # the name is <layer>_<suffix> ("in" for the top's input)
    width: int
    elem_bits: int
    comment: str
    user_width: int = 0
    user_unused: bool = False  # tuser carried but read by nobody

    @property
    def name(self) -> str:
        return self.suffix if self.layer is None else f"{self.layer}_{self.suffix}"


@dataclass(eq=False)
class Memory:
    """A constant table of a block: `depth` words of `width` bits, the packing of `array`."""

    key: str  # weights | thresholds | flip
    param: str  # the RTL parameter naming its $readmemh file
    file: str  # that file's name
    hls_name: str  # the HLS constant
    width: int
    depth: int
    array: np.ndarray
    pack: Callable[[], list[int]]
    comment: str = ""
    bank_depth: int = 0  # the RTL stores it in banks of this many words side by side (0: one)

    @cached_property
    def words(self) -> list[int]:
        words = self.pack()
        assert len(words) == self.depth, (self.file, len(words), self.depth)
        return words

    @property
    def banks(self) -> int:
        return weight_banks(self.depth, self.bank_depth)

    @property
    def rtl_width(self) -> int:
        """Bits per line of the RTL's $readmemh file (every bank's word)."""
        return self.banks * self.width

    @cached_property
    def rtl_words(self) -> list[int]:
        """The lines of the RTL's $readmemh file (`bank_words`)."""
        return bank_words(self.words, self.width, self.bank_depth)


@dataclass
class LowerContext:
    """What a kind's `build` sees: the layer, its position, and the stream it reads."""

    net: Any
    layer: Any
    bits: int  # bits per element of the layer's input stream
    prev_shape: tuple[int, int, int]  # the shape the previous layer (or the input) produces
    src: Stream
    next_layer: Any = None
    user_w: int = 1  # tuser width of `src` (a window stream's class id)
    srcs: list[Stream] = field(default_factory=list)  # every input stream, in the layer's input order


@dataclass(eq=False)
class Block:
    name: str  # instance name
    layer: Any  # the IR layer it implements
    role: str  # swg | winq | mvau | flatten | maxpool | fifo
    input: Stream
    output: Stream
    params: dict[str, int]  # numeric parameters (the RTL's, without tables and files)
    memories: list[Memory] = field(default_factory=list)
    comment: str = ""  # what the emitters print above the instance
    vectors: dict[str, Any] = field(default_factory=dict)  # per-position parameter vectors
    # A block of a DAG may read or write more than one stream (a join, a fork): `input` and
    # `output` are the first; the RTL port prefix of each is in `in_ports` / `out_ports`.
    extra_inputs: list[Stream] = field(default_factory=list)
    extra_outputs: list[Stream] = field(default_factory=list)

    kind: ClassVar[str] = ""
    module: ClassVar[str] = ""  # the RTL module (hls_lib/rtl)
    rtl_files: ClassVar[tuple[str, ...]] = ()  # what `module` needs, its own file last
    hls_files: ClassVar[tuple[str, ...]] = ()  # the headers it needs, its own last (the top includes that)
    library_rank: ClassVar[int] = 100
    # RTL ports: tuser in (True, False or "tied" to 0), tuser out, tuser carried in tdata
    user_in: ClassVar[bool | str] = False
    user_out: ClassVar[bool] = False
    carries_user: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            REGISTRY.append(cls)

    @property
    def layer_name(self) -> str:
        return self.layer.name

    @property
    def inputs(self) -> list[Stream]:
        return [self.input, *self.extra_inputs]

    @property
    def outputs(self) -> list[Stream]:
        return [self.output, *self.extra_outputs]

    def in_ports(self) -> list[tuple[str, list[Stream]]]:
        """(RTL port prefix, the streams it carries; several are concatenated) per input port."""
        return [("s", [self.input])]

    def out_ports(self) -> list[tuple[str, list[Stream]]]:
        return [("m", [self.output])]

    # -- lowering ------------------------------------------------------------------------
    @classmethod
    def build(cls, ctx: LowerContext) -> "Block | None":
        raise NotImplementedError

    # -- cycles --------------------------------------------------------------------------
    @classmethod
    def layer_cycles(cls, layer: Any) -> dict[str, int]:
        """Entries of the layer's cycle report (passes.folding.layer_cycles)."""
        return {}

    @classmethod
    def layer_interval(cls, layer: Any) -> int | None:
        """Cycles per frame if this block paces its layer, else None."""
        return None

    @classmethod
    def layer_latency(cls, layer: Any) -> int:
        """Pipeline depth: the cycles this block adds to a frame's first output beyond its
        interval (input handshake to output handshake, less the interval) on a layer whose
        input is one vector per frame; 0 where the block is absent or adds none. The latency
        estimate (hw/folding.py `critical_path`) adds it to the layer's interval."""
        return 0

    def cycles(self) -> dict[str, int]:
        return self.layer_cycles(self.layer)

    # -- cost model ------------------------------------------------------------------------
    @classmethod
    def cost_kind_of(cls, params: dict[str, int]) -> str:
        return cls.kind

    @property
    def cost_kind(self) -> str:
        return self.cost_kind_of(self.params)

    def cost_tables(self) -> dict[str, float] | None:
        """Statistics of the block's actual tables for the cost model (None: random)."""
        return None

    @classmethod
    def cost_features(cls, params: dict[str, int], tables: dict[str, float] | None, a: Any) -> None:
        """Add the block's LUT/FF features and memories to the cost model's accumulator `a`."""
        raise NotImplementedError

    # -- timing (the fmax model) ------------------------------------------------------------
    @classmethod
    def timing_stages(cls, params: dict[str, int]) -> dict[str, dict[str, float]]:
        """The block's register-to-register stages for the fmax model (estimate/fmax_model.py):
        {stage: features}, each the worst combinational path of that stage in the RTL, in the
        terms of `timing_stage`. A kind that pipelines a stage updates it here."""
        return {"control": timing_stage(lut=2, fanout=2)}

    # -- RTL -----------------------------------------------------------------------------
    def rtl_params(self) -> list[tuple[str, Any]]:
        """The parameter list of the instance, as bnn_top.sv prints it."""
        return list(self.params.items())

    # -- HLS -----------------------------------------------------------------------------
    def hls(self, ctx: Any) -> None:
        """Add this block to the HLS top being built (backends/hls.py `HlsBuilder`)."""
        raise NotImplementedError


TIMING_FEATURES = ("lut", "adders", "carry", "fanout", "mem_depth", "mem_width", "mem_slice")


def timing_stage(lut: float = 0, adders: float = 0, carry: float = 0, fanout: float = 1, mem_depth: int = 0,
                 mem_width: int = 0, mem_slice: int = 0) -> dict[str, float]:
    """One stage's features for the fmax model: `lut` levels of LUT logic (decodes, muxes,
    XNORs, a flip), `adders` adders or comparators in series, `carry` the carry-chain bits
    along the path (summed over those adders), `fanout` the loads of its widest net (a register enable or select),
    and a table read at its start (`mem_depth` words of `mem_width` bits; the model decides
    per device family whether it is a block RAM or LUT logic), read in slices of `mem_slice`
    bits each with its own copy of the address (0: one address for the whole width)."""
    return {"lut": float(lut), "adders": float(adders), "carry": float(carry), "fanout": float(max(1, fanout)),
            "mem_depth": float(mem_depth), "mem_width": float(mem_width), "mem_slice": float(mem_slice)}


def ram_read_levels(depth: int) -> int:
    """LUT levels of a read from a small RAM with a write port (a FIFO's storage, a line
    buffer): distributed RAM of 16 words per LUT (one level), then a select over the
    ceil(depth / 16) banks (a level per two address bits); a 2-word queue is one select."""
    if depth <= 2:
        return 1
    banks = -(-depth // 16)
    return 1 + -(-max(0, (banks - 1).bit_length()) // 2)


def vector_literal(values: Any, width: int) -> str:
    """A flat Verilog parameter vector: entry i at [i*width +: width]."""
    packed = 0
    for i, v in enumerate(values):
        packed |= (int(v) & ((1 << width) - 1)) << (i * width)
    bits = max(1, width * len(values))
    return f"{bits}'h{packed:x}"
