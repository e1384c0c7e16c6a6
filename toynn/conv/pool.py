"""Pooling: max (with switches), average, adaptive average and max, and max-unpooling, the adjoint of
max-pooling's gather. Windows are strided views of the input, one per kernel tap (windows.window_taps: no Python
loop over pixels); backward adds into the same strided slices (windows.scatter_window_taps)."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import array_module
from ..errors import ShapeError
from ..runtime import parallel, part_size
from ..tensor import Function, Tensor, _Mode
from .arithmetic import (
    add_batch,
    as_2d,
    check_nonnegative,
    check_positive,
    check_tensor,
    dims,
    from_2d,
    ntuple,
    pool_out,
    tensors,
)
from .windows import pad_frame, scatter_window_taps, tap_offsets, window_taps

# pooling splits the batch across threads in parts of at least this many outputs: below it, a hand-off to a thread
# costs about as much as pooling them
POOL_PART_OUTPUTS = 1 << 17


def _images_per_part(N: int, C: int, out_hw) -> int:
    """parallel()'s step: the batch split evenly across threads, in parts of at least POOL_PART_OUTPUTS outputs."""
    return part_size(N, N * C * out_hw[0] * out_hw[1], POOL_PART_OUTPUTS)


def _first_max(taps, y, xp, arg):
    """arg = index of the first tap equal to the max y (PyTorch's tie rule): the count of leading taps that differ."""
    if len(taps) == 1:
        arg.fill(0)
        return
    differs = taps[0] != y
    xp.copyto(arg, differs)
    for v in taps[1:-1]:
        differs &= v != y
        arg += differs


