"""Spatial-op benchmarks: each conv/pool op of LeNet-5 and of the CIFAR net alone, forward + backward at batch 64
in float32, then both training steps written with the functional ops (SGD with momentum), toynn vs PyTorch.

python benchmarks/run.py conv
"""

from __future__ import annotations

import numpy as np
from harness import compare

BATCH = 64


def _pair(toynn, torch, shape, grad=True, seed=0):
    """The same float32 array as a toynn and a PyTorch tensor."""
    x = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return toynn.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)


def _op(name, toynn, torch, call, shapes, grads):
    """compare() of call(F, *tensors).backward(ones) for F = toynn.conv and torch.nn.functional."""
    import toynn.conv as tc

    pairs = [_pair(toynn, torch, s, g, i) for i, (s, g) in enumerate(zip(shapes, grads))]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    g = np.ones(call(tc, *ours).shape, np.float32)
    tg = torch.tensor(g)

    def run_ours():
        for t in ours:
            t.grad = None
        call(tc, *ours).backward(g)

    def run_theirs():
        for t in theirs:
            t.grad = None
        call(torch.nn.functional, *theirs).backward(tg)

    return compare(name, run_ours, run_theirs)


def _conv(name, x, w, grad_x=True, **kw):
    def bench(toynn, torch):
        return _op(
            f"{name} conv2d {x[1]}->{w[0]} {w[2]}x{w[3]} on {x[2]}x{x[3]}, f+b",
            toynn,
            torch,
            lambda F, a, b, c: F.conv2d(a, b, c, **kw),
            [x, w, (w[0],)],
            [grad_x, True, True],
        )

    return bench


def _pool(name, x, **kw):
    def bench(toynn, torch):
        return _op(
            f"{name} max_pool2d 2 on {x[1]}x{x[2]}x{x[3]}, f+b",
            toynn,
            torch,
            lambda F, a: F.max_pool2d(a, **kw),
            [x],
            [True],
        )

    return bench


lenet_conv1 = _conv("LeNet", (BATCH, 1, 28, 28), (6, 1, 5, 5), grad_x=False, padding=2)
lenet_pool1 = _pool("LeNet", (BATCH, 6, 28, 28), kernel_size=2)
lenet_conv2 = _conv("LeNet", (BATCH, 6, 14, 14), (16, 6, 5, 5))
lenet_pool2 = _pool("LeNet", (BATCH, 16, 10, 10), kernel_size=2)
cifar_conv1 = _conv("CIFAR", (BATCH, 3, 32, 32), (32, 3, 3, 3), grad_x=False, padding=1)
cifar_conv2 = _conv("CIFAR", (BATCH, 32, 32, 32), (32, 32, 3, 3), padding=1)
cifar_pool1 = _pool("CIFAR", (BATCH, 32, 32, 32), kernel_size=2)
cifar_conv3 = _conv("CIFAR", (BATCH, 32, 16, 16), (64, 32, 3, 3), padding=1)
cifar_conv4 = _conv("CIFAR", (BATCH, 64, 16, 16), (64, 64, 3, 3), padding=1)
cifar_pool2 = _pool("CIFAR", (BATCH, 64, 16, 16), kernel_size=2)


def avg_pool(toynn, torch):
    return _op(
        "avg_pool2d 2 on 32x32x32, f+b", toynn, torch, lambda F, a: F.avg_pool2d(a, 2), [(BATCH, 32, 32, 32)], [True]
    )


def conv_transpose(toynn, torch):
    return _op(
        "conv_transpose2d 64->32 2x2 s2 on 16x16, f+b",
        toynn,
        torch,
        lambda F, a, b: F.conv_transpose2d(a, b, stride=2),
        [(BATCH, 64, 16, 16), (64, 32, 2, 2)],
        [True, True],
    )


def upsample_bilinear(toynn, torch):
    return _op(
        "interpolate bilinear x2 on 32x16x16, f+b",
        toynn,
        torch,
        lambda F, a: F.interpolate(a, scale_factor=2, mode="bilinear"),
        [(BATCH, 32, 16, 16)],
        [True],
    )


