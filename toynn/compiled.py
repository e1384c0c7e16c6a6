"""Optional compiled kernels (numba, `pip install toynn[all]`): col2im's scatter-add and the narrow-row im2col around
the GEMMs of conv/gemm.py, the direct convolution of thin layers (conv/direct.py), ReLU's forward and backward, and
SGD's fused update, as single passes of compiled loops instead of NumPy calls that each pass over the data (or many
NumPy calls).

numba is imported here only, on the first call of kernels(), never at `import toynn`. Each kernel is a plain
Python function below, compiled with `numba.njit(cache=True, nogil=True)`: the first process compiles it (see
docs/benchmarks.md for the seconds) and caches the machine code next to this file (or in NUMBA_CACHE_DIR), so
later processes load it in milliseconds. nogil lets runtime.parallel run a kernel on several threads at once.
TOYNN_NO_NUMBA=1 turns them off (CI runs the suite both ways); NumPy arrays only: CuPy keeps its own path.
The NumPy code they replace stays, and is what the tests compare them with.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

_state: dict = {}  # "kernels": the compiled namespace, or None when off; "use": set_enabled's override
_lock = threading.Lock()


def available() -> bool:
    """Whether numba is installed and TOYNN_NO_NUMBA is not set (to anything but "" or "0")."""
    if os.environ.get("TOYNN_NO_NUMBA", "") not in ("", "0"):
        return False
    from importlib.util import find_spec

    return find_spec("numba") is not None


def set_enabled(flag: bool | None) -> None:
    """Use the compiled kernels (True, where available), not (False), or as the environment says (None).

    For tests and benchmarks that compare both paths in one process.
    """
    _state["use"] = flag


def kernels(xp=np):
    """The compiled kernels for arrays of module xp, or None (CuPy arrays, numba missing or turned off).

    The first call imports numba and compiles (or loads from the cache) every kernel.
    """
    if xp is not np or _state.get("use", True) is False:
        return None
    if "kernels" not in _state:
        with _lock:  # NOTE: the first call may come from several of runtime.parallel's threads at once
            if "kernels" not in _state:
                _state["kernels"] = _compile() if available() else None
    return _state["kernels"]


def loaded(xp=np):
    """The compiled kernels if an earlier kernels() call loaded them (and they are on), else None, never compiling.

    For ops whose gain is too small to pay numba's import and first compile on their own (ReLU saves ~0.1 ms per
    300K values; compiling takes seconds): they use the kernels once the convs or SGD have loaded them, and a small
    net (the digits MLP of `toynn train`) never imports numba.
    """
    if xp is not np or _state.get("use", True) is False:
        return None
    return _state.get("kernels")


def describe() -> str:
    """One line for benchmark headers: numba's version, or why the kernels are off. Imports nothing heavy."""
    if os.environ.get("TOYNN_NO_NUMBA", "") not in ("", "0"):
        return "off (TOYNN_NO_NUMBA)"
    if not available():
        return "off (numba not installed)"
    from importlib.metadata import version

    return f"numba {version('numba')}" + (" (off: set_enabled(False))" if _state.get("use") is False else "")


class _Kernels:
    """The compiled functions, by the names of their Python sources below (without the underscore)."""

    compile_seconds = 0.0  # wall time of the first kernels() call: compiling, or loading numba's cache


