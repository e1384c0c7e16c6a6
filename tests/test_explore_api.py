"""`toynn explore` without a browser: the computations (toynn.lecture.explore.compute) checked against independent
references, the JSON API's answers and errors, and the HTTP server's refusals (path traversal, foreign Host or
Origin, bad and huge uploads), each followed by a request that still works; several clients at once; live training
writing a run folder; the command line serving a run."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import toynn
from toynn import cli

from .data_paths import need_mnist
from .explore_fixture import ONE, SEVEN, ZERO, lenet_mnist_run, png_data_url, stroke_image

pytest.importorskip("PIL", reason="the explorer prepares drawings and uploads with Pillow")

ROOT = Path(__file__).resolve().parents[1]
TEST_IMAGES = 2000  # of MNIST's 10000: the top-k search and its check take a fifth of the time


@pytest.fixture(autouse=True)
def _numpy_only(backend):
    if backend != "numpy":
        pytest.skip("the explorer's tests run once, on the numpy backend (the page serves a CPU model)")


@pytest.fixture(scope="module")
def run():
    return lenet_mnist_run(need_mnist())


@pytest.fixture(scope="module")
def ex(run):
    from toynn.lecture.explore import Explorer

    return Explorer.from_run(run, max_test=TEST_IMAGES)


@pytest.fixture(scope="module")
def server(ex):
    from toynn.lecture.explore import make_server

    srv = make_server(ex, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _decode(enc) -> np.ndarray:
    return np.frombuffer(base64.b64decode(enc["b64"]), dtype="<f4").reshape(enc["shape"])


def _drawing(strokes) -> str:
    img = np.zeros((280, 280), dtype=np.float32)
    for s in strokes:
        img = np.maximum(img, stroke_image(s))
    return png_data_url(img)


def _x(ex, i=0) -> np.ndarray:
    return ex.test_set()[0][i : i + 1]


# ---------------------------------------------------------------------------------------------------------------
# the computations


def test_forward_gives_every_layer_and_the_models_probabilities(ex):
    from toynn.lecture.explore import compute
    from toynn.lecture.vision import capture

    x = _x(ex, 3)
    steps, probs = compute.forward(ex.model, x)
    assert [s.type for s in steps] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten"] + [
        "Linear",
        "ReLU",
    ] * 2 + ["Linear"]
    with toynn.no_grad():
        logits = ex.model(toynn.tensor(x)).array[0]
    np.testing.assert_allclose(steps[-1].output.array[0], logits, rtol=1e-6)
    np.testing.assert_allclose(probs, np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum(), rtol=1e-5)
    np.testing.assert_array_equal(steps[3].output.array, capture(ex.model, toynn.tensor(x), "3").array)


@pytest.mark.parametrize("unit", [(2, 12, 15), (0, 0, 0), (5, 27, 13)])  # inside, and two corners in the padding
def test_conv_unit_arithmetic_is_the_window_times_the_kernel_plus_bias(ex, unit):
    from toynn.lecture.explore import compute

    x = _x(ex, 0)
    u = compute.unit_arithmetic(ex.model, x, "0", unit)
    c, i, j = unit
    padded = np.pad(x[0, 0].astype(np.float64), 2)  # LeNet's first conv: 5x5, padding 2
    window = padded[i : i + 5, j : j + 5]
    w, b = ex.model[0].weight.array[c, 0], float(ex.model[0].bias.array[c])
    np.testing.assert_allclose(u["window"][0], window, atol=0)
    np.testing.assert_allclose(u["kernel"][0], w, atol=0)
    np.testing.assert_allclose(u["products"][0], window * w, rtol=1e-12)
    assert u["sum"] == pytest.approx(float((window * w).sum()), abs=1e-12)
    assert u["z"] == pytest.approx(u["sum"] + b, abs=1e-12) and u["bias"] == pytest.approx(b)
    assert u["z"] == pytest.approx(u["value"], abs=2e-6)  # the layer's float32 output
    assert u["rows"] == list(range(i - 2, i + 3)) and u["cols"] == list(range(j - 2, j + 3))
    assert u["activation"]["type"] == "ReLU" and u["activation"]["value"] == pytest.approx(max(u["z"], 0), abs=1e-12)
    box = {"top": max(i - 2, 0), "left": max(j - 2, 0), "bottom": min(i + 3, 28), "right": min(j + 3, 28)}
    assert u["field"] == {**box, "whole": False}


def test_second_conv_sums_over_input_channels_and_pool_names_its_switch(ex):
    from toynn.conv import max_pool2d
    from toynn.lecture.explore import compute

    x = _x(ex, 1)
    u = compute.unit_arithmetic(ex.model, x, "3", [7, 4, 6])
    assert len(u["window"]) == 6 and len(u["channel_sums"]) == 6  # 6 input channels, 5x5 each
    assert u["z"] == pytest.approx(sum(u["channel_sums"]) + u["bias"], abs=1e-12)
    assert u["z"] == pytest.approx(u["value"], abs=1e-5)
    assert u["field"]["bottom"] - u["field"]["top"] == 14  # conv 5, pool 2, conv 5: 14 input rows
    p = compute.unit_arithmetic(ex.model, x, "2", [3, 5, 9])
    steps, _ = compute.forward(ex.model, x)
    _, idx = max_pool2d(steps[1].output, 2, return_indices=True)
    flat = int(idx.array[0, 3, 5, 9])
    assert p["op"] == "max" and p["switch_input"] == [flat // 28, flat % 28]
    assert p["result"] == pytest.approx(p["value"]) == pytest.approx(float(np.nanmax(np.array(p["window"], float))))
    lin = compute.unit_arithmetic(ex.model, x, "7", [100])
    assert len(lin["inputs"]) == 400 and lin["z"] == pytest.approx(lin["value"], abs=1e-5)
    flat = compute.unit_arithmetic(ex.model, x, "6", [57])
    assert flat["source"] == [2, 1, 2] and flat["input"] == pytest.approx(flat["value"])  # 57 = 2*25 + 1*5 + 2


@pytest.mark.parametrize(
    "layer, unit, message",
    [
        ("0", [6, 0, 0], r"unit \[6, 0, 0\] is not in layer '0' \(Conv2d\): expected 3 indices inside .*\(6, 28, 28\)"),
        ("7", [1, 2], r"expected 1 indices inside its output shape \(120,\)"),
        ("0", ["a", 0, 0], r"unit \['a', 0, 0\] is not in layer '0'"),
        ("conv9", [0, 0, 0], r"unknown layer 'conv9'; the model's layers are 0, 1, 2"),
    ],
)
def test_an_unknown_unit_names_what_was_expected(ex, layer, unit, message):
    from toynn.lecture.explore import UnitError, compute

    with pytest.raises(UnitError, match=message):
        compute.unit_arithmetic(ex.model, _x(ex), layer, unit)


def test_saliency_matches_finite_differences_and_the_last_weights(ex):
    """In float64, on an input moved off the kinks: the input gradient against a central difference along a random
    direction; the gradient at the last hidden layer is the last Linear's weight row of the class (the chain rule)."""
    from toynn.lecture.explore import compute
    from toynn.models import build_model

    model = build_model("lenet", (1, 28, 28), 10)
    model.load_state_dict(ex.model.state_dict())
    model.double()
    rng = np.random.default_rng(0)
    # off the kinks: MNIST's black background makes exact ties in max pooling, where no derivative exists
    x = _x(ex, 2).astype(np.float64) + 0.01 * rng.random((1, 1, 28, 28))
    gx, grads, logits = compute.saliency(model, x, 4)
    d = rng.standard_normal(x.shape)
    h = 1e-7  # small: a ReLU or a max-pool switch changes within 1e-5 of this input along d

    def f(v):
        with toynn.no_grad():
            return float(model(toynn.tensor(v)).array[0, 4])

    fd = (f(x + h * d) - f(x - h * d)) / (2 * h)
    assert fd == pytest.approx(float((gx * d[0]).sum()), rel=1e-5)
    names = [s.name for s, _ in grads]
    np.testing.assert_allclose(grads[names.index("10")][1], model[11].weight.array[4], rtol=1e-12)
    np.testing.assert_array_equal(grads[-1][1], np.eye(10)[4])
    assert logits[4] == pytest.approx(f(x))
    assert all(p.grad is None for p in model.parameters())  # the parameters took no gradient


