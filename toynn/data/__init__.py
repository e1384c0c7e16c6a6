"""toynn.data: data sets, batching and batch transforms (PyTorch's torch.utils.data and torchvision's names).

Only re-exports; see dataset.py, loader.py, transforms.py and datasets.py.
"""

from . import transforms
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, default_collate, random_split
from .datasets import (
    CIFAR10,
    IMG_EXTENSIONS,
    MNIST,
    CorruptDatasetError,
    DatasetNotFoundError,
    Digits,
    FashionMNIST,
    ImageFolder,
    UnsafePickleError,
    extract_archive,
    load_digits,
    read_cifar_batch,
    read_idx,
)
from .loader import DataLoader
