"""`toynn report RUN`: the HTML page of an MLP run (made by `toynn train`) and of a small CNN run (made with
toynn.train.fit in the same folder format); parsed, its images decoded, its numbers checked, and opened in
headless Chromium (skipped without Chromium unless TOYNN_REQUIRE_CHROMIUM=1)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

import toynn
from toynn import cli, nn, optim
from toynn.data import DataLoader, TensorDataset
from toynn.data.registry import get_dataset
from toynn.io.runs import load_run
from toynn.models import build_model
from toynn.train import evaluate, fit, plot_history

pytest.importorskip("PIL", reason="the report writes PNG images with Pillow")
pytest.importorskip("matplotlib", reason="the training curves are drawn with matplotlib")
pytest.importorskip("sklearn", reason="the digits data set ships with scikit-learn")


class _Page(HTMLParser):
    """Collects img sources, external references, headings, tables (as lists of rows of cell text)."""

    def __init__(self):
        super().__init__()
        self.images, self.external, self.headings, self.tables, self.ids = [], [], [], [], {}
        self._text, self._row, self._cell, self._tag_id = None, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append((a.get("alt"), a.get("src", "")))
        for key in ("src", "href"):
            if key in a and not a[key].startswith("data:"):
                self.external.append((tag, a[key]))
        if tag in ("link", "iframe", "object", "embed") or (tag == "script" and "src" in a):
            self.external.append((tag, a))
        if tag in ("h1", "h2"):
            self._text = ""
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = ""
        if "id" in a:
            self._tag_id, self.ids[a["id"]] = a["id"], ""

    def handle_endtag(self, tag):
        if tag in ("h1", "h2") and self._text is not None:
            self.headings.append(self._text.strip())
            self._text = None
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._text is not None:
            self._text += data
        if self._cell is not None:
            self._cell += data
        if self._tag_id is not None:
            self.ids[self._tag_id] += data
            self._tag_id = None


def _parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _decode_png(src: str):
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    im = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
    im.load()  # decodes every pixel: a truncated PNG raises here
    return im


def _test_accuracy(run_dir) -> float:
    model, config = load_run(run_dir)
    x, y = get_dataset(config["data"], None, train=False).arrays()
    return evaluate(model, DataLoader(TensorDataset(x, y), batch_size=512))["accuracy"]


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "mlp"
    args = ["train", "--data", "digits", "--model", "mlp", "--epochs", "1", "--out", str(run), "--quiet"]
    assert cli.main(args) == 0
    assert cli.main(["report", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """cifarnet on 8x8 digits (the zoo's smallest CNN that fits them), one epoch on 400 images with fit(), written
    in the folder format of `toynn train`: config.json, checkpoint.safetensors, metrics.json, curves.png."""
    run = tmp_path_factory.mktemp("runs") / "cnn"
    toynn.manual_seed(0)
    train = get_dataset("digits", train=True)
    x, y = train.arrays()
    model = build_model("cifarnet", x.shape[1:], 10)
    run.mkdir()
    config = {
        "model": "cifarnet",
        "data": "digits",
        "input_shape": list(x.shape[1:]),
        "classes": [str(c) for c in train.classes],
        "args": {"epochs": 1, "optimizer": "adam", "lr": 0.003, "data_dir": None},
    }
    (run / "config.json").write_text(json.dumps(config))
    x_test, y_test = get_dataset("digits", train=False).arrays()
    loader = DataLoader(TensorDataset(x[:400], y[:400]), batch_size=20, shuffle=True)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.003),
        loader,
        1,
        val_loader=DataLoader(TensorDataset(x_test, y_test), batch_size=512),
        run_dir=run,
        progress=False,
    )
    plot_history(history, run / "curves.png")
    out = run / "page" / "cnn.html"
    assert cli.main(["report", str(run), "--out", str(out), "--samples", "200", "--top-k", "5"]) == 0
    return run, out


def test_mlp_report_is_self_contained_with_the_run_numbers(mlp_run):
    path = mlp_run / "report.html"
    page = _parse(path)
    assert page.external == []  # nothing fetched: readable offline
    assert page.headings[1:] == ["Training curves", "Model", "First-layer filters", "Confusion matrix"]
    alts = [alt for alt, _ in page.images]
    assert alts == ["training curves", "first-layer filters"]
    sizes = [_decode_png(src).size for _, src in page.images]
    assert sizes[1][0] >= 8 * 8  # 64 hidden units' weights as 8x8 images, enlarged
    metrics = json.loads((mlp_run / "metrics.json").read_text())["epochs"]
    acc = _test_accuracy(mlp_run)
    assert page.ids["test-accuracy"] == f"{acc:.4f}" == f"{metrics[-1]['val_acc']:.4f}"
    epoch_table = next(t for t in page.tables if t[0][:2] == ["epoch", "train_loss"])
    assert epoch_table[1][:3] == ["1", f"{metrics[0]['train_loss']:.4f}", f"{metrics[0]['train_acc']:.4f}"]
    model_table = next(t for t in page.tables if t[0][0] == "Layer")
    assert model_table[-1][0] == "Total" and "38,410" in model_table[-1]  # 64*512 + 512 + 512*10 + 10
    cm = next(t for t in page.tables if t[0][0].startswith("true"))
    counts = np.array([[int(v) for v in row[1:-1]] for row in cm[1:]])
    assert counts.shape == (10, 10) and counts.sum() == 450
    assert np.trace(counts) / 450 == pytest.approx(acc)


def test_cnn_report_has_filters_and_top_crops_per_conv_layer(cnn_run):
    run, path = cnn_run
    page = _parse(path)
    assert page.external == []
    assert "Top crops" in page.headings
    alts = [alt for alt, _ in page.images]
    assert alts == ["training curves", "first-layer filters", *(f"top crops {n}" for n in ("0", "2", "5", "7"))]
    images = {alt: _decode_png(src) for alt, src in page.images}
    w, h = images["top crops 0"].size
    assert w > h / 16 * 5 * 0.9  # 16 filters (rows) of 5 crops each
    acc = _test_accuracy(run)
    assert acc > 0.2  # above chance (0.1): the crops are of a net that has started to learn
    assert page.ids["test-accuracy"] == f"{acc:.4f}"
    text = path.read_text()
    assert re.search(r"receptive field 3x3, jump 1", text) and re.search(r"receptive field 10x10, jump 2", text)


def test_report_errors_and_missing_data(mlp_run, tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 1
    assert "not a toynn run folder" in capsys.readouterr().err
    moved = tmp_path / "moved"
    shutil.copytree(mlp_run, moved)
    config = json.loads((moved / "config.json").read_text())
    config["data"] = "mnist"  # a data set whose folder is gone: the page is still written, and says so
    (moved / "config.json").write_text(json.dumps(config))
    assert cli.main(["report", str(moved), "--out", str(tmp_path / "r.html")]) == 0
    page = _parse(tmp_path / "r.html")
    assert "Test set" in page.headings and "Confusion matrix" not in page.headings


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    if os.environ.get("TOYNN_REQUIRE_CHROMIUM") == "1":
        pytest.fail("TOYNN_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
    pytest.skip("headless Chromium not found (apt-get install chromium); set TOYNN_REQUIRE_CHROMIUM=1 to require it")


# logs "toynn-check images=N broken=[...]" once the page has loaded: every <img> decoded, or the alts that did not
_CHECK = """<script>window.addEventListener("load", () => { const imgs = [...document.images];
const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
console.log("toynn-check images=" + imgs.length + " broken=" + JSON.stringify(broken)); });</script>"""


def test_report_opens_in_headless_chromium(cnn_run, tmp_path):
    from PIL import Image

    exe = _chromium()
    run, path = cnn_run
    checked = tmp_path / "checked.html"  # the report plus a load-time check of its images, for this test only
    checked.write_text(path.read_text(encoding="utf-8").replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    shot = tmp_path / "report.png"
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-gpu",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        "--enable-logging=stderr",
        "--v=0",
        checked.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-2000:]
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    n_images = len(_parse(path).images)
    assert len(console) == 1 and f'toynn-check images={n_images} broken=[]"' in console[0], "\n".join(console)
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"), dtype=np.int64)
    assert px.shape[:2] == (2000, 1200)
    ink = (px.sum(axis=2) < 600).mean()  # not white
    colour = (np.ptp(px, axis=2) > 60).mean()  # the curves' blue and orange markers and lines
    assert ink > 0.02 and colour > 0.0003, (ink, colour)
