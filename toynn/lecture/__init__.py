"""The lecture's own material, built on the library: worked examples, the manual layer API, the four ways to
differentiate side by side, symbolic derivatives, experiments, vision (filters, crops, deconvnet), graph
drawings and the HTML report. Nothing in the library imports this package."""

from .examples import backprop_example

__all__ = ["backprop_example"]


def __getattr__(name):  # submodules load on first use (toynn/_lazy.py)
    from .._lazy import attribute

    return attribute(__name__, name)
