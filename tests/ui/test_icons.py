"""Icons are Material Symbols names (``:material/…:``), never emoji: a machine without an emoji
font (a headless browser, many lab PCs) draws emoji as empty boxes. The browser suite checks the
icons are drawn from the icon font (tests/e2e/test_layout.py); this test keeps emoji out of
every string the interface shows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import ROOT

# Emoji and pictographs (the blocks an emoji font draws), variation selector 16 included.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
INTERFACE = [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py"))]
INTERFACE += sorted((ROOT / "aeries" / "ui").rglob("*.py"))


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant in a module (docstrings and comments may say what they like)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_scan_finds_an_emoji_where_there_is_one(tmp_path: Path) -> None:
    module = tmp_path / "page.py"
    module.write_text('"""Docs may say 👍."""\nst.button("👍 Like", icon=":material/add:")\n')
    assert [line for line, text in _strings(module) if EMOJI.search(text)] == [2]


def test_no_emoji_in_what_the_interface_shows() -> None:
    assert len(INTERFACE) > 20  # the scan covers the pages and the UI package
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in INTERFACE
        for line, text in _strings(path)
        if EMOJI.search(text)
    ]
    assert not found, "use :material/…: icons instead of emoji:\n" + "\n".join(found)