def test_graph_holds_every_parameter_and_the_input(ex):
    from toynn.lecture.explore import compute

    g = compute.graph(ex.model, _x(ex))
    labels = {n["label"] for n in g["nodes"] if n["kind"] == "tensor"}
    assert {name for name, _ in ex.model.named_parameters()} | {"input", "output"} <= labels
    assert all(g["nodes"][a]["rank"] < g["nodes"][b]["rank"] for a, b in g["edges"])  # drawn top to bottom
    ops = [n["label"] for n in g["nodes"] if n["kind"] == "op"]
    assert len(ops) >= 12  # a node per layer at least


def test_topk_is_computed_once_cached_in_the_run_folder_and_right(ex, run):
    from toynn.lecture.explore import Explorer
    from toynn.lecture.vision import capture

    first = ex.topk("3")
    deadline = time.time() + 60
    while first["state"] == "running" and time.time() < deadline:
        time.sleep(0.1)
        first = ex.topk("3")
    assert first["state"] == "done", first
    files = list((run / "explore-cache").glob("topk-3-k9-*.npz"))
    assert len(files) == 1
    x = ex.test_set()[0]
    acts = np.concatenate([capture(ex.model, toynn.tensor(x[a : a + 2000]), "3").array for a in range(0, len(x), 2000)])
    best = acts.max(axis=(2, 3))  # (N, 16): each image's strongest unit per channel
    r = first["result"]
    for c in (0, 9):
        order = np.argsort(-best[:, c], kind="stable")[:9]
        np.testing.assert_allclose(r["values"][c], best[order, c], rtol=1e-6)
    again = Explorer.from_run(run, max_test=TEST_IMAGES).topk("3")  # a new server on the same run reads the cache
    assert again["state"] == "done"
    np.testing.assert_array_equal(again["result"]["indices"], r["indices"])


