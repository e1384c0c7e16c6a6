"""docs/tour.md runs as written: every ```python block, in order, in one namespace, and prints what the page shows.

Conventions of docs/tour.md:
- Each ```python block runs in one shared namespace, in page order (like notebook cells), with the current
  directory set to a fresh temporary folder and MPLBACKEND=Agg; a block that raises fails the test, which names
  the block's line in the .md and its first lines.
- A ```text block that directly follows a python block (only blank lines between) is that block's output: it must
  equal what the block printed, after stripping trailing whitespace from every line and blank lines at both ends.
- Numbers in an output may differ from the page's by 2 units of their last printed digit or 1e-3 relatively
  (another CPU, BLAS or thread count rounds differently); everything else must match exactly.
- ```text (trained) marks the output of float32 training, where rounding differences grow over the steps (the
  same run on 1 and 2 threads ends a few points apart): its text must match with every number replaced by #.
- ```text (abridged) marks an output that is shortened by hand or holds timings: it is shown, not compared.
  Blocks seed what they draw (toynn.manual_seed) and print no timings.
- The outputs were recorded on x86-64 (AVX-512), 2 threads, with NumPy 2.4 and its OpenBLAS; rerun with --fill
  (below) and review the diff after changing what the tour prints.

As a script, `python tests/test_docs_tour.py --fill` reruns the tour and writes each block's output into the text
block below it (abridged ones are left as they are); `--images DIR` copies the PNGs that the blocks wrote under
tour_out/ to DIR (docs/img/tour for the pictures the page shows).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parent.parent / "docs" / "tour.md"
FENCE = re.compile(r"^```(\S*)\s*(.*?)\s*$")


@dataclass
class Block:
    line: int  # 1-based line of the block's first content line in the .md
    code: str
    output_line: int | None = None  # first content line of the text block that follows, if any
    output: str | None = None
    marker: str = ""  # "abridged" for ```text (abridged)
    output_span: tuple[int, int] | None = None  # 0-based [start, end) of the text block's content lines


def parse(text: str) -> list[Block]:
    """The page's python blocks, each with the text block that directly follows it."""
    lines, blocks, i = text.splitlines(), [], 0
    last_python = None  # the python block that a text block would belong to
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                last_python = None
            i += 1
            continue
        lang, info = m.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise ValueError(f"docs/tour.md:{i + 1}: unclosed ``` fence")
        body = "\n".join(lines[i + 1 : end])
        if lang == "python":
            last_python = Block(i + 2, body)
            blocks.append(last_python)
        elif lang == "text" and last_python is not None and last_python.output is None:
            last_python.output, last_python.output_line = body, i + 2
            last_python.marker = info.strip("()").strip()
            last_python.output_span = (i + 1, end)
            last_python = None
        else:
            last_python = None
        i = end + 1
    return blocks


def normalize(text: str) -> list[str]:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n").splitlines()


NUMBER = re.compile(r"[-+]?(?:\d[\d,]*)?\.?\d+(?:[eE][-+]?\d+)?")


def _close(shown: str, printed: str) -> bool:
    """Two printed numbers agree to 2 units of the shown one's last digit, or to 1e-3 relatively."""
    a, b = float(shown.replace(",", "")), float(printed.replace(",", ""))
    mantissa = shown.replace(",", "").lstrip("+-").split("e")[0].split("E")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(re.split("[eE]", shown)[1]) if re.search("[eE]", shown) else 0
    return abs(a - b) <= max(2 * 10.0 ** (exponent - decimals), 1e-3 * abs(a))


def matches(shown: str, printed: str, marker: str) -> bool:
    """Whether a block printed what the page shows (see the conventions above)."""
    want, got = normalize(shown), normalize(printed)
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        if NUMBER.sub("#", w) != NUMBER.sub("#", g):
            return False
        if marker != "trained" and not all(map(_close, NUMBER.findall(w), NUMBER.findall(g))):
            return False
    return True


class BlockError(Exception):
    pass


def run_blocks(blocks: list[Block]):
    """Run the blocks in one namespace in the current directory; yield (block, what it printed)."""
    namespace = {"__name__": "__tour__"}
    for b in blocks:
        # leading newlines put the code at its own line numbers of the .md in tracebacks
        code = compile("\n" * (b.line - 1) + b.code, str(TOUR), "exec")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
        except Exception as err:
            head = "\n".join("    " + line for line in b.code.splitlines()[:4])
            raise BlockError(
                f"docs/tour.md: the python block at line {b.line} raised {type(err).__name__}: {err}\n{head}\n"
                f"printed before that:\n{out.getvalue()}\n{traceback.format_exc()}"
            ) from err
        yield b, out.getvalue()


@pytest.fixture
def tour_env(tmp_path, monkeypatch):
    for name in ("sklearn", "sympy", "scipy", "matplotlib"):
        pytest.importorskip(name)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    import toynn

    dtype, state = toynn.get_default_dtype(), toynn.default_generator().bit_generator.state
    yield tmp_path
    toynn.set_default_dtype(dtype)  # the tour seeds toynn's generator: leave it as other tests found it
    toynn.default_generator().bit_generator.state = state


@pytest.mark.explicit_device  # the tour is a CPU user's session: --backend does not move its tensors
def test_tour_runs_and_prints_what_it_shows(tour_env):
    blocks = parse(TOUR.read_text())
    assert len(blocks) > 20, "docs/tour.md should hold the tour's python blocks"
    mismatches = []
    try:
        for b, printed in run_blocks(blocks):
            if b.output is None or b.marker == "abridged":
                continue
            if not matches(b.output, printed, b.marker):
                mismatches.append(
                    f"docs/tour.md: the output below the python block at line {b.line} (text block at line "
                    f"{b.output_line}) differs from what the block printed:\n--- shown\n{b.output}\n"
                    f"--- printed\n{printed}"
                )
    except BlockError as err:
        pytest.fail(str(err), pytrace=False)
    if mismatches:
        pytest.fail("\n\n".join(mismatches), pytrace=False)


def test_tour_images_exist_and_are_small():
    text = TOUR.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images, "the tour shows no pictures"
    for rel in images:
        path = TOUR.parent / rel
        assert path.is_file(), f"docs/tour.md shows {rel}, which does not exist"
        if "img/tour/" in rel:
            assert path.stat().st_size < 100_000, f"{rel} is {path.stat().st_size} bytes; keep it under 100 KB"


def _fill(write: bool, images: Path | None) -> None:
    """Rerun the tour; write each python block's output into the text block below it; copy the pictures."""
    text = TOUR.read_text()
    lines = text.splitlines()
    blocks = parse(text)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        os.environ["MPLBACKEND"] = "Agg"
        try:
            results = list(run_blocks(blocks))
        finally:
            os.chdir(cwd)
        if images is not None:
            images.mkdir(parents=True, exist_ok=True)
            for png in sorted(Path(tmp, "tour_out").glob("*.png")):
                shutil.copy(png, images / png.name)
                print(f"{images / png.name}: {png.stat().st_size} bytes")
    if not write:
        return
    # from the end, so that earlier spans stay valid
    for b, printed in reversed(results):
        if b.output_span is None or b.marker == "abridged":
            continue
        start, end = b.output_span
        lines[start:end] = normalize(printed)
    TOUR.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    target = Path(args[args.index("--images") + 1]) if "--images" in args else None
    if "--fill" in args or target is not None:
        _fill("--fill" in args, target)
    else:
        print(__doc__)
