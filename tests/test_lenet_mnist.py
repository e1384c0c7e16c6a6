"""LeNet-5 trains on real MNIST: a CI-sized run (2 epochs over the first 10,000 training images, tested on the
full 10,000-image test set). The full 5-epoch result against PyTorch comes from scripts/lenet_vs_pytorch.py
(see docs/cnn.md); it takes too long for CI."""

from __future__ import annotations

import math
import time

import numpy as np

import toynn
import toynn.nn.functional as F
from toynn.data.registry import get_dataset
from toynn.models import LeNet5
from toynn.optim import SGD
from toynn.optim.lr_scheduler import CosineAnnealingLR

from .data_paths import need_mnist
from .devices import host

MEAN, STD = 0.1307, 0.3081


def test_lenet5_learns_mnist_subset():
    root = need_mnist()
    x, y = get_dataset("mnist", root, train=True).arrays()
    xt, yt = get_dataset("mnist", root, train=False).arrays()
    x, y = (x[:10_000] - MEAN) / STD, y[:10_000]
    xt = (xt - MEAN) / STD
    start = time.process_time()  # CPU seconds: a busy machine does not make the test fail
    toynn.manual_seed(0)
    model = LeNet5()
    epochs, batch = 2, 64
    steps = epochs * math.ceil(len(x) / batch)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = CosineAnnealingLR(opt, T_max=steps)
    order = np.random.default_rng(0)
    losses = []
    for _ in range(epochs):
        perm = order.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(toynn.tensor(x[idx])), toynn.tensor(y[idx]))
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
    model.eval()
    with toynn.no_grad():
        pred = np.concatenate([host(model(toynn.tensor(xt[i : i + 1000])).argmax(1)) for i in range(0, len(xt), 1000)])
    accuracy = 100 * (pred == yt).mean()
    cpu = time.process_time() - start
    assert np.mean(losses[:20]) > 1.5 > 0.3 > np.mean(losses[-50:])
    # PyTorch from the same initial weights and batches: 96.8-97.4% over seeds 0-4
    print(f"LeNet-5, 2 epochs on 10k MNIST images: {accuracy:.2f}% test accuracy, {cpu:.1f} CPU s")
    assert accuracy > 95.0, f"LeNet-5 test accuracy {accuracy:.2f}% after {epochs} epochs on 10k images"
    # about 15 s on an idle 2-core machine; the bound is loose because a busy one (BLAS threads spinning) costs more
    assert cpu < 120, f"training and testing took {cpu:.0f} CPU seconds"
