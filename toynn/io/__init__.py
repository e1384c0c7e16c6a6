"""Getting models and runs in and out: checkpoints (safetensors, never pickle), run folders, ONNX export,
PyTorch weights. Each module imports its optional library (safetensors, onnx) only when used."""


def __getattr__(name):  # submodules load on first use (toynn/_lazy.py)
    from .._lazy import attribute

    return attribute(__name__, name)
