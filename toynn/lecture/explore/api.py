"""The explorer's JSON API: one function per endpoint, each (Explorer, request dict) -> answer dict, computed with
toynn.lecture.explore.compute. The server (server.py) only routes: ROUTES maps (method, path) to these functions,
the query string (GET) or the JSON body (POST) is the request dict, and an ApiError becomes {"error": message}
with its HTTP status.

Arrays travel as {"shape": [...], "b64": "..."}: float32 little-endian in base64 (NaN marks "outside the image").
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import time

import numpy as np

from ..vision import deconvnet
from ..vision.images import as_numpy
from . import compute
from .compute import UnitError
from .session import Explorer

MAX_IMAGE_BYTES = 8 << 20  # an upload larger than this (decoded) is refused before Pillow sees it
MAX_TEST_IMAGES = 64  # thumbnails per /api/test_images request


class ApiError(Exception):
    """A request the API refuses: status is the HTTP status (400 bad request, 404 unknown, 409 not ready)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def encode(a) -> dict:
    """An array as {'shape', 'b64'}: float32, little-endian, base64."""
    a = np.ascontiguousarray(as_numpy(a), dtype="<f4")
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode(obj, what: str = "x") -> np.ndarray:
    """{'shape', 'b64'} (see encode) -> float32 array; ApiError 400 names what is wrong."""
    if not isinstance(obj, dict) or not isinstance(obj.get("shape"), list) or not isinstance(obj.get("b64"), str):
        raise ApiError(400, f"{what}: expected {{'shape': [...], 'b64': '...'}} (float32 in base64); got {_short(obj)}")
    shape = obj["shape"]
    if not all(isinstance(n, int) and 0 < n <= 4096 for n in shape) or math.prod(shape) > 1 << 24:
        raise ApiError(400, f"{what}: shape {shape} is not a list of sizes 1..4096 of at most 16M values")
    try:
        raw = base64.b64decode(obj["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{what}: b64 is not valid base64") from None
    if len(raw) != 4 * math.prod(shape):
        raise ApiError(400, f"{what}: {len(raw)} bytes do not hold shape {shape} of float32 ({4 * math.prod(shape)})")
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _input(ex: Explorer, q: dict) -> np.ndarray:
    """The request's model input x (1, *input_shape), from q['x'] as the page sends it back after a forward."""
    if "x" not in q:
        raise ApiError(400, "missing 'x', the input (as /api/forward returns it)")
    x = decode(q["x"])
    want = (1, *ex.input_shape)
    if x.shape not in (want, want[1:]):
        raise ApiError(400, f"x: expected shape {list(want)} (the model's input); got {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ApiError(400, "x: holds NaN or infinity")
    return x.reshape(want)


def _int(q: dict, key: str, default=None, lo: int | None = None, hi: int | None = None) -> int:
    v = q.get(key, default)
    try:
        n = int(v)
        if isinstance(v, float) and v != n or isinstance(v, bool):
            raise ValueError
    except (TypeError, ValueError):
        raise ApiError(400, f"{key}: expected an integer; got {_short(v)}") from None
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise ApiError(404, f"{key} {n} is out of range {lo}..{hi}")
    return n


# ---------------------------------------------------------------------------------------------------------------
# endpoints


def model_info(ex: Explorer, q: dict) -> dict:
    """GET /api/model: what the page needs to draw itself: the layers, the classes, the data, what is available."""
    test = ex.test_set()
    conv = [li["name"] for li in ex.layers if li["kind"] == "conv"]
    first_linear = next((li["name"] for li in ex.layers if li["kind"] == "linear"), None)
    filter_layers = conv or ([first_linear] if first_linear and len(ex.input_shape) == 3 else [])
    return {
        "model": ex.config.get("model"),
        "data": ex.data,
        "run_dir": str(ex.run_dir) if ex.run_dir else None,
        "input_shape": list(ex.input_shape),
        "classes": ex.classes,
        "layers": ex.layers,
        "filter_layers": filter_layers,
        "topk_layers": [li["name"] for li in ex.layers if li["kind"] in ("conv", "pool") and len(li["shape"]) == 3],
        "test_images": len(test[0]) if test is not None else 0,
        "test_error": ex.test_error,
        "params": int(sum(p.numel() for p in ex.model.parameters())),
    }


def test_images(ex: Explorer, q: dict) -> dict:
    """GET /api/test_images?start=S&count=N: test images S..S+N with their labels, for the picker."""
    test = ex.test_set()
    if test is None:
        raise ApiError(409, f"no test images: {ex.test_error}")
    x, y = test
    start = _int(q, "start", 0, 0, max(len(x) - 1, 0))
    count = _int(q, "count", 24, 1, MAX_TEST_IMAGES)
    stop = min(len(x), start + count)
    return {
        "total": len(x),
        "items": [
            {"index": i, "label": int(y[i]), "name": ex.classes[int(y[i])], "x": encode(x[i])}
            for i in range(start, stop)
        ],
    }


def forward(ex: Explorer, q: dict) -> dict:
    """POST /api/forward {image: data URL} | {test_index: i} | {x}: the input as the network sees it, every layer's
    output, the class probabilities; `ms` is the server's time for it (prepare, forward, encode)."""
    started = time.perf_counter()
    label, inverted = None, False
    if "image" in q:
        x, inverted = _prepare_upload(ex, q["image"])
    elif "test_index" in q:
        test = ex.test_set()
        if test is None:
            raise ApiError(409, f"no test images: {ex.test_error}")
        i = _int(q, "test_index", lo=0, hi=len(test[0]) - 1)
        x, label = test[0][i][None], int(test[1][i])
    else:
        x = _input(ex, q)
    with ex.lock:
        steps, probs = compute.forward(ex.model, x)
        layers = [
            {"name": s.name, "type": s.type, "kind": compute.layer_kind(s.module), "values": encode(s.output.array[0])}
            for s in steps
        ]
    k = int(np.argmax(probs))
    out = {
        "x": encode(x),
        "inverted": inverted,
        "probs": [float(p) for p in probs],
        "predicted": k,
        "predicted_name": ex.classes[k],
        "label": label,
        "layers": layers,
    }
    out["ms"] = (time.perf_counter() - started) * 1e3
    return out


def _prepare_upload(ex: Explorer, image) -> tuple[np.ndarray, bool]:
    """A data URL (a drawing from the canvas, or an uploaded file) made into the model's input as `toynn predict`
    makes an image file: the data set's own preparation (MNIST: the digit's box into 20x20, centred by mass)."""
    from ...data.files import CorruptDatasetError, DecompressionBombError
    from ...data.images import prepare_image

    if not isinstance(image, str) or not image.startswith("data:") or "," not in image:
        raise ApiError(400, f"image: expected a data URL (data:image/png;base64,...); got {_short(image)}")
    head, payload = image.split(",", 1)
    if not head.endswith(";base64"):
        raise ApiError(400, "image: the data URL must be base64-encoded (data:...;base64,...)")
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ApiError(
            413, f"image: {len(payload) * 3 // 4 / 1e6:.1f} MB is over the {MAX_IMAGE_BYTES >> 20} MiB limit"
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "image: the data URL's payload is not valid base64") from None
    shape = ex.input_shape
    flat = len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]  # e.g. (784,): prepared as 1x28x28
    image_shape = (1, math.isqrt(shape[0]), math.isqrt(shape[0])) if flat else shape
    if len(image_shape) != 3:
        raise ApiError(400, f"image: the model takes {list(shape)}, not an image; send 'x' instead")
    try:
        x, inverted = prepare_image(io.BytesIO(raw), ex.data, image_shape)
    except DecompressionBombError as err:
        raise ApiError(413, f"upload refused: too many pixels ({str(err).split(': ', 2)[-1]})") from None
    except (CorruptDatasetError, OSError, ValueError, SyntaxError) as err:
        why = str(err).rsplit("(", 1)[-1].rstrip(")") if "(" in str(err) else str(err)
        raise ApiError(
            400, f"upload: not an image that can be read ({why[:160]}); use PNG, JPEG, GIF, BMP or WebP"
        ) from None
    return x.reshape(1, *shape).astype(np.float32), inverted


def unit(ex: Explorer, q: dict) -> dict:
    """POST /api/unit {x, layer, unit: [c, i, j] or [j]}: how that output was computed, with every number."""
    x = _input(ex, q)
    layer, index = q.get("layer"), q.get("unit")
    if not isinstance(layer, str) or not isinstance(index, list):
        raise ApiError(
            400, f"expected 'layer' (a name) and 'unit' (a list of indices); got {_short(layer)}, {_short(index)}"
        )
    try:
        with ex.lock:
            return compute.unit_arithmetic(ex.model, x, layer, index)
    except UnitError as err:
        raise ApiError(404, str(err)) from None


def saliency(ex: Explorer, q: dict) -> dict:
    """POST /api/saliency {x, target}: the gradient of class target's logit with respect to the input and to each
    layer's output."""
    x = _input(ex, q)
    target = _int(q, "target", lo=0, hi=len(ex.classes) - 1)
    with ex.lock:
        gx, grads, logits = compute.saliency(ex.model, x, target)
    return {
        "target": target,
        "logit": float(logits[target]),
        "input": encode(gx),
        "layers": [{"name": s.name, "type": s.type, "values": encode(g)} for s, g in grads],
    }


def graph(ex: Explorer, q: dict) -> dict:
    """POST /api/graph {x}: the forward pass's computation graph (nodes and edges, a rank per node for layout)."""
    x = _input(ex, q)
    with ex.lock:
        return compute.graph(ex.model, x)


def filters(ex: Explorer, q: dict) -> dict:
    """GET /api/filters?layer=NAME: the layer's filters (out, in, KH, KW), biases when it has them."""
    layer = q.get("layer")
    try:
        with ex.lock:
            w = compute.filters(ex.model, layer, ex.input_shape)
            bias = dict(compute.leaf_layers(ex.model))[layer].bias
            b = as_numpy(bias.array) if bias is not None else None
    except UnitError as err:
        raise ApiError(404, str(err)) from None
    return {"layer": layer, "weights": encode(w), "bias": None if b is None else [float(v) for v in b]}


def topk(ex: Explorer, q: dict) -> dict:
    """GET /api/topk?layer=NAME&channel=C: the k test images that excite channel C most, cropped to the receptive
    field of the unit that fired; {'state': 'running', 'progress'} while they are computed (once per run)."""
    layer = q.get("layer")
    try:
        job = ex.topk(layer)
    except UnitError as err:
        raise ApiError(404, str(err)) from None
    if job["state"] != "done":
        return {"state": job["state"], "progress": job["progress"], "error": job.get("error")}
    r = job["result"]
    channels = r["values"].shape[0]
    c = _int(q, "channel", 0, 0, channels - 1)
    y = ex.test_set()[1]
    items = [
        {
            "rank": n,
            "value": float(r["values"][c, n]),
            "index": int(r["indices"][c, n]),
            "label": ex.classes[int(y[r["indices"][c, n]])],
            "position": [int(v) for v in r["positions"][c, n]],
            "box": [int(v) for v in r["boxes"][c, n]],
        }
        for n in range(r["values"].shape[1])
        if r["indices"][c, n] >= 0
    ]
    f = [int(v) for v in r["field"]]
    return {
        "state": "done",
        "layer": layer,
        "channel": c,
        "channels": channels,
        "field": {"size": f[0:2], "jump": f[2:4], "offset": f[4:6]},
        "items": items,
        "crops": encode(r["crops"][c, : len(items)]),  # (k, C_in, h, w), NaN outside the image
    }


def deconv(ex: Explorer, q: dict) -> dict:
    """GET /api/deconv?layer=NAME&channel=C: Zeiler & Fergus's deconvnet projection of each top-k unit of channel C
    back to pixels, cropped as the crops are; {'available': false, 'reason'} for layers it cannot follow."""
    answer = topk(ex, q)
    if answer["state"] != "done":
        raise ApiError(409, f"the top-k crops of layer {q.get('layer')!r} are still being computed; ask again")
    x = ex.test_set()[0]
    size = answer["field"]["size"]
    projections = []
    try:
        with ex.lock:
            for item in answer["items"]:
                d = deconvnet(ex.model, x[item["index"]], q["layer"], answer["channel"], tuple(item["position"]))
                projections.append(_crop(d.projection, item["box"], size))
    except ValueError as err:
        return {"available": False, "reason": str(err)}
    return {
        "available": True,
        "layer": q["layer"],
        "channel": answer["channel"],
        "projections": encode(np.stack(projections)),
    }


def _crop(p: np.ndarray, box, size) -> np.ndarray:
    """p (C, H, W) inside box (top, left, bottom, right; may leave the image) -> (C, size_h, size_w), NaN outside."""
    C, H, W = p.shape
    top, left, bottom, right = box
    out = np.full((C, *size), np.nan, dtype=np.float32)
    t, l, b, r = max(top, 0), max(left, 0), min(bottom, H), min(right, W)
    out[:, t - top : b - top, l - left : r - left] = p[:, t:b, l:r]
    return out


def stats(ex: Explorer, q: dict) -> dict:
    """GET /api/stats: each layer's activation statistics over a fixed sample of 256 test images."""
    from .training import sample_batch

    xb = sample_batch(ex.test_set())
    if xb is None:
        raise ApiError(409, f"no test images: {ex.test_error}")
    with ex.lock:
        return {"images": len(xb), "layers": compute.activation_stats(ex.model, xb)}


def train_status(ex: Explorer, q: dict) -> dict:
    """GET /api/train: the live training's state, step losses and accuracies, and per-epoch metrics."""
    if ex.trainer is None:
        return {"state": "idle", "step": 0, "losses": [], "accs": [], "history": [], "run_dir": None}
    return ex.trainer.status()


def train_command(ex: Explorer, q: dict) -> dict:
    """POST /api/train {action: 'start' | 'pause' | 'step', reset: bool}: drive live training."""
    from .training import LiveTrainer

    if ex.trainer is None:
        ex.trainer = LiveTrainer(ex)
    try:
        return ex.trainer.command(str(q.get("action")), bool(q.get("reset", False)))
    except ValueError as err:
        raise ApiError(409 if "ended" in str(err) else 400, str(err)) from None


ROUTES = {
    ("GET", "/api/model"): model_info,
    ("GET", "/api/test_images"): test_images,
    ("POST", "/api/forward"): forward,
    ("POST", "/api/unit"): unit,
    ("POST", "/api/saliency"): saliency,
    ("POST", "/api/graph"): graph,
    ("GET", "/api/filters"): filters,
    ("GET", "/api/topk"): topk,
    ("GET", "/api/deconv"): deconv,
    ("GET", "/api/stats"): stats,
    ("GET", "/api/train"): train_status,
    ("POST", "/api/train"): train_command,
}
