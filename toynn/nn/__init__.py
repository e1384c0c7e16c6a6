"""Neural-network building blocks; `toynn.nn.functional` (as F) holds the stateless functions."""

from . import functional

__all__ = ["functional"]
