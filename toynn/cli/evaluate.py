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
    from ..data import DataLoader, TensorDataset
    from ..data.registry import run_dataset
    from ..io.runs import load_run
    from ..train import evaluate

    model, config = load_run(args.run)
    x, y = run_dataset(config, args.data_dir, train=False).arrays()  # the test split only: no training image decoded
    if list(x.shape[1:]) != list(config["input_shape"]):
        raise ValueError(
            f"the test images of {config['data']} are {tuple(x.shape[1:])}, but the model of {args.run} takes "
            f"{tuple(config['input_shape'])}; pass the --data-dir it was trained on"
        )
    result = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=512))
    print(f"{args.run}: test accuracy {result['accuracy']:.4f} on {result['samples']} images of {config['data']}")
    return 0
