"""Training: the loop (fit, evaluate, History, plot_history) and, on request, data-parallel training over MPI
(toynn.train.distributed, imported only when asked for)."""

from .loop import History, evaluate, fit, plot_history

__all__ = ["History", "evaluate", "fit", "plot_history"]
