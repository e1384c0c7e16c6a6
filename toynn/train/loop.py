"""The lecture's recipe as a loop: data, decision function, loss, SGD; with progress, history and resume."""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..creation import default_generator
from ..io import checkpoint
from ..nn.loss import CrossEntropyLoss
from ..tensor import no_grad


@dataclass
class History:
    """Per-epoch metrics: epoch, train_loss, train_acc, val_loss, val_acc, seconds, samples_per_s, lr."""

    epochs: list[dict] = field(default_factory=list)

    def last(self, key: str):
        return self.epochs[-1][key] if self.epochs else None

    def column(self, key: str) -> list:
        return [e.get(key) for e in self.epochs]


def evaluate(model, loader, loss_fn=None) -> dict:
    """Mean loss (when loss_fn is given) and accuracy of model over loader, in eval mode without a graph."""
    was_training = model.training
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with no_grad():
        for x, y in loader:
            out = model(x)
            n = len(y)
            if loss_fn is not None:
                loss_sum += float(loss_fn(out, y).item()) * n
            correct += int((out.array.argmax(axis=1) == y.array).sum())
            total += n
    model.train(was_training)
    if total == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    result = {"accuracy": correct / total, "samples": total}
    if loss_fn is not None:
        result["loss"] = loss_sum / total
    return result


def fit(
    model,
    loss_fn,
    optimizer,
    train_loader,
    epochs: int,
    val_loader=None,
    scheduler=None,
    run_dir=None,
    resume: bool = False,
    progress: bool = True,
    extra_state: dict | None = None,
    distributed=None,
    history: History | None = None,
) -> History:
    """Train for `epochs`, evaluating on val_loader after each; checkpoint into run_dir after each epoch.

    With resume=True and a checkpoint in run_dir, training continues after its last epoch with the
    model, optimizer, scheduler, history and random-generator state restored, so that the final
    weights equal those of an uninterrupted run with the same seed. A caller that restored the
    checkpoint itself (restore(), then say a new schedule) passes the History it gave instead:
    training continues after that history's last epoch.

    After the first epoch (or, on small data, the first past 100 steps), a cross-entropy loss still
    at chance level (ln(classes)) gives a ChanceLossWarning naming the likely causes.

    distributed (from toynn.train.distributed.init(), under mpirun): rank 0's weights are broadcast, gradients are
    averaged over ranks every step, the epoch's metrics are summed over ranks, and only rank 0 prints and
    writes run_dir. train_loader is then this rank's shard (a DistributedLoader).
    """
    dist = distributed  # None on one machine: then no MPI code is imported or called
    main = dist is None or dist.is_main
    run_dir = Path(run_dir) if run_dir is not None else None
    if history is not None:
        start = history.last("epoch") or 0
    elif resume and run_dir is not None and (run_dir / "checkpoint.safetensors").exists():
        start, history = restore(run_dir / "checkpoint.safetensors", model, optimizer, scheduler)
    else:
        history, start = History(), 0
    if dist is not None:
        dist.check_equal(start, "the epoch to resume from (is run_dir on a file system that every rank sees?)")
        dist.broadcast_parameters(model)
    progress = progress and main
    chance_epoch = _chance_epoch(train_loader, epochs)
    if start > 0 and start >= epochs and run_dir is not None and main:
        # nothing left to train: save the same state again, so that a run killed after its last checkpoint but
        # before its sidecar and metrics.json gets them back
        _save(run_dir, model, optimizer, scheduler, history, start, start, extra_state)
    for epoch in range(start, epochs):
        if hasattr(train_loader, "set_epoch"):  # a DistributedLoader: a new shard of a new permutation
            train_loader.set_epoch(epoch)
        check_chance = epoch + 1 == chance_epoch and isinstance(loss_fn, CrossEntropyLoss)
        record = _train_epoch(model, loss_fn, optimizer, train_loader, epoch, epochs, progress, dist, check_chance)
        if scheduler is not None:
            scheduler.step()
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn)
            record.update(val_loss=val["loss"], val_acc=val["accuracy"])
        history.epochs.append(record)
        if progress:
            print(_summary_line(record, epochs), flush=True)
        if run_dir is not None and main:
            _save(run_dir, model, optimizer, scheduler, history, epoch + 1, epochs, extra_state)
    return history


class ChanceLossWarning(UserWarning):
    """The training loss has not moved from chance level (ln(classes)) after the first epoch."""


CHANCE_TOLERANCE = 0.01  # relative: a loss within 1% of ln(classes) has learned next to nothing
CHANCE_STEPS = 100  # fewer steps are too early to tell: the check waits for the first epoch past 100 steps


def _chance_epoch(loader, epochs: int) -> int | None:
    """The epoch (1-based) after which to check for a loss at chance: the first past CHANCE_STEPS steps (the first
    epoch on MNIST or CIFAR-10); None for a run shorter than that, or a loader without len."""
    try:
        steps = max(len(loader), 1)
    except TypeError:
        return None
    epoch = math.ceil(CHANCE_STEPS / steps)
    return epoch if epoch <= epochs else None


def _warn_if_at_chance(loss: float, classes: int, epoch: int) -> None:
    if classes < 2 or abs(loss - math.log(classes)) > CHANCE_TOLERANCE * math.log(classes):
        return
    when = "the first epoch" if epoch == 1 else f"epoch {epoch}"
    warnings.warn(
        f"the training loss after {when} is {loss:.4f}, within {CHANCE_TOLERANCE:.0%} of chance level for "
        f"{classes} classes (ln {classes} = {math.log(classes):.4f}): the model has learned next to nothing. Likely "
        "causes: the learning rate is too high (the units died or the outputs collapsed: try a tenth of it) or far "
        "too low (try ten times it), or the inputs are not normalised (scale them to about [0, 1] or to mean 0, "
        "std 1)",
        ChanceLossWarning,
        stacklevel=4,
    )


