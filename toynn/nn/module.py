"""Module (parameters, buffers, sub-modules, state_dict), Parameter, and the containers.

Members are found by walking each module's attributes (vars), in assignment order, instead of
PyTorch's __setattr__ bookkeeping. Within a module its own parameters come before those of its
sub-modules, as in PyTorch, so names and order match a PyTorch model with the same definition.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterable, Iterator

import numpy as np

from ..backend import device as _device  # the class; `device` is an argument name below
from ..backend import device_of, to_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module owns and trains: requires_grad=True unless told otherwise."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        super().__init__(np.empty(0, dtype=np.float32) if data is None else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _join(prefix: str, name) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _in_container(value, prefix: str, kind: type) -> Iterator[tuple[str, object]]:
    """(dotted name, item) for items of type `kind` inside plain lists, tuples and dicts."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, v in items:
        if isinstance(v, kind):
            yield _join(prefix, key), v
        elif isinstance(v, (list, tuple, dict)):
            yield from _in_container(v, _join(prefix, key), kind)


class Module:
    """Base class of layers and models: subclasses set attributes in __init__ and define forward."""

    training = True  # a class default, so subclasses need not call super().__init__()

    def __init__(self):
        pass

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- registration -----------------------------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not trained (running statistics); saved in state_dict if persistent."""
        if "_buffers" not in vars(self):
            self._buffers = {}  # name -> persistent; the tensor itself is a plain attribute
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: cannot assign {type(tensor).__name__} as buffer {name!r}; expected a Tensor"
            )
        self._buffers[name] = persistent
        setattr(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign {type(param).__name__} as parameter {name!r}")
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        if "." in str(name) or name == "":
            raise KeyError(f'add_module: module name can\'t contain "." or be empty; got {name!r}')
        if hasattr(type(self), str(name)):
            raise KeyError(f"add_module: attribute {name!r} already exists")
        setattr(self, str(name), module)

    # -- walking ----------------------------------------------------------------------------------
    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for name, v in vars(self).items():
            if isinstance(v, Parameter):
                yield name, v
            elif isinstance(v, (list, tuple, dict)):
                yield from _in_container(v, name, Parameter)

    def _own_buffers(self, persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        attrs = vars(self)
        for name, persistent in attrs.get("_buffers", {}).items():
            if attrs.get(name) is not None and (persistent or not persistent_only):
                yield name, attrs[name]

    def _child_items(self) -> Iterator[tuple[str, Module]]:
        for name, v in vars(self).items():
            if isinstance(v, Module):
                yield name, v
            elif isinstance(v, (list, tuple, dict)):
                yield from _in_container(v, name, Module)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._child_items():
            if id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for self and every sub-module, depth first in attribute order."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # iterative, so deep nets do not hit the recursion limit
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in memo:
                    continue
                memo.add(id(m))
            yield name, m
            stack.extend(reversed([(_join(name, n), c) for n, c in m._child_items()]))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs; a tied parameter appears once, under its first name."""
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        seen = set()
        for mname, m in modules:
            for name, p in m._own_parameters():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield _join(mname, name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        seen = set()
        for mname, m in modules:
            for name, b in m._own_buffers():
                if remove_duplicate:
                    if id(b) in seen:
                        continue
                    seen.add(id(b))
                yield _join(mname, name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn) -> Module:
        """Call fn on every sub-module, then on self (e.g. a custom initialisation)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag of self and all sub-modules (Dropout, BatchNorm read it)."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool; got {type(mode).__name__}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.array[...] = 0

    # -- device and dtype -------------------------------------------------------------------------
    def to(self, *args, device=None, dtype=None) -> Module:
        """Move parameters and buffers to a device (a str or a toynn.device) and/or cast floating-point ones to
        dtype, in place."""
        for a in args:
            if isinstance(a, (str, _device)):
                device = a
            elif isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            else:
                dtype = a
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes; got {dtype}")
        device = None if device is None else str(device).split(":")[0]

        def convert(array):
            if device is not None and device_of(array) != device:
                array = to_device(array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            return array

        # NOTE: the Parameter objects stay the same, so optimizers holding them keep working
        for t in [*self.parameters(), *self.buffers()]:
            t.array = convert(t.array)
            if t.grad is not None:
                t.grad.array = convert(t.grad.array)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # -- state_dict -------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Name -> tensor for every parameter and persistent buffer; tied tensors appear under each name."""
        out = OrderedDict() if destination is None else destination
        for mname, m in self.named_modules(prefix=prefix, remove_duplicate=False):
            for name, t in [*m._own_parameters(), *m._own_buffers(persistent_only=True)]:
                out[_join(mname, name)] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values into the parameters and buffers in place (cast to their dtype and device).

        Raises RuntimeError listing missing and unexpected keys (when strict) and shape mismatches
        (always); nothing is copied then. Returns (missing_keys, unexpected_keys).
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values, mismatched = {}, []
        for key, t in own.items():
            if key not in state_dict:
                continue
            v = state_dict[key]
            v = v.array if isinstance(v, Tensor) else np.asarray(v)  # NumPy arrays and torch tensors work too
            if tuple(v.shape) != tuple(t.shape):
                mismatched.append(
                    f"shape mismatch for {key}: expected {tuple(t.shape)} (the model's), got {tuple(v.shape)}"
                )
            values[key] = v
        problems = []
        if strict and missing:
            problems.append("missing keys (in the model, not in the state_dict): " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys (in the state_dict, not in the model): " + ", ".join(unexpected))
        problems += mismatched
        if problems:
            raise RuntimeError(
                f"load_state_dict for {type(self).__name__}: the state_dict does not fit the model\n  "
                + "\n  ".join(problems)
            )
        for key, v in values.items():
            t = own[key]
            v = to_device(v, t.device).astype(t.dtype, copy=False)
            if assign:
                t.array = v.copy()
            else:
                t.array[...] = v  # in place: optimizers and tied modules keep seeing the same array
        return IncompatibleKeys(missing, unexpected)

    # -- repr -------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its repr (e.g. in_features=784, out_features=512)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._child_items()]
        if children or len(lines) > 1:
            return f"{type(self).__name__}(\n  " + "\n  ".join(lines + children) + "\n)"
        return f"{type(self).__name__}({extra})"


class ModuleList(Module):
    """A list of modules whose parameters are registered, named "0", "1", ..."""

    def __init__(self, modules: Iterable[Module] | None = None):
        if modules is not None:
            self.extend(modules)

    def _modules(self) -> list[Module]:
        return [m for _, m in self._child_items()]

    def __len__(self) -> int:
        return len(self._modules())

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(self._modules()[idx])
        return self._modules()[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        names = [n for n, _ in self._child_items()]
        setattr(self, names[idx], module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = self._modules()
        mods.insert(index, module)
        for name in [n for n, _ in self._child_items()]:
            delattr(self, name)
        self.extend(mods)


class Sequential(ModuleList):
    """Modules applied one after another: Sequential(a, b)(x) = b(a(x)). Names "0", "1"... or an OrderedDict's keys."""

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            self.extend(args)

    def __getitem__(self, idx):
        if isinstance(idx, slice):  # keep the names, as PyTorch does
            return Sequential(OrderedDict(list(self._child_items())[idx]))
        return self._modules()[idx]

    def forward(self, x):
        for m in self._modules():
            x = m(x)
        return x


class _KeyedModule(Module):
    """What ModuleDict and ParameterDict share: an ordered mapping whose entries (of type _entry) are the module's
    attributes, so that they are registered under their keys."""

    _entry: type = Module

    def __init__(self, entries=None):
        if entries is not None:
            self.update(entries)

    def __getitem__(self, key: str):
        if key not in self:
            raise KeyError(key)
        return vars(self)[key]

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key) -> bool:
        return isinstance(vars(self).get(key), self._entry)

    def keys(self) -> list[str]:
        return [k for k, v in vars(self).items() if isinstance(v, self._entry)]

    def items(self) -> list[tuple]:
        return [(k, vars(self)[k]) for k in self.keys()]

    def values(self) -> list:
        return [vars(self)[k] for k in self.keys()]

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def clear(self) -> None:
        for k in self.keys():
            delattr(self, k)

    def pop(self, key: str):
        value = self[key]
        del self[key]
        return value

    def update(self, entries) -> None:
        """Add (key, value) pairs from a mapping or an iterable of pairs; existing keys are replaced."""
        items = entries.items() if hasattr(entries, "items") else entries
        for j, item in enumerate(items):
            if len(item) != 2:
                raise ValueError(f"{type(self).__name__}.update: element #{j} should have length 2; got {len(item)}")
            self[item[0]] = item[1]


class ModuleDict(_KeyedModule):
    """An ordered dict of modules whose parameters are registered under their keys."""

    _entry = Module

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module) if key not in self else setattr(self, key, module)


class ParameterList(Module):
    """A list of Parameters registered as "0", "1", ...; plain Tensors are wrapped into Parameters."""

    def __init__(self, values=None):
        if values is not None:
            self.extend(values)

    def _keys(self) -> list[str]:
        return [k for k, v in vars(self).items() if isinstance(v, Parameter)]

    def __len__(self) -> int:
        return len(self._keys())

    def __iter__(self) -> Iterator[Parameter]:
        return (vars(self)[k] for k in self._keys())

    def __getitem__(self, idx):
        values = list(self)
        return ParameterList(values[idx]) if isinstance(idx, slice) else values[idx]

    def __setitem__(self, idx: int, value) -> None:
        setattr(self, self._keys()[idx], _as_parameter(value))

    def append(self, value) -> ParameterList:
        setattr(self, str(len(self)), _as_parameter(value))
        return self

    def extend(self, values) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(
            f"({i}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]" for i, p in enumerate(self)
        )


class ParameterDict(_KeyedModule):
    """An ordered dict of Parameters registered under their keys; plain Tensors are wrapped into Parameters."""

    _entry = Parameter

    def __setitem__(self, key: str, value) -> None:
        if key not in self and hasattr(type(self), str(key)):
            raise KeyError(f"ParameterDict: attribute {key!r} already exists")
        setattr(self, str(key), _as_parameter(value))


def _as_parameter(value) -> Parameter:
    """A Parameter as is; a Tensor wrapped into one that shares its array, as PyTorch's containers do."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.array)  # requires_grad=True, as PyTorch wraps it
    raise TypeError(f"expected a Parameter or a Tensor; got {type(value).__name__}")
