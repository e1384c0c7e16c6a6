"""toynn: the neural-network library of the lecture "Neural networks and CNN", in NumPy.

Only re-exports: the Tensor and its ops, constructors, grad mode and the subpackages. The layers and what each
folder owns: docs/architecture.md.
"""

import numpy as _np

from . import _lazy, autodiff, data, nn, optim
from .backend import get_default_dtype, set_default_dtype
from .creation import (
    arange,
    default_generator,
    eye,
    from_numpy,
    full,
    full_like,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .errors import ShapeError
from .nn.summary import summary
from .ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    clamp,
    cos,
    div,
    exp,
    flatten,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

clip = clamp
concat = concatenate = cat

float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
float16 = _np.dtype(_np.float16)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
uint8 = _np.dtype(_np.uint8)
bool = _np.dtype(_np.bool_)
float, double, long = float32, float64, int64

__version__ = "0.1.0"

_lazy.install()  # old module paths (toynn.manual, toynn.onnx, ...) still import, from their new homes


def __getattr__(name):  # toynn.models, toynn.io, toynn.lecture ... load on first use (toynn/_lazy.py)
    return _lazy.attribute(__name__, name)
