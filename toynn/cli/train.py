"""`toynn train`: train a model of the zoo on a data set into a run folder (checkpoint, metrics, curves).

A run folder is the run: config.json holds the model, the data and the recipe. `--resume` takes them from there and
refuses a flag that disagrees, before anything in the folder is written.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("cosine", "none")
# what makes a run what it is: --resume refuses a different value (settings key -> flag)
FIXED = {
    "model": "--model",
    "data": "--data",
    "optimizer": "--optimizer",
    "lr": "--lr",
    "momentum": "--momentum",
    "weight_decay": "--weight-decay",
    "batch_size": "--batch-size",
    "schedule": "--schedule",
    "seed": "--seed",
    "image_size": "--image-size",
}
SETTINGS = (*FIXED, "epochs", "data_dir")  # a resumed run may change epochs (re-planned) and data_dir (data moved)
DEFAULTS = {"model": "mlp", "data": "digits", "seed": 0, "image_size": None, "data_dir": None}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `train` subcommand on an argparse subparsers object."""
    from ..data.registry import DATASETS
    from ..models import model_names

    tr = subparsers.add_parser(
        "train",
        help="train a model (default: the lecture's two-layer network on the bundled digits)",
        description="Train a model of the zoo on a data set into a run folder (config.json, checkpoint, "
        "metrics.json, curves.png). Every flag left out takes the default recipe of --model on --data (below), "
        "or, with --resume, the value saved in the run folder.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # NOTE: no argparse defaults (None): a flag's value counts as given only when the user typed it
    tr.add_argument(
        "--model", choices=sorted(model_names()), help="; ".join(f"{k}: {v}" for k, v in model_names().items())
    )
    tr.add_argument("--data", choices=list(DATASETS), help="; ".join(f"{k}: {v[1]}" for k, v in DATASETS.items()))
    tr.add_argument("--data-dir", help="folder holding the data set's files")
    tr.add_argument("--image-size", type=_image_size, help="resize images to N (or HxW) pixels (image folders)")
    tr.add_argument("--epochs", type=_positive_int, help="default: the recipe's")
    tr.add_argument("--batch-size", type=_positive_int, help="default: the recipe's (64)")
    tr.add_argument("--lr", type=_positive_float, help="learning rate; default: the recipe's")
    tr.add_argument("--optimizer", choices=OPTIMIZERS, help="default: the recipe's (sgd)")
    tr.add_argument("--momentum", type=float, help="for sgd and rmsprop; default: the recipe's (0.9)")
    tr.add_argument("--weight-decay", type=float, help="default: 0")
    tr.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule; default: cosine (to 0 at the end)")
    tr.add_argument("--seed", type=int, help="default: 0")
    tr.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATA-TIME)")
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint, with its saved model, data and recipe",
    )
    tr.add_argument(
        "--fresh",
        action="store_true",
        help="with --resume: start the run in --out when it holds no checkpoint yet, instead of stopping with "
        "an error (a checkpoint is never discarded)",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    tr.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI: start with `mpirun -n N toynn train ... --distributed`; "
        "--batch-size is the global batch, split across the N ranks (needs mpi4py)",
    )
    tr.set_defaults(handler=run)
    return tr


