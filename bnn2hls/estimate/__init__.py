"""Cost of a compiled network measured with real tools: yosys counts (synth), place and route (pnr)."""
