"""WGAN-GP (Gulrajani et al., 2017) on 2-D points: the critic's gradient penalty needs the gradient of the critic
with respect to its input, differentiated again with respect to the critic's weights (create_graph=True).

The same code runs on toynn and on PyTorch (`lib` is either module), from the same initial weights and the same
random numbers, so the two runs can be compared number for number (tests/test_higher_order.py does).
Usage: python examples/wgan_gp.py [--torch]
"""

from __future__ import annotations

import sys

import numpy as np


def initial_weights(seed: int = 0, hidden: int = 16) -> dict[str, np.ndarray]:
    """Generator z (2) -> hidden -> 2 and critic x (2) -> hidden -> 1, float64, PyTorch's Linear layout (out, in)."""
    rng = np.random.default_rng(seed)

    def layer(n_in, n_out):
        bound = 1 / np.sqrt(n_in)
        return rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)

    w = {}
    for name, (n_in, n_out) in {"g1": (2, hidden), "g2": (hidden, 2), "c1": (2, hidden), "c2": (hidden, 1)}.items():
        w[name + ".weight"], w[name + ".bias"] = layer(n_in, n_out)
    return w


def real_batch(rng, n: int) -> np.ndarray:
    """Points on a ring of radius 2: the distribution the generator learns."""
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([2 * np.cos(angle), 2 * np.sin(angle)], 1) + 0.05 * rng.standard_normal((n, 2))


def train(lib, steps: int = 20, batch: int = 32, critic_steps: int = 3, penalty: float = 10.0, seed: int = 0):
    """WGAN-GP training; returns the critic losses, the generator losses and the final weights (NumPy)."""
    F = lib.nn.functional
    params = {k: lib.tensor(v, requires_grad=True) for k, v in initial_weights(seed).items()}
    gen = [params[k] for k in params if k.startswith("g")]
    crit = [params[k] for k in params if k.startswith("c")]
    opt_g = lib.optim.Adam(gen, lr=1e-3, betas=(0.5, 0.9))
    opt_c = lib.optim.Adam(crit, lr=1e-3, betas=(0.5, 0.9))

    def generator(z):
        return F.linear(
            lib.tanh(F.linear(z, params["g1.weight"], params["g1.bias"])), params["g2.weight"], params["g2.bias"]
        )

    def critic(x):
        return F.linear(
            lib.tanh(F.linear(x, params["c1.weight"], params["c1.bias"])), params["c2.weight"], params["c2.bias"]
        )

    rng = np.random.default_rng(seed + 1)
    critic_losses, generator_losses = [], []
    for _ in range(steps):
        for _ in range(critic_steps):
            real = lib.tensor(real_batch(rng, batch))
            fake = generator(lib.tensor(rng.standard_normal((batch, 2)))).detach()
            eps = lib.tensor(rng.uniform(0, 1, (batch, 1)))
            mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad_mix,) = lib.autograd.grad(critic(mix).sum(), mix, create_graph=True)
            gp = ((grad_mix.pow(2).sum(1).sqrt() - 1) ** 2).mean()
            loss_c = critic(fake).mean() - critic(real).mean() + penalty * gp
            opt_c.zero_grad()
            loss_c.backward()  # through the penalty too: the second derivative of the critic
            opt_c.step()
            critic_losses.append(loss_c.item())
        loss_g = -critic(generator(lib.tensor(rng.standard_normal((batch, 2))))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        generator_losses.append(loss_g.item())
    return critic_losses, generator_losses, {k: v.detach().numpy() for k, v in params.items()}


if __name__ == "__main__":
    if "--torch" in sys.argv:
        import torch as lib
    else:
        import toynn as lib
    c, g, _ = train(lib, steps=200)
    print(f"{lib.__name__}: critic loss {c[0]:.4f} -> {c[-1]:.4f}, generator loss {g[0]:.4f} -> {g[-1]:.4f}")
