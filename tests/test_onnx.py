"""toynn.onnx.export: files that pass onnx's checker and that onnxruntime runs with toynn's outputs (< 1e-5).

onnx and onnxruntime are optional test dependencies: without them this module skips, unless
TOYNN_REQUIRE_ONNX=1 (as CI sets it), where a missing package fails the run instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections import OrderedDict

import numpy as np
import pytest

import toynn
import toynn.models
from toynn import nn
from toynn.backend import to_device
from toynn.io.onnx import export, supported_layers


def _need(module: str):
    if os.environ.get("TOYNN_REQUIRE_ONNX") == "1":
        return importlib.import_module(module)  # CI: a missing package is a failure, never a skip
    return pytest.importorskip(module, reason=f"{module} is an optional test dependency: pip install onnx onnxruntime")


onnx = _need("onnx")
ort = _need("onnxruntime")

ATOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """toynn's side of each comparison multiplies small matrices, where BLAS threads only spin on a busy machine."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _host(a) -> np.ndarray:
    return np.asarray(to_device(a.array if isinstance(a, toynn.Tensor) else a, "cpu"))


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def round_trip(model, shape, tmp_path, batch=2, run_batch=3, seed=0, **kwargs):
    """Export with a batch of `batch`, run the file on a batch of `run_batch` (a dynamic batch) in onnxruntime
    and in toynn; returns the outputs of both (lists of NumPy arrays) after checking the file."""
    rng = np.random.default_rng(seed)
    example = toynn.tensor(rng.standard_normal((batch, *shape)).astype(np.float32))
    path = export(model, example, tmp_path / "model.onnx", **kwargs)
    onnx.checker.check_model(str(path), full_check=True)
    x = rng.standard_normal((run_batch, *shape)).astype(np.float32)
    sess = _session(path)
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    training = model.training
    model.eval()
    with toynn.no_grad():
        want = model(toynn.tensor(x))
    model.train(training)
    want = [_host(w) for w in (want if isinstance(want, tuple) else (want,))]
    assert [g.shape for g in got] == [w.shape for w in want]
    return got, want


def assert_round_trip(model, shape, tmp_path, **kwargs) -> float:
    got, want = round_trip(model, shape, tmp_path, **kwargs)
    worst = 0.0
    for g, w in zip(got, want):
        if w.dtype.kind in "iu":  # MaxPool indices: PyTorch's per-plane convention, exactly
            np.testing.assert_array_equal(g, w)
        else:
            worst = max(worst, float(np.abs(g - w).max()))
    assert worst < ATOL, f"max |onnxruntime - toynn| = {worst:.3g}"
    return worst


def _with_statistics(model, shape, rng=None):
    """Train-mode passes, then non-trivial affine parameters, so that BatchNorm is not the identity in eval."""
    rng = rng or np.random.default_rng(1)
    model.train()
    with toynn.no_grad():
        for _ in range(3):
            model(toynn.tensor((2 * rng.standard_normal((8, *shape)) + 1).astype(np.float32)))
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None:
            m.weight.array[...] = to_device(rng.uniform(0.5, 1.5, m.weight.shape).astype(np.float32), m.weight.device)
            m.bias.array[...] = to_device(rng.uniform(-0.5, 0.5, m.bias.shape).astype(np.float32), m.bias.device)
    return model


# ---------------------------------------------------------------------------------------------
# The zoo and the models


class PoolUnpool(nn.Module):
    """Zeiler & Fergus's switches: max-pool with indices, a layer on the pooled maps, unpool to the input size;
    returns the unpooled maps and the indices (which the file gives in PyTorch's per-plane convention)."""

    def __init__(self, kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False, output_size=None, nd=2):
        pool, unpool = (nn.MaxPool1d, nn.MaxUnpool1d) if nd == 1 else (nn.MaxPool2d, nn.MaxUnpool2d)
        self.pool = pool(kernel_size, stride, padding, dilation, return_indices=True, ceil_mode=ceil_mode)
        self.act = nn.LeakyReLU(0.1)
        self.unpool = unpool(kernel_size, stride, padding)
        self.output_size = output_size

    def forward(self, x):
        y, indices = self.pool(x)
        return self.unpool(self.act(y), indices, self.output_size), indices


