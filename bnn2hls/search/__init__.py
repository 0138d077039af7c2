"""Hardware-aware architecture search (the Deepbit idea): cost charts predict the cost of
any candidate network instantly; for each depth a binary search over the width finds the
widest model that still fits the target device and meets the throughput target."""
