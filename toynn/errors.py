"""The errors toynn raises, and small helpers that build their messages."""

from __future__ import annotations


class ShapeError(ValueError):
    """An argument's shape does not fit the op. A ValueError, so `except ValueError` still works."""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
