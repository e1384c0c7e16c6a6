"""Printing and formatting as PyTorch (issue 15, item 6): shapes are toynn.Size, f-strings format 0-d tensors as
numbers; and the small autograd names programs print or walk: grad_fn.next_functions, inference_mode, Variable."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn import nn

# ---------------------------------------------------------------------------------------------
# toynn.Size


def test_shape_and_size_are_a_size_that_prints_as_pytorch(torch):
    t = toynn.zeros(2, 3)
    for shape in (t.shape, t.size()):
        assert type(shape) is toynn.Size and isinstance(shape, tuple)
        assert shape == (2, 3) and shape == torch.Size([2, 3])
        assert repr(shape) == str(shape) == "toynn.Size([2, 3])"
        assert f"{shape}" == repr(torch.zeros(2, 3).shape).replace("torch", "toynn")
    assert str(toynn.tensor(1.0).shape) == "toynn.Size([])"
    assert t.size(1) == 3 and type(t.size(1)) is int
    assert t.size(-1) == 3


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4), (0, 7)])
def test_size_numel_as_pytorch(torch, shape):
    assert toynn.zeros(shape).shape.numel() == torch.Size(shape).numel() == int(np.prod(shape))


def test_size_slices_and_sums_stay_sizes_as_pytorch(torch):
    ours, theirs = toynn.zeros(2, 3, 4).shape, torch.zeros(2, 3, 4).shape
    for f in (lambda s: s[1:], lambda s: s + (5,), lambda s: (1,) + s, lambda s: s * 2, lambda s: s[::-1]):
        got, want = f(ours), f(theirs)
        assert tuple(got) == tuple(want)
        assert type(got) is toynn.Size and type(want) is torch.Size
    assert ours[0] == 2 and type(ours[0]) is int
    with pytest.raises(TypeError):
        ours + [5]  # noqa: RUF005  a list is not a tuple, as for torch.Size
    assert np.zeros(ours).shape == (2, 3, 4)  # NumPy takes it as any tuple


def test_error_messages_still_show_shapes_as_tuples():
    with pytest.raises(toynn.ShapeError, match=r"shapes \(2, 3\) and \(4, 5\) cannot be multiplied"):
        toynn.zeros(2, 3) @ toynn.zeros(4, 5)


# ---------------------------------------------------------------------------------------------
# __format__


@pytest.mark.parametrize("spec", ["", ".2f", ".3e", ">10.1f", "+.4g", "%"])
@pytest.mark.parametrize("value", [3.14159, -0.5])
def test_a_zero_dim_float_tensor_formats_as_its_number(torch, spec, value):
    ours, theirs = toynn.tensor(value), torch.tensor(value)
    assert format(ours, spec) == format(theirs, spec)
    assert f"{ours:{spec}}" == f"{theirs:{spec}}"


def test_format_of_ints_bools_and_tensors_that_require_grad(torch):
    assert f"{toynn.tensor(3):d}|{toynn.tensor(3):>5}" == f"{torch.tensor(3):d}|{torch.tensor(3):>5}" == "3|    3"
    assert f"{toynn.tensor(True)}" == f"{torch.tensor(True)}" == "True"
    loss = (toynn.tensor([1.0, 2.0], requires_grad=True) ** 2).sum()
    assert "{:.4f}".format(loss) == f"{loss:.4f}" == "5.0000"  # noqa: UP032  the usual prints of a training loop


def test_format_of_a_tensor_with_dimensions_is_its_repr_or_refused_as_pytorch(torch):
    t = toynn.tensor([1.5, 2.0])
    assert f"{t}" == str(t) == repr(t)
    for ours, theirs in ((t, torch.tensor([1.5, 2.0])), (toynn.tensor([1.5]), torch.tensor([1.5]))):
        with pytest.raises(TypeError):
            format(theirs, ".2f")
        with pytest.raises(TypeError, match="unsupported format string"):
            format(ours, ".2f")


# ---------------------------------------------------------------------------------------------
# grad_fn.next_functions


def test_next_functions_walk_the_graph_as_pytorch(torch):
    a = toynn.tensor(2.0, requires_grad=True)
    b = (a * 3 + 1).sum()
    ((add, zero),) = b.grad_fn.next_functions
    assert zero == 0 and add is not None
    (mul, _), (const, _) = add.next_functions  # the constant 1 has no node
    assert const is None
    (leaf, _), (three, _) = mul.next_functions
    assert three is None
    assert type(leaf).__name__ == "AccumulateGrad" and leaf.variable is a and leaf.next_functions == ()
    ta = torch.tensor(2.0, requires_grad=True)
    tb = (ta * 3 + 1).sum()
    tleaf = tb.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
    assert type(tleaf).__name__ == "AccumulateGrad" and tleaf.variable is ta


def test_a_leaf_has_one_accumulate_grad_node():
    a = toynn.tensor([1.0, 2.0], requires_grad=True)
    (first, _), (second, _) = (a * a).grad_fn.next_functions
    assert first is second
    assert (a + 1).grad_fn.next_functions[0][0] is first


def test_parameters_of_a_layer_reach_their_accumulate_grad():
    layer = nn.Linear(3, 2)
    out = layer(toynn.randn(4, 3))
    leaves = []
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if type(node).__name__ == "AccumulateGrad":
            leaves.append(node.variable)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    assert {id(p) for p in leaves} == {id(layer.weight), id(layer.bias)}


# ---------------------------------------------------------------------------------------------
# inference_mode


def test_inference_mode_as_a_context_manager(torch):
    w = toynn.tensor([1.0], requires_grad=True)
    assert not toynn.is_inference_mode_enabled()
    with toynn.inference_mode():
        assert toynn.is_inference_mode_enabled() and not toynn.is_grad_enabled()
        assert not (w * 2).requires_grad
        with toynn.inference_mode(False):
            assert not toynn.is_inference_mode_enabled()
    assert not toynn.is_inference_mode_enabled() and toynn.is_grad_enabled()
    assert (w * 2).requires_grad
    with torch.inference_mode(False):  # PyTorch leaves grad mode alone too
        assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    with toynn.inference_mode(False):
        assert toynn.is_grad_enabled() and not toynn.is_inference_mode_enabled()


def test_inference_mode_restores_the_state_after_an_exception():
    with pytest.raises(KeyError), toynn.inference_mode():
        raise KeyError
    assert toynn.is_grad_enabled() and not toynn.is_inference_mode_enabled()


def test_inference_mode_as_a_decorator_with_and_without_parentheses():
    w = toynn.tensor([1.0], requires_grad=True)

    @toynn.inference_mode
    def bare(x):
        """Doc."""
        return toynn.is_inference_mode_enabled(), (x * 2).requires_grad

    @toynn.inference_mode()
    def called(x):
        return toynn.is_inference_mode_enabled(), (x * 2).requires_grad

    @toynn.inference_mode(False)
    def off(x):
        return toynn.is_inference_mode_enabled(), (x * 2).requires_grad

    assert bare(w) == called(w) == (True, False)
    assert off(w) == (False, True)
    assert bare.__name__ == "bare" and bare.__doc__ == "Doc."
    assert not toynn.is_inference_mode_enabled() and toynn.is_grad_enabled()


# ---------------------------------------------------------------------------------------------
# toynn.autograd.Variable


def test_variable_returns_a_detached_tensor_as_pytorch(torch):
    from toynn.autograd import Variable

    for ours, theirs in (
        (toynn.ones(2), torch.ones(2)),
        (toynn.ones(2, requires_grad=True) * 2, torch.ones(2, requires_grad=True) * 2),
    ):
        v, tv = Variable(ours), torch.autograd.Variable(theirs)
        assert type(v) is toynn.Tensor and v is not ours
        assert (v.requires_grad, v.grad_fn is None) == (tv.requires_grad, tv.grad_fn is None) == (False, True)
    t = toynn.ones(2)
    v = Variable(t, requires_grad=True)
    assert v.requires_grad and v.is_leaf and not t.requires_grad
    v.array[0] = 5.0  # shares memory, as in PyTorch
    assert t.array[0] == 5.0
    (v * v).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [10.0, 2.0])
    assert isinstance(t, toynn.autograd.Variable) and not isinstance(t.array, Variable)
    assert isinstance(torch.ones(2), torch.autograd.Variable)
    assert Variable().shape == torch.autograd.Variable().shape == (0,)
    for data in ([1.0], np.ones(2)):
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got"):
            torch.autograd.Variable(data)
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got"):
            Variable(data)
