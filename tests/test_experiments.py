"""toynn.experiments: each experiment in --quick mode on the bundled digits, through its function and through
`toynn experiment`; the checks are on the numbers (accuracy well above chance, exact parameter and
multiplication counts, the papers' qualitative effects), not only on the files written."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.data_paths import need_mnist
from toynn.cli import main
from toynn.lecture.experiments import EXPERIMENTS, ablation, loss_surface, pooling_vs_strided, saturation, separable
from toynn.lecture.experiments.common import Column, count_params, load_data, markdown_table
from toynn.lecture.experiments.depth import QUICK as ABLATION_QUICK
from toynn.lecture.experiments.depth import VARIANTS
from toynn.lecture.experiments.nets import springenberg_net, zf_net

CHANCE = 0.1  # ten classes


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """The quick networks multiply small matrices, where BLAS threads only add waiting (on a busy 2-core
    machine, OpenBLAS's spinning threads made these tests up to 30x slower)."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn, which the digits need
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 5000, f"{path} is nearly empty ({len(data)} bytes)"
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.01, f"{path} is blank"


def assert_report(result) -> None:
    for plot in result.plots:
        assert_png(plot)
    saved = json.loads((result.out / "results.json").read_text())
    assert saved["name"] == result.name and len(saved["rows"]) == len(result.rows)
    table = (result.out / "table.md").read_text()
    assert result.table() in table
    assert len(result.table().splitlines()) == len(result.rows) + 2  # header, rule, one line per row


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


# ---------------------------------------------------------------------------------------------
# ablation


@pytest.fixture(scope="module")
def ablation_result(report):
    return ablation(quick=True, out=report / "ablation")


def test_ablation_rows_and_accuracy(ablation_result):
    r = ablation_result
    assert_report(r)
    assert [row["variant"] for row in r.rows] == [v[0] for v in VARIANTS]
    full = r.row("variant", "full")
    assert full["test_acc"] > CHANCE + 0.6, "the full network should beat chance (10%) by a wide margin"
    for row in r.rows:
        assert row["test_acc"] > CHANCE + 0.4
        assert row["change"] == pytest.approx(100 * (row["test_acc"] - full["test_acc"]))
    assert full["change"] == 0
    layers = [(row["conv_layers"], row["fc_layers"]) for row in r.rows]
    assert layers == [(5, 3), (5, 2), (5, 1), (3, 3), (3, 1)]


def test_ablation_parameter_counts_match_the_models(ablation_result):
    s = ABLATION_QUICK
    for row, (_, removed, _) in zip(ablation_result.rows, VARIANTS):
        model = zf_net((1, 8, 8), 10, s["widths"], s["fc"], removed, s["kernel_size"])
        assert row["params"] == count_params(model)
    # by hand: conv 1->8, 8->16, 3x 16->16 (3x3 kernels with biases); 2x2 maps -> fc 64->64->64->10
    conv1, conv2, conv_mid = 8 * 9 + 8, 16 * 8 * 9 + 16, 16 * 16 * 9 + 16
    fc6, fc7, fc8 = 64 * 64 + 64, 64 * 64 + 64, 64 * 10 + 10
    params = [row["params"] for row in ablation_result.rows]
    assert params[0] == conv1 + conv2 + 3 * conv_mid + fc6 + fc7 + fc8 == 17_178
    assert params[0] - params[1] == fc7
    assert params[0] - params[2] == fc6 + fc7
    assert params[0] - params[3] == 2 * conv_mid
    assert params[4] == conv1 + conv2 + conv_mid + fc8


def test_zf_net_rejects_unknown_layers():
    with pytest.raises(ValueError, match="conv9"):
        zf_net((1, 28, 28), 10, remove=("conv9",))


# ---------------------------------------------------------------------------------------------
# pooling vs strided


@pytest.fixture(scope="module")
def pooling_result(report):
    return pooling_vs_strided(quick=True, out=report / "pooling")


def test_pooling_vs_strided(pooling_result):
    r = pooling_result
    assert_report(r)
    pool, strided, allconv = (r.row("variant", v) for v in ("pool", "strided", "all-conv"))
    for row in r.rows:
        assert row["test_acc"] > CHANCE + 0.5
        assert row["best_acc"] >= row["test_acc"]
        assert row["seconds_per_epoch"] > 0 and row["cpu_seconds_per_epoch"] > 0
    # a stride changes no weight; All-CNN adds one 3x3 conv (w -> w, with bias) per block
    assert pool["params"] == strided["params"]
    assert allconv["params"] - pool["params"] == (8 * 8 * 9 + 8) + (16 * 16 * 9 + 16)
    # strided by hand on 8x8 inputs: conv1a 8x8, conv1b stride 2 -> 4x4, conv2a 4x4, conv2b -> 2x2, conv3-5 2x2
    assert strided["macs"] == 64 * 8 * 9 + 16 * 8 * 72 + 16 * 16 * 72 + 4 * 16 * 144 + 4 * 16 * 144 + 4 * 256 + 4 * 160
    assert strided["macs"] < pool["macs"] < allconv["macs"]
    for variant in ("pool", "strided", "all-conv"):
        assert r.row("variant", variant)["params"] == count_params(springenberg_net((1, 8, 8), 10, variant, (8, 16)))


# ---------------------------------------------------------------------------------------------
# saturation


@pytest.fixture(scope="module")
def saturation_result(report):
    return saturation(quick=True, out=report / "saturation")


def test_saturation_statistics(saturation_result):
    r = saturation_result
    assert_report(r)
    layers = len(r.settings["hidden"])
    assert [(row["activation"], row["layer"]) for row in r.rows] == [
        (a, i) for a in ("sigmoid", "tanh", "relu") for i in range(1, layers + 1)
    ]
    by = {a: [row for row in r.rows if row["activation"] == a] for a in ("sigmoid", "tanh", "relu")}
    for row in r.rows:
        assert 0 <= row["sat_start"] <= row["sat_peak"] <= 1 and row["sat_end"] <= row["sat_peak"]
        assert row["std_start"] > 0
    assert all(0 < row["mean_end"] < 1 for row in by["sigmoid"])
    assert all(-1 < row["mean_end"] < 1 for row in by["tanh"])
    # Glorot & Bengio Fig 2: the top sigmoid layer is driven towards 0 while the layers below stay near 0.5
    top, below = by["sigmoid"][-1], by["sigmoid"][:-1]
    assert top["mean_end"] < top["mean_start"] - 0.1
    assert top["mean_end"] < min(row["mean_end"] for row in below) - 0.1
    # their standard init U[-1/sqrt(n), 1/sqrt(n)] shrinks the signal layer after layer (their Fig 6, top)
    tanh_std = [row["std_start"] for row in by["tanh"]]
    assert all(a > b for a, b in zip(tanh_std, tanh_std[1:])), tanh_std
    # zero-mean weights and zero biases: about half of the ReLUs output exactly 0 at the start
    assert all(0.3 < row["sat_start"] < 0.7 for row in by["relu"])
    assert by["tanh"][0]["test_acc"] > CHANCE + 0.5
    trace = r.extra["traces"]["sigmoid"]
    steps, updates = trace["step"], r.settings["epochs"] * math.ceil(1347 / r.settings["batch_size"])
    assert steps[0] == 0 and all(b - a == r.settings["every"] for a, b in zip(steps[:-2], steps[1:-1]))
    assert steps[-1] == updates  # the last checkpoint is after the last update (1347 training digits)
    assert np.asarray(trace["mean"]).shape == (len(steps), layers)


# ---------------------------------------------------------------------------------------------
# loss surface


@pytest.fixture(scope="module")
def surface_result(report):
    return loss_surface(quick=True, out=report / "surface")


def test_loss_surface(surface_result):
    r = surface_result
    assert_report(r)
    ce, quad = r.row("cost", "cross-entropy"), r.row("cost", "quadratic")
    span = r.settings["span"]
    # the trained weights sit at the bottom of the cross-entropy surface
    assert ce["at_trained"] - ce["min"] <= 0.02 * ce["range"]
    assert all(abs(o) <= span / 4 for o in ce["argmin"])
    assert ce["grad_at_trained"] < 0.1 * ce["max_grad"]
    # Glorot & Bengio: cross-entropy is steeper and has fewer plateaus than the quadratic cost
    assert ce["steepness"] > quad["steepness"]
    assert quad["plateau"] > ce["plateau"]
    surfaces = r.extra["surfaces"]
    grid = r.settings["grid"]
    ce_surface, quad_surface = np.asarray(surfaces["cross_entropy"]), np.asarray(surfaces["quadratic"])
    assert ce_surface.shape == quad_surface.shape == (grid, grid)
    assert ce_surface.min() >= 0 and 0 <= quad_surface.min() and quad_surface.max() <= 2
    assert ce_surface[grid // 2, grid // 2] == pytest.approx(ce["at_trained"])
    assert quad["range"] < ce["range"]  # the quadratic cost is bounded by 2; cross-entropy grows without bound


# ---------------------------------------------------------------------------------------------
# separable


def test_separable_counts_are_the_lectures(report):
    r = separable(quick=True, out=report / "separable")
    assert_report(r)
    standard, depthwise = r.rows[0], r.rows[1]
    assert standard["macs"] == 256 * 3 * 5 * 5 * 8 * 8 == 1_228_800
    assert depthwise["macs"] == 53_952
    assert depthwise["parts"] == [("depthwise", 4_800), ("pointwise", 49_152)]
    assert standard["params"] == 256 * 75 + 256 and depthwise["params"] == 75 + 256 * 3 + 256
    assert depthwise["ratio"] == pytest.approx(53_952 / 1_228_800)
    spatial_small, spatial_default = r.rows[2], r.rows[3]
    assert spatial_small["macs"] == 3 * 3 * 5 * 8 * 12 + 256 * 3 * 5 * 8 * 8
    assert spatial_default["macs"] == 256 * 3 * 5 * 8 * 12 + 256 * 256 * 5 * 8 * 8
    for row in r.rows:
        assert row["out_shape"] == (256, 8, 8)
        assert row["ms_small"] > 0 and row["ms_large"] > 0 and row["cpu_ms_large"] > 0


# ---------------------------------------------------------------------------------------------
# the command line


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_cli_runs_each_experiment(name, tmp_path, capsys):
    out = tmp_path / name
    assert main(["experiment", name, "--quick", "--epochs", "1", "--out", str(out), "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "results.json").read_text())
    assert saved["settings"]["quick"] is True and saved["settings"]["seed"] == 1
    assert saved["rows"]
    assert (out / "table.md").read_text().splitlines()[2] in printed  # the table's header row is printed
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 5000 for p in pngs)
    if name != "separable":
        assert saved["settings"]["epochs"] == 1


def test_cli_reports_a_missing_data_dir(tmp_path, capsys):
    assert main(["experiment", "ablation", "--data", "mnist", "--quick", "--out", str(tmp_path)]) == 1
    assert "--data-dir" in capsys.readouterr().err


def test_cli_rejects_an_unknown_experiment(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_markdown_table_formats_and_blanks():
    table = markdown_table([{"a": 1234567, "b": None}], [Column("A", "a", ","), Column("B", "b", ".2f")])
    assert table.splitlines() == ["| A | B |", "|---|---|", "| 1,234,567 |  |"]


def test_quick_mnist_is_a_seeded_subset():
    root = need_mnist()
    a = load_data("mnist", root, subset=(2000, 500), seed=3)
    b = load_data("mnist", root, subset=(2000, 500), seed=3)
    assert a.x_train.shape == (2000, 1, 28, 28) and a.x_test.shape == (500, 1, 28, 28)
    assert np.array_equal(a.y_train, b.y_train) and len(np.unique(a.y_train)) == 10
