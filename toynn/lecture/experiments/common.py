"""What the experiments share: data as arrays, a small training loop, parameter and multiplication counts,
Markdown tables, the report folder and matplotlib (Agg) figures."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import nn, optim
from ...creation import manual_seed, zeros
from ...data import DataLoader, TensorDataset
from ...data.registry import get_dataset
from ...tensor import no_grad
from ...train import evaluate

Log = Callable[[str], None] | None


@dataclass
class Data:
    """A data set held as arrays: x (N, C, H, W) float32, y (N,) int64, for training and testing."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def describe(self) -> str:
        return f"{self.name} ({len(self.y_train)} train, {len(self.y_test)} test, {self.input_shape})"


def load_data(name: str, data_dir=None, subset: tuple[int, int] | None = None, seed: int = 0) -> Data:
    """The train and test splits of data set `name` as arrays; subset=(n_train, n_test) keeps a seeded sample."""
    train, test = get_dataset(name, data_dir, train=True), get_dataset(name, data_dir, train=False)
    (x_train, y_train), (x_test, y_test) = train.arrays(), test.arrays()
    if x_train.ndim == 3:  # (N, H, W) -> (N, 1, H, W)
        x_train, x_test = x_train[:, None], x_test[:, None]
    if subset is not None:
        rng = np.random.default_rng(seed)
        keep_train = np.sort(rng.permutation(len(y_train))[: subset[0]])
        keep_test = np.sort(rng.permutation(len(y_test))[: subset[1]])
        x_train, y_train = x_train[keep_train], y_train[keep_train]
        x_test, y_test = x_test[keep_test], y_test[keep_test]
    label = f"{name} {data_dir}" if name == "folder" else name
    label += " subset" if subset is not None else ""
    return Data(label, x_train, y_train, x_test, y_test, len(train.classes))


def settings(quick_defaults: dict, full_defaults: dict, quick: bool, data: str, epochs: int | None) -> dict:
    """The experiment's settings: quick or full defaults, the data set and an --epochs override."""
    s = dict(quick_defaults if quick else full_defaults)
    s.update(quick=quick, data=data)
    if epochs is not None:
        s["epochs"] = epochs
    return s


def quick_subset(quick: bool, data: str) -> tuple[int, int] | None:
    """--quick on a data set bigger than the bundled digits trains on a small sample of it."""
    return (2000, 500) if quick and data != "digits" else None


def count_params(module: nn.Module) -> int:
    """The number of trainable scalars."""
    return int(sum(p.array.size for p in module.parameters()))


def profile(model: nn.Module, input_shape) -> list[dict]:
    """One row per leaf layer for one input of input_shape (C, H, W): name, layer, output shape, parameters
    and multiplications (multiply-accumulates of conv and linear layers; pooling and activations count 0)."""
    rows: list[dict] = []
    with no_grad():
        _walk(model, "", zeros(1, *input_shape), rows)
    return rows


def _walk(module, name: str, x, rows: list[dict]):
    if isinstance(module, nn.Sequential):  # DepthwiseSeparableConv2d and friends are Sequentials too
        for child_name, child in module.named_children():
            x = _walk(child, f"{name}.{child_name}" if name else child_name, x, rows)
        return x
    y = module(x)
    rows.append(
        {
            "name": name,
            "layer": type(module).__name__,
            "shape": tuple(y.shape[1:]),
            "params": count_params(module),
            "macs": multiplications(module, tuple(y.shape[1:])),
        }
    )
    return y


def multiplications(module: nn.Module, out_shape: tuple) -> int:
    """Multiply-accumulates of one example through a Conv2d or Linear layer with output out_shape (no batch)."""
    if isinstance(module, nn.Conv2d):  # each output element: in_channels/groups x KH x KW products
        return math.prod(out_shape) * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return math.prod(out_shape[:-1]) * module.in_features * module.out_features
    return 0


