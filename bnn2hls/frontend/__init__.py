"""Import: a QONNX file (or a torch/Brevitas module, exported first) -> the IR."""
