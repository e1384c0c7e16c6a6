"""A run folder is the run: `toynn train --out DIR --resume` takes the model, data and recipe from DIR, refuses flags
that disagree before writing anything, re-plans the schedule for new --epochs, and stops when there is nothing to
resume. Each test replays one problem of issue 19 ("Why" 1 and the run-folder parts of 6) on the bundled digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toynn.cli import main
from toynn.io import checkpoint
from toynn.io.runs import load_run


def _cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `toynn ARGV` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _snapshot(folder) -> dict:
    """Every file of a folder with its bytes: equal snapshots mean nothing was written."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _weights(run) -> dict:
    return checkpoint.load(run / "checkpoint.safetensors")["model"]


def _lrs(run) -> list[float]:
    return [e["lr"] for e in json.loads((run / "metrics.json").read_text())["epochs"]]


@pytest.fixture(scope="module")
def softmax_run(tmp_path_factory):
    """A finished 2-epoch softmax-regression run on the digits: not the default model, recipe or seed."""
    run = tmp_path_factory.mktemp("runs") / "softmax"
    argv = ["train", "--model", "softmax", "--epochs", "2", "--lr", "0.05", "--seed", "3", "--quiet", "--out", run]
    assert main([str(a) for a in argv]) == 0
    return run


def _copy(run, tmp_path):
    import shutil

    return shutil.copytree(run, tmp_path / run.name)