class MaxPool2d(Function):
    """y = max over each window; the switches (argmax tap of each window) are kept for backward."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp
    keep_switches = False  # True: find them even outside any graph (_switches wants nothing else)

    def forward(self, x, *, kernel, stride, padding, dilation, out_hw):
        xp = array_module(x)
        self.x_shape, self.geom = x.shape, (kernel, stride, padding, dilation, out_hw)
        taps = window_taps(
            pad_frame(x, padding, stride, kernel, dilation, out_hw, -np.inf), kernel, stride, dilation, out_hw
        )
        y = xp.empty_like(taps[0])  # in x's memory order: channels first after a conv
        # NOTE: only backward and jvp read the switches; inference (no_grad) skips them, about two thirds of the work
        switches = self.keep_switches or _Mode.grad_enabled or _Mode.forward_level
        self.arg = xp.empty_like(taps[0], dtype=np.uint8 if len(taps) <= 256 else np.int32) if switches else None

        def images(a, b):  # images a..b, on one thread
            n, part = slice(a, b), [v[a:b] for v in taps]
            if len(part) == 1:
                y[n] = part[0]
            else:
                xp.maximum(part[0], part[1], out=y[n])
            for v in part[2:]:
                xp.maximum(y[n], v, out=y[n])  # NaN propagates, as in PyTorch
            if switches:
                _first_max(part, y[n], xp, self.arg[n])

        parallel(images, x.shape[0], xp, _images_per_part(x.shape[0], x.shape[1], out_hw))
        if switches and xp.isnan(y).any():  # PyTorch's switch is the last NaN of the window
            for t, v in enumerate(taps):
                xp.copyto(self.arg, t, where=xp.isnan(v))
        return y

    def backward(self, g):  # the adjoint of the gather at the switches: g goes back to each window's winner
        xp = array_module(g)

        def part(t, n, out):
            return xp.multiply(g[n], self.arg[n] == t, out=out)

        kernel, stride, padding, dilation, out_hw = self.geom
        step = _images_per_part(self.x_shape[0], self.x_shape[1], out_hw)
        return scatter_window_taps(part, self.x_shape, padding, stride, kernel, dilation, out_hw, g, step)

    def jvp(self, dx):  # the tangent of the winner
        xp = array_module(dx)
        kernel, stride, padding, dilation, out_hw = self.geom
        taps = window_taps(
            pad_frame(dx, padding, stride, kernel, dilation, out_hw, 0), kernel, stride, dilation, out_hw
        )
        dy = xp.zeros(self.arg.shape, dtype=dx.dtype)
        for t, v in enumerate(taps):
            xp.copyto(dy, v, where=self.arg == t)
        return dy

    def indices(self):
        """The switches as PyTorch returns them: flat index ih * W + iw into each (H, W) plane, int64."""
        xp = array_module(self.arg)
        (KH, KW), (sh, sw), (ph, pw), (dil_h, dil_w), (Ho, Wo) = self.geom
        W = self.x_shape[3]
        rows = xp.arange(Ho, dtype=np.int64)[:, None] * sh - ph  # (Ho, 1) top row of each window
        cols = xp.arange(Wo, dtype=np.int64)[None, :] * sw - pw  # (1, Wo)
        tap = xp.asarray([oi * W + oj for oi, oj in tap_offsets((KH, KW), (dil_h, dil_w))], dtype=np.int64)
        return rows * W + cols + tap[self.arg]


class AvgPool2d(Function):
    """y = sum over each window / divisor (the window size, PyTorch's count_include_pad rules, or an override)."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, kernel, stride, padding, out_hw, divisor):
        self.x_shape, self.geom, self.divisor = x.shape, (kernel, stride, padding, out_hw), divisor
        return self._pool(x)

    def _pool(self, x):
        kernel, stride, padding, out_hw = self.geom
        taps = window_taps(pad_frame(x, padding, stride, kernel, (1, 1), out_hw, 0), kernel, stride, (1, 1), out_hw)
        y = taps[0] + taps[1] if len(taps) > 1 else taps[0].copy()
        for v in taps[2:]:
            y += v
        y /= self.divisor
        return y

    def backward(self, g):  # adjoint of a window sum: spread g / divisor over each window
        xp = array_module(g)
        kernel, stride, padding, out_hw = self.geom
        g = g / self.divisor

        def part(t, n, out):
            if out is None:
                return g[n]
            xp.copyto(out, g[n])

        step = _images_per_part(self.x_shape[0], self.x_shape[1], out_hw)
        return scatter_window_taps(part, self.x_shape, padding, stride, kernel, (1, 1), out_hw, g, step)

    def jvp(self, dx):  # linear
        return self._pool(dx)


def _avg_divisor(xp, dtype, size, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
    """PyTorch's divisor of each output: per-axis window lengths multiplied, or the override."""
    if divisor_override is not None:
        return divisor_override
    counts = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        counts.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    div = counts[0][:, None] * counts[1][None, :]  # (Ho, Wo)
    if (div == div.flat[0]).all():
        return int(div.flat[0])
    return xp.asarray(div, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Public pooling functions


def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode, nd):
    """Normalised 2-D geometry (kernel, stride, padding, dilation, out_hw) after PyTorch's checks."""
    what = "(N, C, H, W) or unbatched (C, H, W)" if nd == 2 else "(N, C, L) or unbatched (C, L)"
    check_tensor(op, "input", input, (nd + 1, nd + 2), what)
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else stride
    stride = ntuple(stride, nd, "stride", op)
    pad, dil = ntuple(padding, nd, "padding", op), ntuple(dilation, nd, "dilation", op)
    check_positive(op, kernel_size=kernel, stride=stride, dilation=dil)
    check_nonnegative(op, padding=pad)
    if any(p > (d * (k - 1) + 1) // 2 for p, k, d in zip(pad, kernel, dil)):
        raise ShapeError(
            f"{op}: padding should be at most half of the dilated kernel; got padding={pad}, kernel_size={kernel} "
            f"and dilation={dil}"
        )
    spatial = input.shape[-nd:]
    out = tuple(pool_out(i, k, s, p, d, ceil_mode) for i, k, s, p, d in zip(spatial, kernel, stride, pad, dil))
    if min(out) < 1:
        dilated = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil))
        raise ShapeError(
            f"{op}: output would be empty: input {dims(spatial)}, padding {pad}, dilated kernel {dims(dilated)}, "
            f"stride {stride} (x.shape={tuple(input.shape)})"
        )
    if nd == 1:
        kernel, stride, pad, dil, out = (1, *kernel), (1, *stride), (0, *pad), (1, *dil), (1, *out)
    return kernel, stride, pad, dil, out


def _max_pool(op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd):
    (input,) = tensors(input)  # NumPy arrays and lists too: see arithmetic.tensors
    kernel, stride, pad, dil, out = _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode, nd)
    x, unbatched = add_batch(input, nd)
    x = as_2d(x, nd)
    y = MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=pad, dilation=dil, out_hw=out)
    if not return_indices:
        return from_2d(y, nd, unbatched)
    fn = y._ctx if y._ctx is not None else _switches(x, kernel, stride, pad, dil, out)
    return from_2d(y, nd, unbatched), from_2d(Tensor._wrap(fn.indices()), nd, unbatched)


