"""Training live from the page: toynn.train.fit in a background thread, fed through a loader that the page can
pause and step one batch at a time. The run folder it writes is the one `toynn train` writes (config.json, then
checkpoint.safetensors and metrics.json after each epoch), next to the explored run, never over it.

The loader takes the model's lock for each step (from handing out a batch until the next is asked for) and for the
whole evaluation, so a request from the page never sees the weights half updated.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from ... import nn
from ...data import DataLoader, TensorDataset
from ...io.runs import write_config
from ...models import build_model, model_names
from ...models.registry import build_optimizer, default_recipe
from ...optim.lr_scheduler import CosineAnnealingLR
from ...train import History, fit
from ..vision.images import as_numpy

MAX_POINTS = 2000  # step losses kept for the curve (older ones are thinned out)


class _RecordingLoss(nn.CrossEntropyLoss):
    """Cross-entropy that also records each training step's loss and accuracy (not the evaluation's)."""

    def __init__(self, model, sink):
        super().__init__()
        self._model, self._sink = model, sink

    def forward(self, input, target):
        loss = super().forward(input, target)
        if self._model.training:
            acc = float((as_numpy(input.array).argmax(axis=1) == as_numpy(target.array)).mean())
            self._sink(float(loss.item()), acc)
        return loss


class _Gate:
    """Whether the next batch may go: running lets every batch through, paused only the steps asked for."""

    def __init__(self):
        self.cond = threading.Condition()
        self.running = False
        self.credits = 0

    def wait(self) -> None:
        with self.cond:
            while not (self.running or self.credits > 0):
                self.cond.wait()
            if not self.running:
                self.credits -= 1


class _GatedLoader:
    """A DataLoader whose batches wait for the gate and hold the model's lock while fit trains on them."""

    def __init__(self, loader, gate: _Gate, lock: threading.Lock, model=None, evaluate: bool = False):
        self.loader, self.gate, self.lock, self.model, self.evaluate = loader, gate, lock, model, evaluate
        self.dataset = loader.dataset

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        if self.evaluate:  # the whole evaluation under the lock, in eval mode (a request may have reset the mode)
            with self.lock:
                self.model.eval()
                yield from self.loader
            return
        for batch in self.loader:
            self.gate.wait()
            with self.lock:
                yield batch


