"""Weights to and from PyTorch without pickle: a state_dict as a safetensors file, under PyTorch's names.

toynn's modules name their parameters and buffers as PyTorch's do (Sequential "0.weight", BatchNorm's
running_mean, running_var, num_batches_tracked), so the same architecture maps one to one. torch is not needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backend import to_device


def load_torch_safetensors(model, path, strict: bool = True):
    """Copy the tensors of a safetensors file (e.g. safetensors.torch.save_file(torch_model.state_dict(), path))
    into model in place, cast to its dtypes; returns (missing_keys, unexpected_keys) as Module.load_state_dict.

    bfloat16 tensors are read through ml_dtypes (which onnx installs) and widened to float32, exactly."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_torch_safetensors: {path} does not exist")
    arrays = _read_arrays(path)
    arrays = {k: a.astype(np.float32) if a.dtype.name == "bfloat16" else a for k, a in arrays.items()}
    return model.load_state_dict(arrays, strict=strict)


def _read_arrays(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except TypeError:  # a dtype NumPy does not know: bfloat16 is known once ml_dtypes is imported
        try:
            import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy)

            return load_file(str(path))
        except (ImportError, TypeError) as err:
            problem = err
    except (SafetensorError, ValueError) as err:
        problem = err
    raise ValueError(
        f"load_torch_safetensors: cannot read {path} as NumPy arrays ({problem}); a bfloat16 file needs ml_dtypes "
        "(pip install ml_dtypes) or converting to float32 in PyTorch first: "
        "{k: v.float() for k, v in state_dict.items()}"
    ) from None


def save_torch_safetensors(model, path) -> Path:
    """Write model.state_dict() as a safetensors file that safetensors.torch.load_file + load_state_dict read."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # NOTE: tied tensors are written once under each name (copies), which PyTorch's load_state_dict accepts
    # NOTE: asarray(order="C") keeps 0-d arrays 0-d (ascontiguousarray makes them 1-d)
    arrays = {name: np.asarray(to_device(t.array, "cpu"), order="C") for name, t in model.state_dict().items()}
    save_file(arrays, str(path), metadata={"format": "pt"})  # "pt": what transformers expects of torch files
    return path
