"""The `toynn` command: argparse subcommands, each a thin call into the library."""

from __future__ import annotations

import argparse
import sys


def _example(args) -> int:
    from .lecture import backprop_example

    backprop_example(args.x)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toynn", description="toynn: the neural-network library of the lecture 'Neural networks and CNN'."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ex = sub.add_parser("example", help="run the lecture's worked backprop example J = cos(sin(x^2) + 3x^2)")
    ex.add_argument("--x", type=float, default=1.5, help="the input x (default 1.5)")
    ex.set_defaults(run=_example)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # one clear line, not a traceback
        print(f"toynn {args.command}: error: {err}", file=sys.stderr)
        return 1
