"""`toynn predict RUN IMAGE...`: classify image files with a saved run."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `predict` subcommand on an argparse subparsers object."""
    pr = subparsers.add_parser("predict", help="classify image files (PNG/JPEG) with a trained run")
    pr.add_argument("run", help="run folder written by `toynn train`")
    pr.add_argument("images", nargs="+", help="image files")
    pr.set_defaults(handler=run)
    return pr


def run(args) -> int:
    """The handler: print each image's class and probability; 0 on success."""
    import numpy as np

    import toynn

    from ..data.images import prepare_image
    from ..io.runs import load_run

    model, config = load_run(args.run)
    for path in args.images:
        x, inverted = prepare_image(path, config["data"], config["input_shape"])
        with toynn.no_grad():
            probs = model(toynn.tensor(x)).softmax(dim=1).array[0]
        k = int(np.argmax(probs))
        note = " (inverted: light background)" if inverted else ""
        print(f"{path}: {config['classes'][k]} (p={probs[k]:.3f}){note}")
    return 0
