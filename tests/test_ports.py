"""The port corpus (issue 15): PyTorch programs run unchanged on toynn once their import lines are rewritten.

Each program in tests/ports/ is a complete PyTorch program written in the idioms of the official tutorials and
examples. It runs twice, each time as a subprocess in a fresh folder:

1. with PyTorch (torchvision's data sets and transforms come from tests/ports/shim/, a tiny stand-in on torch and
   Pillow, since torchvision is not installed), and
2. with toynn: the program's text with only its import lines rewritten by REWRITES below. That run has a `torch`
   and a `torchvision` on its path that raise ImportError, so a port that still reaches PyTorch fails.

The PyTorch run saves its freshly initialised weights (`torch.save(model.state_dict(), "init.pth")`, the program's
own idiom); the toynn run gets that file and loads it with `torch.load` (so toynn reads torch.save's format), and
both start from the same weights. Each Port below says which printed lines must agree (same text, numbers within
a tolerance) and which numbers must reach a given quality in both runs (where random streams differ: shuffling,
dropout, sampling). docs/porting.md explains what ports, what differs and why.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .data_paths import DATA

ROOT = Path(__file__).resolve().parents[1]
PORTS = Path(__file__).resolve().parent / "ports"
SHIM = PORTS / "shim"

# The only edits made to a program: its import lines, one rule each (a line that matches no rule is left alone).
REWRITES = [
    (r"^(\s*)import torch$", r"\1import toynn as torch"),
    (r"^(\s*)import torch\.([\w.]+) as (\w+)$", r"\1import toynn.\2 as \3"),
    (r"^(\s*)from torch(\.[\w.]+)? import ", r"\1from toynn\2 import "),
    (r"^(\s*)import torchvision$", r"\1import toynn.data as torchvision"),
    (r"^(\s*)import torchvision\.([\w.]+) as (\w+)$", r"\1import toynn.data.\2 as \3"),
    (r"^(\s*)from torchvision(\.[\w.]+)? import ", r"\1from toynn.data\2 import "),
]
IMPORTS_TORCH = re.compile(r"^\s*(import|from)\s+torch(vision)?\b")


def port_source(text: str) -> str:
    """The program with its import lines rewritten for toynn (REWRITES); every other line as it was."""
    lines = []
    for line in text.splitlines():
        for pattern, replacement in REWRITES:
            line, n = re.subn(pattern, replacement, line)
            if n:
                break
        if IMPORTS_TORCH.match(line):
            raise ValueError(f"no rewrite rule for the import line {line!r}: add one to REWRITES")
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Port:
    """A program of tests/ports and what its two runs must show.

    match: a regex; the lines it finds must be the same in both runs, in number and in text, with every number
    within rtol/atol of its counterpart. quality: (regex with one number group, low, high): the last number the
    regex finds lies in [low, high] in each run; (regex, None, None): each run prints a line it finds.
    data: the shared data the program reads ("mnist", "cifar10").
    ignore: a regex of lines left out of the comparison (their text differs by design, e.g. an object's address).
    needs: the toynn names the port still lacks; set, the toynn run is expected to fail (xfail, strict).
    gpu: a regex the toynn run prints when it picked the GPU (checked under --backend fake and cupy).
    """

    name: str
    match: str = ""
    rtol: float = 1e-5
    atol: float = 1e-6
    quality: tuple = ()
    data: tuple = ()
    ignore: str = ""
    needs: str = ""
    gpu: str = ""


ALL = r"."
PORT_LIST = [
    Port(
        "tensors_tutorial",
        match=ALL,
    ),
    Port(
        "autograd_basics",
        match=ALL,
        ignore=r"^Gradient function for",
    ),
    Port(
        "polynomial_manual_sgd",
        match=ALL,
        rtol=2e-4,
        atol=2e-6,
    ),
    Port(
        "quickstart_mnist",
        gpu=r"^Using cuda device",
        match=ALL,
        rtol=2e-4,
        atol=2e-6,
        quality=((r"Accuracy: ([\d.]+)%", 60, 100),),
        data=("mnist",),
    ),
    Port(
        "bn_cnn_mnist",
        gpu=r"^Using cuda device",
        match=r"^Using|^Initial test set|^lr now",
        rtol=1e-4,
        quality=((r"^Test set: .*\(([\d.]+)%\)", 70, 100), (r"^Reloaded test set: .*\(([\d.]+)%\)", 70, 100)),
        data=("mnist",),
    ),
    Port(
        "cifar_imagefolder",
        gpu=r"^cuda:0$",
        match=r"training images|^Initial weights",
        rtol=1e-4,
        quality=(
            (r"\[3, +60\] loss: ([\d.]+)", 0, 2.27),
            (r"^Reloaded: .* ([\d.]+) %", 13, 100),
        ),
        data=("cifar10",),
    ),
    Port(
        "makemore_mlp",
        match=r"words|vocab size|^\(|parameters",
        quality=(
            (r"^train loss ([\d.]+)", 0, 2.3),
            (r"^val loss ([\d.]+)", 0, 3.0),
            (r"^sample: [a-z]+\.$", None, None),
        ),
    ),
    Port(
        "regression_scheduler",
        match=ALL,
        rtol=2e-3,
        atol=1e-5,
        quality=((r"cosine epoch  20  val ([\d.]+)", 0, 0.05),),
    ),
    Port(
        "text_classifier",
        match=ALL,
        rtol=1e-3,
        atol=1e-5,
        quality=((r"valid accuracy +([\d.]+)", 0.9, 1),),
    ),
    Port(
        "lr_finder_plateau",
        match=ALL,
        rtol=1e-3,
        atol=1e-5,
        quality=((r"val acc ([\d.]+)", 0.85, 1),),
    ),
    Port(
        "grad_clipping",
        match=ALL,
        rtol=1e-3,
        atol=1e-5,
        quality=((r"final loss ([\d.]+)", 0, 0.05),),
    ),
    Port(
        "checkpoint_resume",
        gpu=r"^device type: cuda",
        match=ALL,
        rtol=1e-4,
        atol=1e-6,
        quality=((r"^resumed run equals uninterrupted run: True$", None, None),),
    ),
    Port(
        "custom_dataset",
        match=r"dataset size|one sample|split|shape|first image",
        quality=((r"test accuracy: ([\d.]+)", 0.9, 1),),
    ),
]
PORTS_BY_NAME = {p.name: p for p in PORT_LIST}

DTYPE = re.compile(r"(?<![\w.])(bool|u?int(?:8|16|32|64)|float(?:16|32|64)|complex(?:64|128))\b")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b")


# ---------------------------------------------------------------------------------------------
# Running a program


@pytest.fixture(scope="session")
def port_data(tmp_path_factory) -> Path:
    """data/ as the programs expect it: MNIST/raw/*.gz (links to the shared files) and cifar10/{train,test}/<class>/,
    100 and 30 JPEGs per class cut from the shared CIFAR-10 test archive (disjoint: files 0000-0099 and 0900-0929).
    """
    root = tmp_path_factory.mktemp("port_data")
    mnist = DATA / "mnist"
    if (mnist / "train-images-idx3-ubyte.gz").exists():
        (root / "MNIST" / "raw").mkdir(parents=True)
        for f in mnist.glob("*-ubyte.gz"):
            (root / "MNIST" / "raw" / f.name).symlink_to(f)
    archive = DATA / "cifar10-jpeg" / "test.tar.gz"
    if archive.exists():
        with tarfile.open(archive) as tar:
            for member in tar:
                parts = member.name.split("/")  # test/<class>/<nnnn>.jpg
                if not (member.isfile() and len(parts) == 3 and parts[2][:4].isdigit()):
                    continue
                n = int(parts[2][:4])
                split = "train" if n < 100 else "test" if 900 <= n < 930 else None
                if split:
                    out = root / "cifar10" / split / parts[1] / parts[2]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tar.extractfile(member).read())
    return root


@pytest.fixture(scope="session")
def blocker(tmp_path_factory) -> Path:
    """A folder with a `torch` and a `torchvision` that refuse to import: the toynn runs put it on their path."""
    root = tmp_path_factory.mktemp("no_torch")
    for name in ("torch", "torchvision"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(
            f"raise ImportError('the toynn run of a port imported {name}: an import line was not rewritten')\n"
        )
    return root


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    folder: Path


def _run(argv, cwd: Path, pythonpath: list[Path], extra_env: dict | None = None) -> Run:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath),
        "OMP_NUM_THREADS": "1",  # the two runs share two cores with the test session
        "PYTHONHASHSEED": "0",
        **(extra_env or {}),
    }
    env.pop("TOYNN_BACKEND", None)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    (cwd / "stdout.txt").write_text(proc.stdout)  # kept for a look after a failure
    (cwd / "stderr.txt").write_text(proc.stderr)
    return Run(proc.returncode, proc.stdout, proc.stderr, cwd)


def _folder(base: Path, name: str, data: Path) -> Path:
    folder = base / name
    folder.mkdir()
    (folder / "data").symlink_to(data, target_is_directory=True)
    return folder


def _has_data(port: Port, data: Path) -> bool:
    where = {"mnist": data / "MNIST" / "raw", "cifar10": data / "cifar10"}
    return all(where[name].exists() for name in port.data)


def _torch_run(name: str, base: Path, data: Path) -> Run:
    folder = _folder(base, f"{name}_torch", data)
    return _run([sys.executable, str(PORTS / f"{name}.py")], folder, [SHIM])


def _toynn_run(name: str, base: Path, data: Path, blocker: Path, init: Path, backend: str) -> Run:
    """The ported program on toynn. Under --backend numpy no GPU is visible to it (so a machine with CuPy still
    runs it on the CPU); under fake, tests/fake_cupy.py is its CuPy and one (fake) GPU is there, so the programs
    that pick "cuda" when torch.cuda.is_available() compute on it; under cupy, on the real GPU."""
    folder = _folder(base, f"{name}_toynn", data)
    program = folder / f"{name}.py"
    program.write_text(port_source((PORTS / f"{name}.py").read_text()))
    if init.exists():
        shutil.copy(init, folder / "init.pth")
    path, env = [ROOT, blocker], {}
    if backend == "numpy":
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif backend == "fake":
        (base / "fake_gpu").mkdir(exist_ok=True)
        (base / "fake_gpu" / "sitecustomize.py").write_text(FAKE_GPU)
        path.insert(1, base / "fake_gpu")
    return _run([sys.executable, str(program)], folder, path, env)


# run at the start of every Python process of a toynn run under --backend fake (worker processes too)
FAKE_GPU = """import sys
from tests import fake_cupy
sys.modules["cupy"], sys.modules["cupyx"] = fake_cupy, fake_cupy.cupyx
"""


class Lanes:
    """The runs of the selected programs, all started at once on two lanes (the two cores); on a lane, a program's
    PyTorch run and then its toynn run (which reads the PyTorch run's init.pth). Each test waits for its result."""

    def __init__(self, wanted: dict[str, bool], base: Path, data: Path, blocker: Path, backend: str):
        self.base, self.data, self.blocker, self.backend = base, data, blocker, backend
        self.torch = {name: Future() for name in wanted}
        self.toynn = {name: Future() for name in wanted}
        self.pool = ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)))
        for name, with_toynn in wanted.items():
            self.pool.submit(self._lane, name, with_toynn)

    def _lane(self, name: str, with_toynn: bool) -> None:
        reference = self._settle(self.torch[name], lambda: _torch_run(name, self.base, self.data))
        if with_toynn and reference is not None and reference.returncode == 0:
            init = reference.folder / "init.pth"
            run = lambda: _toynn_run(name, self.base, self.data, self.blocker, init, self.backend)  # noqa: E731
            self._settle(self.toynn[name], run)
        else:
            self.toynn[name].set_result(None)

    @staticmethod
    def _settle(future: Future, run):
        try:
            result = run()
        except Exception as error:  # e.g. a timeout: the test that waits for this run reports it
            future.set_exception(error)
            return None
        future.set_result(result)
        return result


@pytest.fixture(scope="session")
def lanes(request, tmp_path_factory, port_data, blocker):
    """Starts the runs that the selected tests of this module need, in the tests' order, and hands them out."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the PyTorch side of the port corpus needs torch==2.13.0")
    wanted: dict[str, bool] = {}
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("name") if callspec else None
        if item.module.__name__ == __name__ and name in PORTS_BY_NAME and _has_data(PORTS_BY_NAME[name], port_data):
            wanted[name] = wanted.get(name, False) or item.originalname == "test_program_ports_to_toynn"
    backend = request.config.getoption("--backend")
    lanes = Lanes(wanted, tmp_path_factory.mktemp("port_runs"), port_data, blocker, backend)
    yield lanes
    lanes.pool.shutdown(wait=True, cancel_futures=True)


def _result(lanes: Lanes, kind: str, name: str, port_data: Path) -> Run:
    port = PORTS_BY_NAME[name]
    if not _has_data(port, port_data):
        pytest.skip(f"{name} reads {', '.join(port.data)}: not found under {DATA} (set TOYNN_DATA to the shared data)")
    return getattr(lanes, kind)[name].result()


# ---------------------------------------------------------------------------------------------
# Comparing what the two runs print


def _finished(run: Run, who: str) -> None:
    if run.returncode != 0:
        tail = "\n".join(run.stderr.splitlines()[-25:])
        raise AssertionError(f"the {who} run exited with {run.returncode} in {run.folder}:\n{tail}")


def _lines(stdout: str, port: Port) -> list[str]:
    out = []
    for line in stdout.splitlines():
        line = re.sub(r"\btoynn\b", "torch", line.rstrip())  # the library names itself in reprs: toynn.Size(...)
        line = DTYPE.sub(r"torch.\1", line)  # toynn's dtypes are NumPy's: int64 where PyTorch prints torch.int64
        line = re.sub(r"\bcuda(:\d+)?\b", "cpu", line)  # PyTorch runs on the CPU; toynn may run on a GPU (--backend)
        if port.match and re.search(port.match, line) and not (port.ignore and re.search(port.ignore, line)):
            out.append(line)
    return out


def compare(expected: str, got: str, port: Port) -> None:
    """The matched lines of both outputs agree: same count, same text around the numbers, numbers within tolerance."""
    want, have = _lines(expected, port), _lines(got, port)
    for k, (a, b) in enumerate(zip(want, have)):
        text_a, text_b = NUMBER.sub("#", a), NUMBER.sub("#", b)
        nums_a, nums_b = [float(x) for x in NUMBER.findall(a)], [float(x) for x in NUMBER.findall(b)]
        close = len(nums_a) == len(nums_b) and all(
            math.isclose(x, y, rel_tol=port.rtol, abs_tol=port.atol) or (math.isnan(x) and math.isnan(y))
            for x, y in zip(nums_a, nums_b)
        )
        if text_a != text_b or not close:
            raise AssertionError(
                f"{port.name}: line {k + 1} of the compared output differs "
                f"(rtol={port.rtol}, atol={port.atol}):\n  PyTorch: {a}\n  toynn:   {b}"
            )
    assert len(want) == len(have), (
        f"{port.name}: PyTorch printed {len(want)} compared lines, toynn {len(have)}; "
        f"first extra: {(want[len(have) :] or have[len(want) :])[0]!r}"
    )


def check_quality(stdout: str, port: Port, who: str) -> None:
    for pattern, low, high in port.quality:
        found = re.findall(pattern, stdout, flags=re.MULTILINE)
        assert found, f"{port.name} ({who}): nothing printed matches {pattern!r}"
        if low is None:  # a line that must be there
            continue
        value = float(found[-1])
        assert low <= value <= high, f"{port.name} ({who}): {pattern!r} gave {value}, expected in [{low}, {high}]"


# ---------------------------------------------------------------------------------------------
# The tests


def test_rewrites_touch_only_import_lines():
    program = (
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom torch import nn, optim\n"
        "from torch.utils.data import DataLoader\nimport torchvision\nimport torchvision.transforms as transforms\n"
        "from torchvision import datasets, transforms\nfrom torchvision.transforms import ToTensor\n"
        "x = torch.zeros(3)  # import torch\nprint('from torch import nn')\n"
    )
    assert port_source(program).splitlines() == [
        "import toynn as torch",
        "import toynn.nn as nn",
        "import toynn.nn.functional as F",
        "from toynn import nn, optim",
        "from toynn.utils.data import DataLoader",
        "import toynn.data as torchvision",
        "import toynn.data.transforms as transforms",
        "from toynn.data import datasets, transforms",
        "from toynn.data.transforms import ToTensor",
        "x = torch.zeros(3)  # import torch",
        "print('from torch import nn')",
    ]
    with pytest.raises(ValueError, match="no rewrite rule"):
        port_source("import torch.nn\n")


def test_every_program_is_in_the_list():
    on_disk = {p.stem for p in PORTS.glob("*.py")}
    assert on_disk == set(PORTS_BY_NAME), "each tests/ports/*.py needs a Port entry (and each entry a program)"
    for name in on_disk:
        assert (PORTS / f"{name}.py").read_text().splitlines()[0].startswith("import "), name


def test_comparison_catches_a_difference():
    port = Port("x", match=ALL, rtol=1e-3)
    compare("loss: 1.0000 [64/100]\n", "loss: 1.0005 [64/100]\n", port)
    for other in ("loss: 1.0100 [64/100]\n", "loss: 1.0000 [64/200]\n", "Loss: 1.0000 [64/100]\n", ""):
        with pytest.raises(AssertionError):
            compare("loss: 1.0000 [64/100]\n", other, port)
    compare("shape torch.Size([2, 3]) torch.int64\n", "shape toynn.Size([2, 3]) int64\n", port)
    with pytest.raises(AssertionError):
        compare("dtype torch.int64\n", "dtype int32\n", port)


def test_quality_check_catches_a_miss():
    port = Port("x", quality=((r"acc ([\d.]+)", 0.9, 1), (r"^done$", None, None)))
    check_quality("acc 0.5\nacc 0.95\ndone\n", port, "test")  # the last value counts
    for bad in ("acc 0.95\nacc 0.5\ndone\n", "acc 0.95\n", "done\n"):
        with pytest.raises(AssertionError):
            check_quality(bad, port, "test")


@pytest.mark.parametrize("name", list(PORTS_BY_NAME))
def test_program_runs_on_pytorch(name, lanes, port_data):
    run = _result(lanes, "torch", name, port_data)
    _finished(run, "PyTorch")
    check_quality(run.stdout, PORTS_BY_NAME[name], "PyTorch")


def _port_params():
    for port in PORT_LIST:
        marks = [pytest.mark.xfail(strict=True, reason=f"needs: {port.needs}")] if port.needs else []
        yield pytest.param(port.name, marks=marks, id=port.name)


@pytest.mark.parametrize("name", _port_params())
def test_program_ports_to_toynn(name, lanes, port_data, backend):
    port = PORTS_BY_NAME[name]
    reference = _result(lanes, "torch", name, port_data)
    _finished(reference, "PyTorch")
    run = _result(lanes, "toynn", name, port_data)
    _finished(run, "toynn")
    if backend != "numpy" and port.gpu:
        assert re.search(port.gpu, run.stdout, flags=re.MULTILINE), f"{name}: did not pick the GPU under {backend}"
    check_quality(run.stdout, port, "toynn")
    compare(reference.stdout, run.stdout, port)