def upsampling_net(mode="bilinear", align_corners=False):
    """conv -> Upsample -> transposed conv, the issue's upsampling model."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Upsample(scale_factor=2, mode=mode, align_corners=align_corners),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
        nn.Tanh(),
    )


def norm_net():
    """BatchNorm2d + LRN + Dropout/Dropout2d (identity in eval), ending in a classifier."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0),
        nn.Dropout2d(0.3),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(8 * 6 * 6, 16),
        nn.BatchNorm1d(16),
        nn.Sigmoid(),
        nn.Linear(16, 4),
        nn.LogSoftmax(dim=1),
    )


MODELS = {
    "lenet5": (lambda: toynn.models.LeNet5(), (1, 28, 28)),
    "cifarnet": (lambda: toynn.models.CifarNet(), (3, 32, 32)),
    "mlp": (lambda: toynn.models.MLP(784, (128, 64)), (1, 28, 28)),
    "softmax": (lambda: toynn.models.SoftmaxRegression(784, 10), (784,)),
    "allconv": (lambda: toynn.models.AllConvNet(channels=(16, 32)), (3, 32, 32)),
    "allconv-pool": (lambda: toynn.models.AllConvNet(variant="pool", channels=(16, 32)), (3, 32, 32)),
    "upsampling": (upsampling_net, (3, 6, 7)),
    "upsampling-nearest": (lambda: upsampling_net("nearest", None), (3, 6, 7)),
    "upsampling-bicubic-corners": (lambda: upsampling_net("bicubic", True), (3, 6, 7)),
    "bn-lrn-dropout": (lambda: _with_statistics(norm_net(), (3, 12, 12)), (3, 12, 12)),
    "pool-unpool": (lambda: PoolUnpool(3, 2, 1, output_size=(11, 13)), (3, 11, 13)),
}


@pytest.mark.parametrize("name", MODELS)
def test_models_round_trip_through_onnxruntime(tmp_path, name):
    build, shape = MODELS[name]
    toynn.manual_seed(0)
    assert_round_trip(build(), shape, tmp_path)


def test_alexnet_round_trips_through_onnxruntime(tmp_path):
    AlexNet = getattr(toynn.models, "AlexNet", None)
    if AlexNet is None:
        pytest.skip("toynn.models.AlexNet does not exist yet")
    toynn.manual_seed(0)
    model = AlexNet()  # the paper's 3x224x224, 1000 classes: 61M parameters, a 244 MB file
    got, want = round_trip(model, (3, 224, 224), tmp_path, batch=1, run_batch=2)
    worst, scale = float(np.abs(got[0] - want[0]).max()), float(np.abs(want[0]).max())
    assert worst < ATOL and worst < 1e-4 * scale, f"max |onnxruntime - toynn| = {worst:.3g}, max |logit| {scale:.3g}"


def test_the_file_names_weights_as_the_state_dict_and_keeps_the_training_mode(tmp_path):
    model = toynn.models.LeNet5().train()
    path = export(model, toynn.randn(1, 1, 28, 28), tmp_path / "sub" / "lenet.onnx", ["image"], ["logits"])
    assert model.training and all(m.training for m in model.modules())
    proto = onnx.load(str(path))
    assert {t.name for t in proto.graph.initializer} == set(model.state_dict())
    assert [i.name for i in proto.graph.input] == ["image"] and [o.name for o in proto.graph.output] == ["logits"]
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in proto.graph.input]
    assert dims == [["N", 1, 28, 28]]
    assert [n.op_type for n in proto.graph.node] == [
        *["Conv", "Relu", "MaxPool"] * 2,
        "Flatten",
        *["Gemm", "Relu"] * 2,
        "Gemm",
    ]
    assert proto.opset_import[0].version == 17


def test_a_fixed_batch_and_other_opsets(tmp_path):
    model = upsampling_net()
    for opset in (13, 18, 21):
        assert_round_trip(model, (3, 6, 7), tmp_path, opset_version=opset)
    assert_round_trip(model, (3, 6, 7), tmp_path, run_batch=2, dynamic_batch=False)
    proto = onnx.load(str(tmp_path / "model.onnx"))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    sess = _session(tmp_path / "model.onnx")
    with pytest.raises(Exception, match="(?i)dimension"):
        sess.run(None, {"input": np.zeros((3, 3, 6, 7), np.float32)})


# ---------------------------------------------------------------------------------------------
# Every layer, one at a time (inside a Sequential that starts with a 1x1 convolution, so that the
# layer's input is not the graph input)


def S(*layers):
    return nn.Sequential(*layers)


