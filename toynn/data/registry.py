"""Data sets by name, for the command line and for rebuilding a saved run's preprocessing."""

from __future__ import annotations

from pathlib import Path

from .datasets import CIFAR10, MNIST, Digits, FashionMNIST, ImageFolder

# name -> (needs a folder, one-line description)
DATASETS = {
    "digits": (False, "scikit-learn's bundled 8x8 digits (1,797 images; no download)"),
    "mnist": (True, "MNIST from IDX files in --data-dir"),
    "fashion-mnist": (True, "Fashion-MNIST from IDX files in --data-dir"),
    "cifar10": (True, "CIFAR-10 from its Python batches in --data-dir"),
    "folder": (True, "an image folder --data-dir/{train,test}/<class>/<image>"),
}


def get_dataset(name: str, root=None, train: bool = True, image_size=None):
    """The train or test split of data set `name` (root is its folder where one is needed)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if DATASETS[name][0] and root is None:
        raise ValueError(f"data set {name!r} needs --data-dir (the folder that holds its files)")
    if name == "digits":
        return Digits(train=train)
    if name == "mnist":
        return MNIST(root, train=train)
    if name == "fashion-mnist":
        return FashionMNIST(root, train=train)
    if name == "cifar10":
        return CIFAR10(root, train=train)
    split = Path(root) / ("train" if train else "test")
    return ImageFolder(split, image_size=image_size)
