"""`toynn explore`'s latency per update while drawing, for LeNet-5 on MNIST (issue: under 100 ms on 2 cores).

Three numbers per update, each the median (and 90th percentile) over a digit drawn in 60 growing frames:
  server   the server's own time for /api/forward: decode the canvas PNG, MNIST's preparation, the forward pass
           through every layer, encoding every layer's output (the `ms` field of the answer);
  request  the HTTP round trip from a client on the same machine (http.client, keep-alive, as a browser tab):
           the server's time plus the transfer and the JSON of ~60 kB;
  page     (with Playwright and Chromium) the page's own measure while a mouse draws: from sending the request
           to having painted every layer's heatmaps, as the user sees it.

    python benchmarks/bench_explore.py [--run RUN] [--data-dir /work/shared/data/mnist] [--repeat 3]
    python benchmarks/bench_explore.py --run runs/lenet --screenshots docs/img   # the docs' pictures

Without --run it trains LeNet-5 for one epoch on 8000 MNIST images first (the latency does not depend on the
weights).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEVEN = [[(80, 60), (200, 60)], [(200, 60), (120, 230)]]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def train_lenet(data_dir: str) -> Path:
    import toynn
    from toynn import nn, optim
    from toynn.data import DataLoader, TensorDataset
    from toynn.data.registry import get_dataset
    from toynn.io.runs import write_config
    from toynn.models import build_model
    from toynn.train import fit

    run = Path(tempfile.mkdtemp(prefix="bench-explore-")) / "lenet"
    run.mkdir()
    toynn.manual_seed(0)
    train = get_dataset("mnist", data_dir, train=True)
    x, y = train.arrays()
    model = build_model("lenet", x.shape[1:], 10)
    config = {"model": "lenet", "data": "mnist", "input_shape": list(x.shape[1:]),
              "classes": [str(c) for c in train.classes], "args": {"data_dir": data_dir, "epochs": 1}}  # fmt: skip
    write_config(run, config)
    loader = DataLoader(TensorDataset(x[:8000], y[:8000]), batch_size=64, shuffle=True)
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.002), loader, 1, run_dir=run, progress=False)
    return run


def frames(n: int = 60) -> list[str]:
    """The canvas as a PNG data URL at n moments while a 7 is drawn (its strokes growing), as the page sends it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from explore_fixture import png_data_url, stroke_image

    pts = [p for stroke in SEVEN for p in stroke]
    length = sum(np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(pts[:-1], pts[1:]))
    out = []
    for k in range(1, n + 1):
        budget, path = length * k / n, [pts[0]]
        for a, b in zip(pts[:-1], pts[1:]):
            seg = np.hypot(b[0] - a[0], b[1] - a[1])
            if seg == 0:  # where one stroke ends and the next begins
                continue
            t = min(1.0, budget / seg)
            path.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
            budget -= seg
            if budget <= 0:
                break
        out.append(png_data_url(stroke_image(path)))
    return out


def summary(ms: list[float]) -> str:
    return f"median {statistics.median(ms):6.1f} ms, p90 {np.percentile(ms, 90):6.1f} ms (n={len(ms)})"


