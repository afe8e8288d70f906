"""The embedded default location, used wherever no location is given."""

from __future__ import annotations

import os

import platformdirs

__all__ = ["default_location", "resolve_location"]

ENV_VAR = "PYTHAGORAS_LOCATION"


def default_location() -> str:
    """``$PYTHAGORAS_LOCATION`` if set, else ``swarm`` in the user's cache directory."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    return os.path.join(platformdirs.user_cache_dir("pythagoras", appauthor=False), "swarm")


def resolve_location(location: str | os.PathLike[str] | None) -> str:
    """A location as given, or the default where it is None."""
    return default_location() if location is None else os.fspath(location)
