"""Ways to differentiate: finite differences and gradcheck, dual numbers, forward mode (jvp, jacfwd),
reverse mode as functions (grad, vjp, jacrev) and traced, symbolic (SymPy, optional), and compare().
"""

from .compare import compare, cost_sweep, step_size_study
from .dual import Dual, derivative
from .forward import jvp
from .functional import grad, jacfwd, jacrev, value_and_grad, vjp
from .numerical import gradcheck, numerical_grad, numerical_jacobian
from .reverse import trace_backward

__all__ = [
    "Dual",
    "compare",
    "cost_sweep",
    "derivative",
    "grad",
    "gradcheck",
    "jacfwd",
    "jacrev",
    "jvp",
    "numerical_grad",
    "numerical_jacobian",
    "step_size_study",
    "trace_backward",
    "value_and_grad",
    "vjp",
]