def _switches(x, kernel, stride, padding, dilation, out_hw) -> MaxPool2d:
    """A MaxPool2d node run outside the graph (no_grad): only its switches are wanted."""
    fn = MaxPool2d.__new__(MaxPool2d)
    fn.keep_switches = True
    fn.forward(x.array, kernel=kernel, stride=stride, padding=padding, dilation=dilation, out_hw=out_hw)
    return fn


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over (dilated) windows. (N, C, H, W) -> (N, C, Ho, Wo) [, int64 flat indices into each H*W plane].

    Ho = floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1 (ceil in ceil_mode); stride defaults to kernel.
    """
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of the last dim. (N, C, L) -> (N, C, Lo) [, int64 indices into L]."""
    return _max_pool("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def _avg_pool(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd):
    (input,) = tensors(input)
    kernel, stride, pad, _, out = _pool_args(op, input, kernel_size, stride, padding, 1, ceil_mode, nd)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int; got {divisor_override!r}")
    x, unbatched = add_batch(input, nd)
    x = as_2d(x, nd)
    xp = array_module(x.array)
    div = _avg_divisor(xp, x.dtype, x.shape[2:], kernel, stride, pad, out, count_include_pad, divisor_override)
    y = AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=pad, out_hw=out, divisor=div)
    return from_2d(y, nd, unbatched)


def avg_pool2d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Mean over windows. (N, C, H, W) -> (N, C, Ho, Wo); padding counts in the mean if count_include_pad."""
    return _avg_pool(
        "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2
    )


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of the last dim. (N, C, L) -> (N, C, Lo)."""
    return _avg_pool("avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


# ---------------------------------------------------------------------------------------------
# Adaptive pooling: window o of n inputs covers [floor(o n / out), ceil((o + 1) n / out))


def _adaptive_size(op, input, output_size, nd):
    what = "(N, C, H, W) or unbatched (C, H, W)" if nd == 2 else "(N, C, L) or unbatched (C, L)"
    check_tensor(op, "input", input, (nd + 1, nd + 2), what)
    spatial = input.shape[-nd:]
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}; got {output_size!r}")
    out = tuple(n if o is None else int(o) for n, o in zip(spatial, output_size))
    if min(out) < 1 or min(spatial) < 1:
        raise ShapeError(
            f"{op}: output_size {out} and input {dims(spatial)} must be positive (x.shape={tuple(input.shape)})"
        )
    return out


