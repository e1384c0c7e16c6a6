"""`toynn explore` in a real browser: the system's headless Chromium driven by Playwright (launched with
executable_path, as `playwright install` cannot download here). A digit drawn stroke by stroke with mouse events on
a trained LeNet-5, a unit's arithmetic against the layer's output, a filter's crops, the gradients and a bad upload;
no console error and no request outside 127.0.0.1. Skipped without Chromium or Playwright, unless
TOYNN_REQUIRE_CHROMIUM=1 (CI), where their absence fails."""

from __future__ import annotations

import base64
import os
import shutil
import threading
from urllib.parse import urlsplit

import numpy as np
import pytest

from .data_paths import need_mnist
from .explore_fixture import ONE, SEVEN, ZERO, lenet_mnist_run

REQUIRED = os.environ.get("TOYNN_REQUIRE_CHROMIUM") == "1"
TEST_IMAGES = 2000


@pytest.fixture(autouse=True)
def _numpy_only(backend):
    if backend != "numpy":
        pytest.skip("the explorer's tests run once, on the numpy backend (the page serves a CPU model)")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    if REQUIRED:
        pytest.fail("TOYNN_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
    pytest.skip("headless Chromium not found (apt-get install chromium); set TOYNN_REQUIRE_CHROMIUM=1 to require it")


@pytest.fixture(scope="module")
def server():
    from toynn.lecture.explore import Explorer, make_server

    ex = Explorer.from_run(lenet_mnist_run(need_mnist()), max_test=TEST_IMAGES)
    srv = make_server(ex, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRED:
            pytest.fail("TOYNN_REQUIRE_CHROMIUM=1 but playwright is not installed (it comes with the test extras)")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Page:
    """A tab on the explorer that records console messages, page errors and every request's address."""

    def __init__(self, browser, server):
        self.page = browser.new_page(viewport={"width": 1500, "height": 1100})
        self.console, self.requests = [], []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(server.url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=60_000)

    def settle(self):
        """Wait until no request of the page is pending (the page counts them in body[data-pending])."""
        self.page.wait_for_selector("body[data-pending='0']", timeout=60_000)

    def draw(self, strokes):
        """Each stroke as mouse down, moves of 10 pixels or so, mouse up: as a person draws."""
        p = self.page
        p.click("#clear")
        box = p.locator("#draw").bounding_box()
        for stroke in strokes:
            p.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
            p.mouse.down()
            for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:]):
                steps = max(2, int(np.hypot(x1 - x0, y1 - y0) / 10))
                p.mouse.move(box["x"] + x1, box["y"] + y1, steps=steps)
            p.mouse.up()
        self.settle()

    def errors(self):
        return [(kind, text) for kind, text in self.console if kind in ("error", "pageerror")]

    def foreign(self):
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
        ]


@pytest.fixture(scope="module")
def tab(browser, server):
    page = Page(browser, server)
    yield page
    page.page.close()


@pytest.mark.parametrize("strokes, digit", [(SEVEN, 7), (ONE, 1), (ZERO, 0)])
def test_drawing_a_digit_stroke_by_stroke_predicts_it(tab, strokes, digit):
    """Robust: a 7, a 1 and a 0 in thick strokes, centred by MNIST's preparation, are among the clearest shapes in
    MNIST; the LeNet-5 of the fixture (about 90% on the test set) gives each a majority (checked without the browser
    in test_explore_api.py too), so a wrong class here means the page or its input went wrong."""
    before = int(tab.page.get_attribute("body", "data-updates"))
    tab.draw(strokes)
    assert int(tab.page.get_attribute("body", "data-updates")) > before + 2  # it updated while drawing
    assert tab.page.inner_text("#predicted").startswith(str(digit))
    top = tab.page.locator("#probs .bar.top")
    assert top.get_attribute("data-class") == str(digit)
    seen = tab.page.evaluate("() => { const c = document.getElementById('seen'); return [c.width, c.height]; }")
    assert seen == [28, 28]
    assert tab.errors() == [] and tab.foreign() == []


