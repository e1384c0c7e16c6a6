"""torch.backends.mps: Apple's GPU backend, which toynn does not have."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