class LiveTrainer:
    """start / pause / step training of an Explorer's model; status() for the page's curves."""

    def __init__(self, explorer):
        self.ex = explorer
        self.gate = _Gate()
        self.thread: threading.Thread | None = None
        self.state = "idle"  # idle, running, paused, done, error
        self.error: str | None = None
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.steps = 0
        self.every = 1  # keep every n-th step's loss once MAX_POINTS are reached
        self.history = History()
        self.run_dir: Path | None = None
        self.epochs = 0
        self.steps_per_epoch = 0
        self.settings: dict = {}

    def command(self, action: str, reset: bool = False) -> dict:
        """action: 'start' (run freely), 'pause', or 'step' (one batch, then pause). reset=True, with the first
        command, starts from fresh weights (a model of the zoo only)."""
        if action not in ("start", "pause", "step"):
            raise ValueError(f"train: action must be 'start', 'pause' or 'step'; got {action!r}")
        if self.state in ("done", "error") and action != "pause":
            raise ValueError(f"train: the live run has ended ({self.state}); restart `toynn explore` to train again")
        if self.thread is None and action != "pause":
            self._launch(reset)
        with self.gate.cond:
            if action == "start":
                self.gate.running = True
            elif action == "pause":
                self.gate.running = False
            else:
                self.gate.running = False
                self.gate.credits += 1
            self.gate.cond.notify_all()
        if self.state in ("idle", "running", "paused"):
            self.state = "running" if self.gate.running else "paused" if self.thread else "idle"
        return self.status()

    def _launch(self, reset: bool) -> None:
        ex = self.ex
        train = ex.train_set()
        if train is None:
            raise ValueError(f"train: {ex.test_error}")
        test = ex.test_set()
        cfg = ex.config
        if reset:
            if cfg["model"] not in model_names():
                raise ValueError(f"train: fresh weights need a model of the zoo; {cfg['model']!r} is not one")
            fresh = build_model(cfg["model"], tuple(cfg["input_shape"]), len(cfg["classes"]))
            with ex.lock:
                ex.model.load_state_dict(fresh.state_dict())
        zoo = cfg["model"] in model_names()
        recipe = (
            default_recipe(cfg["model"], cfg["data"]).settings() if zoo else default_recipe("lenet", "*").settings()
        )
        saved = {k: v for k, v in cfg.get("args", {}).items() if k in recipe or k in ("seed", "image_size", "data_dir")}
        s = {**recipe, "seed": 0, "image_size": None, "data_dir": None, **saved}
        self.settings, self.epochs = s, int(s["epochs"])
        parent = ex.run_dir.parent if ex.run_dir is not None else Path("runs")
        self.run_dir = parent / f"{cfg['model']}-{cfg['data']}-live-{time.strftime('%Y%m%d-%H%M%S')}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        args = {"model": cfg["model"], "data": cfg["data"], **{k: s[k] for k in s if k != "measured"}}
        write_config(self.run_dir, {**cfg, "args": args})
        x, y = train
        loader = DataLoader(TensorDataset(x, y), batch_size=int(s["batch_size"]), shuffle=True)
        self.steps_per_epoch = len(loader)
        val = None
        if test is not None:
            val = _GatedLoader(DataLoader(TensorDataset(*test), batch_size=512), self.gate, ex.lock, ex.model, True)
        optimizer = build_optimizer(s["optimizer"], ex.model.parameters(), s["lr"], s["momentum"], s["weight_decay"])
        scheduler = None
        if s.get("schedule") == "cosine":
            scheduler = CosineAnnealingLR(optimizer, T_max=self.epochs)
        gated = _GatedLoader(loader, self.gate, ex.lock)
        loss = _RecordingLoss(ex.model, self._record)

        def body():
            try:
                with _one_blas_thread():
                    fit(
                        ex.model,
                        loss,
                        optimizer,
                        gated,
                        self.epochs,
                        val_loader=val,
                        scheduler=scheduler,
                        run_dir=self.run_dir,
                        progress=False,
                        history=self.history,
                    )
                self.state = "done"
            except Exception as err:  # shown in the page
                self.state, self.error = "error", f"training stopped: {type(err).__name__}: {err}"
            finally:
                with ex.lock:
                    ex.model.eval()

        self.thread = threading.Thread(target=body, daemon=True, name="toynn-explore-train")
        self.thread.start()

    def _record(self, loss: float, acc: float) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            self.losses.append(loss)
            self.accs.append(acc)
        if len(self.losses) > MAX_POINTS:  # halve the resolution: the curve keeps its whole span
            self.losses, self.accs, self.every = self.losses[::2], self.accs[::2], self.every * 2

    def status(self) -> dict:
        return {
            "state": self.state,
            "error": self.error,
            "step": self.steps,
            "epoch": self.steps / self.steps_per_epoch if self.steps_per_epoch else 0.0,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "every": self.every,
            "losses": list(self.losses),
            "accs": list(self.accs),
            "history": [dict(e) for e in self.history.epochs],
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "settings": {k: v for k, v in self.settings.items() if isinstance(v, (int, float, str, type(None)))},
        }


def _one_blas_thread():
    """BLAS on one thread while training in this background thread (toynn's own threads still split each conv).

    NOTE: measured on the 2-core EPYC: a LeNet-5 step (batch 64) took 240-600 ms in a thread other than the main one
    with OpenBLAS on 2 threads, against 26-40 ms in the main thread; with BLAS on one thread, 28-36 ms in either.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def sample_batch(test, n: int = 256) -> np.ndarray | None:
    """A fixed sample of n test images for the activation statistics (the same ones every time)."""
    if test is None:
        return None
    x = test[0]
    pick = np.sort(np.random.default_rng(0).permutation(len(x))[:n])
    return x[pick]