# ---------------------------------------------------------------------------------------------------------------
# the API without HTTP


@pytest.mark.parametrize("strokes, digit", [(ONE, 1), (ZERO, 0), (SEVEN, 7)])
def test_a_drawing_is_prepared_as_mnist_and_classified(ex, strokes, digit):
    """A 1, a 0 and a 7 drawn as thick strokes: after MNIST's centring they look like MNIST digits, and the
    small LeNet-5 (about 90% on the test set) gives each a clear majority."""
    from toynn.lecture.explore import api

    f = api.forward(ex, {"image": _drawing(strokes)})
    x = _decode(f["x"])
    assert x.shape == (1, 1, 28, 28) and x.max() == pytest.approx(1.0)
    rows, cols = (np.nonzero(x[0, 0].max(axis=a) > 0.15)[0] for a in (1, 0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)  # the longer side scaled to MNIST's 20
    assert f["predicted"] == digit and max(f["probs"]) > 0.5, f["probs"]
    assert [layer["name"] for layer in f["layers"]] == [str(n) for n in range(12)]
    assert _decode(f["layers"][0]["values"]).shape == (6, 28, 28)


def test_api_errors_are_clear(ex):
    from toynn.lecture.explore import api

    cases = [
        ({"image": "data:image/png;base64," + base64.b64encode(b"not a picture at all").decode()}, 400, "not an image"),
        ({"image": "data:image/png;base64,@@@"}, 400, "not valid base64"),
        ({"image": "http://example.com/a.png"}, 400, "expected a data URL"),
        ({"test_index": 2000}, 404, "test_index 2000 is out of range 0..1999"),
        ({"x": {"shape": [1, 1, 28, 27], "b64": base64.b64encode(bytes(4 * 28 * 27)).decode()}}, 400, "expected shape"),
        ({}, 400, "missing 'x'"),
    ]
    for body, status, text in cases:
        with pytest.raises(api.ApiError) as err:
            api.forward(ex, body)
        assert err.value.status == status and text in err.value.message, (body, err.value.message)
    huge = "data:image/png;base64," + "A" * (api.MAX_IMAGE_BYTES * 4 // 3 + 100)
    with pytest.raises(api.ApiError, match="over the 8 MiB limit") as err:
        api.forward(ex, {"image": huge})
    assert err.value.status == 413


def test_a_decompression_bomb_is_refused(ex):
    """A 20000x20000 PNG of one colour compresses to about 100 kB; it is refused before it is decoded."""
    import io

    from PIL import Image

    from toynn.lecture.explore import api

    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, format="PNG")
    with pytest.raises(api.ApiError, match="too many pixels") as err:
        api.forward(ex, {"image": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()})
    assert err.value.status == 413


# ---------------------------------------------------------------------------------------------------------------
# the HTTP server


def _request(server, method, path, body=None, headers=None, raw_body=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    kind = res.getheader("Content-Type", "")
    return res.status, json.loads(payload) if kind.startswith("application/json") else payload, res


def test_the_page_is_served_with_its_own_assets_only(server):
    status, page, res = _request(server, "GET", "/")
    assert status == 200 and b'<canvas id="draw"' in page
    csp = res.getheader("Content-Security-Policy")
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    srcs = re.findall(rb'(?:src|href)="([^"]+)"', page)
    assert sorted(srcs) == [b"/app.js", b"/style.css", b"data:,"]  # nothing from another host
    for path in ("/app.js", "/style.css"):
        status, body, _ = _request(server, "GET", path)
        urls = set(re.findall(rb"\w+://[^\s\"'`]*", body)) - {b"http://www.w3.org/2000/svg"}  # SVG's namespace name
        assert status == 200 and urls == set() and b"@import" not in body and b"url(" not in body
    assert server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize(
    "path",
    ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/../server.py", "/..%2fserver.py", "/%252e%252e/x",
     "/..\\server.py"],
)  # fmt: skip
def test_path_traversal_is_refused_and_the_server_goes_on(server, path):
    status, body, _ = _request(server, "GET", path)
    assert status == 400 and "path traversal" in body["error"]
    assert _request(server, "GET", "/api/model")[0] == 200


def test_refusals_each_name_the_problem_and_the_next_request_works(server, ex):
    x = base64.b64encode(ex.test_set()[0][0].astype("<f4").tobytes()).decode()
    good = {"x": {"shape": [1, 1, 28, 28], "b64": x}}
    not_image = {"image": "data:image/png;base64," + base64.b64encode(b"GIF89a broken").decode()}
    cases = [
        ("GET", "/server.py", None, {}, None, 404, "not found: /server.py"),
        ("POST", "/api/unit", {**good, "layer": "3", "unit": [16, 0, 0]}, {}, None, 404, "is not in layer '3'"),
        ("POST", "/api/unit", {**good, "layer": "nope", "unit": [0]}, {}, None, 404, "unknown layer 'nope'"),
        ("POST", "/api/forward", not_image, {}, None, 400, "upload: not an image"),
        ("POST", "/api/forward", None, {}, b"{not json", 400, "not JSON"),
        ("POST", "/api/forward", None, {}, b"[1, 2]", 400, "should be a JSON object"),
        ("GET", "/api/forward", None, {}, None, 405, "use POST"),
        (
            "GET",
            "/api/model",
            None,
            {"Host": "evil.example:80"},
            None,
            403,
            "Host 'evil.example:80' is not this server",
        ),
        ("POST", "/api/forward", good, {"Origin": "http://evil.example"}, None, 403, "from the page of"),
        ("GET", "/api/topk?layer=7", None, {}, None, 404, "has no top-k crops"),
        ("GET", "/api/filters?layer=1", None, {}, None, 404, "has no filters to show"),
    ]
    for method, path, body, headers, raw, status, text in cases:
        got, answer, _ = _request(server, method, path, body, headers, raw)
        assert got == status and text in answer["error"], (path, got, answer)
        assert _request(server, "POST", "/api/forward", good)[0] == 200  # and the server answers the next one


def test_an_oversized_body_is_refused_without_being_read(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", "/api/forward")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(1 << 30))  # 1 GiB announced, nothing sent
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 413 and "over the limit" in json.loads(res.read())["error"]
    conn.close()
    assert _request(server, "GET", "/api/model")[0] == 200


def test_several_clients_at_once_get_consistent_answers(server, ex):
    """Eight clients, each asking for the layers and a unit of a different test image, at the same time."""
    x, _ = ex.test_set()

    def client(i):
        body = {"test_index": i}
        _, f, _ = _request(server, "POST", "/api/forward", body)
        _, u, _ = _request(server, "POST", "/api/unit", {"x": f["x"], "layer": "0", "unit": [1, 14, 14]})
        return i, f, u

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(client, range(16)))
    for i, f, u in answers:
        assert f["label"] is not None and np.array_equal(_decode(f["x"])[0], x[i])
        assert u["value"] == pytest.approx(float(_decode(f["layers"][0]["values"])[1, 14, 14]), abs=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# live training and the command line


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    pytest.importorskip("sklearn", reason="the digits data set ships with scikit-learn")
    out = tmp_path_factory.mktemp("explore") / "mlp-digits"
    assert cli.main(["train", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    return out


def test_live_training_steps_pauses_and_writes_a_run_folder(digits_run):
    from toynn.io.runs import load_run
    from toynn.lecture.explore import Explorer, api

    ex = Explorer.from_run(digits_run)
    before = ex.model.layers[1].weight.array.copy()
    s = api.train_command(ex, {"action": "step"})
    deadline = time.time() + 30
    while api.train_status(ex, {})["step"] < 1 and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # paused after one step: no more come
    s = api.train_status(ex, {})
    assert s["step"] == 1 and s["state"] == "paused" and len(s["losses"]) == 1
    assert not np.array_equal(before, ex.model.layers[1].weight.array)
    api.train_command(ex, {"action": "start"})
    while api.train_status(ex, {})["state"] == "running" and time.time() < deadline:
        time.sleep(0.05)
    s = api.train_status(ex, {})
    assert s["state"] == "done", s.get("error")
    assert s["step"] == 22 and s["epochs"] == 1  # 1347 digits in batches of 64; the run's own recipe, 1 epoch
    run_dir = Path(s["run_dir"])
    assert run_dir.parent == digits_run.parent and run_dir != digits_run
    model, config = load_run(run_dir)  # the folder `toynn train` writes, readable as one
    assert config["model"] == "mlp" and config["args"]["epochs"] == 1
    np.testing.assert_array_equal(model.layers[1].weight.array, ex.model.layers[1].weight.array)
    metrics = json.loads((run_dir / "metrics.json").read_text())["epochs"]
    assert len(metrics) == 1 and metrics[0]["val_acc"] == pytest.approx(s["history"][0]["val_acc"])
    with pytest.raises(api.ApiError, match="the live run has ended"):
        api.train_command(ex, {"action": "start"})


def test_the_command_serves_a_run_until_interrupted(digits_run):
    proc = subprocess.Popen(
        [sys.executable, "-m", "toynn", "explore", str(digits_run), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        url = None
        for _ in range(10):
            line = proc.stdout.readline()
            match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
            if match:
                url = match.group(1)
                break
        assert url, proc.stderr.read() if proc.poll() is not None else "no address printed"
        host, port = url[7:-1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/api/model")
        info = json.loads(conn.getresponse().read())
        assert info["model"] == "mlp" and info["input_shape"] == [1, 8, 8] and info["test_images"] == 450
        assert [li["kind"] for li in info["layers"]] == ["flatten", "linear", "pointwise", "linear"]
        conn.close()
    finally:
        proc.send_signal(2)  # Ctrl-C
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out, err


def test_a_host_other_than_loopback_warns(digits_run, capsys, monkeypatch):
    from toynn.lecture.explore import server as srv_module

    def refuse(self):  # stop right after the warning: this test does not serve
        raise KeyboardInterrupt

    monkeypatch.setattr(srv_module.ExplorerServer, "serve_forever", refuse)
    assert cli.main(["explore", str(digits_run), "--host", "0.0.0.0", "--port", "0", "--no-browser"]) == 0
    err = capsys.readouterr().err
    assert "warning: listening on 0.0.0.0: anyone who can reach this machine" in err
