"""Lazy names. A package's submodules load on first use (PEP 562): `toynn.models.LeNet5` works after a bare
`import toynn`, which loads no study, app or plotting code. And the names that moved when the library and its uses
were split into layers (docs/architecture.md) still work: the old module paths import (`import toynn.manual`,
`from toynn.onnx import export`) and give the same module object as the new path. The tables below are the only
place that knows both spellings."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MODULES = {
    "toynn.checkpoint": "toynn.io.checkpoint",
    "toynn.onnx": "toynn.io.onnx",
    "toynn.interop": "toynn.io.interop",
    "toynn.distributed": "toynn.train.distributed",
    "toynn.manual": "toynn.lecture.manual",
    "toynn.viz": "toynn.lecture.viz",
    "toynn.report": "toynn.lecture.report",
    "toynn.vision": "toynn.lecture.vision",
    "toynn.experiments": "toynn.lecture.experiments",
    "toynn.autodiff.symbolic": "toynn.lecture.symbolic",
    "toynn.autodiff.derivations": "toynn.lecture.derivations",
    "toynn.autodiff.compare": "toynn.lecture.compare",
    "toynn.report_cli": "toynn.cli.report",
    "toynn.summary_cli": "toynn.cli.summary",
    # PyTorch's spellings of the same modules (import toynn as torch; torch.utils.data.DataLoader)
    "toynn.utils.data": "toynn.data",
    "toynn.utils.data.dataloader": "toynn.data.loader",
    "toynn.utils.data.dataset": "toynn.data.dataset",
}
# functions that package __init__s used to re-export from a module that moved out of the library
ATTRIBUTES = {
    ("toynn.autodiff", "compare"): ("toynn.lecture.compare", "compare"),
    ("toynn.autodiff", "cost_sweep"): ("toynn.lecture.compare", "cost_sweep"),
    ("toynn.autodiff", "step_size_study"): ("toynn.lecture.compare", "step_size_study"),
    # toynn.save / toynn.load live in toynn.io (above nn), so `import toynn` does not load them
    ("toynn", "save"): ("toynn.io.serialization", "save"),
    ("toynn", "load"): ("toynn.io.serialization", "load"),
}


def attribute(package: str, name: str):
    """A package's module __getattr__: its submodule `name`, imported on first use, or a name that moved away
    from it; AttributeError for any other name."""
    if (package, name) in ATTRIBUTES:
        module, attribute = ATTRIBUTES[package, name]
        return getattr(importlib.import_module(module), attribute)
    if not name.startswith("__") and (
        f"{package}.{name}" in MODULES or importlib.util.find_spec(f"{package}.{name}") is not None
    ):
        return importlib.import_module(f"{package}.{name}")
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def new_name(fullname: str) -> str | None:
    """The new path of an old module path (toynn.vision.topk -> toynn.lecture.vision.topk), or None. The longest
    old path that matches wins (toynn.utils.data.dataset before toynn.utils.data)."""
    for old in sorted(MODULES, key=len, reverse=True):
        if fullname == old or fullname.startswith(old + "."):
            return MODULES[old] + fullname[len(old) :]
    return None


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path and hands back the module at its new path (imported on first use)."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("toynn.") or new_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(new_name(spec.name))
        spec.loader_state = module.__spec__  # the import system sets module.__spec__ to the alias's spec next
        return module

    def exec_module(self, module):
        module.__spec__ = module.__spec__.loader_state  # already executed under its new name: keep its own spec


def install() -> None:
    """Put the alias finder first on sys.meta_path (once). It answers old paths only, which have no files; first,
    so that toynn.vision.topk is not found a second time, as a new module, inside toynn.vision's folder."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