def test_a_units_arithmetic_equals_the_layers_output(tab):
    tab.draw(SEVEN)
    f = tab.page.evaluate("() => window.toynnExplore.state.forward")
    values = np.frombuffer(base64.b64decode(f["layers"][3]["values"]["b64"]), dtype="<f4").reshape(16, 10, 10)
    c, i, j = np.unravel_index(int(values.argmax()), values.shape)  # the strongest unit of the second conv
    canvas = tab.page.locator(f"#layers canvas[data-layer='3'][data-channel='{c}']")
    box = canvas.bounding_box()
    canvas.click(position={"x": (j + 0.5) * box["width"] / 10, "y": (i + 0.5) * box["height"] / 10})
    tab.settle()
    title = tab.page.inner_text("#unit-title")
    assert title == f"layer 3 (Conv2d), unit ({c}, {i}, {j})"
    z = float(tab.page.get_attribute("#unit-z", "data-value"))
    assert z == pytest.approx(float(values[c, i, j]), abs=1e-5)
    assert tab.page.inner_text("#unit-z") == f"{values[c, i, j]:.4f}"
    total = float(tab.page.get_attribute("#unit-sum", "data-value"))
    bias = float(tab.page.get_attribute("#unit-bias", "data-value"))
    products = [float(v) for v in tab.page.locator(".products td").evaluate_all("cs => cs.map(c => c.dataset.value)")]
    assert len(products) == 6 * 25  # six input channels, a 5x5 window each
    assert sum(products) + bias == pytest.approx(z, abs=1e-9) and total + bias == pytest.approx(z, abs=1e-9)
    relu = float(tab.page.get_attribute("#unit-activation", "data-value"))
    assert relu == pytest.approx(max(z, 0.0))
    # a pooling unit names the input that won
    canvas = tab.page.locator("#layers canvas[data-layer='2'][data-channel='0']")
    canvas.click(position={"x": 3, "y": 3})
    tab.settle()
    assert "the switch" in tab.page.inner_text("#unit-body") and tab.page.locator("td.win").count() == 1
    assert tab.errors() == [] and tab.foreign() == []


def test_a_filters_top_crops_and_projections_open(tab):
    tab.page.click("#tabs button[data-view='filters']")
    tab.page.wait_for_selector("#filters canvas[data-filter='5']")
    assert tab.page.locator("#filters canvas").count() == 6  # LeNet's first conv: 6 filters
    tab.page.select_option("#filter-layer", "3")
    tab.page.wait_for_selector("#filters canvas[data-filter='15']")
    tab.page.click("#filters canvas[data-filter='4']")
    tab.page.wait_for_selector("#deconv figure.projection", timeout=60_000)
    tab.settle()
    assert tab.page.locator("#crops figure.crop").count() == 9
    assert tab.page.locator("#deconv figure.projection").count() == 9
    first = tab.page.locator("#crops figure.crop").first.get_attribute("data-index")
    assert 0 <= int(first) < TEST_IMAGES
    assert "receptive field 14x14" in tab.page.inner_text("#topk-progress")
    assert tab.errors() == [] and tab.foreign() == []


def test_the_backward_view_shows_saliency_and_the_graph(tab):
    tab.page.click("#tabs button[data-view='backward']")
    tab.page.wait_for_selector("#graph svg rect", timeout=60_000)
    tab.settle()
    s = tab.page.evaluate("() => window.toynnExplore.state.saliency")
    f = tab.page.evaluate("() => window.toynnExplore.state.forward")
    assert s["target"] == f["predicted"] and len(s["layers"]) == 12
    last = np.frombuffer(base64.b64decode(s["layers"][-1]["values"]["b64"]), dtype="<f4")
    np.testing.assert_array_equal(last, np.eye(10)[s["target"]])  # d logit_t / d logits
    assert tab.page.locator("#graph svg rect").count() > 20
    tab.page.select_option("#target", "3")
    tab.settle()
    assert tab.page.evaluate("() => window.toynnExplore.state.saliency.target") == 3
    assert tab.errors() == [] and tab.foreign() == []


def test_a_bad_upload_shows_a_clear_error_and_the_page_goes_on(browser, server, tmp_path):
    page = Page(browser, server)
    bad = tmp_path / "digit.png"
    bad.write_bytes(b"this is not a PNG")
    page.page.set_input_files("#upload", str(bad))
    page.page.wait_for_selector("#error:not([hidden])")
    assert "upload: not an image" in page.page.inner_text("#error-text")
    page.draw(ONE)  # the server and the page go on
    assert page.page.inner_text("#predicted").startswith("1")
    assert page.page.is_hidden("#error")
    # the failed upload's 400 is the one console message (the browser logs failed fetches itself)
    assert [t for _, t in page.errors() if "status of 400" not in t] == []
    assert page.foreign() == []
    page.page.close()
