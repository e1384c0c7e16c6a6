"""`toynn autodiff`: the four ways to differentiate on the lecture's J = cos(sin(x^2) + 3x^2), side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEFAULT_X = (-2.0, -0.3, 0.5, 1.5, 3.0)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `autodiff` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "autodiff",
        help="compare finite differences, SymPy, reverse and forward mode on J = cos(sin(x^2) + 3x^2)",
        description="Differentiate the lecture's J = cos(sin(x^2) + 3x^2) four ways (and by dual numbers) "
        "and print each method's difference from reverse mode and from the closed form, time and evaluations.",
    )
    p.add_argument("--x", type=float, nargs="+", default=list(DEFAULT_X), help="points to differentiate at")
    p.add_argument("--steps", action="store_true", help="also print the finite-difference step-size study at x[0]")
    p.add_argument("--swell", type=int, metavar="DEPTH", help="also print SymPy's expression swell up to DEPTH")
    p.add_argument("--sweep", action="store_true", help="run the cost sweep over input/output sizes 1..1000")
    p.add_argument("--out", type=Path, default=Path("autodiff-results"), help="folder for the sweep's table and plot")
    p.add_argument("--graph", type=Path, metavar="OUT", help="write J's graph with its gradients (.dot, .svg, .png)")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    """The handler: print the comparisons, then the optional studies; 0 on success."""
    from ..autodiff import dual
    from ..lecture.compare import compare
    from ..lecture.derivations import lecture_j, lecture_j_closed_form

    def j_dual(x):
        return dual.cos(dual.sin(x**2) + 3 * x**2)

    print("J = cos(sin(x^2) + 3x^2); closed form dJ/dx = -sin(sin(x^2) + 3x^2) (2x cos(x^2) + 6x)")
    for x in args.x:
        print(f"\nx = {x:g}: dJ/dx = {lecture_j_closed_form(x):.15g}")
        print(compare(lecture_j, x, reference=lambda v: np.array([[lecture_j_closed_form(float(v))]]), dual=j_dual))
    if args.steps:
        from ..lecture.compare import step_size_study

        for method in ("central", "forward"):
            print()
            print(step_size_study(lecture_j, args.x[0], method=method))
    if args.swell:
        from ..lecture.symbolic import format_swell, swell_study

        print("\nExpression swell, f = x -> x*sin(x) applied depth times:")
        print(format_swell(swell_study(range(1, args.swell + 1))))
    if args.sweep:
        from ..lecture.compare import cost_sweep, format_sweep, plot_sweep

        args.out.mkdir(parents=True, exist_ok=True)
        rows = cost_sweep()
        table = format_sweep(rows)
        (args.out / "sweep.md").write_text(table)
        plot_sweep(rows, args.out / "sweep.png")
        print(f"\nCost of the full Jacobian of tanh(W x), W (m, n):\n{table}")
        print(f"wrote {args.out / 'sweep.md'} and {args.out / 'sweep.png'}")
    if args.graph:
        return _write_graph(args.graph, args.x[0])
    return 0


def _write_graph(path: Path, x: float) -> int:
    from ..autodiff.reverse import trace_backward
    from ..lecture import viz
    from ..lecture.derivations import lecture_j_graph

    J, names = lecture_j_graph(x)
    steps = trace_backward(J, retain_graph=True)
    dot = viz.graph(J, names=names, increments=steps)
    print(f"\nBackward increments of J at x = {x:g}, in the order the walk makes them:")
    labels = {id(t): name for name, t in names.items()}
    for node, parent, g in steps:
        child, name = labels[id(node)], labels[id(parent)]
        print(f"  dJ/d{name} += dJ/d{child} * d{child}/d{name} = {float(g):.10f}")
    try:
        viz.render(dot, path)
    except RuntimeError as err:
        fallback = viz.render(dot, path.with_suffix(".dot"))
        print(f"{err}\nwrote the DOT text to {fallback}")
        return 1
    print(f"wrote {path}")
    return 0