def make_optimizer(model: nn.Module, name: str, lr: float):
    if name == "adam":
        return optim.Adam(model.parameters(), lr=lr)
    if name == "sgd":  # plain SGD, as Glorot & Bengio trained
        return optim.SGD(model.parameters(), lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose adam or sgd")


def train(
    model: nn.Module,
    data: Data,
    epochs: int,
    *,
    lr: float,
    batch_size: int,
    optimizer: str = "adam",
    on_step: Callable[[int], None] | None = None,
    log: Log = None,
    label: str = "",
) -> list[dict]:
    """Minimise cross-entropy with minibatches; test after each epoch. on_step(step) runs at step 0 and after
    every update. Returns one dict per epoch: epoch, train_loss, test_acc, and the training time only (not the test)
    as seconds (wall clock) and cpu_seconds (this process's CPU time: steadier on a shared machine)."""
    opt = make_optimizer(model, optimizer, lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(data.x_test, data.y_test), batch_size=1000)
    history, step = [], 0
    if on_step is not None:
        on_step(0)
    for epoch in range(1, epochs + 1):
        model.train()
        start, cpu_start, loss_sum, seen = time.perf_counter(), time.process_time(), 0.0, 0
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            step += 1
            value = float(loss.item())
            if not math.isfinite(value):
                raise FloatingPointError(f"{label or 'train'}: the loss became {value} at step {step}; lower the lr")
            loss_sum, seen = loss_sum + value * len(y), seen + len(y)
            if on_step is not None:
                on_step(step)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        acc = evaluate(model, test_loader)["accuracy"]
        history.append(
            {
                "epoch": epoch,
                "train_loss": loss_sum / seen,
                "test_acc": acc,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            }
        )
        if log is not None:
            loss = loss_sum / seen
            log(f"  {label} epoch {epoch}/{epochs}: train loss {loss:.4f}, test acc {acc:.4f}, {seconds:.1f} s")
    return history


def seeded(seed: int, build: Callable[..., nn.Module], *args) -> nn.Module:
    """build(*args) after toynn.manual_seed(seed): every variant starts from the same random stream."""
    manual_seed(seed)
    return build(*args)


# ---------------------------------------------------------------------------------------------
# Results, tables and report folders


@dataclass
class Column:
    """A table column: its header, the row key it shows and a format spec (e.g. ',', '.2%', '+.2f')."""

    header: str
    key: str
    fmt: str = ""


@dataclass
class Result:
    """What an experiment returns: its rows (raw numbers), the table's columns, the report folder and plots."""

    name: str
    rows: list[dict]
    columns: list[Column]
    out: Path
    plots: list[Path] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def table(self) -> str:
        """The rows as a Markdown table."""
        return markdown_table(self.rows, self.columns)

    def row(self, key: str, value) -> dict:
        """The row whose `key` equals value."""
        for r in self.rows:
            if r.get(key) == value:
                return r
        raise KeyError(f"{self.name}: no row with {key} = {value!r}")

    def save(self) -> None:
        """table.md and results.json into the report folder."""
        text = f"# experiment {self.name}\n\n{self.table()}\n"
        if self.notes:
            text += "\n" + "\n".join(f"- {n}" for n in self.notes) + "\n"
        (self.out / "table.md").write_text(text)
        payload = {"name": self.name, "settings": self.settings, "rows": self.rows, "notes": self.notes}
        payload.update(self.extra)
        (self.out / "results.json").write_text(json.dumps(payload, indent=1, default=_json_default))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, (np.ndarray, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def markdown_table(rows: list[dict], columns: list[Column]) -> str:
    """A Markdown table of rows; a missing or None value shows as an empty cell."""
    lines = ["| " + " | ".join(c.header for c in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c.key)
            cells.append("" if v is None else format(v, c.fmt) if c.fmt else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_dir(name: str, out=None) -> Path:
    """The report folder: out, or runs/experiment-NAME-TIME."""
    path = Path(out) if out is not None else Path(f"runs/experiment-{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 80) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
