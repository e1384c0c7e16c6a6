"""`toynn summary MODEL`: the per-layer table of toynn.summary for a model of the zoo, or the lecture's
depthwise-separable example (`toynn summary separable-example`)."""

from __future__ import annotations

import argparse

SEPARABLE = "separable-example"
# input shape and class count when not given: each model's own data set (AlexNet: ImageNet)
DEFAULTS = {
    "alexnet": ((3, 224, 224), 1000),
    "allconv": ((3, 32, 32), 10),
    "allconv-pool": ((3, 32, 32), 10),
    "allconv-convpool": ((3, 32, 32), 10),
    "cifarnet": ((3, 32, 32), 10),
}
FALLBACK = ((1, 28, 28), 10)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `summary` subcommand on an argparse subparsers object."""
    from ..models import model_names

    p = subparsers.add_parser(
        "summary",
        help="per-layer output shapes, parameters, neurons and multiply-accumulates of a model",
        description="Print each layer's output shape, parameters, neurons (outputs of Linear and conv layers) "
        "and multiply-accumulates, with totals (definitions in docs/summary.md). "
        f"'{SEPARABLE}' compares Conv2d(3, 256, 5) with DepthwiseSeparableConv2d(3, 256, 5) on 3x12x12.",
    )
    p.add_argument("model", choices=[*sorted(model_names()), SEPARABLE], metavar="MODEL", help="%(choices)s")
    p.add_argument(
        "--input-shape",
        type=int,
        nargs="+",
        metavar="N",
        help="C H W of one input (default: 3 224 224 for alexnet, 3 32 32 for the CIFAR nets, else 1 28 28)",
    )
    p.add_argument("--classes", type=int, help="number of classes (default: 1000 for alexnet, else 10)")
    p.add_argument("--batch-size", type=int, default=1, help="neurons and MACs are for the whole batch")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    """The handler: build the model, print its summary table; 0 on success."""
    from ..models import build_model
    from ..nn.summary import separable_example, summary

    if args.model == SEPARABLE:
        standard, separable = separable_example()
        print(standard.table(markdown=args.markdown), end="\n\n")
        print(separable.table(markdown=args.markdown), end="\n\n")
        parts = " + ".join(f"{r.macs:,}" for r in separable.rows)
        print(
            f"multiplications: standard {standard.total_macs:,}; depthwise separable {parts} = "
            f"{separable.total_macs:,} ({standard.total_macs / separable.total_macs:.1f}x fewer); "
            f"parameters {standard.total_params:,} vs {separable.total_params:,}"
        )
        return 0
    shape, classes = DEFAULTS.get(args.model, FALLBACK)
    shape = tuple(args.input_shape) if args.input_shape else shape
    classes = args.classes if args.classes is not None else classes
    model = build_model(args.model, shape, classes)
    print(summary(model, shape, args.batch_size).table(markdown=args.markdown))
    return 0
