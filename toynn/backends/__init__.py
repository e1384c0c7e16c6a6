"""PyTorch's torch.backends flags that programs set or ask: cudnn (no-op switches) and mps (never available)."""

from . import cudnn, mps
