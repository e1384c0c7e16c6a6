"""The four ways to differentiate side by side: a comparison table, the finite-difference step-size study,
and the cost sweep over input and output dimensions (forward mode grows with inputs, reverse with outputs).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from .. import ops
from ..autodiff import dual as dual_numbers
from ..autodiff.numerical import numerical_jacobian
from ..autodiff.transforms import _as_tensor, grad, jacfwd, jacrev
from ..backend import to_device
from ..tensor import Tensor, no_grad


@dataclass
class Row:
    """One method's Jacobians (per input, (out.size, in.size) float64) with its cost."""

    method: str
    jacobians: list
    seconds: float
    evaluations: str
    max_diff: float = float("nan")  # from reverse mode
    closed_diff: float | None = None  # from the closed form, when one was given


@dataclass
class Comparison:
    """The rows of compare(); str() gives the table."""

    rows: list[Row]
    note: str = ""

    def __getitem__(self, method: str) -> Row:
        for r in self.rows:
            if r.method == method:
                return r
        raise KeyError(f"no method {method!r}; have {[r.method for r in self.rows]}")

    def __str__(self) -> str:
        closed = any(r.closed_diff is not None for r in self.rows)
        head = f"{'method':22s} {'max |diff| vs reverse':>22s}" + (f" {'vs closed form':>15s}" if closed else "")
        lines = [head + f" {'time':>10s}  evaluations"]
        for r in self.rows:
            line = f"{r.method:22s} {r.max_diff:22.3e}"
            if closed:
                line += f" {r.closed_diff:15.3e}" if r.closed_diff is not None else f" {'':15s}"
            lines.append(line + f" {_fmt_time(r.seconds):>10s}  {r.evaluations}")
        return "\n".join(lines + ([self.note] if self.note else []))


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