def test_resume_in_the_readme_form_continues_the_saved_model_data_and_recipe(softmax_run, tmp_path, capsys):
    # Why 1: `--resume` rebuilt the default MLP on a softmax run, overwrote config.json and failed
    run = _copy(softmax_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    code, out, err = _cli(capsys, "train", "--out", run, "--resume", "--epochs", "3", "--quiet")
    assert code == 0, err
    assert "training softmax on digits" in out and "resuming" in out
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"] == "softmax" and saved["args"]["lr"] == 0.05 and saved["args"]["seed"] == 3
    assert {**saved["args"], "epochs": 2} == config["args"]  # only the epochs changed
    assert [e["epoch"] for e in json.loads((run / "metrics.json").read_text())["epochs"]] == [1, 2, 3]
    model, _ = load_run(run)
    assert type(model).__name__ == "SoftmaxRegression"
    assert _cli(capsys, "evaluate", run)[0] == 0


def test_resume_with_nothing_to_resume_stops_unless_fresh(tmp_path, capsys):
    # Why 1: with no checkpoint there, --resume silently started a fresh run
    run = tmp_path / "new"
    code, out, err = _cli(capsys, "train", "--out", run, "--resume", "--epochs", "1", "--quiet")
    assert code == 1 and "holds no checkpoint to resume" in err and "--fresh" in err, err
    assert err.count("\n") == 1 and not run.exists()
    code, out, err = _cli(capsys, "train", "--out", run, "--resume", "--fresh", "--epochs", "1", "--quiet")
    assert code == 0, err
    assert (run / "checkpoint.safetensors").exists()
    # a run stopped before its first checkpoint: its config.json alone is not something to resume
    (run / "checkpoint.safetensors").unlink()
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--quiet")
    assert code == 1 and "stopped before its first epoch ended" in err, err
    code, _, err = _cli(capsys, "train", "--out", run, "--fresh", "--quiet")
    assert code == 1 and "--fresh goes with --resume" in err


def test_more_epochs_re_plan_the_cosine_from_where_the_run_is(tmp_path, capsys):
    # Why 1: --epochs larger than before kept the old cosine: the lr reached 0.0 for an epoch and climbed back
    run = tmp_path / "run"
    assert _cli(capsys, "train", "--out", run, "--epochs", "3", "--quiet")[0] == 0
    code, out, err = _cli(capsys, "train", "--out", run, "--resume", "--epochs", "6", "--quiet")
    assert code == 0, err
    assert "re-planned from lr 0.025 (epoch 3) down to 0 after epoch 6" in out
    lrs = _lrs(run)
    assert lrs[:3] == [0.1, 0.075, 0.025000000000000012] or np.allclose(lrs[:3], [0.1, 0.075, 0.025])
    assert all(a > b > 0 for a, b in zip(lrs, lrs[1:])), lrs  # falls smoothly, never 0, never climbs back
    expected = [0.025 * (1 + math.cos(math.pi * t / 4)) / 2 for t in (1, 2, 3)]
    np.testing.assert_allclose(lrs[3:], expected, rtol=1e-12)
    assert json.loads((run / "config.json").read_text())["args"]["epochs"] == 6
    # fewer epochs than done: refused, nothing written
    before = _snapshot(run)
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--epochs", "4", "--quiet")
    assert code == 1 and "--epochs 4 is fewer than the 6 epochs" in err
    assert _snapshot(run) == before


def test_a_re_planned_run_killed_and_resumed_ends_as_if_uninterrupted(tmp_path, capsys, monkeypatch):
    whole, split = tmp_path / "whole", tmp_path / "split"
    for run in (whole, split):
        assert _cli(capsys, "train", "--out", run, "--epochs", "2", "--quiet")[0] == 0
    assert _cli(capsys, "train", "--out", whole, "--resume", "--epochs", "4", "--quiet")[0] == 0

    def killed(name):  # the process dies right after publishing epoch 3's checkpoint, before its sidecar
        if name == "saved":
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "fault_point", killed)
    assert _cli(capsys, "train", "--out", split, "--resume", "--epochs", "4", "--quiet")[0] == 130
    monkeypatch.undo()
    assert checkpoint.load(split / "checkpoint.safetensors")["epoch"] == 3
    code, out, err = _cli(capsys, "train", "--out", split, "--resume", "--quiet")  # config.json says 4 now
    assert code == 0, err
    assert "re-planned" not in out  # the checkpoint carries the new plan
    for key, value in _weights(whole).items():
        np.testing.assert_array_equal(value, _weights(split)[key], err_msg=key)
    assert _lrs(whole) == _lrs(split)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--lr", "0.1"], "--lr 0.1 conflicts with the run in {run} (lr 0.05); omit it or choose another --out"),
        (["--optimizer", "adam"], "--optimizer adam conflicts with the run in {run} (optimizer sgd)"),
        (["--model", "mlp"], "--model mlp conflicts with the run in {run} (model softmax)"),
        (
            ["--seed", "0", "--batch-size", "32"],
            "--batch-size 32, --seed 0 conflict with the run in {run} (batch size 64, seed 3); omit them",
        ),
        (["--schedule", "none"], "--schedule none conflicts"),
        (["--momentum", "0.5"], "--momentum 0.5 conflicts"),
        (["--weight-decay", "0.001"], "--weight-decay 0.001 conflicts"),
        (["--image-size", "16"], "--image-size 16 conflicts with the run in {run} (image size none)"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_flags_that_conflict_with_the_run_are_refused_before_anything_is_written(softmax_run, flags, message, capsys):
    # Why 1: a new --lr was silently ignored while config.json recorded it; another --optimizer gave a raw
    # KeyError: 'momentum' after config.json was already overwritten
    before = _snapshot(softmax_run)
    code, out, err = _cli(capsys, "train", "--out", softmax_run, "--resume", *flags)
    assert code == 1 and message.format(run=softmax_run) in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    assert _snapshot(softmax_run) == before
    # the folder still works for everything else
    assert _cli(capsys, "evaluate", softmax_run)[0] == 0


def test_flags_that_agree_with_the_run_are_accepted(softmax_run, tmp_path, capsys):
    run = _copy(softmax_run, tmp_path)
    argv = ["--model", "softmax", "--lr", "0.05", "--seed", "3", "--momentum", "0.9", "--epochs", "2"]
    code, out, err = _cli(capsys, "train", "--out", run, "--resume", *argv, "--quiet")
    assert code == 0, err
    assert "has done all its 2 epochs" in out


def test_evaluate_predict_and_report_work_on_a_folder_after_a_refused_resume(tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    assert _cli(capsys, "train", "--out", run, "--epochs", "1", "--quiet")[0] == 0
    assert _cli(capsys, "train", "--out", run, "--resume", "--optimizer", "adam", "--lr", "0.01")[0] == 1
    assert _cli(capsys, "train", "--out", run, "--resume", "--model", "softmax")[0] == 1
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    assert _cli(capsys, "evaluate", run)[0] == 0
    assert _cli(capsys, "predict", run, image)[0] == 0
    code, _, err = _cli(capsys, "report", run, "--samples", "50")
    assert code == 0, err


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "config.json is not readable JSON"),
        ('{"model": "mlp"}', "config.json is damaged: 'data' should be a name"),
        ('{"model": "resnet", "data": "digits"}', "config.json is damaged: unknown model 'resnet'"),
        ("[" * 100_000 + "]" * 100_000, "config.json is not readable JSON"),
        ("", "config.json is not readable JSON"),
    ],
)
def test_a_broken_config_json_is_named_in_the_error(softmax_run, tmp_path, capsys, text, message):
    # Why 6: a broken config.json was not named in the error
    run = _copy(softmax_run, tmp_path)
    (run / "config.json").write_text(text)
    before = _snapshot(run)
    for argv in (["train", "--out", run, "--resume"], ["evaluate", run]):
        code, _, err = _cli(capsys, *argv)
        assert code == 1 and message in err and str(run) in err, err
        assert err.count("\n") == 1
    assert _snapshot(run) == before


