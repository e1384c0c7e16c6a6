"""`toynn example`: the lecture's worked backprop example, traced node by node."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `example` subcommand on an argparse subparsers object."""
    ex = subparsers.add_parser("example", help="the lecture's worked backprop example J = cos(sin(x^2) + 3x^2)")
    ex.add_argument("--x", type=float, default=1.5, help="the input x")
    ex.set_defaults(handler=run)
    return ex


def run(args) -> int:
    """The handler: print the forward and backward trace; 0 on success."""
    from ..lecture import backprop_example

    backprop_example(args.x)
    return 0
