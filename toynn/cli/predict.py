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

    from ..io.runs import load_run

    model, config = load_run(args.run)
    for path in args.images:
        x, inverted = _load_image(path, config["input_shape"])
        with toynn.no_grad():
            probs = model(toynn.tensor(x)).softmax(dim=1).data[0]
        k = int(np.argmax(probs))
        note = " (inverted: light background)" if inverted else ""
        print(f"{path}: {config['classes'][k]} (p={probs[k]:.3f}){note}")
    return 0


def _load_image(path, input_shape):
    """An image file as (1, C, H, W) float32 in [0, 1], resized like the training data."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    c, h, w = input_shape
    try:
        img = Image.open(path).convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    except FileNotFoundError:
        raise FileNotFoundError(f"predict: {path} does not exist") from None
    except UnidentifiedImageError:
        raise ValueError(f"predict: {path} is not an image Pillow can read (PNG or JPEG expected)") from None
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = x[None] if c == 1 else x.transpose(2, 0, 1)  # (H, W) -> (1, H, W); (H, W, C) -> (C, H, W)
    inverted = c == 1 and x.mean() > 0.5  # digit data sets are light ink on a dark background
    if inverted:
        x = 1.0 - x
    return x[None], inverted
