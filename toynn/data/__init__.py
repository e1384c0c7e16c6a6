"""toynn.data: data sets, batching (in worker processes too) and image transforms (PyTorch's torch.utils.data and
torchvision's names: `from toynn.data import datasets, transforms`).

Only re-exports; see dataset.py, loader.py, workers.py, transforms.py, datasets.py and files.py.
"""

from . import datasets, transforms
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, default_collate, random_split
from .datasets import (
    CIFAR10,
    IMG_EXTENSIONS,
    MNIST,
    Digits,
    FashionMNIST,
    ImageFolder,
    UnsafePickleError,
    load_digits,
    read_cifar_batch,
    read_idx,
)
from .files import CorruptDatasetError, DatasetNotFoundError, DecompressionBombError, extract_archive
from .loader import DataLoader
from .workers import WorkerInfo, get_worker_info
