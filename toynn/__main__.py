"""python -m toynn: the same as the `toynn` command."""

from .cli import main

raise SystemExit(main())
