"""PyTorch's reference sections of tensor-level names, and which of them toynn has (issue 15, item 3).

The lists are copied from PyTorch's own docs source, docs/source/torch.rst of pytorch/pytorch (commit
e7a6201bd8f833af88b7f1daa8acc78be5c9c14d): the sections "Tensors" (with its "Creation Ops" and "Indexing, Slicing,
Joining, Mutating Ops") and "Math operations" (its "Pointwise Ops", "Reduction Ops", "Comparison Ops" and "Other
Operations"). Each name says whether NumPy has an equivalent; a name without one, or one toynn leaves out on
purpose, carries a one-line reason. tests/test_coverage.py checks the table against toynn, and

    python tests/coverage_names.py --markdown > docs/coverage.md

writes the table of docs/coverage.md (a test checks that the committed file is this script's output).
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE = "docs/source/torch.rst of pytorch/pytorch, commit e7a6201bd8f833af88b7f1daa8acc78be5c9c14d"

NO_COMPLEX = "toynn's tensors are real: its ops and autograd have no complex dtype"
NO_QUANT = "no NumPy equivalent: NumPy has no quantized dtypes"
SCIPY = "no NumPy equivalent (SciPy's scipy.special)"


def N(name: str, numpy: bool = True, why: str = "") -> tuple[str, bool, str]:  # noqa: N802  a table row
    """One name: numpy says whether NumPy has an equivalent; why explains a False, or a name left out."""
    return name, numpy, why


SECTIONS: dict[str, list[tuple[str, bool, str]]] = {
    "Tensors": [
        N("is_tensor"),
        N("is_storage", False, "no NumPy equivalent: arrays (and toynn's tensors) have no separate storage object"),
        N("is_complex"),
        N("is_conj", False, "no NumPy equivalent: NumPy has no lazily conjugated views (toynn's is_conj is False)"),
        N("is_floating_point"),
        N("is_nonzero"),
        N("set_default_dtype"),
        N("get_default_dtype"),
        N("set_default_tensor_type", False, "no NumPy equivalent: legacy tensor types, deprecated by PyTorch 2.1"),
        N("numel"),
        N("set_printoptions"),
        N("set_flush_denormal", False, "no NumPy equivalent: NumPy cannot set the CPU's flush-to-zero mode"),
    ],
    "Creation Ops": [
        N("tensor"),
        N("sparse_coo_tensor", False, "no NumPy equivalent: NumPy has no sparse arrays"),
        N("as_tensor"),
        N("as_strided"),
        N("from_numpy"),
        N("zeros"),
        N("zeros_like"),
        N("ones"),
        N("ones_like"),
        N("arange"),
        N("range"),
        N("linspace"),
        N("logspace"),
        N("eye"),
        N("empty"),
        N("empty_like"),
        N("empty_strided"),
        N("full"),
        N("full_like"),
        N("quantize_per_tensor", False, NO_QUANT),
        N("quantize_per_channel", False, NO_QUANT),
        N("dequantize", False, NO_QUANT),
        N("complex", True, f"left out: {NO_COMPLEX}"),
        N("polar", True, f"left out: {NO_COMPLEX}"),
        N("heaviside"),
    ],
    "Indexing, Slicing, Joining, Mutating Ops": [
        N(name)
        for name in (
            "cat conj chunk dsplit column_stack dstack gather hsplit hstack index_select masked_select movedim "
            "moveaxis narrow nonzero permute reshape row_stack scatter scatter_add split squeeze stack swapaxes "
            "swapdims t take take_along_dim tensor_split tile transpose unbind unsqueeze vsplit vstack where"
        ).split()
    ],
    "Pointwise Ops": [
        *(N(name) for name in "abs absolute acos arccos acosh arccosh add addcdiv addcmul angle asin arcsin".split()),
        *(N(name) for name in "asinh arcsinh atan arctan atanh arctanh atan2 bitwise_not bitwise_and".split()),
        *(N(name) for name in "bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift ceil clamp clip".split()),
        N("conj_physical"),
        N("copysign"),
        N("cos"),
        N("cosh"),
        N("deg2rad"),
        N("div"),
        N("divide"),
        N("digamma", False, SCIPY),
        N("erf", False, "no NumPy equivalent (math.erf, SciPy): toynn computes it itself"),
        N("erfc", False, "no NumPy equivalent (math.erfc, SciPy): toynn computes it as 1 - erf"),
        N("erfinv", False, "no NumPy equivalent (SciPy): toynn inverts its erf by Newton steps"),
        N("exp"),
        N("exp2"),
        N("expm1"),
        N("fake_quantize_per_channel_affine", False, NO_QUANT),
        N("fake_quantize_per_tensor_affine", False, NO_QUANT),
        *(N(name) for name in "fix float_power floor floor_divide fmod frac frexp gradient imag ldexp lerp".split()),
        N("lgamma", False, "no NumPy equivalent (math.lgamma, SciPy's gammaln)"),
        *(N(name) for name in "log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or".split()),
        N("logical_xor"),
        N("logit", False, "no NumPy equivalent (SciPy's scipy.special.logit): a composite of log and log1p here"),
        N("hypot"),
        N("i0", True, "left out: NumPy has i0 but not its derivative i1, which a differentiable i0 needs"),
        N("igamma", False, SCIPY),
        N("igammac", False, SCIPY),
        N("mul"),
        N("multiply"),
        N("mvlgamma", False, SCIPY),
        *(N(name) for name in "nan_to_num neg negative nextafter".split()),
        N("polygamma", False, SCIPY),
        *(N(name) for name in "positive pow rad2deg real reciprocal remainder round rsqrt sigmoid sign sgn".split()),
        *(N(name) for name in "signbit sin sinc sinh sqrt square sub subtract tan tanh true_divide trunc".split()),
        N("xlogy", False, "no NumPy equivalent (SciPy's scipy.special.xlogy): a composite of where and log here"),
    ],
    "Reduction Ops": [
        *(N(name) for name in "argmax argmin amax amin all any max min dist logsumexp mean median nanmedian".split()),
        N("mode", False, "no NumPy equivalent (SciPy's scipy.stats.mode): built on sort here"),
        *(N(name) for name in "norm nansum prod quantile nanquantile std std_mean sum unique".split()),
        N("unique_consecutive", False, "no NumPy equivalent: built from comparisons of neighbours here"),
        *(N(name) for name in "var var_mean count_nonzero".split()),
    ],
    "Comparison Ops": [
        N(name)
        for name in (
            "allclose argsort eq equal ge greater_equal gt greater isclose isfinite isin isinf isposinf isneginf "
            "isnan isreal kthvalue le less_equal lt less maximum minimum fmax fmin ne not_equal sort topk msort"
        ).split()
    ],
    "Other Operations": [
        *(N(name) for name in "atleast_1d atleast_2d atleast_3d bincount".split()),
        N("block_diag", False, "no NumPy equivalent (SciPy's scipy.linalg.block_diag): built on setitem here"),
        *(N(name) for name in "broadcast_tensors broadcast_to broadcast_shapes bucketize".split()),
        N("cartesian_prod"),
        N("cdist", False, "no NumPy equivalent (SciPy's scipy.spatial.distance.cdist): a norm of differences here"),
        N("clone"),
        N("combinations", False, "no NumPy equivalent (itertools.combinations): an index of itertools' rows here"),
        *(N(name) for name in "corrcoef cov cross cummax cummin cumprod cumsum diag diag_embed diagflat".split()),
        *(N(name) for name in "diagonal diff einsum flatten flip fliplr flipud kron rot90 gcd histc histogram".split()),
        *(N(name) for name in "meshgrid lcm logcumsumexp ravel renorm repeat_interleave roll searchsorted".split()),
        *(N(name) for name in "tensordot trace tril tril_indices triu triu_indices vander".split()),
        N("view_as_real", True, f"left out: {NO_COMPLEX}"),
        N("view_as_complex", True, f"left out: {NO_COMPLEX}"),
        N("resolve_conj"),
        N("resolve_neg"),
    ],
}


def coverage(module) -> dict[str, dict]:
    """Per section: the names, those with a NumPy equivalent, and which of them `module` has."""
    out = {}
    for section, rows in SECTIONS.items():
        with_numpy = [name for name, numpy, _ in rows if numpy]
        out[section] = {
            "names": [name for name, _, _ in rows],
            "with_numpy": with_numpy,
            "has": [name for name, _, _ in rows if hasattr(module, name)],
            "has_with_numpy": [name for name in with_numpy if hasattr(module, name)],
            "missing": [(name, why) for name, _, why in rows if not hasattr(module, name)],
        }
    return out


def markdown(module) -> str:
    """docs/coverage.md: per section, how many names toynn has, and each missing one with its reason."""
    table = coverage(module)
    lines = [
        "# PyTorch's tensor API in toynn",
        "",
        'How many of the names in PyTorch\'s reference sections "Tensors" and "Math operations" toynn has, as',
        "`toynn.X` (most of them also as Tensor methods). The lists come from PyTorch's docs source,",
        f"{SOURCE}.",
        "`tests/coverage_names.py` holds them, and this file is its output",
        "(`python tests/coverage_names.py --markdown > docs/coverage.md`, checked by `tests/test_coverage.py`, which",
        "also asks for at least 90% of the names that have a NumPy equivalent in every section).",
        "",
        "| section | names | toynn has | with a NumPy equivalent | toynn has of those |",
        "|---|---:|---:|---:|---:|",
    ]
    for section, c in table.items():
        share = len(c["has_with_numpy"]) / max(len(c["with_numpy"]), 1)
        lines.append(
            f"| {section} | {len(c['names'])} | {len(c['has'])} | {len(c['with_numpy'])} | "
            f"{len(c['has_with_numpy'])} ({share:.0%}) |"
        )
    lines += ["", "## Missing names and why", ""]
    for section, c in table.items():
        if c["missing"]:
            lines.append(f"**{section}**")
            lines.append("")
            lines += [f"- `{name}`: {why or 'not done yet'}" for name, why in c["missing"]]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import toynn

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python tests/coverage_names.py --markdown > docs/coverage.md")
    sys.stdout.write(markdown(toynn))
