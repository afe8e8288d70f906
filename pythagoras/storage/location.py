"""The embedded default location, used wherever no location is given, and the checks every
location passes before it is opened.

**URLs of a wrong form.** A location is a folder path or a URL, ``scheme://...``. Text that
begins like a URL but is not one would otherwise be taken for a relative folder and served for
ever, empty (``s3:/team-bucket/swarm`` is the folder ``s3:`` in the working directory). So
:func:`check_location` refuses, naming the right form:

- ``scheme:`` not followed by ``//`` (``s3:/x``, ``s3:x``, ``file:/x``), where the scheme has
  two characters or more: a one-letter one is a Windows drive (``C:\\x``, ``C:/x``). A local
  folder whose name has a colon is written ``./name:x`` (or as an absolute path);
- a scheme in capitals (``S3://x``): every store plugin and fsspec know schemes in lower case;
- a known scheme followed by ``//`` without its colon (``s3//bucket``).

An unknown scheme (``foo://x``) is left to the plugins, and refused by ``open_store`` when
none serves it: it is never a folder either.

**The default folder** is created readable and writable by this user only (0700): whoever
can write a swarm's location runs code in its peers, and whoever can read it reads every
argument and result (``docs/trust.md``). A folder that is there already keeps its mode.
"""

from __future__ import annotations

import os
import re
from typing import Final

import platformdirs

from ..errors import StoreError

__all__ = ["check_location", "create_default", "default_location", "embedded_default",
           "resolve_location"]

ENV_VAR = "PYTHAGORAS_LOCATION"

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_NO_COLON: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)//(.*)", re.DOTALL)


def embedded_default() -> str:
    """``swarm`` in the user's cache directory."""
    return os.path.join(platformdirs.user_cache_dir("pythagoras", appauthor=False), "swarm")


def default_location() -> str:
    """``$PYTHAGORAS_LOCATION`` if set, else :func:`embedded_default`."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    return embedded_default()


def resolve_location(location: str | os.PathLike[str] | None) -> str:
    """A location as given, or the default where it is None."""
    return default_location() if location is None else os.fspath(location)


def check_location(location: str) -> None:
    """:class:`StoreError` naming the right form, for text that looks like a URL of a wrong
    form (see the module's docstring); nothing for a folder path or a URL."""
    url = _SCHEME.fullmatch(location)
    if url is not None and len(url[1]) > 1:
        scheme, rest = url[1], url[2]
        if rest.startswith("//"):
            if scheme != scheme.lower():
                raise StoreError(f"{location!r}: write the URL's scheme in lower case, "
                                 f"{scheme.lower()}:{rest}")
            return
        raise StoreError(f"{location!r} looks like a URL without its '//': write "
                         f"{_right_form(scheme, rest)}, or ./{location} for a local folder "
                         "whose name has a colon")
    missing = _NO_COLON.fullmatch(location)
    if missing is not None and missing[1].lower() in _known_schemes():
        raise StoreError(f"{location!r} looks like a URL without its ':': write "
                         f"{missing[1].lower()}://{missing[2]}, or ./{location} for a local "
                         "folder")


def _right_form(scheme: str, rest: str) -> str:
    scheme = scheme.lower()
    if scheme == "file":
        return f"file://{os.path.abspath(rest or '.')}"
    return f"{scheme}://{rest.lstrip('/') or 'BUCKET/PREFIX'}"


def _known_schemes() -> frozenset[str]:
    """``file`` and the schemes fsspec knows (only asked of text that needs it)."""
    try:
        from fsspec.registry import known_implementations  # type: ignore[import-untyped]
    except ImportError:
        return frozenset({"file"})
    return frozenset({"file", *known_implementations})


def create_default(location: str) -> None:
    """Create the embedded default folder, readable and writable by this user only, where
    ``location`` is it and it is not there yet."""
    if location != embedded_default() or os.path.isdir(location):
        return
    os.makedirs(os.path.dirname(location), mode=0o700, exist_ok=True)
    try:
        os.mkdir(location, 0o700)
    except FileExistsError:
        pass
