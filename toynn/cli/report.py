"""`toynn report RUN [--out FILE]`: the self-contained HTML page of a training run (toynn.lecture.report)."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `report` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "report",
        help="one self-contained HTML page for a training run: curves, summary, filters, top crops, confusion",
        description="Write an HTML report of a run folder made by `toynn train`: training curves and metrics, the "
        "model summary, the first layer's filters, the top-activating test crops of each conv layer and the "
        "confusion matrix on the test set. Images are embedded; the page reads offline.",
    )
    p.add_argument("run", help="run folder written by `toynn train`")
    p.add_argument("--out", default=None, help="HTML file to write (default RUN/report.html)")
    p.add_argument("--data-dir", default=None, help="where the data set is now, if it moved")
    p.add_argument("--samples", type=int, default=1000, help="test images searched for the top crops")
    p.add_argument("--top-k", type=int, default=8, help="crops per filter")
    p.add_argument("--max-filters", type=int, default=16, help="filters shown per conv layer")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    """The handler: write the report and print its path; 0 on success."""
    from ..lecture.report import make_report

    out = make_report(args.run, args.out, args.data_dir, args.samples, args.top_k, args.max_filters)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0
