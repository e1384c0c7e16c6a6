"""PyTorch's torch.utils spellings: toynn.utils.data is toynn.data (the same module object; toynn/_lazy.py)."""


def __getattr__(name):  # toynn.utils.data loads on first use, through the alias table of toynn/_lazy.py
    from .._lazy import attribute

    return attribute(__name__, name)
