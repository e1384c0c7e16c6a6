"""Symbolic differentiation: record a toynn function's graph, translate each node into SymPy, differentiate.

SymPy is optional and imported inside the functions. Values that steer f (Python branches, masks
passed to where, which side of its bounds clamp is on) are frozen at the traced inputs, as in torch.jit.trace;
ReLU, abs, maximum and amax stay exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import ops
from ..backend import to_device
from ..tensor import Tensor, enable_grad, toposort


def _sympy():
    try:
        import sympy
    except ImportError:
        raise ImportError("toynn.autodiff.symbolic needs SymPy: pip install sympy") from None
    return sympy


def _obj(value) -> np.ndarray:
    """value as an object array (a 0-d one for a single expression)."""
    if isinstance(value, np.ndarray):
        return value.astype(object, copy=False)
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def _number(v: float):
    """A SymPy number that prints as the lecture writes it: 3 and 1/2 rather than 3.0 and 0.5."""
    sp = _sympy()
    r = sp.Rational(float(v)).limit_denominator(1000)
    return r if float(r) == float(v) else sp.Float(float(v))


def _constant(array) -> np.ndarray:
    host = np.asarray(to_device(array, "cpu"))  # once, not per element
    out = np.empty(np.shape(host), dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = _number(host[idx])
    return out


def _map(fn, a: np.ndarray) -> np.ndarray:
    return _obj(np.frompyfunc(fn, 1, 1)(a))


def _reduce(a: np.ndarray, axis, keepdims: bool, fn) -> np.ndarray:
    """fn(*elements) over the axes of an object array (NumPy's object reductions cannot take Max or a tuple)."""
    axes = tuple(range(a.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    kept = tuple(d for d in range(a.ndim) if d not in axes)
    rows = a.transpose(kept + axes).reshape(tuple(a.shape[d] for d in kept) + (-1,))  # (kept..., reduced)
    out = np.empty(rows.shape[:-1], dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = fn(*rows[idx])
    if keepdims:
        out = out.reshape(tuple(1 if d in axes else n for d, n in enumerate(a.shape)))
    return out


def _pad(fn, out: Tensor, x):
    y = _constant(out.array)  # the padding value, whatever it was, is in the output
    y[fn.slices] = x
    return y


def _setitem(fn, x, v):
    y = x.copy()
    y[fn.index] = v
    return y


def _rules() -> dict:
    """Function class -> (fn, output tensor, *input expressions) -> output expressions."""
    from ..nn import functional as F  # nn is imported after autodiff by toynn/__init__

    sp = _sympy()

    def relu(a):
        return sp.Piecewise((a, a > 0), (0, True))  # derivative 0 at 0, as the op's rule

    def add(*a):
        return sp.Add(*a)

    def logsumexp(*a):
        return sp.log(sp.Add(*[sp.exp(e) for e in a]))

    return {
        ops.Add: lambda fn, out, a, b: a + b,
        ops.Sub: lambda fn, out, a, b: a - b,
        ops.Mul: lambda fn, out, a, b: a * b,
        ops.Div: lambda fn, out, a, b: a / b,
        ops.Pow: lambda fn, out, a, b: a**b,
        ops.PowScalar: lambda fn, out, a: a ** _number(fn.p),
        ops.Neg: lambda fn, out, a: -a,
        ops.Exp: lambda fn, out, a: _map(sp.exp, a),
        ops.Log: lambda fn, out, a: _map(sp.log, a),
        ops.Sqrt: lambda fn, out, a: _map(sp.sqrt, a),
        ops.Abs: lambda fn, out, a: _map(sp.Abs, a),
        ops.Sin: lambda fn, out, a: _map(sp.sin, a),
        ops.Cos: lambda fn, out, a: _map(sp.cos, a),
        ops.Tanh: lambda fn, out, a: _map(sp.tanh, a),
        ops.Sigmoid: lambda fn, out, a: _map(lambda e: 1 / (1 + sp.exp(-e)), a),
        ops.ReLU: lambda fn, out, a: _map(relu, a),
        # Clamp's node keeps no bounds: where the mask is off, the output is the constant bound
        ops.Clamp: lambda fn, out, a: _obj(np.where(to_device(fn.mask, "cpu"), a, _constant(out.array))),
        ops.Maximum: lambda fn, out, a, b: _obj(np.frompyfunc(sp.Max, 2, 1)(a, b)),
        ops.Where: lambda fn, out, a, b: _obj(np.where(to_device(fn.cond, "cpu"), a, b)),
        ops.Sum: lambda fn, out, a: _reduce(a, fn.axis, fn.keepdims, add),
        ops.Mean: lambda fn, out, a: _reduce(a, fn.axis, fn.keepdims, add) * sp.Rational(1, fn.n),
        ops.Amax: lambda fn, out, a: _reduce(a, fn.axis, fn.keepdims, sp.Max),
        ops.LogSumExp: lambda fn, out, a: _reduce(a, fn.axis, fn.keepdims, logsumexp),
        ops.LogSoftmax: lambda fn, out, a: a - _reduce(a, fn.axis, True, logsumexp),
        ops.MatMul: lambda fn, out, a, b: _obj(a @ b),
        F.Affine: lambda fn, out, a, w, b=None: _obj(a @ w.T) + (0 if b is None else b),
        ops.Reshape: lambda fn, out, a: a.reshape(fn.shape_out),
        ops.Permute: lambda fn, out, a: a.transpose(fn.dims),
        ops.Expand: lambda fn, out, a: np.broadcast_to(a, fn.shape_out),
        ops.GetItem: lambda fn, out, a: _obj(a[fn.index]),
        ops.SetItem: lambda fn, out, a, v: _setitem(fn, a, v),
        ops.Pad: lambda fn, out, a: _pad(fn, out, a),
        ops.Cat: lambda fn, out, *a: np.concatenate(a, axis=fn.axis),
        ops.Cast: lambda fn, out, a: a,
        ops.Clone: lambda fn, out, a: a,
        ops.ToDevice: lambda fn, out, a: a,
    }


def _names(count: int, names) -> list[str]:
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        if len(names) != count:
            raise ValueError(f"symbolic: got {len(names)} names for {count} inputs")
        return names
    return ["x", "y", "z", "w"][:count] if count <= 4 else [f"x{i}" for i in range(count)]


def _symbols(name: str, shape: tuple) -> np.ndarray:
    """One real SymPy symbol per element: x for a scalar, x_0, x_1 ... (x_0_1 for 2-D) for a tensor."""
    sp = _sympy()
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = sp.Symbol("_".join([name, *map(str, idx)]), real=True)
    return out


def trace(f, *inputs, names=None) -> tuple[list[np.ndarray], np.ndarray]:
    """(symbols, expression): f's graph at `inputs`, translated op by op into SymPy (object arrays)."""
    leaves = [
        Tensor(
            np.asarray(to_device(x.array, "cpu") if isinstance(x, Tensor) else x, dtype=np.float64), requires_grad=True
        )
        for x in inputs
    ]
    symbols = [_symbols(n, x.shape) for n, x in zip(_names(len(leaves), names), leaves)]
    with enable_grad():
        out = f(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"symbolic.trace: f must return a Tensor; got {type(out).__name__}")
    rules = _rules()
    exprs = {id(x): s for x, s in zip(leaves, symbols)}
    for t in toposort(out, only_grad=False):
        if id(t) in exprs:
            continue
        fn = t._ctx
        if fn is None:  # a tensor f made from constants (or a parameter): a number in the expression
            exprs[id(t)] = _constant(t.array)
            continue
        rule = rules.get(type(fn))
        if rule is None:
            raise NotImplementedError(
                f"symbolic.trace: no SymPy translation for {type(fn).__name__}; supported: "
                + ", ".join(sorted(c.__name__ for c in rules))
            )
        exprs[id(t)] = _obj(rule(fn, t, *[exprs[id(p)] for p in fn.parents]))
    return symbols, exprs[id(out)]


def expression_size(exprs) -> int:
    """Operations in the expression trees, each repeated subtree counted again (sympy.count_ops)."""
    sp = _sympy()
    return int(sum(sp.count_ops(e) for e in np.ravel(_obj(exprs)) if isinstance(e, sp.Basic)))


def cse_size(exprs) -> int:
    """Operations after common-subexpression elimination: each shared subtree computed once (sympy.cse)."""
    sp = _sympy()
    flat = [e for e in np.ravel(_obj(exprs)) if isinstance(e, sp.Basic)]
    replacements, reduced = sp.cse(flat)
    return int(sum(sp.count_ops(r) for _, r in replacements) + sum(sp.count_ops(e) for e in reduced))


def _unwrap(a: np.ndarray):
    return a[()] if a.ndim == 0 else a


@dataclass
class SymbolicResult:
    """f traced into SymPy and its Jacobian: per input an object array of shape out.shape + in.shape."""

    symbols: list
    expr: object
    derivative: object  # one input: an expression or object array; several inputs: a tuple of them
    simplified: object | None
    size: int  # count_ops of the derivative as trees
    cse_size: int  # count_ops of the derivative after sympy.cse
    seconds: float = 0.0
    _jacobians: list = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The (simplified when available) derivative as text."""
        return str(self.simplified if self.simplified is not None else self.derivative)

    @property
    def latex(self) -> str:
        """The (simplified when available) derivative as LaTeX."""
        sp = _sympy()
        d = self.simplified if self.simplified is not None else self.derivative
        parts = d if isinstance(d, tuple) else (d,)
        return ",\\ ".join(sp.latex(sp.Array(p.tolist()) if isinstance(p, np.ndarray) else p) for p in parts)

    def evaluate(self, *values):
        """The Jacobian(s) at `values` (one per input) as float arrays of shape out.shape + in.shape."""
        sp = _sympy()
        if len(values) != len(self.symbols):
            raise ValueError(f"evaluate: f has {len(self.symbols)} inputs; got {len(values)} values")
        flat_symbols = [s for sym in self.symbols for s in np.ravel(sym)]
        flat_values = [
            float(v) for x in values for v in np.ravel(x.array if isinstance(x, Tensor) else np.asarray(x, dtype=float))
        ]
        entries = [e for jac in self._jacobians for e in np.ravel(jac)]
        numbers = sp.lambdify(flat_symbols, entries, modules="numpy")(*flat_values) if entries else []
        out, start = [], 0
        for jac in self._jacobians:
            out.append(np.asarray(numbers[start : start + jac.size], dtype=np.float64).reshape(jac.shape))
            start += jac.size
        return out[0] if len(out) == 1 else tuple(out)


def derivative(f, *inputs, names=None, simplify: bool = True) -> SymbolicResult:
    """Trace f at `inputs` (numbers, arrays or Tensors), differentiate each output by each input symbol."""
    sp = _sympy()
    start = time.perf_counter()
    symbols, expr = trace(f, *inputs, names=names)
    jacobians = []
    for sym in symbols:
        jac = np.empty(expr.shape + sym.shape, dtype=object)  # out.shape + in.shape, as jacrev
        for i in np.ndindex(expr.shape):
            for j in np.ndindex(sym.shape):
                jac[i + j] = sp.diff(expr[i], sym[j])
        jacobians.append(jac)
    simplified = [_map(sp.simplify, jac) for jac in jacobians] if simplify else None
    pick = (lambda js: _unwrap(js[0])) if len(jacobians) == 1 else (lambda js: tuple(_unwrap(j) for j in js))
    return SymbolicResult(
        symbols=[_unwrap(s) for s in symbols],
        expr=_unwrap(expr),
        derivative=pick(jacobians),
        simplified=pick(simplified) if simplified is not None else None,
        size=sum(expression_size(j) for j in jacobians),
        cse_size=cse_size(np.concatenate([j.ravel() for j in jacobians])),
        seconds=time.perf_counter() - start,
        _jacobians=jacobians,
    )


def _nested(step: str, depth: int):
    """x -> step(x) applied `depth` times, as a toynn function."""

    def f(x):
        for _ in range(depth):
            x = x * ops.sin(x) if step == "x*sin(x)" else ops.sin(x)
        return x

    return f


def _graph_nodes(f, x: float) -> int:
    """Function nodes in the graph toynn records for f at x."""
    with enable_grad():
        out = f(Tensor(np.float64(x), requires_grad=True))
    return sum(t._ctx is not None for t in toposort(out, only_grad=False))


def swell_study(depths=range(1, 9), step: str = "x*sin(x)", x: float = 0.5) -> list[dict]:
    """Expression size of f and f' (as trees and after CSE) for f = step applied d times, and the graph's size.

    step is "x*sin(x)" (f uses its input twice: trees grow exponentially) or "sin" (f' grows quadratically).
    The toynn graph (what reverse mode walks) grows linearly in both cases.
    """
    if step not in ("x*sin(x)", "sin"):
        raise ValueError(f"swell_study: step must be 'x*sin(x)' or 'sin'; got {step!r}")
    rows = []
    for d in depths:
        result = derivative(_nested(step, d), x, simplify=False)
        rows.append(
            {
                "depth": d,
                "f_size": expression_size(result.expr),
                "df_size": result.size,
                "df_cse_size": result.cse_size,
                "graph_nodes": _graph_nodes(_nested(step, d), x),
                "seconds": result.seconds,
            }
        )
    return rows


def format_swell(rows: list[dict]) -> str:
    """The swell study as a Markdown table."""
    lines = [
        "| depth | f: ops (tree) | f': ops (tree) | f': ops after CSE | toynn graph nodes | SymPy time |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['depth']} | {r['f_size']} | {r['df_size']} | {r['df_cse_size']} | {r['graph_nodes']} | "
            f"{r['seconds'] * 1e3:.1f} ms |"
        )
    return "\n".join(lines)