def _train_epoch(
    model, loss_fn, optimizer, loader, epoch: int, epochs: int, progress: bool, dist, check_chance
) -> dict:
    model.train()
    bar = _progress(loader, f"epoch {epoch + 1}/{epochs}", progress)
    seen, correct, loss_sum, start = 0, 0, 0.0, time.perf_counter()
    params = list(model.parameters())  # walked once: all_reduce_gradients runs every step
    for step, (x, y) in enumerate(bar):
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        if dist is not None:
            dist.all_reduce_gradients(params)
        optimizer.step()
        value = float(loss.item())
        if not math.isfinite(value):
            raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, step {step + 1}; lower --lr")
        n = len(y)
        seen, loss_sum = seen + n, loss_sum + value * n
        correct += int((out.array.argmax(axis=1) == y.array).sum())
        if progress and step % 10 == 0:
            rate = seen / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}", rate=f"{rate:.0f}/s")
    seconds = time.perf_counter() - start
    if dist is not None:
        totals = dist.reduce_metrics({"seen": seen, "correct": correct, "loss_sum": loss_sum})
        seen, correct, loss_sum = totals["seen"], totals["correct"], totals["loss_sum"]
    lr = optimizer.param_groups[0]["lr"]
    if check_chance and seen and (dist is None or dist.is_main):
        _warn_if_at_chance(loss_sum / seen, out.shape[-1], epoch + 1)
    return {
        "epoch": epoch + 1,
        "train_loss": loss_sum / max(seen, 1),
        "train_acc": correct / max(seen, 1),
        "seconds": seconds,
        "samples_per_s": seen / max(seconds, 1e-9),
        "lr": lr,
    }


def _progress(loader, desc: str, enabled: bool):
    if not enabled:
        return loader
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: without it, training just prints one line per epoch
        return _NoBar(loader)
    return tqdm(loader, desc=desc, leave=False, unit="batch")


class _NoBar:
    def __init__(self, it):
        self.it = it

    def __iter__(self):
        return iter(self.it)

    def set_postfix(self, **kwargs):
        pass


def _summary_line(r: dict, epochs: int) -> str:
    line = f"epoch {r['epoch']}/{epochs}: train loss {r['train_loss']:.4f} acc {r['train_acc']:.4f}"
    if "val_acc" in r:
        line += f" | val loss {r['val_loss']:.4f} acc {r['val_acc']:.4f}"
    return line + f" | {r['samples_per_s']:.0f} samples/s"


def _save(run_dir: Path, model, optimizer, scheduler, history: History, epoch: int, epochs: int, extra) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": default_generator().bit_generator.state,
        "epoch": epoch,
        "epochs": epochs,  # the plan the schedule was made for: a resume with other --epochs re-plans it
        "history": history.epochs,
    }
    checkpoint.save(state, run_dir / "checkpoint.safetensors", sidecar={"epoch": epoch, **(extra or {})})
    checkpoint.write_atomic(run_dir / "metrics.json", _to_json({"epochs": history.epochs}).encode())


def read_checkpoint(path) -> dict:
    """A run's checkpoint (written by fit) read and checked: a ValueError names the file and what is wrong."""
    state = checkpoint.load(path)
    expected = {"model": dict, "optimizer": dict, "rng": dict, "epoch": int, "history": list}
    for key, kind in expected.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            found = type(state.get(key)).__name__ if key in state else "nothing"
            raise ValueError(f"checkpoint: {path} holds {found} for {key!r}; expected a {kind.__name__}")
    if not all(isinstance(r, dict) and isinstance(r.get("epoch"), int) for r in state["history"]):
        raise ValueError(f"checkpoint: {path} has a history that is not a list of epoch records")
    for key, kind in {"scheduler": dict, "epochs": int}.items():  # optional: None, or absent in older checkpoints
        if state.get(key) is not None and not isinstance(state[key], kind):
            raise ValueError(f"checkpoint: {path} holds {type(state[key]).__name__} for {key!r}")
    return state


def restore(path, model, optimizer, scheduler=None, state: dict | None = None) -> tuple[int, History]:
    """Load a checkpoint written by fit into model, optimizer, scheduler and the random generator -> (epochs done,
    History). state: the checkpoint if already read (read_checkpoint). A checkpoint that does not fit them raises a
    ValueError naming the file."""
    state = read_checkpoint(path) if state is None else state
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        default_generator().bit_generator.state = state["rng"]
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        what = str(err) if isinstance(err, (ValueError, RuntimeError)) else f"{type(err).__name__}: {err}"
        what = " ".join(what.split())  # one line: load_state_dict lists its problems one a line
        raise ValueError(f"checkpoint: {path} does not fit this model and optimizer ({what})") from None
    return state["epoch"], History(list(state["history"]))


def _to_json(obj) -> str:
    return json.dumps(obj, indent=1, default=_json_default)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def plot_history(history: History, path) -> Path:
    """Loss and accuracy curves (train and validation) per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history.column("epoch")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history.column("train_loss"), "o-", label="train")
    ax_acc.plot(epochs, history.column("train_acc"), "o-", label="train")
    if history.epochs and "val_loss" in history.epochs[-1]:
        ax_loss.plot(epochs, history.column("val_loss"), "s-", label="validation")
        ax_acc.plot(epochs, history.column("val_acc"), "s-", label="validation")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
