"""Data sets by name, for the command line and for rebuilding a saved run's preprocessing."""

from __future__ import annotations

from pathlib import Path

from .datasets import (
    CIFAR10,
    MNIST,
    DatasetNotFoundError,
    Digits,
    FashionMNIST,
    ImageFolder,
    check_classes,
    class_folders,
    find_split,
)

# name -> (needs a folder, one-line description)
DATASETS = {
    "digits": (False, "scikit-learn's bundled 8x8 digits (1,797 images; no download)"),
    "mnist": (True, "MNIST from IDX files in --data-dir"),
    "fashion-mnist": (True, "Fashion-MNIST from IDX files in --data-dir"),
    "cifar10": (
        True,
        "CIFAR-10 in --data-dir: the official cifar-10-python.tar.gz, its extracted batches, "
        "or image folders train/ test/ (or train.tar.gz, test.tar.gz)",
    ),
    "folder": (
        True,
        "your images: --data-dir/{train,test}/<class>/<image>, a .tar.gz/.zip of that, "
        "or train.tar.gz + test.tar.gz in --data-dir",
    ),
}


def get_dataset(name: str, root=None, train: bool = True, image_size=None, classes=None):
    """The train or test split of data set `name` (root is its folder where one is needed).

    image_size (int or (h, w)) resizes the images of a folder. classes, when given, is the class list a model was
    trained on: the split must hold the same classes (a ValueError names them otherwise); the test split of a folder
    is checked against its train split's class folders even without it.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if DATASETS[name][0] and root is None:
        raise ValueError(f"data set {name!r} needs --data-dir (the folder that holds its files)")
    if name == "folder":
        return _folder(Path(root), train, image_size, classes)
    if name == "digits":
        ds = Digits(train=train)
    elif name == "mnist":
        ds = MNIST(root, train=train)
    elif name == "fashion-mnist":
        ds = FashionMNIST(root, train=train)
    else:
        ds = CIFAR10(root, train=train)
    if classes is not None:
        check_classes(ds.classes, classes, f"{name} in {root}" if root else name, "the model's classes")
    return ds


def _folder(root: Path, train: bool, image_size, classes) -> ImageFolder:
    """An image folder's split, its class folders checked before any image is decoded."""
    split = "train" if train else "test"
    folder = find_split(root, split)
    if folder is None:
        raise DatasetNotFoundError(
            f"folder: no {split}/ in {root}; put your images in {root}/train/<class>/ and {root}/test/<class>/ "
            "(one folder per class, the same classes in both), or give a .tar.gz/.zip holding train/ and test/, "
            "or a folder holding train.tar.gz and test.tar.gz"
        )
    names = class_folders(folder)
    if train and len(names) < 2:
        raise ValueError(
            f"folder: {folder} holds {len(names)} class folder{'s' * (len(names) != 1)} "
            f"({', '.join(names) or 'none'}); a classifier needs at least two: put each class's images in a folder "
            f"of its own, {folder}/<class>/<image>"
        )
    if classes is not None:
        check_classes(names, classes, f"folder: {folder}", "the model's classes")
    elif not train:
        train_folder = find_split(root, "train")
        if train_folder is not None:
            check_classes(names, class_folders(train_folder), f"folder: {folder}", f"those of {train_folder}")
    return ImageFolder(folder, image_size=image_size)


def run_dataset(config: dict, data_dir=None, train: bool = False):
    """The split of the data set a saved run (its config.json as a dict) was trained on, read as it was then: the
    same image size, and checked to hold the run's classes. data_dir overrides the folder saved in the run.

    Reads only that split: scoring the test set decodes no training image.
    """
    args = config.get("args") or {}
    size = args.get("image_size")
    if size is None and config["data"] == "folder":  # the model takes only the size it was trained at
        size = tuple(config["input_shape"][-2:])
    return get_dataset(
        config["data"], data_dir or args.get("data_dir"), train=train, image_size=size, classes=config["classes"]
    )
