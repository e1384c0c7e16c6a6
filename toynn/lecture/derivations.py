"""The lecture's hand derivations, written out: J = cos(sin(x^2) + 3x^2), logistic regression, one hidden layer.

Each *_graph function builds the lecture's forward pass in toynn and names its nodes (for toynn.lecture.viz.graph);
each hand-derived function computes the lecture's Forward and Backward formulas in NumPy, line by line.
J is the lecture's log-likelihood y* log y + (1 - y*) log(1 - y): maximised, so its sign is kept.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..tensor import Tensor


def lecture_j(x):
    """J = cos(sin(x^2) + 3x^2), the lecture's worked example, for a Tensor x (any shape, elementwise)."""
    t = x**2
    return ops.cos(ops.sin(t) + 3 * t)


def lecture_j_closed_form(x: float) -> float:
    """dJ/dx = -sin(sin(x^2) + 3x^2) (2x cos(x^2) + 6x)."""
    return -math.sin(math.sin(x * x) + 3 * x * x) * (2 * x * math.cos(x * x) + 6 * x)


def lecture_j_graph(x: float = 1.5) -> tuple[Tensor, dict[str, Tensor]]:
    """(J, names) with the lecture's intermediate names x, t, u1, u2, u, J (float64, x requires grad)."""
    xt = Tensor(np.float64(x), requires_grad=True)
    t = xt**2
    u1 = ops.sin(t)
    u2 = 3 * t
    u = u1 + u2
    J = ops.cos(u)
    return J, {"x": xt, "t": t, "u1": u1, "u2": u2, "u": u, "J": J}


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _dsigmoid(a):
    return np.exp(-a) / (np.exp(-a) + 1) ** 2  # the lecture's dy/da


def logistic_regression(theta, x, y_star: float) -> dict[str, np.ndarray | float]:
    """The lecture's logistic regression by hand. theta, x (D+1,), x[0] = 1 for the bias -> forward and backward.

    a = sum_j theta_j x_j, y = 1/(1 + exp(-a)), J = y* log y + (1 - y*) log(1 - y);
    dJ/dy = y*/y + (1 - y*)/(y - 1), dJ/da = dJ/dy dy/da, dJ/dtheta_j = dJ/da x_j, dJ/dx_j = dJ/da theta_j.
    """
    theta, x = np.asarray(theta, dtype=np.float64), np.asarray(x, dtype=np.float64)
    a = float(theta @ x)
    y = _sigmoid(a)
    J = y_star * np.log(y) + (1 - y_star) * np.log(1 - y)
    dJ_dy = y_star / y + (1 - y_star) / (y - 1)
    dJ_da = dJ_dy * _dsigmoid(a)
    return {"a": a, "y": y, "J": J, "dJ/dy": dJ_dy, "dJ/da": dJ_da, "dJ/dtheta": dJ_da * x, "dJ/dx": dJ_da * theta}


def logistic_regression_graph(theta, x, y_star: float) -> tuple[Tensor, dict[str, Tensor]]:
    """(J, names) of the same forward pass in toynn; theta and x are float64 leaves that require grad."""
    theta = Tensor(np.asarray(theta, dtype=np.float64), requires_grad=True)
    x = Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    a = (theta * x).sum()
    y = ops.sigmoid(a)
    J = y_star * ops.log(y) + (1 - y_star) * ops.log(1 - y)
    return J, {"theta": theta, "x": x, "a": a, "y": y, "J": J}


def one_hidden_layer(alpha, beta, x, y_star: float) -> dict[str, np.ndarray | float]:
    """The lecture's neural network by hand. alpha (D, M+1), beta (D,), x (M+1,), x[0] = 1 -> forward and backward.

    a_j = sum_i alpha_ji x_i, z_j = sigmoid(a_j), b = sum_j beta_j z_j, y = sigmoid(b), J as in logistic regression.
    NOTE: the lecture's last line writes da_j/dx_i = sum_j alpha_ji; the sum belongs to the chain rule:
    dJ/dx_i = sum_j dJ/da_j alpha_ji.
    """
    alpha, beta, x = (np.asarray(v, dtype=np.float64) for v in (alpha, beta, x))
    a = alpha @ x  # (D,)
    z = _sigmoid(a)
    b = float(beta @ z)
    y = _sigmoid(b)
    J = y_star * np.log(y) + (1 - y_star) * np.log(1 - y)
    dJ_dy = y_star / y + (1 - y_star) / (y - 1)
    dJ_db = dJ_dy * _dsigmoid(b)
    dJ_dz = dJ_db * beta  # (D,)
    dJ_da = dJ_dz * _dsigmoid(a)  # (D,)
    return {
        "a": a,
        "z": z,
        "b": b,
        "y": y,
        "J": J,
        "dJ/dy": dJ_dy,
        "dJ/db": dJ_db,
        "dJ/dbeta": dJ_db * z,
        "dJ/dz": dJ_dz,
        "dJ/da": dJ_da,
        "dJ/dalpha": np.outer(dJ_da, x),  # (D, M+1): dJ/da_j x_i
        "dJ/dx": dJ_da @ alpha,  # (M+1,): sum_j dJ/da_j alpha_ji
    }


def one_hidden_layer_graph(alpha, beta, x, y_star: float) -> tuple[Tensor, dict[str, Tensor]]:
    """(J, names) of the same network in toynn; alpha, beta and x are float64 leaves that require grad."""
    alpha, beta, x = (Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in (alpha, beta, x))
    a = alpha @ x
    z = ops.sigmoid(a)
    b = (beta * z).sum()
    y = ops.sigmoid(b)
    J = y_star * ops.log(y) + (1 - y_star) * ops.log(1 - y)
    return J, {"alpha": alpha, "beta": beta, "x": x, "a": a, "z": z, "b": b, "y": y, "J": J}
