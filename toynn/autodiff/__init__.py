"""Ways to differentiate: finite differences and gradcheck, reverse mode traced, forward mode (jvp)."""

from .forward import jvp
from .numerical import gradcheck, numerical_grad, numerical_jacobian
from .reverse import trace_backward

__all__ = ["gradcheck", "jvp", "numerical_grad", "numerical_jacobian", "trace_backward"]
