"""Backends: render a compiled IR into hardware sources (rtl: Verilog; hls: HLS C++)."""
