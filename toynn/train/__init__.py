"""Training: the loop (fit, evaluate, History, plot_history) and, on request, data-parallel training over MPI
(toynn.train.distributed, imported only when asked for)."""

from .loop import History, evaluate, fit, plot_history

__all__ = ["History", "evaluate", "fit", "plot_history"]


def __getattr__(name):  # submodules load on first use (toynn/_lazy.py)
    from .._lazy import attribute

    return attribute(__name__, name)
