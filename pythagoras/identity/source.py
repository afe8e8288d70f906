"""A function's normalized source: the same text of code gives the same bytes on every Python.

The source is parsed, its decorators and docstrings removed, and the tree written in a
canonical form of this module's own: each node as its type and its fields by name, leaving out
the fields that are empty (None or []). ``ast.dump`` is not used: its output differs between
versions for the same code (3.12 added ``type_params=[]`` to every function, 3.13 leaves empty
fields out), so a swarm of Python 3.10 to 3.13 would never share a result; and 3.12 writes an
empty piece into an f-string's nested format spec, left out here. Node types and field
names of the code a user writes are the same from 3.10 to 3.13; syntax that only a newer
version has simply does not parse on an older one.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["canonical_tree", "source_digest"]


def source_digest(func: Callable[..., Any]) -> bytes | None:
    """The normalized source of ``func``, or None where the source is unavailable."""
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return None
    node.decorator_list = []
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = sub.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    sub.body = body[1:] or [ast.Pass()]
    return canonical_tree(node)


def canonical_tree(node: ast.AST) -> bytes:
    """``node`` written canonically: ``(Type field=value ...)``, lists as ``[a,b]``, constants
    as their type and ``repr``; fields that are None or [] left out."""
    out: list[str] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            out.append(item.text)
        elif isinstance(item, ast.AST):
            parts: list[Any] = [_Token("(" + type(item).__name__)]
            for name in item._fields:
                value = getattr(item, name, None)
                if isinstance(item, ast.JoinedStr) and isinstance(value, list):
                    value = [v for v in value if not _empty_text(v)]
                if value is None or (isinstance(value, list) and not value):
                    continue
                parts += [_Token(f" {name}="), value]
            parts.append(_CLOSE)
            stack.extend(reversed(parts))
        elif isinstance(item, list):
            parts = [_OPEN_LIST]
            for i, element in enumerate(item):
                if i:
                    parts.append(_COMMA)
                parts.append(element)
            parts.append(_CLOSE_LIST)
            stack.extend(reversed(parts))
        else:  # a constant, or a name (identifiers are str)
            out.append(f"{type(item).__name__}:{item!r}")
    return "".join(out).encode()


def _empty_text(node: Any) -> bool:
    """An empty piece of an f-string: Python 3.12 ends a nested format spec with one
    (``f"{x:>{w}}"``), which no other version writes and which means nothing."""
    return isinstance(node, ast.Constant) and node.value == "" and type(node.value) is str


class _Token:
    """Text written as it is (punctuation, a node's type, a field's name), never taken for a
    constant or a name of the code, which are written as their type and ``repr``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_CLOSE, _OPEN_LIST, _COMMA, _CLOSE_LIST = _Token(")"), _Token("["), _Token(","), _Token("]")