def test_a_config_json_with_bad_values_is_named(softmax_run, tmp_path, capsys):
    run = _copy(softmax_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["args"]["lr"] = "fast"
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = _cli(capsys, "train", "--out", run, "--resume")
    assert code == 1 and f"{run / 'config.json'} is damaged: lr should be a positive number; got 'fast'" in err


def test_the_data_must_be_the_runs_data(tmp_path, capsys):
    from PIL import Image

    def folder(root, classes, size=8):
        for split in ("train", "test"):
            for k, name in enumerate(classes):
                (root / split / name).mkdir(parents=True)
                for i in range(4):
                    pixels = np.full((size, size, 3), 40 * k + 10 * i, np.uint8)
                    Image.fromarray(pixels).save(root / split / name / f"{i}.png")
        return root

    a, b = folder(tmp_path / "a", ["cat", "dog"]), folder(tmp_path / "b", ["bird", "cat", "dog"])
    run = tmp_path / "run"
    argv = ["train", "--data", "folder", "--data-dir", a, "--epochs", "1", "--out", run, "--quiet"]
    assert _cli(capsys, *argv, "--image-size", "6")[0] == 0
    assert json.loads((run / "config.json").read_text())["args"]["image_size"] == 6
    assert json.loads((run / "config.json").read_text())["input_shape"] == [3, 6, 6]
    before = _snapshot(run)
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--data-dir", b, "--epochs", "2")
    assert code == 1 and "has classes [bird, cat, dog], but the run in" in err and "[cat, dog]" in err, err
    assert _snapshot(run) == before
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--image-size", "7x6")
    assert code == 1 and "--image-size 7x6 conflicts with the run in" in err and "(image size 6)" in err
    # the data moved: --data-dir may change, and config.json records where it is now
    moved = tmp_path / "moved"
    a.rename(moved)
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--data-dir", moved, "--epochs", "2", "--quiet")
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["args"]["data_dir"] == str(moved)


def test_a_loss_stuck_at_chance_after_the_first_epoch_is_called_out(tmp_path, capsys):
    code, _, err = _cli(capsys, "train", "--out", tmp_path / "run", "--epochs", "5", "--lr", "1e-6", "--quiet")
    assert code == 0
    assert "toynn train: warning: the training loss after epoch 5 is 2.2" in err, err  # 22 steps an epoch
    assert "of chance level for 10 classes (ln 10 = 2.3026)" in err and "learning rate is too high" in err
    assert "not normalised" in err and err.count("\n") == 1
    code, _, err = _cli(capsys, "train", "--out", tmp_path / "ok", "--epochs", "1", "--quiet")
    assert code == 0 and "warning" not in err


def _tamper(run, **changes):
    """Rewrite run's checkpoint with some entries of its state replaced (a valid file, a wrong content)."""
    path = run / "checkpoint.safetensors"
    state = checkpoint.load(path)
    state.update(changes)
    checkpoint.save(state, path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epoch": "two"}, "holds str for 'epoch'; expected a int"),
        ({"history": {"epoch": 1}}, "holds dict for 'history'; expected a list"),
        ({"model": {"w": np.zeros(3)}}, "does not fit this model and optimizer (load_state_dict for"),
        ({"optimizer": {"state": {}}}, "does not fit this model and optimizer (KeyError: 'param_groups')"),
        ({"rng": {"bit_generator": "MT19937"}}, "does not fit this model and optimizer"),
    ],
    ids=["epoch", "history", "model", "optimizer", "rng"],
)
def test_a_tampered_checkpoint_is_named_and_the_folder_kept(softmax_run, tmp_path, capsys, changes, message):
    run = _copy(softmax_run, tmp_path)
    _tamper(run, **changes)
    before = _snapshot(run)
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--epochs", "3")
    assert code == 1 and f"checkpoint: {run / 'checkpoint.safetensors'} " in err and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _snapshot(run) == before


