"""The `toynn` command: argparse subcommands, each a thin call into the library."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def _example(args) -> int:
    from .lecture import backprop_example

    backprop_example(args.x)
    return 0


def _make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float):
    from . import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _loaders(data: str, data_dir, batch_size: int):
    from .data import DataLoader, TensorDataset
    from .data.registry import get_dataset

    train, test = get_dataset(data, data_dir, train=True), get_dataset(data, data_dir, train=False)
    x_train, y_train = train.arrays()
    x_test, y_test = test.arrays()
    info = {"input_shape": list(x_train.shape[1:]), "classes": [str(c) for c in train.classes]}
    # NOTE: whole arrays in memory, batched by indexing: the fastest path of DataLoader
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=512)
    return train_loader, test_loader, info


def _train(args) -> int:
    import toynn

    from . import nn
    from .models import build_model
    from .train import evaluate, fit, plot_history

    dist = None
    if args.distributed:  # under `mpirun -n N`: every rank runs this function on its shard
        from . import distributed

        dist = distributed.init()
    log = print if dist is None else dist.log  # only rank 0 prints and writes files
    out = Path(args.out or f"runs/{args.model}-{args.data}-{time.strftime('%Y%m%d-%H%M%S')}")
    if (out / "checkpoint.safetensors").exists() and not args.resume:
        raise ValueError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    toynn.manual_seed(args.seed)
    train_loader, test_loader, info = _loaders(args.data, args.data_dir, args.batch_size)
    if dist is not None:  # --batch-size stays the global batch: each rank takes batch_size / N of it
        train_loader = dist.shard(train_loader, seed=args.seed)
    config = {
        "model": args.model,
        "data": args.data,
        "input_shape": info["input_shape"],
        "classes": info["classes"],
        "args": {k: v for k, v in vars(args).items() if k != "handler"},
    }
    model = build_model(args.model, tuple(info["input_shape"]), len(info["classes"]))
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    scheduler = None
    if args.schedule == "cosine":  # anneal to 0 over the run: the last epochs settle instead of bouncing
        from .optim.lr_scheduler import CosineAnnealingLR

        scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs)
    if dist is None or dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config, indent=1))
    log(
        f"training {args.model} on {args.data} ({len(train_loader.dataset)} train, "
        f"{len(test_loader.dataset)} test) for {args.epochs} epochs -> {out}"
    )
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        args.epochs,
        val_loader=test_loader,
        scheduler=scheduler,
        run_dir=out,
        resume=args.resume,
        progress=not args.quiet,
        distributed=dist,
    )
    if dist is not None and not dist.is_main:
        return 0
    plot_history(history, out / "curves.png")
    result = evaluate(model, test_loader)
    print(f"test accuracy: {result['accuracy']:.4f} ({result['samples']} held-out images)")
    print(f"saved {out / 'checkpoint.safetensors'}, {out / 'metrics.json'}, {out / 'curves.png'}")
    return 0


def load_run(run_dir):
    """(model with the run's weights, config) from a folder written by `toynn train`."""
    from . import checkpoint
    from .models import build_model

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a toynn run folder (no config.json)")
    config = json.loads((run_dir / "config.json").read_text())
    model = build_model(config["model"], tuple(config["input_shape"]), len(config["classes"]))
    model.load_state_dict(checkpoint.load(run_dir / "checkpoint.safetensors")["model"])
    model.eval()
    return model, config


def _evaluate(args) -> int:
    from .train import evaluate

    model, config = load_run(args.run)
    args_used = config["args"]
    _, test_loader, _ = _loaders(config["data"], args.data_dir or args_used.get("data_dir"), 512)
    result = evaluate(model, test_loader)
    print(f"{args.run}: test accuracy {result['accuracy']:.4f} on {result['samples']} images of {config['data']}")
    return 0


def _predict(args) -> int:
    import numpy as np

    import toynn

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


def build_parser() -> argparse.ArgumentParser:
    from .data.registry import DATASETS
    from .models import model_names

    parser = argparse.ArgumentParser(
        prog="toynn", description="toynn: the neural-network library of the lecture 'Neural networks and CNN'."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tr = sub.add_parser(
        "train",
        help="train a model (default: the lecture's two-layer network on the bundled digits)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    tr.add_argument(
        "--model",
        default="mlp",
        choices=sorted(model_names()),
        help="; ".join(f"{k}: {v}" for k, v in model_names().items()),
    )
    tr.add_argument(
        "--data", default="digits", choices=list(DATASETS), help="; ".join(f"{k}: {v[1]}" for k, v in DATASETS.items())
    )
    tr.add_argument("--data-dir", default=None, help="folder holding the data set's files")
    tr.add_argument("--epochs", type=_positive_int, default=20)
    tr.add_argument("--batch-size", type=_positive_int, default=64)
    tr.add_argument("--lr", type=float, default=0.1, help="learning rate")
    tr.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    tr.add_argument("--momentum", type=float, default=0.9, help="for sgd and rmsprop")
    tr.add_argument("--weight-decay", type=float, default=0.0)
    tr.add_argument("--schedule", default="cosine", choices=("cosine", "none"), help="learning-rate schedule")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATA-TIME)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    tr.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    tr.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI: start with `mpirun -n N toynn train ... --distributed`; "
        "--batch-size is the global batch, split across the N ranks (needs mpi4py)",
    )
    tr.set_defaults(handler=_train)

    ev = sub.add_parser("evaluate", help="test accuracy of a trained run")
    ev.add_argument("run", help="run folder written by `toynn train`")
    ev.add_argument("--data-dir", default=None, help="where the data set is now, if it moved")
    ev.set_defaults(handler=_evaluate)

    pr = sub.add_parser("predict", help="classify image files (PNG/JPEG) with a trained run")
    pr.add_argument("run", help="run folder written by `toynn train`")
    pr.add_argument("images", nargs="+", help="image files")
    pr.set_defaults(handler=_predict)

    ex = sub.add_parser("example", help="the lecture's worked backprop example J = cos(sin(x^2) + 3x^2)")
    ex.add_argument("--x", type=float, default=1.5, help="the input x")
    ex.set_defaults(handler=_example)
    from .autodiff.cli import add_parser as add_autodiff  # sets its own handler

    add_autodiff(sub)
    from .report_cli import add_parser as add_report

    add_report(sub)
    from .experiments.cli import add_parser as add_experiment

    add_experiment(sub)
    from .summary_cli import add_parser as add_summary

    add_summary(sub)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


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
            from .distributed import abort_job

            abort_job(f"toynn {args.command} failed: {err}")
        return 1
    except KeyboardInterrupt:
        print(
            f"toynn {args.command}: interrupted; the last checkpoint is intact (continue with --resume)",
            file=sys.stderr,
        )
        return 130
