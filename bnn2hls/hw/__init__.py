"""The hardware dataflow graph (graph.py) and its block kinds (blocks/)."""
from .graph import HwGraph, StreamFormat, element_bits, layer_cycles, layer_latency, lower, pixel_width, stream_format

__all__ = ["HwGraph", "StreamFormat", "lower", "layer_cycles", "layer_latency", "stream_format", "element_bits", "pixel_width"]