def test_a_tampered_header_is_named_by_train_and_evaluate(softmax_run, tmp_path, capsys):
    from safetensors.numpy import save_file

    run = _copy(softmax_run, tmp_path)
    deep = "[" * 50_000 + "]" * 50_000
    save_file(
        {"x": np.zeros(1)}, str(run / "checkpoint.safetensors"), metadata={"format": checkpoint.FORMAT, "state": deep}
    )
    for argv in (["train", "--out", run, "--resume"], ["evaluate", run]):
        code, _, err = _cli(capsys, *argv)
        assert code == 1 and f"{run / 'checkpoint.safetensors'} has a damaged header" in err, err
        assert err.count("\n") == 1


def test_a_tampered_sidecar_does_not_matter_and_is_rewritten(softmax_run, tmp_path, capsys):
    run = _copy(softmax_run, tmp_path)
    (run / "checkpoint.json").write_text("[" * 100_000)
    code, _, err = _cli(capsys, "train", "--out", run, "--resume", "--epochs", "3", "--quiet")
    assert code == 0, err
    assert json.loads((run / "checkpoint.json").read_text())["epoch"] == 3


def test_temporary_files_of_a_killed_save_are_removed_when_the_run_resumes(softmax_run, tmp_path, capsys):
    # Why 6: a kill during save left .checkpoint.safetensors.*.tmp files, each a full copy, never cleaned
    run = _copy(softmax_run, tmp_path)
    names = [".checkpoint.safetensors.a1.tmp", ".checkpoint.json.b2.tmp", ".metrics.json.c3.tmp", ".config.json.d.tmp"]
    for name in names:
        (run / name).write_bytes((run / "checkpoint.safetensors").read_bytes())
    code, out, err = _cli(capsys, "train", "--out", run, "--resume", "--quiet")  # nothing left to train
    assert code == 0, err
    assert f"removed 4 temporary file(s) left in {run} by an interrupted save" in out
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.json",
        "checkpoint.safetensors",
        "config.json",
        "curves.png",
        "metrics.json",
    ]


def test_the_chance_check_waits_for_100_steps_on_small_data():
    from toynn.train.loop import _chance_epoch

    assert _chance_epoch(range(782), 4) == 1  # CIFAR-10 at batch 64: after the first epoch
    assert _chance_epoch(range(22), 20) == 5  # the digits at batch 64: 22 steps an epoch
    assert _chance_epoch(range(22), 3) is None  # 66 steps in all: too early to tell