C, H, W = 4, 9, 10
LAYERS = {
    "linear-2d": (lambda: nn.Linear(C, 5), (C,)),
    "linear-4d": (lambda: nn.Linear(W, 5), (C, H, W)),
    "linear-no-bias": (lambda: nn.Linear(W, 5, bias=False), (C, H, W)),
    "conv1d": (lambda: nn.Conv1d(C, 6, 3, stride=2, padding=1), (C, W)),
    "conv1d-circular": (lambda: nn.Conv1d(C, 6, 3, padding=2, padding_mode="circular"), (C, W)),
    "conv2d-stride-dilation": (lambda: nn.Conv2d(C, 6, 3, stride=(2, 1), padding=(1, 2), dilation=(1, 2)), (C, H, W)),
    "conv2d-groups": (lambda: nn.Conv2d(C, 6, 3, padding=1, groups=2, bias=False), (C, H, W)),
    "conv2d-same": (lambda: nn.Conv2d(C, 6, 4, padding="same", dilation=2), (C, H, W)),
    "conv2d-valid": (lambda: nn.Conv2d(C, 6, 3, padding="valid"), (C, H, W)),
    "conv2d-reflect": (lambda: nn.Conv2d(C, 6, 3, padding=(1, 2), padding_mode="reflect"), (C, H, W)),
    "conv2d-replicate": (lambda: nn.Conv2d(C, 6, 3, padding=2, padding_mode="replicate"), (C, H, W)),
    "conv2d-circular": (lambda: nn.Conv2d(C, 6, 3, padding=(2, 1), padding_mode="circular"), (C, H, W)),
    "conv-transpose1d": (lambda: nn.ConvTranspose1d(C, 6, 3, stride=2, padding=1, output_padding=1), (C, W)),
    "conv-transpose2d": (lambda: nn.ConvTranspose2d(C, 6, 3, stride=3, dilation=2, groups=2), (C, H, W)),
    "conv-transpose2d-pad": (
        lambda: nn.ConvTranspose2d(C, 2, (3, 2), stride=2, padding=(1, 0), output_padding=(1, 0)),
        (C, H, W),
    ),
    "max-pool1d": (lambda: nn.MaxPool1d(3, 2, 1), (C, W)),
    "max-pool2d": (lambda: nn.MaxPool2d(3, 2, 1, dilation=2), (C, H, W)),
    "max-pool2d-indices": (lambda: nn.MaxPool2d(3, 2, 1, dilation=2, return_indices=True), (C, H, W)),
    "max-pool2d-ceil": (lambda: nn.MaxPool2d(2, ceil_mode=True), (C, H, W)),
    "max-pool2d-ceil-dropped-window": (lambda: nn.MaxPool2d(3, 3, 1, ceil_mode=True), (C, 5, 11)),
    "avg-pool1d": (lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (C, W)),
    "avg-pool2d": (lambda: nn.AvgPool2d(3, 2, 1), (C, H, W)),
    "avg-pool2d-exclude-pad": (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), (C, H, W)),
    "avg-pool2d-ceil": (lambda: nn.AvgPool2d(2, ceil_mode=True), (C, H, W)),
    "avg-pool2d-ceil-dropped-window": (lambda: nn.AvgPool2d(3, 3, 1, ceil_mode=True), (C, 5, 11)),
    "avg-pool2d-divisor": (lambda: nn.AvgPool2d(3, 2, 1, divisor_override=5), (C, H, W)),
    "adaptive-avg-global": (lambda: nn.AdaptiveAvgPool2d(1), (C, H, W)),
    "adaptive-avg-divides": (lambda: nn.AdaptiveAvgPool2d((3, 5)), (C, H, W)),
    "adaptive-avg-uneven": (lambda: nn.AdaptiveAvgPool2d((4, None)), (C, H, W)),
    "adaptive-avg1d-uneven": (lambda: nn.AdaptiveAvgPool1d(3), (C, W)),
    "adaptive-max-global": (lambda: nn.AdaptiveMaxPool2d(1), (C, H, W)),
    "adaptive-max-divides": (lambda: nn.AdaptiveMaxPool2d((3, 5)), (C, H, W)),
    "adaptive-max1d": (lambda: nn.AdaptiveMaxPool1d(5), (C, W)),
    "unpool-same-size": (lambda: PoolUnpool(2, output_size=(8, 10)), (C, 8, 10)),
    "unpool-larger-plane": (lambda: PoolUnpool(2, output_size=(9, 11)), (C, 8, 10)),
    "unpool-padded": (lambda: PoolUnpool(3, 2, 1), (C, 9, 11)),
    "unpool-ceil": (lambda: PoolUnpool(2, ceil_mode=True, output_size=(9, 10)), (C, 9, 10)),
    "unpool-smaller-plane": (lambda: PoolUnpool(3, 3, output_size=(8, 8)), (C, 8, 10)),
    "unpool1d": (lambda: PoolUnpool(3, 2, 1, nd=1), (C, W + 1)),
    "bn1d-2d": (lambda: _with_statistics(nn.BatchNorm1d(C), (C,)), (C,)),
    "bn1d-3d": (lambda: _with_statistics(nn.BatchNorm1d(C), (C, W)), (C, W)),
    "bn2d": (lambda: _with_statistics(nn.BatchNorm2d(C), (C, H, W)), (C, H, W)),
    "bn2d-no-affine": (lambda: _with_statistics(nn.BatchNorm2d(C, affine=False), (C, H, W)), (C, H, W)),
    "lrn-odd": (lambda: nn.LocalResponseNorm(3, alpha=0.1, beta=0.75, k=2.0), (C, H, W)),
    "lrn-even": (lambda: nn.LocalResponseNorm(4, alpha=0.1, beta=0.6, k=1.5), (C, H, W)),
    "lrn-even-3d": (lambda: nn.LocalResponseNorm(2, alpha=0.2), (C, W)),
    "relu": (lambda: nn.ReLU(), (C, H, W)),
    "leaky-relu": (lambda: nn.LeakyReLU(0.2), (C, H, W)),
    "sigmoid": (lambda: nn.Sigmoid(), (C, H, W)),
    "tanh": (lambda: nn.Tanh(), (C, H, W)),
    "softmax": (lambda: nn.Softmax(dim=-1), (C, H, W)),
    "log-softmax": (lambda: nn.LogSoftmax(dim=1), (C, H, W)),
    "flatten": (lambda: nn.Flatten(), (C, H, W)),
    "flatten-middle": (lambda: nn.Flatten(1, 2), (C, H, W)),
    "flatten-tail": (lambda: nn.Flatten(2), (C, H, W)),
    "unflatten": (lambda: S(nn.Flatten(), nn.Unflatten(1, (C * H, W))), (C, H, W)),
    "identity": (lambda: nn.Identity(), (C, H, W)),
    "dropout": (lambda: nn.Dropout(0.5), (C, H, W)),
    "dropout2d": (lambda: nn.Dropout2d(0.5), (C, H, W)),
}
for _mode, _corners in [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True)]:
    for _how in [dict(scale_factor=2), dict(scale_factor=(1.5, 3)), dict(size=(7, 4)), dict(size=(18, 20))]:
        LAYERS[f"upsample-{_mode}-{_corners}-{_how}"] = (
            lambda m=_mode, c=_corners, h=_how: nn.Upsample(mode=m, align_corners=c, **h),
            (C, H, W),
        )