def _epilog() -> str:
    from ..models.registry import RECIPES

    measured = "test accuracy, wall time (2 cores, AMD EPYC)"
    rows = [("--model", "--data", "optimizer", "lr", "momentum", "epochs", "batch", measured)]
    for model, recipes in RECIPES.items():
        for data, r in recipes.items():
            momentum = f"{r.momentum:g}" if r.optimizer in ("sgd", "rmsprop") else "-"
            row = (model, "other" if data == "*" else data, r.optimizer, f"{r.lr:g}", momentum, str(r.epochs))
            rows.append((*row, str(r.batch_size), r.measured or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    table = "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in rows)
    return (
        "default recipes (a cosine schedule to 0, inputs in [0, 1] as the data sets give them; a flag overrides):\n"
        f"{table}\n\n"
        "resume: `toynn train --out DIR --resume` continues the run in DIR with the model, data and recipe of\n"
        "DIR/config.json. A flag given with it must agree with the saved value, or nothing is written and the\n"
        "command stops naming both; --epochs N may change (a cosine schedule is re-planned from the current lr\n"
        "down to 0 after epoch N) and --data-dir may point to where the data moved. With no checkpoint in DIR,\n"
        "--resume stops with an error; add --fresh to start the run there instead."
    )


def run(args) -> int:
    """The handler: train, save the run folder, print the test accuracy; 0 on success."""
    import warnings

    import toynn

    from .. import nn
    from ..io.runs import CHECKPOINT, remove_temp_files, write_config
    from ..models import build_model
    from ..models.registry import build_optimizer
    from ..train import evaluate, fit, plot_history
    from ..train.loop import ChanceLossWarning

    started = time.perf_counter()
    dist = None
    if args.distributed:  # under `mpirun -n N`: every rank runs this function on its shard
        from ..train import distributed

        dist = distributed.init()
    log = print if dist is None else dist.log  # only rank 0 prints and writes files
    main = dist is None or dist.is_main
    given = {key: getattr(args, key) for key in SETTINGS if getattr(args, key) is not None}
    if args.fresh and not args.resume:
        raise ValueError("--fresh goes with --resume (start the run in --out if it holds no checkpoint yet)")
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out DIR, the run folder to continue")
    model_name, data_name = given.get("model", DEFAULTS["model"]), given.get("data", DEFAULTS["data"])
    out = Path(args.out or f"runs/{model_name}-{data_name}-{time.strftime('%Y%m%d-%H%M%S')}")
    s, saved, state = _plan(out, given, args.resume, args.fresh)  # the checks that need no data; nothing written

    toynn.manual_seed(s["seed"])
    train_loader, test_loader, info = _loaders(s["data"], s["data_dir"], s["batch_size"], s["image_size"])
    if saved is not None:
        _check_same_data(out, saved, info, s)
    if dist is not None:  # --batch-size stays the global batch: each rank takes batch_size / N of it
        train_loader = dist.shard(train_loader, seed=s["seed"])
    model = build_model(s["model"], tuple(info["input_shape"]), len(info["classes"]))
    optimizer = build_optimizer(s["optimizer"], model.parameters(), s["lr"], s["momentum"], s["weight_decay"])
    scheduler = None
    if s["schedule"] == "cosine":  # anneal to 0 over the run: the last epochs settle instead of bouncing
        from ..optim.lr_scheduler import CosineAnnealingLR

        scheduler = CosineAnnealingLR(optimizer, T_max=s["epochs"])
    history, notes = None, []
    if state is not None:
        history, scheduler, notes = _restore(out, state, saved, s, model, optimizer, scheduler)
    config = {
        "model": s["model"],
        "data": s["data"],
        "input_shape": info["input_shape"],
        "classes": info["classes"],
        "args": {key: s[key] for key in SETTINGS},
    }
    if main:  # the new state is complete and checked: now the folder may change
        out.mkdir(parents=True, exist_ok=True)
        removed = remove_temp_files(out)
        if removed:
            notes.append(f"removed {len(removed)} temporary file(s) left in {out} by an interrupted save")
        if config != saved:
            write_config(out, config)
    for note in notes:
        log(note)
    log(
        f"training {s['model']} on {s['data']} ({len(train_loader.dataset)} train, "
        f"{len(test_loader.dataset)} test) for {s['epochs']} epochs -> {out}"
    )
    with warnings.catch_warnings():  # the chance-level warning as one line, when it comes
        warnings.simplefilter("always", ChanceLossWarning)
        warnings.showwarning = _show_warning
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            train_loader,
            s["epochs"],
            val_loader=test_loader,
            scheduler=scheduler,
            run_dir=out,
            progress=not args.quiet,
            distributed=dist,
            history=history,
        )
    if not main:
        return 0
    plot_history(history, out / "curves.png")
    result = evaluate(model, test_loader)
    seconds = time.perf_counter() - started
    print(f"test accuracy: {result['accuracy']:.4f} ({result['samples']} held-out images); {seconds:.0f} s in all")
    print(f"saved {out / CHECKPOINT}, {out / 'metrics.json'}, {out / 'curves.png'}")
    return 0


def _plan(out: Path, given: dict, resume: bool, fresh: bool) -> tuple[dict, dict | None, dict | None]:
    """(settings, the saved config or None, the checkpoint's state or None) of this call, from the flags given, the
    run folder and the default recipe. Raises a ValueError naming the problem; writes nothing."""
    from ..io.runs import CHECKPOINT, CONFIG, read_config
    from ..models.registry import default_recipe
    from ..train.loop import read_checkpoint

    ckpt, config_path = out / CHECKPOINT, out / CONFIG
    if not resume and ckpt.exists():
        raise ValueError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume and not ckpt.exists() and not fresh:
        why = (
            "the folder does not exist"
            if not out.exists()
            else f"its {CONFIG} is from a run stopped before its first epoch ended"
            if config_path.exists()
            else f"no {CHECKPOINT}"
        )
        raise ValueError(f"{out} holds no checkpoint to resume ({why}); add --fresh to start the run there")
    if not resume or not config_path.exists():
        if resume and ckpt.exists():
            raise ValueError(f"{out} holds a checkpoint but no {CONFIG}: the model and data it belongs to are unknown")
        model, data = given.get("model", DEFAULTS["model"]), given.get("data", DEFAULTS["data"])
        return _checked({**DEFAULTS, **default_recipe(model, data).settings(), **given}), None, None
    saved = read_config(out)
    args = saved["args"]
    recorded = {key: args[key] for key in SETTINGS if key in args}
    recorded.update(model=saved["model"], data=saved["data"])
    base = {**DEFAULTS, **default_recipe(saved["model"], saved["data"]).settings(), **recorded}
    _checked(base, f"{config_path} is damaged:")
    conflicts = [key for key in FIXED if key in given and key in recorded and given[key] != recorded[key]]
    if conflicts:
        flags = ", ".join(f"{FIXED[k]} {_show(given[k])}" for k in conflicts)
        values = ", ".join(f"{k.replace('_', ' ')} {_show(recorded[k])}" for k in conflicts)
        verb, them = ("conflicts", "it") if len(conflicts) == 1 else ("conflict", "them")
        raise ValueError(f"{flags} {verb} with the run in {out} ({values}); omit {them} or choose another --out")
    settings = _checked({**base, **given})
    state = read_checkpoint(ckpt) if ckpt.exists() else None
    if state is not None and settings["epochs"] < state["epoch"]:
        raise ValueError(
            f"--epochs {settings['epochs']} is fewer than the {state['epoch']} epochs the run in {out} has done; "
            f"pass --epochs {state['epoch']} or more"
        )
    return settings, saved, state


def _restore(out: Path, state: dict, saved: dict, s: dict, model, optimizer, scheduler):
    """Load the run's checkpoint into model, optimizer and scheduler -> (History, scheduler, notes for the output);
    a changed --epochs re-plans a cosine schedule from where the run is."""
    from ..io.runs import CHECKPOINT
    from ..train.loop import restore

    done, history = restore(out / CHECKPOINT, model, optimizer, scheduler, state=state)
    planned = state.get("epochs", saved["args"].get("epochs", s["epochs"]))  # older checkpoints: the config's
    notes = [f"resuming {out} after epoch {done} of {planned}"]
    if done >= s["epochs"]:
        notes.append(f"the run has done all its {done} epochs; pass --epochs N (more than {done}) to train on")
    elif s["epochs"] != planned and scheduler is not None:
        last_lr = history.last("lr")
        if not isinstance(last_lr, (int, float)):  # a history without lrs: the lr the optimizer holds now
            last_lr = optimizer.param_groups[0]["lr"]
        scheduler = _replan(optimizer, last_lr, done, s["epochs"])
        notes.append(
            f"--epochs {s['epochs']} (was {planned}): the cosine schedule is re-planned from lr {last_lr:.4g} "
            f"(epoch {done}) down to 0 after epoch {s['epochs']}"
        )
    elif s["epochs"] != planned:
        notes.append(f"--epochs {s['epochs']} (was {planned}): training on to epoch {s['epochs']}")
    return history, scheduler, notes


def _checked(settings: dict, source: str | None = None) -> dict:
    """settings, after checking each value's type and range (a config.json may have been edited by hand); source
    names where they come from in the error (None: the flags)."""
    from ..models import model_names

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    rules = {
        "model": (lambda v: v in model_names(), "a model of the zoo"),
        "data": (lambda v: isinstance(v, str), "a data set name"),
        "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
        "lr": (lambda v: number(v) and v > 0, "a positive number"),
        "momentum": (number, "a number"),
        "weight_decay": (number, "a number"),
        "batch_size": (count, "a positive integer"),
        "epochs": (count, "a positive integer"),
        "schedule": (lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
        "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
        "image_size": (
            lambda v: v is None or count(v) or (isinstance(v, list) and len(v) == 2 and all(map(count, v))),
            "a size N or [H, W]",
        ),
        "data_dir": (lambda v: v is None or isinstance(v, str), "a folder name"),
    }
    for key, (ok, expected) in rules.items():
        if not ok(settings[key]):
            what = f"{source} {key}" if source else FIXED.get(key, "--" + key.replace("_", "-"))
            raise ValueError(f"{what} should be {expected}; got {settings[key]!r}")
    return settings


def _check_same_data(out: Path, saved: dict, info: dict, settings: dict) -> None:
    """The data read now must be the data the run was trained on: same classes, same input shape."""
    for key in ("classes", "input_shape"):
        if info[key] != saved[key]:
            where = f"{settings['data']}" + (f" in {settings['data_dir']}" if settings["data_dir"] else "")
            raise ValueError(
                f"the data read now ({where}) has {key.replace('_', ' ')} {_show(info[key])}, but the run in {out} "
                f"was trained on {_show(saved[key])}; pass --data-dir with the run's data or choose another --out"
            )


def _replan(optimizer, last_lr: float, done: int, epochs: int):
    """A cosine schedule from last_lr (the lr of epoch `done`) down to 0 after epoch `epochs`, set for epoch done+1.

    The lr goes on falling smoothly from where the run is: it never reaches 0 early nor climbs back.
    """
    from ..optim.lr_scheduler import CosineAnnealingLR

    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = last_lr
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs - done + 1)  # its epoch 0 is the run's epoch `done`
    scheduler.step()  # the next epoch's lr: last_lr * (1 + cos(pi / T_max)) / 2
    return scheduler


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]" if len(value) <= 12 else f"[{len(value)} items]"
    return str(value)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"toynn train: warning: {message}", file=sys.stderr, flush=True)


def _loaders(data: str, data_dir, batch_size: int, image_size=None):
    from ..data import DataLoader, TensorDataset
    from ..data.registry import get_dataset

    train = get_dataset(data, data_dir, train=True, image_size=image_size)
    test = get_dataset(data, data_dir, train=False, image_size=image_size)
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


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text}")
    return value


def _image_size(text: str):
    """N -> N; HxW -> [H, W] (as config.json keeps it)."""
    try:
        sizes = [int(part) for part in text.lower().split("x")]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"must be N or HxW with positive sizes; got {text!r}")
    return sizes[0] if len(sizes) == 1 or sizes[0] == sizes[1] else sizes
