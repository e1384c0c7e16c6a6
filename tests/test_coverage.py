"""How much of PyTorch's tensor API toynn has (issue 15, item 3): per section of PyTorch's reference
(tests/coverage_names.py), at least 90% of the names that NumPy can do, each callable as PyTorch's; and
docs/coverage.md is the table that the lists give today."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import toynn

from .coverage_names import SECTIONS, coverage, markdown
from .devices import host

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.9

# smoke calls: the same call on toynn and on PyTorch must give the same values
X = np.array([[0.25, -0.5, 0.75], [0.5, 0.125, -0.625]])
Y = np.array([[0.5, 0.25, -1.5], [-0.75, 2.0, 0.375]])
POINTWISE_UNARY = (
    "abs absolute acos arccos acosh arccosh angle asin arcsin asinh arcsinh atan arctan atanh arctanh ceil "
    "conj_physical cos cosh deg2rad erf erfc erfinv exp exp2 expm1 fix floor frac log log10 log1p log2 logit "
    "nan_to_num neg negative positive rad2deg reciprocal round rsqrt sigmoid sign sgn signbit sin sinc sinh sqrt "
    "square tan tanh trunc isfinite isinf isnan isposinf isneginf isreal"
).split()
POINTWISE_BINARY = (
    "add atan2 copysign div divide float_power floor_divide fmod hypot ldexp logaddexp logaddexp2 logical_and "
    "logical_or logical_xor mul multiply nextafter pow remainder sub subtract true_divide xlogy eq ne lt le gt ge "
    "greater greater_equal less less_equal not_equal maximum minimum fmax fmin isclose heaviside"
).split()
DOMAIN = {"acosh": 1.5, "arccosh": 1.5, "log": 0, "log10": 0, "log2": 0, "rsqrt": 0, "sqrt": 0, "xlogy": 0}


def _same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for o, r in zip(ours, theirs):
            _same(o, r)
        return
    if not hasattr(theirs, "detach"):
        assert ours == theirs
        return
    want = theirs.detach().numpy()
    got = host(ours)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-7, equal_nan=True)


def test_each_listed_name_is_pytorchs():
    import torch

    misspelt = [name for rows in SECTIONS.values() for name, _, _ in rows if not hasattr(torch, name)]
    assert not misspelt


def test_every_name_without_numpy_or_left_out_gives_a_reason():
    for section, rows in SECTIONS.items():
        for name, numpy, why in rows:
            if not numpy:
                assert why, f"{section}: {name} has no NumPy equivalent but no reason"
            if numpy and not hasattr(toynn, name):
                assert why.startswith("left out:"), f"{section}: {name} is missing and gives no reason"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_toynn_has_most_names_that_numpy_can_do(section):
    c = coverage(toynn)[section]
    share = len(c["has_with_numpy"]) / len(c["with_numpy"])
    missing = sorted(set(c["with_numpy"]) - set(c["has_with_numpy"]))
    assert share >= THRESHOLD, f"{section}: {share:.0%} of the names with a NumPy equivalent; missing {missing}"


@pytest.mark.parametrize("name", POINTWISE_UNARY)
def test_pointwise_unary_smoke(name, torch):
    x = np.abs(X) + DOMAIN[name] if name in DOMAIN else X
    _same(getattr(toynn, name)(toynn.tensor(x)), getattr(torch, name)(torch.tensor(x)))


@pytest.mark.parametrize("name", POINTWISE_BINARY)
def test_pointwise_binary_smoke(name, torch):
    y = np.abs(Y) + 0.5 if name in ("xlogy", "float_power", "pow") else Y
    x = np.abs(X) if name in ("float_power", "pow") else X
    _same(
        getattr(toynn, name)(toynn.tensor(x), toynn.tensor(y)), getattr(torch, name)(torch.tensor(x), torch.tensor(y))
    )


SMOKE = {
    "is_tensor": lambda m: m.is_tensor(m.ones(2)),
    "numel": lambda m: m.numel(m.ones(2, 3)),
    "is_nonzero": lambda m: m.is_nonzero(m.ones(1)),
    "heaviside": lambda m: m.heaviside(m.tensor(X), m.tensor(np.array([0.5]))),
    "as_strided": lambda m: m.as_strided(m.tensor(X), (2, 2), (1, 2)),
    "range": lambda m: m.arange(0, 5, 2),
    "chunk": lambda m: m.chunk(m.tensor(X), 2, 1),
    "take_along_dim": lambda m: m.take_along_dim(m.tensor(X), m.argsort(m.tensor(X), 1), 1),
    "where": lambda m: m.where(m.tensor(X) > 0, m.tensor(X), m.tensor(Y)),
    "addcdiv": lambda m: m.addcdiv(m.tensor(X), m.tensor(X), m.tensor(Y), value=0.5),
    "lerp": lambda m: m.lerp(m.tensor(X), m.tensor(Y), 0.25),
    "frexp": lambda m: tuple(m.frexp(m.tensor(X))),
    "gradient": lambda m: m.gradient(m.tensor(X)),
    "clamp": lambda m: m.clamp(m.tensor(X), -0.3, 0.3),
    "bitwise_left_shift": lambda m: m.bitwise_left_shift(m.tensor([1, 2]), m.tensor([2, 1])),
    "logsumexp": lambda m: m.logsumexp(m.tensor(X), 1),
    "median": lambda m: tuple(m.median(m.tensor(X), 1)),
    "mode": lambda m: tuple(m.mode(m.tensor([[1, 2, 2], [3, 3, 1]]), 1)),
    "quantile": lambda m: m.quantile(m.tensor(X), 0.25, dim=0),
    "std_mean": lambda m: m.std_mean(m.tensor(X), 1),
    "unique_consecutive": lambda m: m.unique_consecutive(m.tensor([1, 1, 2, 1])),
    "kthvalue": lambda m: tuple(m.kthvalue(m.tensor(X), 2, 1)),
    "topk": lambda m: tuple(m.topk(m.tensor(X), 2)),
    "isin": lambda m: m.isin(m.tensor([1, 2, 3]), m.tensor([2])),
    "einsum": lambda m: m.einsum("ij,kj->ik", m.tensor(X), m.tensor(Y)),
    "cdist": lambda m: m.cdist(m.tensor(X), m.tensor(Y)),
    "renorm": lambda m: m.renorm(m.tensor(X), 2, 0, 0.5),
    "meshgrid": lambda m: m.meshgrid(m.tensor([1, 2]), m.tensor([3, 4, 5]), indexing="ij"),
    "searchsorted": lambda m: m.searchsorted(m.tensor([1.0, 2.0, 3.0]), m.tensor(X)),
    "tril_indices": lambda m: m.tril_indices(3, 3),
    "block_diag": lambda m: m.block_diag(m.tensor(X), m.tensor(Y)),
    "vander": lambda m: m.vander(m.tensor([1.0, 2.0, 3.0])),
    "cross": lambda m: m.cross(m.tensor(X), m.tensor(Y), dim=1),
    "histogram": lambda m: tuple(m.histogram(m.tensor(X), 3)),
}


@pytest.mark.parametrize("name", list(SMOKE))
def test_smoke_calls_match_torch(name, torch):
    assert hasattr(toynn, name)
    _same(SMOKE[name](toynn), SMOKE[name](torch))


def test_docs_coverage_md_is_the_scripts_output():
    """After adding a name: python tests/coverage_names.py --markdown > docs/coverage.md"""
    assert (ROOT / "docs" / "coverage.md").read_text() == markdown(toynn)