LAYERS.update(
    {
        "upsample-bicubic": (lambda: nn.Upsample(scale_factor=1.5, mode="bicubic"), (C, H, W)),
        "upsample-bicubic-corners": (lambda: nn.Upsample(size=(11, 7), mode="bicubic", align_corners=True), (C, H, W)),
        "upsample-area": (lambda: nn.Upsample(size=(4, 5), mode="area"), (C, H, W)),
        "upsample-recompute": (
            lambda: nn.Upsample(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
            (C, H, W),
        ),
        "upsample-linear-1d": (lambda: nn.Upsample(scale_factor=2.5, mode="linear"), (C, W)),
        "upsample-nearest-1d": (lambda: nn.Upsample(scale_factor=1.5), (C, W)),
        "upsample-nearest-1d-same-size": (lambda: nn.Upsample(scale_factor=1.2), (C, 4)),  # no copy in 1-D
        "upsample-nearest-2d-same-size": (lambda: nn.Upsample(scale_factor=(1.2, 2.2)), (C, 3, 4)),  # copies rows
        "upsample-bilinear-same-size": (lambda: nn.Upsample(scale_factor=(1.2, 2), mode="bilinear"), (C, 3, 4)),
        # every size unchanged: onnxruntime's Resize copies, PyTorch does not
        "upsample-bicubic-same-size": (lambda: nn.Upsample(scale_factor=1.2, mode="bicubic"), (C, 3, 4)),
        "upsample-nearest-exact-same-size": (lambda: nn.Upsample(scale_factor=1.2, mode="nearest-exact"), (C, 4)),
        "upsampling-nearest2d": (lambda: nn.UpsamplingNearest2d(scale_factor=2), (C, H, W)),
        "upsampling-bilinear2d": (lambda: nn.UpsamplingBilinear2d(size=(12, 13)), (C, H, W)),
    }
)


def _first_conv(shape):
    return (nn.Conv1d if len(shape) == 2 else nn.Conv2d)(shape[0], shape[0], 1) if len(shape) > 1 else nn.Identity()


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_round_trips(tmp_path, name):
    build, shape = LAYERS[name]
    toynn.manual_seed(0)
    layer = build()
    model = S(_first_conv(shape), layer) if not isinstance(layer, PoolUnpool) else layer
    assert_round_trip(model, shape, tmp_path)


def test_every_supported_layer_is_in_the_table():
    tested = {type(m).__name__ for build, _ in LAYERS.values() for m in build().modules()}
    assert set(supported_layers()) - tested == set()


class Wiring(nn.Module):
    """One conv applied twice (its weights written once), an output returned twice, and the input returned."""

    def __init__(self):
        self.conv, self.act, self.drop = nn.Conv2d(3, 3, 3, padding=1), nn.Tanh(), nn.Dropout()

    def forward(self, x):
        y = self.act(self.conv(self.conv(x)))
        return y, y, self.drop(x)


def test_shared_layers_repeated_outputs_and_the_input_as_output(tmp_path):
    toynn.manual_seed(0)
    model = Wiring()
    assert_round_trip(model, (3, 5, 6), tmp_path)
    proto = onnx.load(str(tmp_path / "model.onnx"))
    assert sorted(t.name for t in proto.graph.initializer) == ["conv.bias", "conv.weight"]
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]
    assert [n.op_type for n in proto.graph.node] == ["Conv", "Conv", "Tanh", "Identity", "Identity"]