def _compile():
    import numba

    start = time.perf_counter()
    k = _Kernels()
    jit = numba.njit(cache=True, nogil=True)
    names = ("col2im_wide", "col2im_narrow", "im2col_narrow", "conv_direct", "sgd_momentum", "relu", "relu_backward")
    for name in names:
        setattr(k, name, jit(globals()["_" + name]))
    # NOTE: fastmath lets LLVM reorder the sums of a dot product into vector lanes (without it, it keeps them one
    # at a time); the sums then round as a BLAS's do, in another order than NumPy's
    k.conv_direct_weight = numba.njit(cache=True, nogil=True, fastmath=True)(_conv_direct_weight)
    # NOTE: compile (or load) every signature now, not in the middle of a timed step
    for dt in (np.float32, np.float64):
        a2, a4 = np.zeros((1, 1), dt), np.zeros((1, 1, 1, 1), dt)
        a5, a6 = np.zeros((1, 1, 1, 1, 1), dt), np.zeros((1, 1, 1, 1, 1, 1), dt)
        k.col2im_wide(a2, a5, 1, 1, 1)
        k.col2im_narrow(a4, a6, 1, 1, 1, 1)
        k.im2col_narrow(a4, a6, 1, 1, 1, 1)
        out = np.zeros((1, 2, 1, 1), dt)
        for part in (out, out[:, :1]):  # a whole output (C order) and one thread's part of it (strided)
            k.conv_direct(np.zeros((1, 1, 2), dt), a4, np.zeros(1, dt), part, np.zeros(1, dt), 1, 1)
        k.conv_direct_weight(np.zeros((1, 1, 2), dt), np.zeros((1, 1, 1), dt), a4, 1, 1)
        v = np.zeros(1, dt)
        k.sgd_momentum(v, v.copy(), v.copy(), dt(0.1), dt(0.9), dt(0), False)
        k.relu(v, v.copy(), dt(0))
        k.relu_backward(v, v.copy(), v.copy(), dt(0), dt(1))
    k.compile_seconds = time.perf_counter() - start
    return k


# ---------------------------------------------------------------------------------------------
# The kernels' Python sources (compiled by _compile). Shapes as in gemm.py: channels first, m images per chunk.


def _col2im_wide(buf, cols, frame, step_i, step_j):
    """Wide rows: buf (C, L) += tap (i, j)'s run cols[c, i, j, n] (Ho*Wb values) at n*frame + i*step_i + j*step_j.

    One image's frame (Hb*Wb values) stays in cache while its KH*KW runs are added onto it.
    NOTE: the loops run over 1-D views (dst, src): indexing the 2-D and 5-D arrays in the inner loop compiled 4x
    slower (numba's negative-index checks stop LLVM from vectorising it).
    """
    C, KH, KW, m, run = cols.shape
    for c in range(C):
        for n in range(m):
            for i in range(KH):
                for j in range(KW):
                    off = n * frame + i * step_i + j * step_j
                    dst, src = buf[c, off : off + run], cols[c, i, j, n]
                    for t in range(run):
                        dst[t] += src[t]


def _col2im_narrow(frames, cols, sh, sw, dh, dw):
    """frames (C, m, Hb, Wb)[c, n, i*dh + sh*y, j*dw + sw*x] += cols (C, KH, KW, m, Ho, Wo)[c, i, j, n, y, x]."""
    C, KH, KW, m, Ho, Wo = cols.shape
    for c in range(C):
        for n in range(m):
            for i in range(KH):
                for j in range(KW):
                    for y in range(Ho):
                        dst, src = frames[c, n, i * dh + sh * y, j * dw :], cols[c, i, j, n, y]
                        if sw == 1:  # a contiguous run: vectorised
                            for x in range(Wo):
                                dst[x] += src[x]
                        else:
                            for x in range(Wo):
                                dst[sw * x] += src[x]


def _im2col_narrow(frames, cols, sh, sw, dh, dw):
    """The copy _col2im_narrow is the adjoint of: cols[c, i, j, n, y, x] = frames[c, n, i*dh + sh*y, j*dw + sw*x].

    NOTE: for stride 1 only (callers check): NumPy's strided copy beat it at stride 2 (0.063 vs 0.086 ms), while at
    stride 1 it ran 1.4-2.2x faster than NumPy's (LeNet-5's first conv: 0.42 -> 0.30 ms per 64 images).
    """
    C, KH, KW, m, Ho, Wo = cols.shape
    for c in range(C):
        for i in range(KH):
            for j in range(KW):
                for n in range(m):
                    for y in range(Ho):
                        dst, src = cols[c, i, j, n, y], frames[c, n, i * dh + sh * y, j * dw :]
                        if sw == 1:  # a contiguous run: vectorised
                            for x in range(Wo):
                                dst[x] = src[x]
                        else:
                            for x in range(Wo):
                                dst[x] = src[sw * x]


