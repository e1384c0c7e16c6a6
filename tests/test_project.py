"""The project's promises about itself: README commands, CI script, the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Set up on a fresh machine\s+```bash\n(.*?)```", text, re.S)
    assert block, "README must open with a 'Set up on a fresh machine' bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install") and "toynn" in commands[0].split("&&")[1]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    test_command = _setup_commands()[1].replace("pip install", "python3 -m pip install -q", 1)
    assert test_command in ci, "CI must run the README's test command"
    assert any("TOYNN_REQUIRE_TORCH=1" in line for line in ci), "CI must refuse to skip the PyTorch comparisons"


def test_command_line_runs_the_worked_example():
    out = subprocess.run(
        [sys.executable, "-m", "toynn", "example", "--x", "0.7"], capture_output=True, text=True, check=True
    ).stdout
    assert "dJ/dx by backprop" in out and "dJ/dx by closed form" in out


def test_command_line_bad_argument_is_one_clear_line():
    run = subprocess.run([sys.executable, "-m", "toynn", "example", "--x", "abc"], capture_output=True, text=True)
    assert run.returncode == 2
    assert "invalid float value" in run.stderr and "Traceback" not in run.stderr
