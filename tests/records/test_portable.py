"""A script's function as source (``pythagoras.portable``), rebuilt as another Python would."""

from __future__ import annotations

import textwrap
from pathlib import Path

import child_processes

SCRIPT = '''
import dataclasses
from dataclasses import dataclass

from pythagoras.records.portable import rebuild, source_form


@dataclass(frozen=True)
class Point:
    x: float
    y: float = 0.5


@dataclasses.dataclass
class Pair:
    a: Point
    b: Point


def shifted(x):
    return Pair(Point(x), Point(x, x + 1))


value = rebuild(source_form(shifted))(2.0)
assert type(value) is not Pair  # rebuilt, not this module's own
assert dataclasses.is_dataclass(value) and dataclasses.is_dataclass(value.a)
try:
    value.a.x = 1.0
except dataclasses.FrozenInstanceError:
    print(value.a.x, value.a.y, value.b.x, value.b.y)
'''


def test_a_class_of_the_script_is_rebuilt_with_its_decorators(tmp_path: Path) -> None:
    script = tmp_path / "points.py"
    script.write_text(textwrap.dedent(SCRIPT))
    done = child_processes.run([str(script)], timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2.0", "0.5", "2.0", "3.0"]
