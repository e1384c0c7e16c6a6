"""`toynn experiment NAME`: run one of toynn.lecture.experiments, print its table and say where the report went."""

from __future__ import annotations

import argparse

DESCRIPTIONS = {
    "ablation": "retrain a conv net with layers removed (Zeiler & Fergus Table 3): accuracy and parameters",
    "pooling-vs-strided": "max-pooling vs stride-2 convolutions (Springenberg et al.): accuracy, parameters, cost",
    "saturation": "per-layer activation mean, std and saturation of sigmoid/tanh/ReLU MLPs (Glorot & Bengio Fig 2)",
    "loss-surface": "cross-entropy vs quadratic cost over two weights of a two-layer net (Glorot & Bengio Fig 5)",
    "separable": "multiplications, parameters and time: standard vs depthwise vs spatially separable convolution",
    "curvature": "Newton's method vs gradient descent, and the top Hessian eigenvalues of the two-layer net (hvp)",
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `experiment` subcommand on an argparse subparsers object."""
    from ..data.registry import DATASETS

    p = subparsers.add_parser(
        "experiment",
        help="reproduce one of the lecture's claims: " + ", ".join(DESCRIPTIONS),
        description="Run an experiment: train what it needs, print a table, and write table.md, results.json "
        "and PNG plots into the report folder.\n\n" + "\n".join(f"  {k}: {v}" for k, v in DESCRIPTIONS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=list(DESCRIPTIONS), help="the experiment")
    p.add_argument("--quick", action="store_true", help="small settings that finish in seconds (a subset for big data)")
    p.add_argument("--data", default="digits", choices=list(DATASETS), help="data set (default: the bundled digits)")
    p.add_argument("--data-dir", default=None, help="folder holding the data set's files")
    p.add_argument("--out", default=None, help="report folder (default runs/experiment-NAME-TIME)")
    p.add_argument("--epochs", type=_positive_int, default=None, help="override the experiment's epochs")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    """The handler: run the experiment with progress lines, then print its table."""
    from ..lecture.experiments import EXPERIMENTS

    result = EXPERIMENTS[args.name](
        quick=args.quick,
        data=args.data,
        data_dir=args.data_dir,
        out=args.out,
        epochs=args.epochs,
        seed=args.seed,
        log=lambda line: print(line, flush=True),
    )
    print()
    print(result.table())
    for note in result.notes:
        print(f"- {note}")
    print(
        f"\nwrote {result.out / 'table.md'}, {result.out / 'results.json'}, " + ", ".join(str(p) for p in result.plots)
    )
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value
