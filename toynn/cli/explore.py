"""`toynn explore [RUN]`: see a trained network think, live in the browser (toynn.lecture.explore)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_RUN = Path("runs") / "mlp-digits-explore"  # where `toynn explore` without RUN trains the default model


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `explore` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "explore",
        help="a local web page to draw a digit and watch every layer, unit, filter and gradient of a run",
        description="Start a local web server and open its page: draw or upload an image or pick a test image, and "
        "see every layer's output update as you draw, the arithmetic of any unit, each filter with the test "
        "crops that excite it most, gradients and the computation graph, and train live. Everything is served "
        "from this machine; nothing is fetched from the internet. Without RUN, the default model (the MLP on the "
        f"bundled digits) is trained first into {DEFAULT_RUN} (or taken from there).",
    )
    p.add_argument("run", nargs="?", help="run folder written by `toynn train` (default: train the digits MLP)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; another address warns: anyone who "
        "reaches it can use the page)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    p.add_argument("--data-dir", default=None, help="where the run's data set is now, if it moved")
    p.add_argument("--test-images", type=int, default=None, help="use the first N test images only (default: all)")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    """The handler: load (or train) the run, serve the page until Ctrl-C; 0 on a clean stop."""
    from ..lecture.explore import Explorer, make_server

    run_dir = Path(args.run) if args.run else _default_run()
    print(f"loading {run_dir} ...", flush=True)
    explorer = Explorer.from_run(run_dir, args.data_dir, args.test_images)
    server = make_server(explorer, args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"toynn explore: warning: listening on {args.host}: anyone who can reach this machine on port "
            f"{server.server_address[1]} can use the page (no password); the default 127.0.0.1 keeps it local",
            file=sys.stderr,
        )
    print(f"toynn explore: {explorer.config['model']} on {explorer.data} at {server.url}  (Ctrl-C stops)", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("toynn explore: stopped")
    finally:
        server.server_close()
    return 0


def _default_run() -> Path:
    """The default digits model's run folder: trained now (about 4 s, with progress) unless it is there already."""
    from . import train

    if (DEFAULT_RUN / "checkpoint.safetensors").is_file():
        print(f"using the digits model trained earlier in {DEFAULT_RUN}")
        return DEFAULT_RUN
    print(f"no run folder given: training the default model (MLP on the bundled digits) into {DEFAULT_RUN}")
    parser = argparse.ArgumentParser(prog="toynn")
    train.add_parser(parser.add_subparsers())
    code = train.run(parser.parse_args(["train", "--out", str(DEFAULT_RUN)]))
    if code != 0:
        raise RuntimeError(f"training the default model into {DEFAULT_RUN} failed")
    return DEFAULT_RUN