def _adaptive_input(op, input, output_size, nd):
    """(x, unbatched, out_hw, kernel): input batched and 2-D, out_hw its output size ((1, L) for 1-D), and kernel
    the size of equal windows when out_hw divides the input size (a plain pool does), else None."""
    out = _adaptive_size(op, input, output_size, nd)
    x, unbatched = add_batch(input, nd)
    x = as_2d(x, nd)
    out_hw = (1, *out) if nd == 1 else out
    equal = all(n % o == 0 for n, o in zip(x.shape[2:], out_hw))
    return x, unbatched, out_hw, (tuple(n // o for n, o in zip(x.shape[2:], out_hw)) if equal else None)


def _bounds(n: int, out: int):
    """Start and end of each adaptive window along one axis."""
    o = np.arange(out)
    return (o * n) // out, -((-(o + 1) * n) // out)


def _averaging_matrix(xp, n: int, out: int, dtype):
    """(out, n) matrix whose row o averages the adaptive window o."""
    start, end = _bounds(n, out)
    cells = np.arange(n)
    inside = (cells >= start[:, None]) & (cells < end[:, None])
    return xp.asarray(inside / (end - start)[:, None], dtype=dtype)


def _adaptive_avg(op, input, output_size, nd):
    (input,) = tensors(input)
    x, unbatched, out2, k = _adaptive_input(op, input, output_size, nd)
    size = x.shape[2:]
    if k is not None:  # equal windows: a plain average pool
        y = AvgPool2d.apply(x, kernel=k, stride=k, padding=(0, 0), out_hw=out2, divisor=k[0] * k[1])
    else:  # separable: y = A_h @ x @ A_w^T, a composite of matmuls with constant averaging matrices
        xp = array_module(x.array)
        a_h = Tensor._wrap(_averaging_matrix(xp, size[0], out2[0], x.dtype))
        a_w = Tensor._wrap(_averaging_matrix(xp, size[1], out2[1], x.dtype).T)
        y = ops.matmul(ops.matmul(a_h, x), a_w)
    return from_2d(y, nd, unbatched)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over adaptive windows. (N, C, H, W) -> (N, C, *output_size); None in output_size keeps that size."""
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over adaptive windows of the last dim. (N, C, L) -> (N, C, output_size)."""
    return _adaptive_avg("adaptive_avg_pool1d", input, output_size, 1)


class AdaptiveMaxPool2d(Function):
    """y = max over adaptive windows (unequal, overlapping); the switches are flat indices into each plane."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, out_hw):
        xp = array_module(x)
        N, C, H, W = self.x_shape = x.shape
        (h0, h1), (w0, w1) = _bounds(H, out_hw[0]), _bounds(W, out_hw[1])
        y = idx = None
        # tap (a, b) reads row h0 + a, column w0 + b, clamped to the window: a repeat never beats the first copy
        for a in range(int((h1 - h0).max())):
            rows = xp.asarray(np.minimum(h0 + a, h1 - 1))
            for b in range(int((w1 - w0).max())):
                cols = xp.asarray(np.minimum(w0 + b, w1 - 1))
                v = x[:, :, rows[:, None], cols[None, :]]  # (N, C, Ho, Wo), a gather
                flat = rows[:, None] * W + cols[None, :]  # (Ho, Wo)
                if y is None:
                    y, idx = v, xp.broadcast_to(flat, v.shape).astype(np.int64)
                else:
                    better = (v > y) | xp.isnan(v)  # as PyTorch: the last NaN of a window wins
                    xp.copyto(idx, flat, where=better)
                    xp.copyto(y, v, where=better)
        self.idx = idx
        return y

    def backward(self, g):  # scatter-add g at the switches; windows overlap, so bincount adds repeats
        xp = array_module(g)
        N, C, H, W = self.x_shape
        plane = xp.arange(N * C, dtype=np.int64).reshape(N, C, 1, 1) * (H * W)  # (N, C, 1, 1): start of each plane
        gx = xp.bincount((plane + self.idx).ravel(), weights=g.ravel(), minlength=N * C * H * W)
        return gx.astype(g.dtype, copy=False).reshape(self.x_shape)  # (N*C*H*W,) -> (N, C, H, W)

    def jvp(self, dx):  # the tangent of the winner
        return _take_planes(dx, self.idx)


def _take_planes(x, idx):
    """x[n, c].ravel()[idx[n, c]] for every plane: x (N, C, H, W), idx (N, C, ...) -> idx's shape."""
    N, C = x.shape[:2]
    xp = array_module(x)
    flat = xp.ascontiguousarray(x).reshape(N * C, -1)  # (N*C, H*W): one row per plane
    return xp.take_along_axis(flat, idx.reshape(N * C, -1), axis=1).reshape(idx.shape)  # (N*C, Ho*Wo) -> idx.shape


def _adaptive_max(op, input, output_size, return_indices, nd):
    (input,) = tensors(input)
    x, unbatched, out2, k = _adaptive_input(op, input, output_size, nd)
    if k is not None:  # equal windows: a plain max pool
        geom = dict(kernel=k, stride=k, padding=(0, 0), dilation=(1, 1), out_hw=out2)
        y = MaxPool2d.apply(x, **geom)
        fn = (y._ctx if y._ctx is not None else _switches(x, k, k, (0, 0), (1, 1), out2)) if return_indices else None
        indices = fn.indices() if fn is not None else None
    else:
        y = AdaptiveMaxPool2d.apply(x, out_hw=out2)
        if return_indices:
            fn = y._ctx
            if fn is None:
                fn = AdaptiveMaxPool2d.__new__(AdaptiveMaxPool2d)
                fn.forward(x.array, out_hw=out2)
            indices = fn.idx
    y = from_2d(y, nd, unbatched)
    return (y, from_2d(Tensor._wrap(indices), nd, unbatched)) if return_indices else y


def adaptive_max_pool2d(input: Tensor, output_size, return_indices=False):
    """Max over adaptive windows. (N, C, H, W) -> (N, C, *output_size) [, int64 flat indices into each plane]."""
    return _adaptive_max("adaptive_max_pool2d", input, output_size, return_indices, 2)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices=False):
    """Max over adaptive windows of the last dim. (N, C, L) -> (N, C, output_size) [, int64 indices]."""
    return _adaptive_max("adaptive_max_pool1d", input, output_size, return_indices, 1)


# ---------------------------------------------------------------------------------------------
# Max-unpooling: the adjoint of max-pooling's gather, a scatter with the same indices


class MaxUnpool2d(Function):
    """y = zeros with y[n, c].ravel()[indices[n, c]] = x[n, c]. x (N, C, H, W) -> (N, C, Ho, Wo)."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, indices, out_hw):
        xp = array_module(x)
        N, C = x.shape[:2]
        self.x_shape, self.out_shape = x.shape, (N, C, *out_hw)
        plane = xp.arange(N * C, dtype=np.int64).reshape(N, C, 1, 1) * (out_hw[0] * out_hw[1])  # (N, C, 1, 1)
        self.flat = (plane + indices).ravel()  # positions in y.ravel()
        return self._scatter(x)

    def _scatter(self, x):
        xp = array_module(x)
        y = xp.zeros(self.out_shape, dtype=x.dtype)
        y.reshape(-1)[self.flat] = x.ravel()  # y (N, C, Ho, Wo) as a flat view; x (N, C, H, W) flattened alike
        return y

    def backward(self, g):  # the adjoint of a scatter is the gather at the same positions
        return g.reshape(-1)[self.flat].reshape(self.x_shape)  # (N*C*H*W,) gathered -> (N, C, H, W)

    def jvp(self, dx):  # linear
        return self._scatter(dx)


def _max_unpool(op, input, indices, kernel_size, stride, padding, output_size, nd):
    input, indices = tensors(input, indices)
    what = "(N, C, H, W) or unbatched (C, H, W)" if nd == 2 else "(N, C, L) or unbatched (C, L)"
    check_tensor(op, "input", input, (nd + 1, nd + 2), what)
    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer Tensor (from max_pool{nd}d(..., return_indices=True))")
    if indices.shape != input.shape:
        raise ShapeError(f"{op}: indices shape {tuple(indices.shape)} must equal input shape {tuple(input.shape)}")
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else ntuple(stride, nd, "stride", op)
    pad = ntuple(padding, nd, "padding", op)
    check_positive(op, kernel_size=kernel, stride=stride)
    default = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip(input.shape[-nd:], stride, pad, kernel))
    if output_size is None:
        out = default
    else:
        out = tuple(int(v) for v in tuple(output_size)[-nd:])
        if len(out) != nd:
            raise ValueError(f"{op}: output_size must have {nd} (or {nd + 2}) elements; got {output_size!r}")
        for d, (o, ref, s) in enumerate(zip(out, default, stride)):
            if not ref - s < o < ref + s:
                raise ValueError(
                    f"{op}: invalid output_size {out}: dim {d} must be between {ref - s + 1} and {ref + s - 1} "
                    f"(default {ref} = (input - 1) stride - 2 padding + kernel, plus or minus stride - 1)"
                )
    if min(out) < 1:
        raise ShapeError(f"{op}: output would be empty: {dims(out)} (input {dims(input.shape[-nd:])})")
    n_out = int(np.prod(out))
    if indices.array.size:
        lo, hi = int(indices.array.min()), int(indices.array.max())
        if lo < 0 or hi >= n_out:
            bad = hi if hi >= n_out else lo
            raise ShapeError(f"{op}: index {bad} is out of range for output {dims(out)} ({n_out} positions per plane)")
    x, unbatched = add_batch(input, nd)
    idx = indices.array[None] if unbatched else indices.array
    x = as_2d(x, nd)
    if nd == 1:
        idx, out = idx[:, :, None, :], (1, *out)
    y = MaxUnpool2d.apply(x, indices=idx.astype(np.int64, copy=False), out_hw=out)
    return from_2d(y, nd, unbatched)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Put each value back where max_pool2d found it (its switch), zeros elsewhere. (N, C, H, W) -> (N, C, Ho, Wo).

    Ho = (H - 1) stride - 2 padding + kernel, unless output_size says otherwise (within stride - 1 of it).
    """
    return _max_unpool("max_unpool2d", input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Put each value back where max_pool1d found it. (N, C, L) -> (N, C, Lo)."""
    return _max_unpool("max_unpool1d", input, indices, kernel_size, stride, padding, output_size, 1)
