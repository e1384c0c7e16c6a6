"""torchvision.transforms as the port corpus uses them, on single samples (a PIL image or a (C, H, W) tensor)."""

import numpy as np
import torch


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """PIL image or uint8 (H, W[, C]) array -> float32 (C, H, W) in [0, 1], as torchvision's ToTensor."""

    def __call__(self, pic):
        a = np.array(pic, copy=True)
        if a.ndim == 2:
            a = a[:, :, None]
        t = torch.from_numpy(a.transpose(2, 0, 1).copy())
        return t.to(torch.float32).div(255) if t.dtype == torch.uint8 else t.to(torch.float32)


class Normalize:
    """(x - mean) / std per channel of a (C, H, W) float tensor."""

    def __init__(self, mean, std):
        self.mean, self.std = list(mean), list(std)

    def __call__(self, t):
        mean = torch.as_tensor(self.mean, dtype=t.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=t.dtype).view(-1, 1, 1)
        return (t - mean) / std


class Lambda:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class RandomHorizontalFlip:
    """Flip a PIL image or a (..., H, W) tensor left-right with probability p (torch's global generator)."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, x):
        if torch.rand(1).item() >= self.p:
            return x
        if isinstance(x, torch.Tensor):
            return x.flip(-1)
        from PIL import Image

        return x.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