def _conv_direct(frames, w, acc, out, bias, step_i, step_j):
    """out (O, m, Ho, Wo) = the stride-1 conv of the padded frames (C, m, L) with w (O, C, KH, KW), + bias (O,).

    Wide rows: for each image and output channel, acc (Ho*Wp values, in L1) gathers tap (i, j)'s contribution
    w[o, c, i, j] * frame[c, n, t + i*step_i + j*step_j] for every t in one contiguous, vectorised run; output
    column x < Wo of row y is acc[y*Wp + x] (step_i = dh*Wp, step_j = dw; L = Hp*Wp plus a tail for the last tap).
    """
    C, m, L = frames.shape
    O, _, KH, KW = w.shape
    Ho, Wo = out.shape[2], out.shape[3]
    run = acc.shape[0]
    Wp = run // Ho
    for n in range(m):
        for o in range(O):
            b = bias[o]
            for t in range(run):
                acc[t] = b
            for c in range(C):
                f = frames[c, n]
                for i in range(KH):
                    for j in range(KW):
                        wv = w[o, c, i, j]
                        off = i * step_i + j * step_j
                        src = f[off : off + run]
                        for t in range(run):
                            acc[t] += wv * src[t]
            for y in range(Ho):
                dst, row = out[o, n, y], acc[y * Wp : y * Wp + Wo]
                for x in range(Wo):
                    dst[x] = row[x]


def _conv_direct_weight(frames, g, gw, step_i, step_j):
    """gw (O, C, KH, KW) += the weight gradient of _conv_direct: g (O, m, Ho*Wp) holds the output's gradient in
    wide rows (zero past Wo), frames (C, m, L) the padded input; each entry is a sum of one dot product per image.
    """
    C, m, L = frames.shape
    O, _, run = g.shape
    KH, KW = gw.shape[2], gw.shape[3]
    for o in range(O):
        for c in range(C):
            for i in range(KH):
                for j in range(KW):
                    off = i * step_i + j * step_j
                    acc = gw[o, c, i, j] * 0
                    for n in range(m):
                        src, gr = frames[c, n, off : off + run], g[o, n]
                        for t in range(run):
                            acc += gr[t] * src[t]
                    gw[o, c, i, j] += acc


def _relu(x, y, zero):
    """y = max(x, 0) over flat arrays, as NumPy's maximum: NaN stays NaN, -0 gives +0.

    NOTE: NumPy's maximum runs 3-4x slower than this loop (its NaN handling); LeNet-5's first ReLU 0.145 -> 0.044 ms.
    """
    for t in range(x.shape[0]):
        v = x[t]
        y[t] = zero if v <= zero else v


def _relu_backward(g, y, gx, zero, one):
    """gx = g * (y > 0) over flat arrays in one pass, the same bits as NumPy's g * mask (NaN * 0 stays NaN, -g * 0
    is -0), without the mask array NumPy's path makes first: 1.7-2x faster."""
    for t in range(g.shape[0]):
        gx[t] = g[t] * (one if y[t] > zero else zero)


def _sgd_momentum(x, g, buf, lr, momentum, dampening, nesterov):
    """SGD with momentum over flat arrays in one pass: b = momentum*b + (1-dampening)*g; d = g + momentum*b if
    nesterov else b; x -= lr*d, in the order of SGD's NumPy path; LLVM fuses multiply-adds (FMA), as PyTorch does."""
    keep = 1 - dampening  # in the numbers' dtype (the caller passes x.dtype's), as NumPy computes it
    for t in range(x.shape[0]):
        b = momentum * buf[t] + (g[t] if dampening == 0 else g[t] * keep)
        buf[t] = b
        d = g[t] + momentum * b if nesterov else b
        x[t] -= lr * d
