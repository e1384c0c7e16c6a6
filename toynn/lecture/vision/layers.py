"""Finding a layer of a model and catching its output: layers are named as in model.named_modules()
("3", "features.conv1"), counted among the leaf layers (an int), or given as the module itself.

toynn.nn has no forward hooks; capture() sets an instance attribute that shadows the layer's forward
for one run (as toynn.summary does) and removes it afterwards.
"""

from __future__ import annotations

from ...nn import Conv2d, Module
from ...tensor import Tensor, no_grad
from .images import as_numpy


def leaf_layers(model: Module) -> list[tuple[str, Module]]:
    """(name, module) of every module without sub-modules, in attribute order: the order a chain model
    (Sequential, nested Sequentials) runs them."""
    return [(name or type(m).__name__, m) for name, m in model.named_modules() if next(m.children(), None) is None]


def find_layer(model: Module, layer) -> tuple[str, Module]:
    """(name, module) for layer given as a name from named_modules(), an index into leaf_layers(), or a module."""
    if isinstance(layer, Module):
        for name, m in model.named_modules():
            if m is layer:
                return name or type(m).__name__, m
        raise ValueError(f"{type(layer).__name__} is not a layer of this {type(model).__name__}")
    if isinstance(layer, int) and not isinstance(layer, bool):
        leaves = leaf_layers(model)
        if not -len(leaves) <= layer < len(leaves):
            raise IndexError(f"layer index {layer} is out of range: {type(model).__name__} has {len(leaves)} layers")
        return leaves[layer]
    names = dict(model.named_modules())
    if layer in names:
        return str(layer), names[layer]
    raise ValueError(
        f"no layer named {layer!r} in {type(model).__name__}; its layers are "
        + ", ".join(f"{n} ({type(m).__name__})" for n, m in leaf_layers(model))
    )


def chain_upto(model: Module, layer) -> list[tuple[str, Module]]:
    """The leaf layers from the input up to and including `layer` (all of its leaves, if it is a container)."""
    name, module = find_layer(model, layer)
    leaves = leaf_layers(model)
    inside = [i for i, (_, m) in enumerate(leaves) if m is module or any(m is c for c in module.modules())]
    return leaves[: inside[-1] + 1]


def conv_layers(model: Module) -> list[str]:
    """Names of the model's Conv2d layers, in order."""
    return [name for name, m in leaf_layers(model) if isinstance(m, Conv2d) and m._nd == 2]


class _Stop(Exception):
    """Raised by a capturing forward to skip the rest of the model once the wanted output is in hand."""


def capture(model: Module, x: Tensor, layer) -> Tensor:
    """The output of `layer` when model runs on x (eval mode, no graph); the layers after it are not run."""
    _, module = find_layer(model, layer)
    caught: list[Tensor] = []
    forward = module.forward
    own = vars(module).get("forward")

    def forward_and_stop(*args, **kwargs):
        y = forward(*args, **kwargs)
        caught.append(y[0] if isinstance(y, tuple) else y)  # MaxPool2d(return_indices=True) gives (y, indices)
        raise _Stop

    flags = [(m, m.training) for m in model.modules()]
    module.forward = forward_and_stop
    try:
        model.eval()
        with no_grad():
            model(x)
    except _Stop:
        pass
    finally:
        if own is None:
            del module.forward
        else:
            module.forward = own
        for m, training in flags:
            m.training = training
    if not caught:
        raise RuntimeError(f"layer {layer!r} was not called by {type(model).__name__}.forward")
    return caught[0]


def feature_maps(model: Module, x, layer):
    """The activations of `layer` for the images x (C, H, W) or (N, C, H, W), as a NumPy array with the
    layer's output shape for the batch: (N, C_out, Ho, Wo) for a conv layer (N = 1 for one image)."""
    return as_numpy(capture(model, batch(x, model), layer))


def batch(x, model: Module | None = None) -> Tensor:
    """x as a Tensor with a batch dimension, in the dtype of model's parameters."""
    from ...creation import tensor

    data = as_numpy(x) if not isinstance(x, Tensor) else x.array
    params = list(model.parameters()) if model is not None else []
    if data.ndim == 3:
        data = data[None]
    if not params:
        return tensor(data)
    return tensor(data, dtype=params[0].dtype, device=params[0].device)
