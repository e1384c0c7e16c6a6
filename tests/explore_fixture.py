"""A small LeNet-5 trained on real MNIST for the explorer's tests, written as `toynn train` writes a run folder, once
per test session (both test files share it through this module)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

TRAIN_IMAGES = 8000  # one epoch over these: ~90% test accuracy in about 2 s, enough for clear drawn digits
_RUN: Path | None = None


def lenet_mnist_run(mnist_dir) -> Path:
    """The run folder (config.json, checkpoint.safetensors, metrics.json) of LeNet-5 after one epoch of Adam (lr 0.002,
    batch 64) on the first TRAIN_IMAGES MNIST training images; made on the first call, then reused."""
    global _RUN
    if _RUN is not None and (_RUN / "checkpoint.safetensors").is_file():
        return _RUN
    import toynn
    from toynn import nn, optim
    from toynn.data import DataLoader, TensorDataset
    from toynn.data.registry import get_dataset
    from toynn.io.runs import write_config
    from toynn.models import build_model
    from toynn.train import fit

    run = Path(tempfile.mkdtemp(prefix="toynn-explore-")) / "lenet"
    run.mkdir()
    toynn.manual_seed(0)
    train = get_dataset("mnist", str(mnist_dir), train=True)
    x, y = train.arrays()
    x, y = x[:TRAIN_IMAGES], y[:TRAIN_IMAGES]
    model = build_model("lenet", x.shape[1:], 10)
    settings = {
        "optimizer": "adam",
        "lr": 0.002,
        "momentum": 0.0,
        "weight_decay": 0.0,
        "batch_size": 64,
        "schedule": "none",
        "seed": 0,
        "image_size": None,
        "epochs": 1,
        "data_dir": str(mnist_dir),
    }
    config = {
        "model": "lenet",
        "data": "mnist",
        "input_shape": list(x.shape[1:]),
        "classes": [str(c) for c in train.classes],
        "args": {"model": "lenet", "data": "mnist", **settings},
    }
    write_config(run, config)
    started = time.perf_counter()
    with _one_blas_thread():  # toynn splits each conv across its own threads; BLAS's spin on a busy machine
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), lr=0.002),
            DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True),
            1,
            run_dir=run,
            progress=False,
        )
    (run / "fixture.json").write_text(
        json.dumps({"seconds": time.perf_counter() - started, "train_acc": history.last("train_acc")})
    )
    _RUN = run
    return run


def _one_blas_thread():
    from toynn.lecture.explore.training import _one_blas_thread

    return _one_blas_thread()


def stroke_image(points, size: int = 280, width: float = 20.0) -> np.ndarray:
    """A white-on-black drawing (size, size) float32 of line segments through points (x, y), as the page's canvas
    draws them with a round brush of the given width."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    img = np.zeros((size, size), dtype=np.float32)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        d = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
        img = np.maximum(img, np.clip(width / 2 + 0.5 - d, 0, 1))
    return img


def png_data_url(img: np.ndarray) -> str:
    """A grey image in [0, 1] as a PNG data URL, as the page's canvas.toDataURL sends it."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(img * 255).astype(np.uint8), mode="L").convert("RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# strokes of the digits the tests draw, in the canvas's 280x280 pixels
ONE = [[(140, 50), (140, 230)]]
ZERO = [[(140, 50), (90, 80), (75, 140), (90, 205), (140, 230), (190, 205), (205, 140), (190, 80), (140, 50)]]
SEVEN = [[(80, 60), (200, 60)], [(200, 60), (120, 230)]]
