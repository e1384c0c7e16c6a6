"""The layers of docs/architecture.md hold: import-linter's contracts, what `import toynn` loads, and the old
module paths that still resolve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what `import toynn` must not load: the lecture, the CLI, the optional tools, and the heavy optional libraries
NOT_AT_IMPORT = (
    "toynn.lecture",
    "toynn.cli",
    "toynn.io",
    "toynn.train",
    "sympy",
    "matplotlib",
    "PIL",
    "tqdm",
    "onnx",
    "mpi4py",
    "scipy",
    "sklearn",
    "safetensors",
)


def _modules_after(code: str) -> set[str]:
    """sys.modules of a fresh interpreter after it runs code."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def _loaded(modules: set[str], prefixes) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_import_linter_contracts_hold():
    """Each layer imports only the layers below it; the library imports no study, plotting or MPI code; no cycle
    but tensor <-> ops. Checked on every import, function-level ones included."""
    lint = shutil.which("lint-imports")
    if lint is None:
        if os.environ.get("CI"):
            pytest.fail("import-linter is not installed: it comes with the test extras (.[test])")
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    run = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_import_toynn_loads_no_study_app_cli_or_plotting_module():
    assert _loaded(_modules_after("import toynn"), NOT_AT_IMPORT) == []


def test_python_importtime_shows_no_study_module():
    """The issue's own check: python -X importtime -c 'import toynn'."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import toynn"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "toynn" in names
    assert _loaded(names, NOT_AT_IMPORT) == []


@pytest.mark.parametrize(
    "name",
    [
        "models.LeNet5",
        "conv.conv_matrix",
        "conv.reference",
        "autodiff.symbolic",
        "manual.toynn_Linear",
        "train.fit",
        "io.checkpoint",
        "lecture.viz.graph",
    ],
)
def test_documented_names_resolve_lazily_after_a_bare_import(name):
    code = f"import toynn\nobj = toynn\nfor part in {name.split('.')!r}:\n    obj = getattr(obj, part)"
    loaded = _modules_after(code)
    # resolving a name loads what it needs, and still no plotting: SymPy only when the symbolic module runs
    assert _loaded(loaded, ("matplotlib", "sympy", "PIL", "tqdm", "mpi4py")) == []


def test_old_module_paths_give_the_module_at_its_new_path():
    import toynn.manual
    import toynn.vision.topk
    from toynn.onnx import export

    import toynn
    from toynn.lecture import manual
    from toynn.lecture.vision import topk

    assert toynn.manual is manual and toynn.vision.topk is topk
    assert export is toynn.io.onnx.export
    assert manual.__spec__.name == "toynn.lecture.manual"  # the alias does not rename the real module
    assert toynn.autodiff.compare is toynn.lecture.compare.compare  # a function, as it was


def test_an_unknown_name_is_still_an_attribute_error():
    import toynn

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        toynn.nonexistent  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        toynn.autodiff.nonexistent  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        import toynn.nonexistent  # noqa: F401
