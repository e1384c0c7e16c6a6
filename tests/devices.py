"""Moving test data between the host and the device the suite runs on (`pytest --backend numpy|cupy|fake`).

Under --backend cupy or fake, every Tensor made from host data lands on the device (see conftest.py), and CuPy
refuses to mix its arrays with NumPy's, as the fake does. Tests therefore read results with host(...) and give
host arrays to toynn with like(...), never with np.asarray(t.array) or `t.array * numpy_array`.
"""

from __future__ import annotations

import numpy as np

from toynn.backend import device_of, to_device
from toynn.tensor import Tensor


def off_device(value):
    """A device array copied to NumPy; anything else as it is."""
    if hasattr(value, "get") and device_of(value) != "cpu":  # CuPy's arrays (and the fake's) copy out with .get()
        return value.get()
    return value


def host(value):
    """A NumPy copy (or the value itself) of a Tensor, a device array, a NumPy array or a Python number."""
    if isinstance(value, Tensor):
        return value.numpy()
    return np.asarray(off_device(value))


def like(array, tensor):
    """`array` (host data) on the device of `tensor` (a Tensor or an array), for tangents, masks and weights."""
    device = tensor.device if isinstance(tensor, Tensor) else device_of(tensor)
    return to_device(np.asarray(array), device)
