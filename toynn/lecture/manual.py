"""The lecture's own layer API: forward(x) and backward(x, grad) called by hand, as in its MNIST code.

Each layer runs the same kernels as autograd (the Function classes' forward and backward), so
manual and automatic backprop agree exactly. The lecture names them toynn_Linear, toynn_ReLU and
toynn_CrossEntropyLoss; here they are manual.Linear, manual.ReLU, manual.CrossEntropyLoss (the
lecture's names are aliases).
"""

from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..backend import array_module, to_device
from ..nn import functional as F
from ..tensor import Tensor


def _node(fn_cls, arrays, needs, **params):
    """Run fn_cls.forward on arrays; return the node (ready for backward) and the output array."""
    node = fn_cls.__new__(fn_cls)
    node.needs_input_grad = needs
    return node, node.forward(*arrays, **params)


class _Layer:
    """Remembers the node of the last forward, so backward(x, grad) with that x reuses what it saved."""

    _input, _saved = None, None

    def _forward(self, x: Tensor, fn_cls, arrays, needs, **params) -> Tensor:
        node, y = _node(fn_cls, arrays, needs, **params)
        self._input, self._saved = x, node
        return Tensor._wrap(y)

    def _backward_node(self, x: Tensor, fn_cls, arrays, needs, **params):
        if x is self._input:
            return self._saved
        return _node(fn_cls, arrays, needs, **params)[0]  # a different x: run forward again to save it

    def __call__(self, *args):
        return self.forward(*args)


class Linear(_Layer):
    """y = x @ weight.T + bias, with PyTorch's initialisation. backward stores weight_grads and bias_grads."""

    def __init__(self, in_features: int, out_features: int):
        layer = nn.Linear(in_features, out_features)
        self.weight, self.bias = layer.weight.detach(), layer.bias.detach()
        self.weight_grads = self.bias_grads = None

    def forward(self, x: Tensor) -> Tensor:
        return self._forward(x, F.Affine, (x.array, self.weight.array, self.bias.array), (True, True, True))

    def backward(self, x: Tensor, grad: Tensor) -> Tensor:
        """Given d loss / d y, set weight_grads and bias_grads and return d loss / d x."""
        node = self._backward_node(x, F.Affine, (x.array, self.weight.array, self.bias.array), (True, True, True))
        gx, gw, gb = node.backward(grad.array)
        self.weight_grads, self.bias_grads = Tensor._wrap(gw), Tensor._wrap(gb)
        return Tensor._wrap(gx)


class ReLU(_Layer):
    """y = max(x, 0); backward passes the gradient where x > 0."""

    def forward(self, x: Tensor) -> Tensor:
        return self._forward(x, ops.ReLU, (x.array,), (True,))

    def backward(self, x: Tensor, grad: Tensor) -> Tensor:
        return Tensor._wrap(self._backward_node(x, ops.ReLU, (x.array,), (True,)).backward(grad.array))


class Sigmoid(_Layer):
    """y = 1 / (1 + exp(-x)); backward multiplies by y (1 - y)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._forward(x, ops.Sigmoid, (x.array,), (True,))

    def backward(self, x: Tensor, grad: Tensor) -> Tensor:
        return Tensor._wrap(self._backward_node(x, ops.Sigmoid, (x.array,), (True,)).backward(grad.array))


class CrossEntropyLoss(_Layer):
    """Softmax and negative log-likelihood of the labels, averaged over the batch (the softmax is inside)."""

    _params = dict(weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0)

    def forward(self, yhat: Tensor, label) -> Tensor:
        return self._forward(yhat, F.CrossEntropy, (yhat.array,), (True,), target=_labels(label, yhat), **self._params)

    def backward(self, yhat: Tensor, label) -> Tensor:
        """d loss / d yhat = (softmax(yhat) - onehot(label)) / N."""
        node = self._backward_node(
            yhat, F.CrossEntropy, (yhat.array,), (True,), target=_labels(label, yhat), **self._params
        )
        xp_one = yhat.array.dtype.type(1)
        return Tensor._wrap(node.backward(array_module(yhat.array).asarray(xp_one)))


def _labels(label, yhat: Tensor):
    """An int, a list or a Tensor of class indices as an int64 array of shape (N,)."""
    target = label.array if isinstance(label, Tensor) else to_device(np.asarray(label), yhat.device)
    target = target.astype(np.int64).reshape(-1)
    if target.shape[0] != yhat.shape[0]:
        raise ValueError(f"CrossEntropyLoss: {target.shape[0]} labels for {yhat.shape[0]} predictions")
    return target


toynn_Linear, toynn_ReLU, toynn_Sigmoid, toynn_CrossEntropyLoss = Linear, ReLU, Sigmoid, CrossEntropyLoss