# ---------------------------------------------------------------------------------------------
# What export refuses, and how it says so


class Residual(nn.Module):
    def __init__(self):
        self.conv, self.act = nn.Conv2d(3, 3, 3, padding=1), nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x)) + x


class Scaled(nn.Module):
    def __init__(self):
        self.conv, self.act = nn.Conv2d(3, 3, 3, padding=1), nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x) * 2)


def test_arithmetic_between_layers_is_refused_naming_the_module(tmp_path):
    x = toynn.randn(1, 3, 5, 5)
    with pytest.raises(NotImplementedError, match=r"the forward of 'block' \(Residual\) computes its output"):
        export(S(OrderedDict(first=nn.Identity(), block=Residual())), x, tmp_path / "r.onnx")
    with pytest.raises(
        NotImplementedError, match=r"input of layer 'act' \(ReLU\) was computed in the forward of the model"
    ):
        export(Scaled(), x, tmp_path / "s.onnx")
    assert not (tmp_path / "r.onnx").exists() and not (tmp_path / "s.onnx").exists()


@pytest.mark.parametrize(
    "build, shape, match",
    [
        (lambda: nn.Step(), (3,), r"'1' \(Step\) has no ONNX conversion"),
        (lambda: nn.BatchNorm2d(3, track_running_stats=False), (3, 4, 4), "track_running_stats=False"),
        (lambda: nn.AdaptiveMaxPool2d((3, 3)), (3, 4, 4), r"not a multiple of output \(3, 3\)"),
        (lambda: nn.AdaptiveMaxPool2d(1, return_indices=True), (3, 4, 4), "return_indices=True"),
        (lambda: nn.Flatten(0), (3, 4, 4), "merges the batch dim; pass dynamic_batch=False"),
    ],
)
def test_what_has_no_onnx_form_is_refused_clearly(tmp_path, build, shape, match):
    with pytest.raises(NotImplementedError, match=match):
        export(S(nn.Identity(), build()), toynn.randn(2, *shape), tmp_path / "m.onnx")


def test_bad_arguments(tmp_path):
    model, x = toynn.models.LeNet5(), toynn.randn(1, 1, 28, 28)
    with pytest.raises(ValueError, match="opset_version must be in 13"):
        export(model, x, tmp_path / "m.onnx", opset_version=11)
    with pytest.raises(ValueError, match="input_names must be 1 distinct names"):
        export(model, x, tmp_path / "m.onnx", input_names=["a", "b"])
    with pytest.raises(TypeError, match="must be a toynn.nn.Module"):
        export(lambda t: t, x, tmp_path / "m.onnx")


def test_without_onnx_installed_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install onnx"):
        export(toynn.models.LeNet5(), toynn.randn(1, 1, 28, 28), tmp_path / "m.onnx")
