"""Getting models and runs in and out: checkpoints (safetensors, never pickle), run folders, ONNX export,
PyTorch weights. Each module imports its optional library (safetensors, onnx) only when used."""
