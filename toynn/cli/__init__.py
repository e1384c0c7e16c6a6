"""The `toynn` command: one module per subcommand, each a thin call into the library or the lecture."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