def bench_http(server, images: list[str], repeat: int) -> tuple[list[float], list[float]]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port)
    rt, srv = [], []
    for _ in range(repeat):
        for image in images:
            body = json.dumps({"image": image}).encode()
            t0 = time.perf_counter()
            conn.request("POST", "/api/forward", body, {"Content-Type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            rt.append((time.perf_counter() - t0) * 1e3)
            srv.append(answer["ms"])
    conn.close()
    return rt, srv


def bench_page(server, repeat: int) -> list[float] | None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if exe is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        page.evaluate("() => { window.toynnExplore.state.latencies.length = 0; }")
        box = page.locator("#draw").bounding_box()
        for _ in range(repeat):
            page.click("#clear")
            for stroke in SEVEN:
                page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
                page.mouse.down()
                page.mouse.move(box["x"] + stroke[1][0], box["y"] + stroke[1][1], steps=40)
                page.mouse.up()
            page.wait_for_selector("body[data-pending='0']")
        lat = page.evaluate("() => window.toynnExplore.state.latencies")
        browser.close()
    return [rt for rt, _ in lat]


def screenshots(run: Path, out: Path) -> None:
    """docs/img/explore-*.png: `toynn explore RUN --no-browser` as a user starts it, then each view in Chromium."""
    import re
    import subprocess

    from playwright.sync_api import sync_playwright

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "toynn", "explore", str(run), "--no-browser", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("toynn explore stopped before printing its address")
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            url = m.group(1) if m else None
        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            box = page.locator("#draw").bounding_box()
            for stroke in SEVEN:
                page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
                page.mouse.down()
                page.mouse.move(box["x"] + stroke[1][0], box["y"] + stroke[1][1], steps=30)
                page.mouse.up()
            page.wait_for_selector("body[data-pending='0']")
            page.locator("#layers canvas[data-layer='0'][data-channel='3']").click(position={"x": 60, "y": 40})
            page.wait_for_selector("#unit-z")
            page.wait_for_selector("body[data-pending='0']")
            page.screenshot(path=str(out / "explore-layers.png"))
            page.locator("#layers canvas[data-layer='3'][data-channel='5']").click(position={"x": 25, "y": 15})
            page.wait_for_selector("body[data-pending='0']")
            page.locator("#unit-panel").screenshot(path=str(out / "explore-unit.png"))
            page.click("#unit-close")
            page.click("#tabs button[data-view='filters']")
            page.select_option("#filter-layer", "3")
            page.wait_for_selector("#filters canvas[data-filter='15']")
            page.click("#filters canvas[data-filter='2']")
            page.wait_for_selector("#deconv figure.projection", timeout=300_000)
            page.wait_for_selector("body[data-pending='0']")
            page.screenshot(path=str(out / "explore-filters.png"))
            page.click("#tabs button[data-view='backward']")
            page.wait_for_selector("#graph svg rect", timeout=60_000)
            page.wait_for_selector("body[data-pending='0']")
            page.screenshot(path=str(out / "explore-backward.png"), full_page=True)
            page.click("#tabs button[data-view='train']")
            page.click("#train-start")
            time.sleep(20)
            page.click("#train-pause")
            time.sleep(2)
            page.wait_for_selector("body[data-pending='0']")
            page.screenshot(path=str(out / "explore-train.png"), full_page=True)
            browser.close()
    finally:
        proc.send_signal(2)
        proc.wait(timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="a LeNet-5 run folder (default: train one)")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--screenshots", metavar="DIR", help="instead: take the docs' screenshots of --run into DIR")
    args = ap.parse_args()
    if args.screenshots:
        screenshots(Path(args.run), Path(args.screenshots))
        return 0
    from toynn.lecture.explore import Explorer, api, make_server

    run = Path(args.run) if args.run else train_lenet(args.data_dir)
    ex = Explorer.from_run(run, max_test=1000)
    images = frames()
    for image in images[:5]:  # warm-up: first calls allocate the scratch buffers
        api.forward(ex, {"image": image})
    inproc = []
    for _ in range(args.repeat):
        for image in images:
            t0 = time.perf_counter()
            api.forward(ex, {"image": image})
            inproc.append((time.perf_counter() - t0) * 1e3)
    server = make_server(ex, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rt, srv = bench_http(server, images, args.repeat)
    page = bench_page(server, args.repeat)
    server.shutdown()
    print(f"toynn explore, LeNet-5 on MNIST, per update while drawing; {cpu_model()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print(f"  server compute (api.forward, in process): {summary(inproc)}")
    print(f"  server compute (its 'ms', over HTTP):     {summary(srv)}")
    print(f"  request round trip (http.client):         {summary(rt)}")
    if page is not None:
        print(f"  page update (Chromium, drawn with a mouse): {summary(page)}")
    else:
        print("  page update: skipped (needs playwright and chromium)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
