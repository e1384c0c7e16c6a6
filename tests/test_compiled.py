"""The optional compiled kernels (toynn/compiled.py): the same results as the NumPy code they replace, off
when TOYNN_NO_NUMBA=1, and numba never imported by `import toynn`."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import toynn
from toynn import compiled
from toynn.conv.convolution import conv_data_adjoint

from .devices import host

needs_kernels = pytest.mark.skipif(
    not compiled.available(), reason="numba missing or TOYNN_NO_NUMBA set: the compiled kernels are off"
)


@pytest.fixture
def both_paths():
    """Run f once with the compiled kernels and once without; give both results."""

    def run(f):
        try:
            compiled.set_enabled(True)
            assert compiled.kernels() is not None
            fast = f()
            compiled.set_enabled(False)
            assert compiled.kernels() is None
            slow = f()
        finally:
            compiled.set_enabled(None)
        return fast, slow

    return run


# (x shape, w shape, stride, padding, dilation, groups): wide rows (stride 1), narrow rows (stride 2, few rows),
# dilation, groups, and LeNet-5's 6->16 layer whose data adjoint runs through col2im
GEOMETRIES = [
    ((3, 6, 14, 14), (16, 6, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((2, 4, 9, 11), (12, 4, 3, 3), (1, 1), ((1, 1), (2, 2)), (1, 1), 1),
    ((2, 3, 11, 10), (5, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 4, 13, 12), (6, 2, 3, 2), (2, 1), ((2, 2), (0, 0)), (2, 3), 2),
    ((2, 8, 10, 10), (20, 8, 3, 3), (1, 1), ((1, 1), (1, 1)), (2, 1), 1),
]


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", GEOMETRIES)
def test_col2im_kernel_equals_numpy(both_paths, rng, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    from toynn.conv.arithmetic import conv_out

    H, W = x_shape[2:]
    KH, KW = w_shape[2:]
    Ho = conv_out(H, KH, stride[0], *padding[0], dilation[0])
    Wo = conv_out(W, KW, stride[1], *padding[1], dilation[1])
    g = rng.standard_normal((x_shape[0], w_shape[0], Ho, Wo)).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    fast, slow = both_paths(lambda: conv_data_adjoint(g, w, x_shape, stride, padding, dilation, groups))
    # the same adds onto each cell in the same order (tap by tap): equal to the last bit
    np.testing.assert_array_equal(fast, slow)


@needs_kernels
def test_lenet_step_same_with_and_without_kernels(both_paths):
    """A LeNet-5 training step (conv backward through col2im, SGD's fused update) gives the same weights both ways."""

    def steps():
        toynn.manual_seed(0)
        model = toynn.models.LeNet5()
        opt = toynn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = toynn.tensor(np.random.default_rng(1).standard_normal((8, 1, 28, 28), dtype=np.float32))
        y = toynn.tensor(np.arange(8) % 10)
        for _ in range(3):
            opt.zero_grad()
            toynn.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return [host(p.array).copy() for p in model.parameters()]

    fast, slow = both_paths(steps)
    for a, b in zip(fast, slow):  # SGD's kernel rounds x - lr*b once (FMA), as PyTorch does; NumPy rounds twice
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kw",
    [
        dict(momentum=0.9),
        dict(momentum=0.9, nesterov=True, weight_decay=0.01),
        dict(momentum=0.5, dampening=0.3, maximize=True),
    ],
)
def test_sgd_fused_update_equals_numpy(both_paths, rng, dtype, kw):
    # 3 steps: the first creates the buffer (NumPy either way), the next two run the fused kernel; a big parameter
    # (2^20 + 3 values) is split across threads, small ones (under sgd.FUSED_MIN_SIZE) take NumPy's path
    shapes = [(300, 301), (1 << 20) + 3, (5, 7), ()]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(3)]

    def run():
        params = [toynn.tensor(a.copy(), requires_grad=True) for a in start]
        opt = toynn.optim.SGD(params, lr=0.05, **kw)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = toynn.tensor(g)
            opt.step()
        return [host(p.array).copy() for p in params] + [host(opt.state[p]["momentum_buffer"]) for p in params]

    fast, slow = both_paths(run)
    # LLVM fuses a multiply and an add into one FMA (one rounding; PyTorch's x - lr*d rounds so too), NumPy rounds
    # twice: float32 results differ in the last bit or so
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_fused_update_matches_torch(torch, rng, dtype):
    """The fused path (when on; NumPy's otherwise) against PyTorch's SGD."""
    a = rng.standard_normal((300, 301)).astype(dtype)  # over sgd.FUSED_MIN_SIZE: the fused path
    p, q = toynn.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
    opt, ref = (
        toynn.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
        torch.optim.SGD([q], lr=0.1, momentum=0.9, nesterov=True),
    )
    for _ in range(4):
        g = rng.standard_normal(a.shape).astype(dtype)
        p.grad, q.grad = toynn.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(host(p.array), q.detach().numpy(), rtol=tol, atol=tol)


