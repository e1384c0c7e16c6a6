"""`toynn train`: train a model of the zoo on a data set into a run folder (checkpoint, metrics, curves)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `train` subcommand on an argparse subparsers object."""
    from ..data.registry import DATASETS
    from ..models import model_names

    tr = subparsers.add_parser(
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
    tr.set_defaults(handler=run)
    return tr


def run(args) -> int:
    """The handler: train, save the run folder, print the test accuracy; 0 on success."""
    import toynn

    from .. import nn
    from ..models import build_model
    from ..train import evaluate, fit, plot_history

    dist = None
    if args.distributed:  # under `mpirun -n N`: every rank runs this function on its shard
        from ..train import distributed

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
        from ..optim.lr_scheduler import CosineAnnealingLR

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


def _make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float):
    from .. import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _loaders(data: str, data_dir, batch_size: int):
    from ..data import DataLoader, TensorDataset
    from ..data.registry import get_dataset

    train, test = get_dataset(data, data_dir, train=True), get_dataset(data, data_dir, train=False)
    x_train, y_train = train.arrays()
    x_test, y_test = test.arrays()
    info = {"input_shape": list(x_train.shape[1:]), "classes": [str(c) for c in train.classes]}
    # NOTE: whole arrays in memory, batched by indexing: the fastest path of DataLoader
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=512)
    return train_loader, test_loader, info


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value
