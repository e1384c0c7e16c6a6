"""The library's ways to differentiate: finite differences and gradcheck, dual numbers, forward mode (jvp, jacfwd),
reverse mode as functions (grad, vjp, jacrev) and traced. Symbolic derivatives (SymPy) and compare(), which puts
all four side by side, are lecture material: toynn.lecture.symbolic and toynn.lecture.compare.
"""

from .dual import Dual, derivative
from .forward import jvp
from .higher import hessian, hvp
from .numerical import gradcheck, numerical_grad, numerical_jacobian
from .reverse import trace_backward
from .transforms import grad, jacfwd, jacrev, value_and_grad, vjp

__all__ = [
    "Dual",
    "derivative",
    "grad",
    "gradcheck",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "numerical_grad",
    "numerical_jacobian",
    "trace_backward",
    "value_and_grad",
    "vjp",
]


def __getattr__(name):  # symbolic, derivations, compare() ... moved to toynn.lecture; their old names still work
    from .._lazy import attribute

    return attribute(__name__, name)
