"""torchvision.datasets.MNIST, FashionMNIST and ImageFolder as the port corpus uses them (no download)."""

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip or raw): big-endian header (magic, dims), then uint8 values."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class MNIST(torch.utils.data.Dataset):
    """root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; a sample is (PIL image 'L', int)."""

    classes = [f"{d} - {w}" for d, w in enumerate("zero one two three four five six seven eight nine".split())]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root, self.train = Path(root), train
        self.transform, self.target_transform = transform, target_transform
        stem = "train" if train else "t10k"
        raw = self.root / type(self).__name__ / "raw"
        images, labels = (self._find(raw, f"{stem}-{kind}-ubyte") for kind in ("images-idx3", "labels-idx1"))
        self.data = torch.from_numpy(_read_idx(images).copy())
        self.targets = torch.from_numpy(_read_idx(labels).astype(np.int64))

    @staticmethod
    def _find(raw: Path, name: str) -> Path:
        for candidate in (raw / name, raw / (name + ".gz")):
            if candidate.is_file():
                return candidate
        raise RuntimeError(f"Dataset not found at {raw / name} (this test shim does not download)")

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = Image.fromarray(self.data[index].numpy(), mode="L"), int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}


class FashionMNIST(MNIST):
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class ImageFolder(torch.utils.data.Dataset):
    """root/<class>/**/<image>, classes sorted by name; a sample is (PIL RGB image, class index)."""

    def __init__(self, root, transform=None, target_transform=None):
        self.root, self.transform, self.target_transform = root, transform, target_transform
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = [
            (os.path.join(folder, name), self.class_to_idx[c])
            for c in self.classes
            for folder, _, names in sorted(os.walk(os.path.join(root, c), followlinks=True))
            for name in sorted(names)
            if name.lower().endswith(IMG_EXTENSIONS)
        ]
        self.imgs, self.targets = self.samples, [t for _, t in self.samples]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        with open(path, "rb") as f:
            img = Image.open(f).convert("RGB")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target
