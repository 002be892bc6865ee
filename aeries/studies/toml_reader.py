"""Typed, strict access to a TOML document whose every refusal names the line it is about.

``tomllib`` gives values without positions; ``Lines`` finds where each table and key starts
(enough for the flat study format: tables, arrays of tables, one key per line), and ``Reader``
hands out typed values, remembering which keys were read so ``done()`` can refuse the rest.
"""

from __future__ import annotations

import re
from typing import Any


class StudyFileError(ValueError):
    """A study file that cannot be used; ``line`` is 1-based where it is known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"Line {line}: {message}" if line else message)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


class Lines:
    """Where each table and key of the file starts: ("pre", 2, "scale") -> line number."""

    def __init__(self, text: str) -> None:
        self._where: dict[tuple[Any, ...], int] = {}
        counts: dict[str, int] = {}
        table: tuple[Any, ...] = ()
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            quotes = line.count('"""') + line.count("'''")
            if in_multiline:
                in_multiline = quotes % 2 == 0
                continue
            header = _HEADER.match(line)
            if header:
                name = header.group(2).strip().strip("\"'")
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    table = (name, index)
                else:
                    table = tuple(name.split("."))
                self._where.setdefault(table, number)
            else:
                key = _KEY.match(line)
                if key:
                    self._where.setdefault((*table, key.group(1).strip('"')), number)
            if quotes % 2 == 1:
                in_multiline = True

    def of(self, *path: Any) -> int | None:
        while path:
            if path in self._where:
                return self._where[path]
            path = path[:-1]
        return None


class Reader:
    """Typed access to one table of the file; every refusal names the line."""

    def __init__(self, data: dict[str, Any], path: tuple[Any, ...], lines: Lines) -> None:
        self.data = data
        self.path = path
        self.lines = lines
        self.used: set[str] = set()

    def fail(self, message: str, *key: Any) -> StudyFileError:
        return StudyFileError(message, self.lines.of(*self.path, *key))

    def where(self, key: str) -> str:
        return ".".join(str(p) for p in (*self.path, key))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            wanted = _kind_name(kinds)
            raise self.fail(f"`{self.where(key)}` must be {wanted}, not true/false.", key)
        if not isinstance(value, kinds):
            raise self.fail(f"`{self.where(key)}` must be {_kind_name(kinds)}.", key)
        return value

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self.get(key, str, default)
        if required and (value is None or not str(value).strip()):
            raise self.fail(f"`{self.where(key)}` is required and may not be empty.", key)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"`{self.where(key)}` must be a list of non-empty texts.", key)
        return tuple(v.strip() for v in value)

    def number(self, key: str, *, minimum: float | None = None) -> float | None:
        value = self.get(key, (int, float))
        if value is not None and minimum is not None and value < minimum:
            raise self.fail(f"`{self.where(key)}` must be at least {minimum:g}.", key)
        return None if value is None else float(value)

    def integer(self, key: str, *, minimum: int | None = None, default: int | None = None) -> Any:
        value = self.get(key, int, default)
        if value is not None and minimum is not None and value < minimum:
            raise self.fail(f"`{self.where(key)}` must be at least {minimum}.", key)
        return value

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self.used]
        if unknown:
            key = unknown[0]
            allowed = ", ".join(sorted(self.used))
            raise self.fail(f"Unknown key `{self.where(key)}` (allowed here: {allowed}).", key)


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a text", int: "a whole number", float: "a number", bool: "true or false"}
    names |= {list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def table(parent: Reader, key: str) -> Reader:
    value = parent.get(key, dict, {})
    return Reader(value, (*parent.path, key), parent.lines)


def tables(parent: Reader, key: str) -> list[Reader]:
    value = parent.get(key, list, [])
    if not all(isinstance(v, dict) for v in value):
        raise parent.fail(f"`{key}` must be written as [[{key}]] tables.", key)
    return [Reader(v, (key, i), parent.lines) for i, v in enumerate(value)]
