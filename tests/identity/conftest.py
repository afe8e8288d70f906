"""Fixtures for the identity tests: real module files written to a temporary folder."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def load_module(tmp_path: Path) -> Iterator[Callable[[str], types.ModuleType]]:
    """Write ``source`` to a new ``.py`` file and import it under a fresh module name.

    Every call makes a distinct file and a distinct module, so two variants of a function live
    in two real modules with real source files, the way a user's edits do.
    """
    created: list[str] = []

    def load(source: str) -> types.ModuleType:
        name = f"_pythagoras_idtest_{uuid.uuid4().hex}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        created.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in created:
        sys.modules.pop(name, None)
