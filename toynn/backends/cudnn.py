"""torch.backends.cudnn's switches, accepted so that programs run unchanged, and documented as no-ops: toynn
uses no cuDNN (its convolutions are im2col and GEMM, on NumPy or CuPy), so there is no algorithm to benchmark
or to make deterministic. Setting them changes nothing."""

enabled = True
benchmark = False  # no-op: toynn has one convolution algorithm, nothing to benchmark
deterministic = False  # no-op: toynn's CPU results are deterministic; on a GPU CuPy's reductions decide
allow_tf32 = True  # no-op: CuPy computes float32 as float32


def is_available() -> bool:
    """False: toynn does not use cuDNN, whether or not a GPU is there."""
    return False


def version() -> None:
    return None
