"""Optimizer: parameter groups, per-parameter state, zero_grad, step and state_dict (PyTorch's torch.optim API).

Subclasses write one `_update(p, g, state, group)` that changes p.array in place; the base class does the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from ..backend import array_module, to_device
from ..tensor import Tensor, enable_grad


class _State(MutableMapping):
    """optimizer.state[p] -> dict, created on first access like PyTorch's defaultdict(dict)."""

    def __init__(self):
        # keyed by id(p) because Tensors are unhashable (== is elementwise); holding p keeps its id unique
        self._items: dict[int, tuple[Tensor, dict]] = {}

    def __getitem__(self, p: Tensor) -> dict:
        item = self._items.get(id(p))
        if item is None:
            item = self._items[id(p)] = (p, {})
        return item[1]

    def __setitem__(self, p: Tensor, value: dict) -> None:
        self._items[id(p)] = (p, value)

    def __delitem__(self, p: Tensor) -> None:
        del self._items[id(p)]

    def __contains__(self, p) -> bool:
        return id(p) in self._items

    def __iter__(self):
        return (p for p, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class Optimizer:
    """Base class: params is an iterable of Tensors or of dicts {"params": [...], <hyperparameter>: value}."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a Tensor; "
                "pass [tensor] or model.parameters()"
            )
        self.defaults = defaults
        self._check_hyperparameters(defaults)
        self.state = _State()
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ValueError for out-of-range hyperparameters in group (checked for defaults and every group)."""

    def _check_nonnegative(self, group: dict[str, Any], key: str, what: str) -> None:
        value = group[key]
        if not 0.0 <= value:  # NOTE: written so that NaN fails too
            raise ValueError(f"{type(self).__name__}: Invalid {what}: {value}; expected {key} >= 0")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group; hyperparameters it leaves out take the optimizer's defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(f"{name}: params must be an ordered collection (a list), not a set: sets reorder")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: optimizer can only optimize Tensors, but one of the params is {type(p)}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {tuple(p.shape)}); use .detach()")
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        seen = {id(q) for g in self.param_groups for q in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids) or not seen.isdisjoint(ids):
            raise ValueError(f"{name}: some parameters appear more than once (in one group or in several groups)")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """p.grad = None for every parameter, or fill it with zeros in place when set_to_none=False."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.array.fill(0)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; closure() re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.array, self.state[p], group)
                    # the update wrote p.array in place: a graph that saved the old values must refuse backward
                    p._version += 1
        return loss

    def _update(self, p: Tensor, g, state: dict, group: dict[str, Any]) -> None:
        """Update p.array in place from its gradient array g (never written) and its state."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: array or number}}, "param_groups": [{..., "params": [index, ...]}]}."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        # NOTE: arrays are copied: the dict is a snapshot even if the optimizer keeps stepping before it is saved
        state = {
            index[id(p)]: {k: v.copy() if hasattr(v, "shape") else v for k, v in s.items()}
            for p, s in self.state.items()
            if s
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by state_dict(); parameters are matched by position."""
        name = type(self).__name__
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state dict has {len(saved)} parameter groups, "
                f"but the optimizer has {len(self.param_groups)}"
            )
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(s['params'])} parameters in the "
                    f"loaded state dict, but {len(g['params'])} in the optimizer"
                )
        by_index = {i: p for s, g in zip(saved, self.param_groups) for i, p in zip(s["params"], g["params"])}
        state = _State()
        for i, s in state_dict["state"].items():
            p = by_index[i]
            state[p] = {k: _like_param(v, p) for k, v in s.items()}
        self.state = state
        self.param_groups = [{**s, "params": g["params"]} for s, g in zip(saved, self.param_groups)]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _like_param(value, p: Tensor):
    """A copy of a saved state array on p's device and in p's dtype; numbers pass through."""
    if not hasattr(value, "shape"):
        return value
    return to_device(value, p.device).astype(p.dtype, copy=True)


def _direction(g, x, weight_decay: float, maximize: bool):
    """±g + weight_decay * x: the gradient after `maximize` and L2 decay. A new array unless it is g itself."""
    if weight_decay:
        d = _scaled(x, weight_decay)  # the same sum as PyTorch's grad.add(param, alpha=weight_decay)
        if maximize:
            d -= g
        else:
            d += g
        return d
    return _scaled(g, -1.0) if maximize else g


def _scaled(a, c):
    """a * c as a new array; NOTE: for 0-d arrays NumPy's a * c gives a scalar, which in-place ops cannot update."""
    xp = array_module(a)
    return xp.multiply(a, c, out=xp.empty_like(a))


def _lerp_(a, b, weight: float, tmp) -> None:
    """a <- a + weight * (b - a) in place, in PyTorch's two-branch form (exact at weight 1); tmp is scratch."""
    tmp[...] = b
    tmp -= a
    if weight < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1 - weight
        a[...] = b
        a -= tmp
