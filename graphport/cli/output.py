"""Where the CLI writes: results to stdout, progress and errors to stderr, JSON kept clean."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def out() -> Console:
    """Console for results (stdout)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def err() -> Console:
    """Console for progress, hints and errors (stderr, resolved late so the CLI can redirect it)."""
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """One JSON object on stdout, nothing else, for machines."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