def _child(code: str, **env) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_toynn_does_not_import_numba():
    assert _child("import sys, toynn; toynn.nn.Linear(2, 2); print('numba' in sys.modules)") == "False"


def test_a_small_net_never_imports_numba():
    """ReLU (65,536 values here) uses the kernels only once something else loaded them; the parameters are under
    SGD's FUSED_MIN_SIZE: such a net (the digits MLP of `toynn train`) never pays numba's import and compile."""
    code = (
        "import sys, numpy as np, toynn; nn = toynn.nn\n"
        "m = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))\n"
        "opt = toynn.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)\n"
        "for _ in range(2):\n"
        "    opt.zero_grad(); m(toynn.tensor(np.ones((256, 64), np.float32))).sum().backward(); opt.step()\n"
        "print('numba' in sys.modules)"
    )
    assert _child(code) == "False"


def test_env_var_turns_the_kernels_off():
    code = "from toynn import compiled; print(compiled.kernels() is None, compiled.describe())"
    assert _child(code, TOYNN_NO_NUMBA="1") == "True off (TOYNN_NO_NUMBA)"


@needs_kernels
def test_kernels_are_cached_on_disk():
    """The first process compiles; numba's cache (cache=True) lets the next load the machine code instead."""
    code = "from toynn import compiled; print(compiled.kernels().compile_seconds)"
    _child(code)  # compiles, or finds the cache already there
    assert float(_child(code)) < 5.0  # compiling took 1.5-10 s here; loading from the cache well under that


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "x_shape, w_shape, padding, dilation",
    [
        ((3, 1, 12, 12), (6, 1, 5, 5), ((2, 2), (2, 2)), (1, 1)),  # LeNet-5's first conv: few rows, narrow
        ((2, 3, 10, 9), (8, 3, 3, 3), ((1, 1), (0, 0)), (1, 2)),
        ((2, 2, 7, 7), (4, 2, 2, 3), ((0, 0), (0, 0)), (1, 1)),  # unpadded: im2col reads x's own memory
    ],
)
def test_narrow_im2col_kernel_equals_numpy(both_paths, rng, dtype, x_shape, w_shape, padding, dilation, monkeypatch):
    """conv, its weight adjoint (both through the narrow-row im2col) the same with and without the kernel."""
    from toynn.conv import direct
    from toynn.conv.convolution import conv, conv_weight_adjoint

    monkeypatch.setattr(direct, "DIRECT_MAX_OUT", 0)  # thin layers would run directly: keep them on im2col here

    x = rng.standard_normal(x_shape).astype(dtype)
    x_cf = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)  # a conv output's layout
    w = rng.standard_normal(w_shape).astype(dtype)
    geom = ((1, 1), padding, dilation, 1)

    def run():
        y = conv(x, w, *geom)
        g = np.ones_like(y)
        return [conv(x_cf, w, *geom), y, conv_weight_adjoint(g, x, w.shape, *geom)]

    fast, slow = both_paths(run)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_equal_numpy(both_paths, rng, dtype):
    """ReLU's forward and backward through the compiled loops give NumPy's bits: NaN stays NaN, -0 and -inf give
    +0, a NaN gradient times 0 stays NaN; over C-order arrays, a conv output's channels-first layout, a strided
    view (NumPy's path) and a gradient in another layout than the output (NumPy's path)."""
    special = np.array([np.nan, -0.0, 0.0, -np.inf, np.inf, -1.5, 2.5], dtype=dtype)
    x = rng.standard_normal((4, 3, 20, 18)).astype(dtype)  # over ops.COMPILED_MIN_SIZE values: the kernels run
    x.reshape(-1)[: special.size] = special
    g = rng.standard_normal(x.shape).astype(dtype)
    g.reshape(-1)[-3:] = [np.nan, -2.0, np.inf]
    cases = [
        (x, g),
        (np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3), g),  # channels first, g in C order
        (x[:, :, ::2], g[:, :, ::2]),  # gaps: NumPy's path
    ]

    def run():
        out = []
        for xa, ga in cases:
            t = toynn.tensor(xa, requires_grad=True)
            y = toynn.relu(t)
            y.backward(toynn.tensor(ga))
            out += [y.array.copy(), t.grad.array.copy()]
        return out

    assert x.size >= toynn.ops.COMPILED_MIN_SIZE
    fast, slow = both_paths(run)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
    np.testing.assert_array_equal(fast[0], np.maximum(x, 0))


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "x_shape, w_shape, padding, dilation",
    [
        ((70, 1, 12, 12), (6, 1, 5, 5), ((2, 2), (2, 2)), (1, 1)),  # LeNet-5's first layer; 70 images: 3 parts
        ((3, 2, 9, 8), (8, 2, 3, 3), ((1, 0), (2, 1)), (2, 1)),  # uneven padding, dilation
        ((2, 1, 5, 6), (4, 1, 2, 2), ((0, 0), (0, 0)), (1, 1)),  # unpadded
    ],
)
def test_direct_conv_equals_the_gemm_route(both_paths, rng, dtype, x_shape, w_shape, padding, dilation):
    """Thin layers (conv/direct.py) run as compiled loops, forward and weight gradient: the GEMM route's results up
    to rounding (the sums add in another order), with and without bias, and through conv2d's forward and backward."""
    from toynn.conv import direct
    from toynn.conv.convolution import conv, conv_weight_adjoint

    assert direct.pays(x_shape, w_shape, (1, 1), padding, 1)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    geom = ((1, 1), padding, dilation, 1)

    def run():
        y = conv(x, w, *geom)
        g = np.cos(np.arange(y.size)).reshape(y.shape).astype(dtype)
        out = [y, conv(x, w, *geom, bias=b), conv_weight_adjoint(g, x, w.shape, *geom)]
        if padding[0] == padding[1] and padding[0][0] == padding[0][1]:  # conv2d takes one symmetric padding
            xt, wt = toynn.tensor(x, requires_grad=True), toynn.tensor(w, requires_grad=True)
            yt = toynn.nn.functional.conv2d(xt, wt, toynn.tensor(b), 1, padding[0][0], dilation)
            yt.backward(toynn.tensor(g))
            out += [host(yt.array), host(xt.grad.array), host(wt.grad.array)]
        return out

    fast, slow = both_paths(run)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, s in zip(fast, slow):
        np.testing.assert_allclose(a, s, rtol=tol, atol=tol)


def test_direct_conv_only_for_thin_stride_one_layers():
    from toynn.conv import direct

    assert direct.pays((64, 1, 28, 28), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), 1)  # LeNet-5's first
    assert not direct.pays((64, 6, 14, 14), (16, 6, 5, 5), (1, 1), ((0, 0), (0, 0)), 1)  # its second: GEMM
    assert not direct.pays((64, 3, 32, 32), (32, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), 1)  # 32 outputs: GEMM
    assert not direct.pays((64, 1, 28, 28), (6, 1, 5, 5), (2, 2), ((2, 2), (2, 2)), 1)  # stride 2
    assert not direct.pays((64, 2, 28, 28), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), 2)  # groups
    assert not direct.pays((64, 1, 28, 28), (6, 1, 5, 5), (1, 1), ((-1, 0), (0, 0)), 1)  # a crop
