"""Weights to and from PyTorch without pickle: a state_dict as a safetensors file, under PyTorch's names.

toynn's modules name their parameters and buffers as PyTorch's do (Sequential "0.weight", BatchNorm's
running_mean, running_var, num_batches_tracked), so the same architecture maps one to one. torch is not needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backend import to_device


def load_torch_safetensors(model, path, strict: bool = True):
    """Copy the tensors of a safetensors file (e.g. safetensors.torch.save_file(torch_model.state_dict(), path))
    into model in place, cast to its dtypes; returns (missing_keys, unexpected_keys) as Module.load_state_dict."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_torch_safetensors: {path} does not exist")
    try:
        arrays = load_file(str(path))
    except (SafetensorError, ValueError, TypeError) as err:  # bfloat16 has no NumPy dtype: TypeError
        raise ValueError(
            f"load_torch_safetensors: cannot read {path} as NumPy arrays ({err}); a bfloat16 file needs "
            "converting to float32 in PyTorch first: {k: v.float() for k, v in state_dict.items()}"
        ) from None
    return model.load_state_dict(arrays, strict=strict)


def save_torch_safetensors(model, path) -> Path:
    """Write model.state_dict() as a safetensors file that safetensors.torch.load_file + load_state_dict read."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # NOTE: tied tensors are written once under each name (copies), which PyTorch's load_state_dict accepts
    arrays = {name: np.ascontiguousarray(to_device(t.data, "cpu")) for name, t in model.state_dict().items()}
    save_file(arrays, str(path), metadata={"format": "pt"})  # "pt": what transformers expects of torch files
    return path
