"""The `toynn` command: the parser of every subcommand (one module each in this package) and the dispatch."""

from __future__ import annotations

import argparse
import sys

from . import autodiff, evaluate, example, experiment, explore, predict, report, summary, train

COMMANDS = (train, evaluate, predict, example, autodiff, report, explore, experiment, summary)  # the order of --help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toynn", description="toynn: the neural-network library of the lecture 'Neural networks and CNN'."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)  # each sets its own handler
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, RuntimeError, FloatingPointError) as err:  # one clear line
        print(f"toynn {args.command}: error: {err}", file=sys.stderr)
        if getattr(args, "distributed", False):  # the other ranks would wait for this one until their timeout
            from ..train.distributed import abort_job

            abort_job(f"toynn {args.command} failed: {err}")
        return 1
    except KeyboardInterrupt:
        print(
            f"toynn {args.command}: interrupted; the last checkpoint is intact (continue with --resume)",
            file=sys.stderr,
        )
        return 130
