"""Making tensors: from data, filled, ranges, and random numbers from one seeded generator."""

from __future__ import annotations

import builtins

import numpy as np

from . import ops
from .backend import get_default_dtype, to_device
from .tensor import Tensor


class Generator(np.random.Generator):
    """PyTorch's torch.Generator: a seeded source of random numbers, passed as generator= to rand, randn,
    randint, randperm, multinomial, random_split, the init functions ... It is a NumPy Generator too."""

    DEFAULT_SEED = 67280421310721  # a new torch.Generator()'s seed

    def __init__(self, device="cpu"):
        super().__init__(np.random.PCG64())
        self.device = str(device)
        self.manual_seed(self.DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed in place (whoever holds this generator sees the new seed); returns self, as PyTorch."""
        seed = int(seed)
        self.bit_generator.state = np.random.PCG64(seed).state
        self._initial_seed = seed
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = int(np.random.SeedSequence().entropy % 2**63)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed of the last manual_seed or seed (a new Generator's is PyTorch's default seed)."""
        return self._initial_seed

    def get_state(self) -> dict:
        """The generator's state (NumPy's bit-generator state, where PyTorch gives a byte tensor)."""
        return self.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self.bit_generator.state = state
        return self

    def __call__(self) -> Generator:
        """default_generator() is toynn's older spelling of default_generator: both are this object."""
        return self


_generator = default_generator = Generator()
_generator.seed()  # as PyTorch's default generator: a fresh seed from the OS per process, until manual_seed


def manual_seed(seed: int) -> Generator:
    """Seed toynn's random numbers (rand, randn, init, dropout, shuffling) for reproducible runs."""
    # NOTE: reseeded in place, so loaders and layers holding the generator see the new seed
    return _generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return _generator.seed()


def initial_seed() -> int:
    return _generator.initial_seed()


def get_rng_state() -> dict:
    """The default generator's state, for set_rng_state."""
    return _generator.get_state()


def set_rng_state(new_state: dict) -> None:
    _generator.set_state(new_state)


def _make(array, dtype, device, requires_grad) -> Tensor:
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if device is not None:
        array = to_device(array, device)
    return Tensor(array, requires_grad=requires_grad)


def _size(shape, size=None, op: str = "") -> tuple:
    """The shape from zeros(2, 3), zeros((2, 3)), zeros([2, 3]) or zeros(size=(2, 3))."""
    if size is not None:
        if shape:
            raise TypeError(f"{op}: got the size both positionally {shape} and as size={size}")
        shape = (size,)
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return tuple(int(n) for n in shape[0])
    return tuple(int(n) for n in shape)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data: Python floats become float32, ints int64, arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.array
    on_gpu = hasattr(data, "__cuda_array_interface__")
    if on_gpu and device is None:
        device = "cuda"  # as torch.tensor(cuda_tensor): the copy stays on the data's device
    array = np.array(to_device(data, "cpu") if on_gpu else data)
    if dtype is None and not on_gpu and not isinstance(_first_leaf(data), (np.ndarray, np.generic)):
        if array.dtype.kind == "f":
            dtype = get_default_dtype()  # Python floats become float32; NumPy arrays and scalars keep theirs
        elif array.dtype.kind in "iu":
            dtype = np.int64
    return _make(array, dtype, device, requires_grad)


def _first_leaf(data):
    """The first element of nested lists, or data itself: it decides whether NumPy dtypes are kept."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def zeros(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape = _size(shape, size, "zeros")
    return _make(np.zeros(shape, dtype=dtype or get_default_dtype()), None, device, requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape = _size(shape, size, "ones")
    return _make(np.ones(shape, dtype=dtype or get_default_dtype()), None, device, requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """A tensor whose values are whatever the memory held (fill it before reading it)."""
    shape = _size(shape, size, "empty")
    return _make(np.empty(shape, dtype=dtype or get_default_dtype()), None, device, requires_grad)


def empty_strided(size, stride, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """empty(size): toynn's tensors are laid out by NumPy, so the strides are not kept."""
    if len(tuple(size)) != len(tuple(stride)):
        raise ValueError(f"empty_strided: size {tuple(size)} and stride {tuple(stride)} must have the same length")
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = get_default_dtype() if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _make(np.full(_size((size,)), fill_value, dtype=dtype), None, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from start to end (exclusive) by step; int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    return _make(np.arange(start, end, step, dtype=dtype), None, device, requires_grad)


def range(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Deprecated in PyTorch: start, start + step, ... up to end *inclusive*, float by default."""
    if end is None:
        start, end = 0, start
    n = int(np.floor((end - start) / step + 1e-9)) + 1
    values = start + np.arange(builtins.max(n, 0), dtype=np.float64) * step
    return _make(values.astype(dtype or get_default_dtype()), None, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """steps values evenly spaced from start to end, both included, equal to PyTorch's bit for bit in float32."""
    dtype = np.dtype(dtype or get_default_dtype())
    n = int(steps)
    if n < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    # NOTE: PyTorch's kernel: step = (end - start) / (n - 1) in the output dtype; the first half counts up from
    # start, the second down from end, each value one fused multiply-add (one rounding: float64 holds the
    # float32 product exactly)
    work = dtype.type if dtype in (np.float16, np.float32) else np.float64
    first, last = (work(int(start)), work(int(end))) if dtype.kind in "iu" else (work(start), work(end))
    step = (last - first) / work(n - 1) if n > 1 else work(0)
    i = np.arange(n, dtype=np.float64)
    up = np.float64(first) + np.float64(step) * i
    down = np.float64(last) - np.float64(step) * (n - 1 - i)
    values = np.where(i < n // 2, up, down)
    return _make(values.astype(dtype), None, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """base ** linspace(start, end, steps)."""
    values = np.power(float(base), np.linspace(float(start), float(end), int(steps)))
    return _make(values.astype(dtype or get_default_dtype()), None, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype or get_default_dtype()), None, device, requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a (row, col) matrix."""
    return _make(np.stack(np.tril_indices(row, offset, col)).astype(dtype or np.int64), None, device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle of a (row, col) matrix."""
    return _make(np.stack(np.triu_indices(row, offset, col)).astype(dtype or np.int64), None, device, False)


def rand(*shape, size=None, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    dtype = np.dtype(dtype or get_default_dtype())
    array = (generator or _generator).random(_size(shape, size, "rand"), dtype=dtype)
    return _make(array, None, device, requires_grad)


def randn(*shape, size=None, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal random numbers."""
    dtype = np.dtype(dtype or get_default_dtype())
    array = (generator or _generator).standard_normal(_size(shape, size, "randn"), dtype=dtype)
    return _make(array, None, device, requires_grad)


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Random integers in [low, high); randint(high, size) as PyTorch's shorter form."""
    if isinstance(high, (tuple, list)):  # randint(10, (3,))
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    array = (generator or _generator).integers(low, high, size=_size((size,)), dtype=dtype or np.int64)
    return _make(array, None, device, requires_grad)


def randperm(n: int, dtype=None, device=None, generator=None) -> Tensor:
    return _make((generator or _generator).permutation(n).astype(dtype or np.int64), None, device, False)


def _like(x: Tensor, fill, dtype, device, requires_grad) -> Tensor:
    out = fill(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)
    return out


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, zeros, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, ones, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def rand_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, rand, dtype, device, requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, empty, dtype, device, requires_grad)


def randint_like(x: Tensor, low=0, high=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high) in x's shape (and dtype, unless given)."""
    if high is None:
        low, high = 0, low
    out = randint(low, high, x.shape, dtype=np.int64, device=device or x.device)
    return out.to(dtype or x.dtype)


def randn_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, randn, dtype, device, requires_grad)


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy, dtype kept)."""
    return Tensor(np.asarray(array))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """data as a tensor, sharing memory when it already is an array (or a tensor) of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        out = Tensor(data)
        return out.to(dtype=dtype, device=device)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


# ---------------------------------------------------------------------------------------------
# Random sampling from distributions (the numbers come from the NumPy generator on the host)


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Category indices drawn with probabilities proportional to input's rows (1-D or 2-D weights)."""
    w = input if isinstance(input, Tensor) else Tensor(np.asarray(input, dtype=np.float64))
    probs = to_device(w.array, "cpu").astype(np.float64)
    rows = probs.reshape(1, -1) if probs.ndim == 1 else probs
    if probs.ndim not in (1, 2) or rows.shape[-1] == 0:
        raise ValueError(f"multinomial: expects a 1-D or 2-D tensor of weights, got shape {tuple(w.shape)}")
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("multinomial: the weights must be finite and non-negative")
    if (rows.sum(-1) <= 0).any():
        raise RuntimeError("multinomial: each row of weights must have a positive sum")
    if not replacement and num_samples > (rows > 0).sum(-1).min():
        raise RuntimeError(
            f"multinomial: cannot draw {num_samples} samples without replacement from {(rows > 0).sum(-1).min()} "
            "categories of nonzero weight"
        )
    gen = generator or _generator
    if replacement:  # inverse CDF: the first category whose cumulative probability exceeds a uniform draw
        cdf = np.cumsum(rows, -1)
        cdf /= cdf[:, -1:]
        u = gen.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
        out = np.minimum(out, rows.shape[-1] - 1)
    else:  # the Gumbel top-k trick: the k largest log w + Gumbel noise are a draw without replacement
        with np.errstate(divide="ignore"):
            keys = np.log(rows) - np.log(-np.log(gen.random(rows.shape)))
        out = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64).reshape(num_samples) if probs.ndim == 1 else out.astype(np.int64)
    return _make(out, None, w.device, False)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability input (or p), else 0, in input's shape and dtype."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    probs = to_device(x.array, "cpu") if p is None else p
    draws = (generator or _generator).random(x.shape) < probs
    return _make(draws.astype(x.dtype if x.dtype.kind == "f" else get_default_dtype()), None, x.device, False)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """mean + std * N(0, 1) in the broadcast shape of mean and std (or size); differentiable in both."""
    shapes = [np.shape(v.array if isinstance(v, Tensor) else v) for v in (mean, std)]
    shape = _size((size,)) if size is not None else np.broadcast_shapes(*shapes)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    dtype = dtype or (tensors[0].dtype if tensors else get_default_dtype())
    noise = randn(shape, dtype=dtype, generator=generator, device=device or (tensors[0].device if tensors else None))
    if not tensors:
        return _make((noise * std + mean).array, None, None, requires_grad)
    return ops.add(mean, ops.mul(std, noise))


def poisson(input, generator=None) -> Tensor:
    """Counts drawn from Poisson distributions of rates input, in input's dtype."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    draws = (generator or _generator).poisson(to_device(x.array, "cpu"))
    return _make(draws.astype(x.dtype), None, x.device, False)
