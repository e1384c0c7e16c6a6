"""The explorer's state: one model, its run's data and config, the lock that guards the model, and the top-k crops
computed once per layer in the background (cached in the run folder). Shared by every browser tab."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np

from ..vision import receptive_field, top_crops
from ..vision.images import as_numpy
from .compute import UnitError, evaluating, layer_kind, trace

CACHE = "explore-cache"  # the folder in a run folder that holds the top-k crops, one file per layer and weights
TOPK_CHUNK = 500  # test images per step of a top-k job: its progress moves this often


class Explorer:
    """A model to explore, with what the page needs to know about it.

    model: any toynn Module taking (N, *input_shape); classes: the class names; data: the data set's name (how a
    drawing or upload is prepared, see toynn.data.images.prepare_image); test: (images, labels) arrays or None;
    run_dir: the run folder (the top-k cache goes there; live training writes next to it) or None.
    """

    def __init__(self, model, input_shape, classes, data: str = "", test=None, run_dir=None, config=None):
        self.model = model
        self.input_shape = tuple(int(n) for n in input_shape)
        self.classes = [str(c) for c in classes]
        self.data = data
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.config = config or {
            "model": type(model).__name__,
            "data": data,
            "input_shape": list(self.input_shape),
            "classes": self.classes,
            "args": {},
        }
        self.lock = threading.Lock()  # one request (or one training step) uses the model at a time
        self._test = test
        self._test_loaded = test is not None
        self._test_error: str | None = None
        self.max_test: int | None = None
        self._jobs: dict[str, dict] = {}  # layer -> the top-k job's state
        self._jobs_lock = threading.Lock()
        self.trainer = None  # a training.LiveTrainer, made on the first train command
        with self.lock, evaluating(model):
            from ...tensor import no_grad

            with no_grad():
                steps, _ = trace(model, _zeros_batch(model, self.input_shape))
        self.layers = [
            {"name": s.name, "type": s.type, "kind": layer_kind(s.module), "shape": list(s.output.shape[1:])}
            for s in steps
        ]

    @classmethod
    def from_run(cls, run_dir, data_dir=None, max_test: int | None = None) -> Explorer:
        """The explorer of a run folder written by `toynn train`: its model with the saved weights, and its data
        (the first max_test test images only, when given)."""
        from ...io.runs import load_run

        model, config = load_run(run_dir)
        if data_dir is not None:
            config["args"]["data_dir"] = str(data_dir)
        ex = cls(model, config["input_shape"], config["classes"], config["data"], run_dir=run_dir, config=config)
        ex._test_loaded = False  # read on first use: the page opens before a large test set is decoded
        ex.max_test = max_test
        return ex

    # -- the data -------------------------------------------------------------------------------------------------
    def test_set(self):
        """(images (N, *input_shape) float32, labels (N,)) of the run's test split, or None when it cannot be read
        (test_error says why)."""
        if not self._test_loaded:
            with self._jobs_lock:
                if not self._test_loaded:
                    self._test = self._read_split(train=False)
                    if self._test is not None and self.max_test is not None:
                        self._test = tuple(a[: self.max_test] for a in self._test)
                    self._test_loaded = True
        return self._test

    @property
    def test_error(self) -> str | None:
        return self._test_error

    def _read_split(self, train: bool):
        from ...data.registry import run_dataset

        try:
            x, y = run_dataset(self.config, self.config.get("args", {}).get("data_dir"), train=train).arrays()
        except (FileNotFoundError, ValueError, OSError) as err:
            self._test_error = f"the {'train' if train else 'test'} set of {self.data} could not be read: {err}"
            return None
        return np.ascontiguousarray(x, dtype=np.float32), np.asarray(y)

    def train_set(self):
        return self._read_split(train=True)

    # -- top-k crops ----------------------------------------------------------------------------------------------
    def weights_key(self) -> str:
        """A short hash of the model's parameters: the top-k cache is valid for these weights only."""
        h = hashlib.sha1()
        for name, p in self.model.named_parameters():
            h.update(name.encode())
            h.update(np.ascontiguousarray(as_numpy(p.array)).tobytes())
        return h.hexdigest()[:12]

    def topk(self, layer: str, k: int = 9) -> dict:
        """The top-k crops of every channel of a conv or pool layer: {'state': 'done', 'result': {...}} from the
        cache, or {'state': 'running', 'progress': 0..1} while a background job computes them (started here)."""
        info = next((li for li in self.layers if li["name"] == layer), None)
        if info is None or info["kind"] not in ("conv", "pool") or len(info["shape"]) != 3:
            raise UnitError(f"layer {layer!r} has no top-k crops: a Conv2d or pooling layer with (C, H, W) maps has")
        with self.lock:
            key = self.weights_key()
        path = self.cache_path(layer, key, k)
        with self._jobs_lock:
            job = self._jobs.get(layer)
            if job is not None and job["key"] == key and job["k"] == k:
                if job["state"] != "done" or job.get("result") is not None:
                    return dict(job)
            if path is not None and path.is_file():
                result = dict(np.load(path))
                self._jobs[layer] = {"state": "done", "progress": 1.0, "key": key, "k": k, "result": result}
                return dict(self._jobs[layer])
            if self.test_set() is None:
                raise UnitError(f"no test images to search: {self.test_error}")
            job = {"state": "running", "progress": 0.0, "key": key, "k": k, "started": time.time(), "result": None}
            self._jobs[layer] = job
        threading.Thread(target=self._run_topk, args=(layer, key, k, path, job), daemon=True).start()
        return dict(job)

    def cache_path(self, layer: str, key: str, k: int) -> Path | None:
        if self.run_dir is None:
            return None
        return self.run_dir / CACHE / f"topk-{layer}-k{k}-{key}.npz"

    def _run_topk(self, layer: str, key: str, k: int, path: Path | None, job: dict) -> None:
        """The job: the test set in chunks of TOPK_CHUNK, each chunk's top k merged into the running best."""
        x, _ = self.test_set()
        best = None
        try:
            with self.lock:
                field = receptive_field(self.model, layer)
            for a in range(0, len(x), TOPK_CHUNK):
                with self.lock:
                    tc = top_crops(self.model, layer, x[a : a + TOPK_CHUNK], k=k)
                part = {
                    "values": tc.values,
                    "indices": np.where(tc.indices >= 0, tc.indices + a, -1),
                    "positions": tc.positions,
                    "boxes": tc.boxes,
                    "crops": tc.crops,
                }
                best = part if best is None else _merge(best, part, k)
                job["progress"] = min(len(x), a + TOPK_CHUNK) / len(x)
            best["field"] = np.array([*field.size, *field.jump, *field.offset])
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, **best)
                tmp.replace(path)
            job.update(state="done", progress=1.0, result=best)
        except Exception as err:  # the page shows it; the server goes on
            job.update(state="error", error=f"top-k crops of layer {layer!r} failed: {err}")


def _merge(a: dict, b: dict, k: int) -> dict:
    """The k best of two top-k results per channel, by activation (ties keep a's, the earlier images)."""
    values = np.concatenate([a["values"], b["values"]], axis=1)  # (C, 2k)
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]  # (C, k)
    out = {}
    for name in a:
        both = np.concatenate([a[name], b[name]], axis=1)  # (C, 2k, ...)
        idx = order.reshape(order.shape + (1,) * (both.ndim - 2))
        out[name] = np.take_along_axis(both, idx, axis=1)
    return out


def _zeros_batch(model, input_shape):
    from ...creation import zeros

    p = next(iter(model.parameters()), None)
    return zeros(
        (1, *input_shape), dtype=p.dtype if p is not None else None, device=p.device if p is not None else None
    )