def upsample_nearest(toynn, torch):
    return _op(
        "interpolate nearest x2 on 32x16x16, f+b",
        toynn,
        torch,
        lambda F, a: F.interpolate(a, scale_factor=2),
        [(BATCH, 32, 16, 16)],
        [True],
    )


# ---------------------------------------------------------------------------------------------
# Whole training steps, written with the functional ops (the nn layers are thin wrappers of these)


def _params(toynn, torch, shapes):
    rng = np.random.default_rng(0)
    arrays = [
        (rng.standard_normal(s) * (1 / np.sqrt(np.prod(s[1:]) if len(s) > 1 else 10))).astype(np.float32)
        for s in shapes
    ]
    return [toynn.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]


def _step(name, toynn, torch, shapes, forward, x_shape):
    """One SGD-with-momentum step: forward, cross-entropy, backward, in-place update; toynn vs PyTorch."""
    import toynn.conv as tc
    import toynn.nn.functional as tF

    ours, theirs = _params(toynn, torch, shapes)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    xs, ys = toynn.tensor(x), toynn.tensor(y)
    txs, tys = torch.tensor(x), torch.tensor(y)
    velocity = [np.zeros(p.shape, np.float32) for p in ours]
    tvelocity = [torch.zeros(p.shape) for p in theirs]

    def run_ours():
        for p in ours:
            p.grad = None
        tF.cross_entropy(forward(tc, tF, xs, *ours), ys).backward()
        for p, v in zip(ours, velocity):
            v *= 0.9
            v += p.grad.array
            p.array -= 0.01 * v

    def run_theirs():
        for p in theirs:
            p.grad = None
        torch.nn.functional.cross_entropy(
            forward(torch.nn.functional, torch.nn.functional, txs, *theirs), tys
        ).backward()
        with torch.no_grad():
            for p, v in zip(theirs, tvelocity):
                v.mul_(0.9).add_(p.grad)
                p.sub_(0.01 * v)

    return compare(name, run_ours, run_theirs, repeat=5)


LENET_SHAPES = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)]


def _lenet(F, L, x, c1, b1, c2, b2, f1, g1, f2, g2, f3, g3):
    h = F.max_pool2d(F.conv2d(x, c1, b1, padding=2).relu(), 2)
    h = F.max_pool2d(F.conv2d(h, c2, b2).relu(), 2).flatten(1)
    return L.linear(L.linear(L.linear(h, f1, g1).relu(), f2, g2).relu(), f3, g3)


CIFAR_SHAPES = [
    (32, 3, 3, 3),
    (32,),
    (32, 32, 3, 3),
    (32,),
    (64, 32, 3, 3),
    (64,),
    (64, 64, 3, 3),
    (64,),
    (256, 4096),
    (256,),
    (10, 256),
    (10,),
]


def _cifar(F, L, x, c1, b1, c2, b2, c3, b3, c4, b4, f1, g1, f2, g2):
    h = F.conv2d(F.conv2d(x, c1, b1, padding=1).relu(), c2, b2, padding=1).relu()
    h = F.max_pool2d(h, 2)
    h = F.conv2d(F.conv2d(h, c3, b3, padding=1).relu(), c4, b4, padding=1).relu()
    h = F.max_pool2d(h, 2).flatten(1)
    return L.linear(L.linear(h, f1, g1).relu(), f2, g2)


def lenet_step(toynn, torch):
    return _step("LeNet-5 step (functional), batch 64", toynn, torch, LENET_SHAPES, _lenet, (BATCH, 1, 28, 28))


def cifar_step(toynn, torch):
    return _step("CIFAR net step (functional), batch 64", toynn, torch, CIFAR_SHAPES, _cifar, (BATCH, 3, 32, 32))


BENCHMARKS = [
    lenet_conv1,
    lenet_pool1,
    lenet_conv2,
    lenet_pool2,
    cifar_conv1,
    cifar_conv2,
    cifar_pool1,
    cifar_conv3,
    cifar_conv4,
    cifar_pool2,
    avg_pool,
    conv_transpose,
    upsample_bilinear,
    upsample_nearest,
    lenet_step,
    cifar_step,
]
TARGETS = {
    "LeNet-5 step (functional), batch 64": 2.0,
    "CIFAR net step (functional), batch 64": 2.5,
}
