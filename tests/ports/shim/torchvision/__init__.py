"""A tiny stand-in for torchvision, for the PyTorch side of the port corpus only (tests/test_ports.py).

torchvision is not installed (only the pinned torch CPU wheel is), so the PyTorch run of a port program finds this
package on PYTHONPATH instead. It holds just what the corpus calls, written on torch, Pillow and NumPy with
torchvision's semantics: datasets.MNIST / FashionMNIST (IDX files under root/<Name>/raw, a PIL image per sample),
datasets.ImageFolder (root/<class>/<image>, a PIL RGB image per sample), and transforms.Compose, ToTensor,
Normalize, Lambda, RandomHorizontalFlip. It is never imported by toynn or by the toynn run of a program.
"""

from . import datasets, transforms

__version__ = "0.0.0+toynn-test-shim"