class _Counted:
    """f that counts its calls."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args):
        self.calls += 1
        return self.f(*args)


def _flat(jacs, out_size: int) -> list[np.ndarray]:
    jacs = jacs if isinstance(jacs, tuple) else (jacs,)
    return [
        np.asarray(to_device(j.array if isinstance(j, Tensor) else j, "cpu"), dtype=np.float64).reshape(out_size, -1)
        for j in jacs
    ]


def compare(f, *inputs, reference=None, dual=None, eps: float = 1e-6, symbolic: bool = True) -> Comparison:
    """Differentiate f at inputs by finite differences, SymPy, reverse mode and forward mode; compare to reverse.

    reference(*inputs) gives the exact Jacobian(s) (a closed form) for a second column; dual, a version of f
    on toynn.autodiff.dual numbers (scalar input and output), adds a dual-number row.
    """
    inputs = tuple(_as_tensor(x) for x in inputs)
    argnums = tuple(range(len(inputs)))
    with no_grad():
        m = f(*inputs).array.size
    n = sum(x.array.size for x in inputs)
    rows, note = [], ""

    counted = _Counted(f)
    start = time.perf_counter()
    # NOTE: numerical_jacobian perturbs its inputs in place: give it copies, never the caller's tensors
    fd = numerical_jacobian(counted, [Tensor(x.array.copy()) for x in inputs], eps)[0]
    rows.append(Row("finite differences", fd, time.perf_counter() - start, f"{counted.calls} f calls (2 per input)"))

    if symbolic:
        try:
            from . import symbolic as sym

            start = time.perf_counter()
            result = sym.derivative(f, *inputs, simplify=False)
            jac = _flat(result.evaluate(*inputs), m)
            rows.append(
                Row(
                    "symbolic (SymPy)",
                    jac,
                    time.perf_counter() - start,
                    f"n/a (f' has {result.size} ops, {result.cse_size} after CSE)",
                )
            )
        except ImportError:
            note = "symbolic: skipped, SymPy is not installed (pip install sympy)"

    counted = _Counted(f)
    start = time.perf_counter()
    rev = _flat(jacrev(counted, argnums)(*inputs), m)
    rows.append(
        Row("reverse mode", rev, time.perf_counter() - start, f"{counted.calls} f + {m} backward (1 per output)")
    )

    counted = _Counted(f)
    start = time.perf_counter()
    fwd = _flat(jacfwd(counted, argnums)(*inputs), m)
    rows.append(Row("forward mode", fwd, time.perf_counter() - start, f"{counted.calls} jvp (1 per input)"))

    if dual is not None:
        if n != 1 or m != 1:
            raise ValueError(f"compare: dual= needs one scalar input and output; f maps {n} numbers to {m}")
        x = float(inputs[0].array)
        counted = _Counted(dual)
        start = time.perf_counter()
        d = dual_numbers.derivative(counted, x)
        rows.append(Row("dual numbers", [np.array([[d]])], time.perf_counter() - start, f"{counted.calls} dual pass"))

    exact = None
    if reference is not None:
        exact = _flat(reference(*[x.array for x in inputs]), m)
    for r in rows:
        r.max_diff = max(float(np.abs(a - b).max(initial=0.0)) for a, b in zip(r.jacobians, rev))
        if exact is not None:
            r.closed_diff = max(float(np.abs(a - b).max(initial=0.0)) for a, b in zip(r.jacobians, exact))
    return Comparison(rows, note)


# ---------------------------------------------------------------------------------------------
# Finite differences: the step size


@dataclass
class StepSizeStudy:
    """Max error of the finite-difference gradient against reverse mode, for each eps."""

    method: str
    eps: np.ndarray
    errors: np.ndarray
    reference: np.ndarray

    @property
    def best_eps(self) -> float:
        return float(self.eps[np.argmin(self.errors)])

    @property
    def best_error(self) -> float:
        return float(self.errors.min())

    def __str__(self) -> str:
        lines = [f"{self.method} differences: max |error| vs reverse mode", f"{'eps':>9s} {'error':>10s}"]
        for e, err in zip(self.eps, self.errors):
            mark = "  <- best" if e == self.best_eps else ""
            lines.append(f"{e:9.1e} {err:10.2e}{mark}")
        return "\n".join(lines)

    def plot(self, path) -> None:
        """Error against eps on log axes, written to path (matplotlib, Agg)."""
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.loglog(self.eps, np.maximum(self.errors, 1e-17), "o-")
        ax.set(xlabel="eps", ylabel="max |error|", title=f"{self.method} differences vs reverse mode")
        ax.invert_xaxis()
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def step_size_study(f, x, eps_values=np.logspace(-1, -15, 29), method: str = "central") -> StepSizeStudy:
    """Finite-difference gradient error at each eps for a scalar-valued f: truncation falls, then rounding rises.

    central: (f(x + eps e_i) - f(x - eps e_i)) / 2eps, error ~ eps^2 + u/eps; forward: (f(x + eps e_i) - f(x)) / eps,
    error ~ eps + u/eps (u: the float's unit roundoff). The reference is reverse mode.
    """
    if method not in ("central", "forward"):
        raise ValueError(f"step_size_study: method must be 'central' or 'forward'; got {method!r}")
    x = _as_tensor(x)
    reference = to_device(grad(f)(x).array, "cpu").astype(np.float64)
    base = x.array
    errors = []
    with no_grad():
        f0 = float(f(Tensor(base.copy())).array)
        for eps in eps_values:
            g = np.empty(base.shape)
            for idx in np.ndindex(base.shape):
                plus = base.copy()
                plus[idx] += eps
                f_plus = float(f(Tensor(plus)).array)
                if method == "central":
                    minus = base.copy()
                    minus[idx] -= eps
                    g[idx] = (f_plus - float(f(Tensor(minus)).array)) / (2 * eps)
                else:
                    g[idx] = (f_plus - f0) / eps
            errors.append(float(np.abs(g - reference).max()))
    return StepSizeStudy(method, np.asarray(eps_values, dtype=np.float64), np.asarray(errors), reference)


# ---------------------------------------------------------------------------------------------
# The cost sweep: f(x) = tanh(W x), W (m, n)


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def sweep_point(n: int, m: int, repeats: int = 3, seed: int = 0) -> list[dict]:
    """Seconds for the full Jacobian of f(x) = tanh(W x), W (m, n), float64, by each method, with pass counts."""
    rng = np.random.default_rng(seed)
    W = Tensor(rng.standard_normal((m, n)) / np.sqrt(n))
    x = Tensor(rng.standard_normal(n))

    def f(v):
        return ops.tanh(ops.matmul(W, v))

    def fd():
        return numerical_jacobian(f, [Tensor(x.array.copy())])

    methods = [
        ("forward mode", lambda: jacfwd(f)(x), f"{n} jvp"),
        ("reverse mode", lambda: jacrev(f)(x), f"1 f + {m} backward"),
        ("finite differences", fd, f"{2 * n + 1} f"),
    ]
    return [
        {"method": name, "n": n, "m": m, "seconds": _median_seconds(run, repeats), "passes": passes}
        for name, run, passes in methods
    ]


def cost_sweep(sizes=(1, 10, 100, 1000), fixed: int = 10, repeats: int = 3) -> list[dict]:
    """sweep_point over n in sizes with m = fixed ("vary": "n"), then over m in sizes with n = fixed ("vary": "m")."""
    rows = []
    for s in sizes:
        rows += [dict(r, vary="n") for r in sweep_point(s, fixed, repeats)]
    for s in sizes:
        rows += [dict(r, vary="m") for r in sweep_point(fixed, s, repeats)]
    return rows


def format_sweep(rows: list[dict]) -> str:
    """The sweep as Markdown tables: one for growing inputs n, one for growing outputs m."""
    out = []
    for vary, other in (("n", "m"), ("m", "n")):
        part = [r for r in rows if r["vary"] == vary]
        if not part:
            continue
        methods = list(dict.fromkeys(r["method"] for r in part))
        fixed = part[0][other]
        out.append(
            f"Inputs n growing, outputs m = {fixed}:" if vary == "n" else f"Outputs m growing, inputs n = {fixed}:"
        )
        out.append("")
        out.append(f"| {vary} | " + " | ".join(methods) + " |")
        out.append("|---:|" + "---:|" * len(methods))
        for size in dict.fromkeys(r[vary] for r in part):
            cells = {r["method"]: r for r in part if r[vary] == size}
            out.append(
                f"| {size} | "
                + " | ".join(f"{_fmt_time(cells[k]['seconds'])} ({cells[k]['passes']})" for k in methods)
                + " |"
            )
        out.append("")
    return "\n".join(out)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_sweep(rows: list[dict], path) -> None:
    """Cost against n (m fixed) and against m (n fixed), log axes, one line per method; written to path."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (vary, other) in zip(axes, (("n", "m"), ("m", "n"))):
        part = [r for r in rows if r["vary"] == vary]
        for method in dict.fromkeys(r["method"] for r in part):
            pts = [(r[vary], r["seconds"]) for r in part if r["method"] == method]
            ax.loglog(*zip(*pts), "o-", label=method)
        fixed = part[0][other] if part else "?"
        name = "inputs" if vary == "n" else "outputs"
        ax.set(xlabel=f"{name} {vary} ({other} = {fixed})", title=f"full Jacobian of tanh(W x): cost vs {name}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds (median)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
