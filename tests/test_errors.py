"""Error messages are API: their key phrases (the op, the shapes, the fix) are pinned here."""

from __future__ import annotations

import re

import numpy as np
import pytest

import toynn
from toynn import ShapeError


def shape_re(shape) -> str:
    """A regex for a shape as toynn prints it: (2, 3)."""
    return re.escape(str(tuple(shape)))


def test_shape_error_is_a_value_error():
    assert issubclass(ShapeError, ValueError)


# ---------------------------------------------------------------------------------------------
# matmul and broadcasting


@pytest.mark.parametrize("a,b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5, 2, 3), (4, 5))], ids=str)
def test_matmul_names_op_and_both_shapes(a, b):
    x, y = toynn.randn(*a), toynn.randn(*b)
    with pytest.raises(ShapeError, match=rf"^matmul: .*{shape_re(a)}.*{shape_re(b)}"):
        x @ y
    with pytest.raises(ShapeError, match="matmul"):
        toynn.matmul(x, y)


def test_matmul_of_a_zero_dim_tensor():
    with pytest.raises(ShapeError, match=r"matmul.*at least 1 dimension"):
        toynn.tensor(2.0) @ toynn.randn(2)


@pytest.mark.parametrize(
    "name,op",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("maximum", lambda a, b: toynn.maximum(a, b)),
    ],
)
def test_broadcast_failure_names_op_and_both_shapes(name, op):
    a, b = toynn.randn(2, 3), toynn.randn(4, 5)
    with pytest.raises(ShapeError, match=rf"(?i)^{name}\b.*{shape_re((2, 3))}.*{shape_re((4, 5))}"):
        op(a, b)


def test_broadcast_failure_in_functional_form():
    with pytest.raises(ShapeError, match=rf"(?i)add.*{shape_re((3,))}.*{shape_re((4,))}"):
        toynn.add(toynn.randn(3), toynn.randn(4))


def test_broadcast_to_names_both_shapes():
    with pytest.raises(ShapeError, match=rf"broadcast_to: .*{shape_re((2, 3))}.*{shape_re((4, 3))}"):
        toynn.randn(2, 3).broadcast_to((4, 3))
    with pytest.raises(ShapeError, match="broadcast_to"):
        toynn.randn(2, 3).expand(4, 3)


# ---------------------------------------------------------------------------------------------
# Movement


@pytest.mark.parametrize("target", [(4, 2), (7,), (-1, 4), (-1, -1)], ids=str)
def test_reshape_names_target_and_input_shape(target):
    x = toynn.randn(2, 3)
    with pytest.raises(ShapeError, match=rf"^reshape: .*{shape_re(target)}.*{shape_re((2, 3))}"):
        x.reshape(*target)
    with pytest.raises(ShapeError, match=rf"reshape: .*{shape_re(target)}"):
        x.view(target)


def test_reshape_error_is_a_value_error_for_callers():
    with pytest.raises(ValueError):
        toynn.reshape(toynn.randn(6), (4,))


def test_cat_mismatched_shapes():
    a = toynn.randn(2, 3)
    with pytest.raises(ShapeError, match=rf"^cat: tensor 1 .*{shape_re((2, 4))}.*{shape_re((2, 3))}.*dim=0"):
        toynn.cat([a, toynn.randn(2, 4)], 0)
    with pytest.raises(ShapeError, match=rf"^cat: tensor 2 .*{shape_re((2, 3, 1))}"):
        toynn.cat([a, a, toynn.randn(2, 3, 1)])
    with pytest.raises(ShapeError, match=rf"cat: tensor 1 .*{shape_re((3, 3))}.*dim=1"):
        toynn.cat([a, toynn.randn(3, 3)], dim=1)


def test_cat_and_stack_of_nothing():
    with pytest.raises(ValueError, match="cat"):
        toynn.cat([])
    with pytest.raises(ValueError, match="stack"):
        toynn.stack([])


def test_stack_mismatched_shapes():
    with pytest.raises(ShapeError, match=rf"^stack: tensor 1 .*{shape_re((3, 2))}.*{shape_re((2, 3))}"):
        toynn.stack([toynn.randn(2, 3), toynn.randn(3, 2)])


@pytest.mark.parametrize("dims", [(0, 0), (0, 1, 2), (1,), (1, 0, 2)], ids=str)
def test_permute_with_a_bad_permutation(dims):
    x = toynn.randn(2, 3)
    with pytest.raises(ShapeError, match=rf"^permute: .*{shape_re(dims)}.*{shape_re((2, 3))}"):
        x.permute(*dims)


@pytest.mark.parametrize("dims", [(0, 5), (0, -3), (3, 0)], ids=str)
def test_permute_with_out_of_range_dim(dims, torch):
    with pytest.raises(IndexError):
        torch.randn(2, 3).permute(*dims)
    with pytest.raises(IndexError, match="permute"):
        toynn.randn(2, 3).permute(*dims)


