"""What every benchmark reports beside its figures: versions, load, and the JSON file."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["loadavg", "version", "write_json"]


def version(dist: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def loadavg() -> float | None:
    """The 1-minute load average, where the OS has one: other work skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
