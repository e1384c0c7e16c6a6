"""`toynn evaluate RUN`: the test accuracy of a saved run."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `evaluate` subcommand on an argparse subparsers object."""
    ev = subparsers.add_parser("evaluate", help="test accuracy of a trained run")
    ev.add_argument("run", help="run folder written by `toynn train`")
    ev.add_argument("--data-dir", default=None, help="where the data set is now, if it moved")
    ev.set_defaults(handler=run)
    return ev


def run(args) -> int:
    """The handler: print the run's test accuracy; 0 on success."""
    from ..io.runs import load_run
    from ..train import evaluate
    from .train import _loaders

    model, config = load_run(args.run)
    args_used = config["args"]
    _, test_loader, _ = _loaders(config["data"], args.data_dir or args_used.get("data_dir"), 512)
    result = evaluate(model, test_loader)
    print(f"{args.run}: test accuracy {result['accuracy']:.4f} on {result['samples']} images of {config['data']}")
    return 0