# ---------------------------------------------------------------------------------------------
# backward


def test_backward_on_non_scalar():
    y = toynn.randn(2, 3, requires_grad=True) * 2
    with pytest.raises(ShapeError, match=rf"backward\(\).*{shape_re((2, 3))}.*gradient.*\.sum\(\).*\.mean\(\)"):
        y.backward()


def test_backward_with_wrong_gradient_shape():
    y = toynn.randn(2, 3, requires_grad=True) * 2
    with pytest.raises(ShapeError, match=rf"backward\(\): gradient .*{shape_re((3,))}.*{shape_re((2, 3))}"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        toynn.ones(3).sum().backward()


def test_second_backward_message():
    y = (toynn.randn(3, requires_grad=True) * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_create_graph_through_a_once_differentiable_op_is_refused():
    class Twice(toynn.Function):  # a rule on raw arrays only, as an op may declare
        once_differentiable = True

        def forward(self, x):
            return 2 * x

        def backward(self, g):
            return 2 * g

    y = Twice.apply(toynn.randn(3, requires_grad=True)).sum()
    with pytest.raises(RuntimeError, match="Twice has no differentiable backward.*create_graph"):
        y.backward(create_graph=True)


def test_in_place_messages():
    w = toynn.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaf .*in-place.*no_grad"):
        w.add_(1)
    loss = (w * w).sum()
    with toynn.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*Mul.*version 1.*expected version 0"):
        loss.backward()


def test_relu_output_changed_in_place_keeps_its_gradient(torch):
    """ReLU's backward reads its saved output; an in-place op on that output replaces the tensor's array instead
    of writing into the saved one, so the gradient stays right (PyTorch refuses this backward instead)."""
    x = toynn.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    y = toynn.relu(x)
    y.add_(1)
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0.0, 6.0, 8.0])  # d/dx (relu(x) + 1)^2 = 2 (relu(x) + 1) [x > 0]
    xt = torch.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    yt = torch.relu(xt)
    yt.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (yt * yt).sum().backward()
    z = toynn.relu(x)
    with toynn.no_grad():
        z.mul_(2)  # writes into the array ReLU saved: refused, not a wrong gradient
    with pytest.raises(RuntimeError, match=r"output of ReLU .* modified by an in-place operation"):
        z.backward(np.ones(3))


# ---------------------------------------------------------------------------------------------
# dim out of range -> IndexError naming the op and the dim


@pytest.mark.parametrize(
    "name,call",
    [
        ("sum", lambda x: x.sum(2)),
        ("sum", lambda x: x.sum(-3)),
        ("mean", lambda x: x.mean(5)),
        ("var", lambda x: x.var(2)),
        ("amax", lambda x: x.amax(2)),
        ("amax", lambda x: x.max(2)),
        ("argmax", lambda x: x.argmax(2)),
        ("logsumexp", lambda x: x.logsumexp(2)),
        ("transpose", lambda x: x.transpose(0, 2)),
        ("unsqueeze", lambda x: x.unsqueeze(4)),
        ("squeeze", lambda x: x.squeeze(3)),
        ("flatten", lambda x: x.flatten(0, 3)),
        ("cat", lambda x: toynn.cat([x, x], 2)),
    ],
)
def test_dim_out_of_range_is_index_error(name, call):
    x = toynn.randn(2, 3)
    with pytest.raises(IndexError, match=rf"^{name}: dim -?\d+ is out of range for a tensor with 2 dimensions"):
        call(x)


def test_dim_out_of_range_matches_torch_exception_type(torch):
    for call in (lambda x: x.sum(2), lambda x: x.transpose(0, 2), lambda x: x.unsqueeze(4)):
        with pytest.raises(IndexError):
            call(torch.randn(2, 3))
        with pytest.raises(IndexError):
            call(toynn.randn(2, 3))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dim_error_names_softmax(name):
    with pytest.raises(IndexError, match=rf"^{name}: dim 2"):
        getattr(toynn, name)(toynn.randn(2, 3), 2)


def test_index_out_of_bounds_names_shape():
    with pytest.raises(IndexError, match=rf"getitem: .*5.*{shape_re((2, 3))}"):
        toynn.randn(2, 3)[5]


# ---------------------------------------------------------------------------------------------
# Other argument errors


def test_item_of_many_elements():
    with pytest.raises(ValueError, match=rf"item\(\).*{shape_re((2,))}"):
        toynn.randn(2).item()


def test_truth_value_of_many_elements():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(toynn.randn(2))


def test_mean_of_integers():
    with pytest.raises(TypeError, match=r"mean: .*floating.*int64"):
        toynn.tensor([1, 2]).mean()


def test_clamp_without_bounds():
    with pytest.raises(ValueError, match="clamp"):
        toynn.randn(3).clamp()


def test_reduction_of_empty_tensor():
    with pytest.raises(ShapeError, match=rf"amax: .*empty.*{shape_re((0, 3))}"):
        toynn.zeros(0, 3).amax()
