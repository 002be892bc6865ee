"""Rubrics: the questions raters answer about an answer, strictly parsed.

A rubric is a name, instructions, and items. Each item has a key (its column in the labels),
a prompt, a kind — ``likert`` (a label per point; the value is the point's number, 1 … n),
``categorical`` (one of its options), ``boolean`` (yes/no) or ``text`` — optional
instructions, and optionally the observer quantity it asks people for (``satisfaction`` or
``sentiment`` on a Likert item, ``correction`` or ``preference`` on a yes/no item), so the
observer can be checked against people. It is written in TOML (docs/annotation.md) or built
on the Annotate page, and stored as JSON (``Rubric.spec()``), versioned by the hash of that.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from aeries.studies.toml_reader import Lines, Reader, StudyFileError, tables
from aeries.vocabulary import (
    OBSERVED_QUANTITIES,
    RUBRIC_ITEM_KINDS,
    MeasurementLevel,
    ObservedQuantity,
    RubricItemKind,
)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MIN_POINTS, MAX_POINTS = 2, 11
# Which kind of item may ask people for which observer quantity (and so be compared with it).
OBSERVER_KINDS: dict[ObservedQuantity, RubricItemKind] = {
    "satisfaction": "likert",
    "sentiment": "likert",
    "correction": "boolean",
    "preference": "boolean",
}
BOOLEAN_VALUES = ("true", "false")


class RubricError(ValueError):
    """A rubric that cannot be used; ``line`` (1-based) where it came from a file."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"Line {line}: {message}" if line else message)


@dataclass(frozen=True)
class RubricItem:
    """One question of a rubric."""

    key: str
    prompt: str
    kind: RubricItemKind
    labels: tuple[str, ...] = ()  # likert: one per point, lowest first
    options: tuple[str, ...] = ()  # categorical
    instructions: str = ""
    observer: ObservedQuantity | None = None
    required: bool = True

    @property
    def level(self) -> MeasurementLevel | None:
        """The level agreement is computed at (None for free text: no agreement)."""
        if self.kind == "likert":
            return "ordinal"
        if self.kind in ("categorical", "boolean"):
            return "nominal"
        return None

    @property
    def values(self) -> tuple[str, ...]:
        """Every value a label may take, in the scale's order (empty for free text)."""
        if self.kind == "likert":
            return tuple(str(i) for i in range(1, len(self.labels) + 1))
        if self.kind == "categorical":
            return self.options
        if self.kind == "boolean":
            return BOOLEAN_VALUES
        return ()

    def check(self, value: str | None) -> str | None:
        """``value`` as stored (stripped; None when left empty), or RubricError if this item
        does not take it (not on the scale, missing though required)."""
        text = value.strip() if isinstance(value, str) else None
        if not text:
            if self.required:
                raise RubricError(f"“{self.prompt}” needs an answer.")
            return None
        if self.kind != "text" and text not in self.values:
            allowed = ", ".join(self.values)
            raise RubricError(f"“{self.prompt}” takes one of {allowed}, not {text!r}.")
        return text


@dataclass(frozen=True)
class Rubric:
    """A named set of items, with instructions for raters."""

    name: str
    items: tuple[RubricItem, ...]
    instructions: str = ""

    def item(self, key: str) -> RubricItem:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def check(self, labels: dict[str, str | None]) -> dict[str, str | None]:
        """One stored value per item, or RubricError naming the first item that is wrong."""
        unknown = sorted(set(labels) - {i.key for i in self.items})
        if unknown:
            raise RubricError(f"This rubric has no item {unknown[0]!r}.")
        return {item.key: item.check(labels.get(item.key)) for item in self.items}

    def spec(self) -> dict[str, Any]:
        """The rubric as stored (JSON), from which ``from_spec`` rebuilds it exactly."""
        return {
            "name": self.name,
            "instructions": self.instructions,
            "items": [
                {
                    "key": i.key,
                    "prompt": i.prompt,
                    "kind": i.kind,
                    "labels": list(i.labels),
                    "options": list(i.options),
                    "instructions": i.instructions,
                    "required": i.required,
                    **({"observer": i.observer} if i.observer else {}),
                }
                for i in self.items
            ],
        }


def from_spec(spec: dict[str, Any]) -> Rubric:
    """A rubric from its stored JSON (or any dict of that shape), checked as a file is."""
    return _build(Reader(spec, (), Lines("")))


def parse_rubric_toml(text: str) -> Rubric:
    """A rubric from a TOML file's text; RubricError names the line of the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"This is not valid TOML: {exc}") from None
    return _build(Reader(data, (), Lines(text)))


def _build(top: Reader) -> Rubric:
    try:
        name = top.text("name", required=True).strip()
        instructions = (top.text("instructions", default="") or "").strip()
        readers = tables(top, "items")
        top.done()
        if not readers:
            raise top.fail("A rubric needs at least one [[items]] table.", "items")
        items = [_item(r) for r in readers]
    except StudyFileError as exc:
        raise RubricError(exc.message, exc.line) from None
    keys = [i.key for i in items]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate is not None:
        raise RubricError(f"Two items have the key {duplicate!r}; keys must differ.")
    return Rubric(name, tuple(items), instructions)


def _item(r: Reader) -> RubricItem:
    key = r.text("key", required=True).strip()
    if not _KEY.match(key):
        raise r.fail(
            f"Item key {key!r} must be lower-case letters, digits and _ (starting with a "
            "letter, at most 40).",
            "key",
        )
    prompt = r.text("prompt", required=True).strip()
    kind = r.text("kind", required=True).strip()
    if kind not in RUBRIC_ITEM_KINDS:
        raise r.fail(f"Item kind must be one of {', '.join(RUBRIC_ITEM_KINDS)}.", "kind")
    labels = r.strings("labels")
    options = r.strings("options")
    instructions = (r.text("instructions", default="") or "").strip()
    observer = r.get("observer", str)
    required = r.get("required", bool, True)
    r.done()
    if kind == "likert" and not MIN_POINTS <= len(labels) <= MAX_POINTS:
        raise r.fail(
            f"A likert item needs {MIN_POINTS}–{MAX_POINTS} labels, one per point.", "labels"
        )
    if kind != "likert" and labels:
        raise r.fail("Only likert items have labels (categorical items have options).", "labels")
    if kind == "categorical" and len(options) < 2:
        raise r.fail("A categorical item needs at least two options.", "options")
    if kind != "categorical" and options:
        raise r.fail("Only categorical items have options.", "options")
    if len(set(options)) != len(options):
        raise r.fail("The options must differ.", "options")
    if observer is not None:
        if observer not in OBSERVED_QUANTITIES:
            raise r.fail(f"`observer` must be one of {', '.join(OBSERVED_QUANTITIES)}.", "observer")
        if OBSERVER_KINDS[observer] != kind:
            raise r.fail(
                f"An item asking for the observer's {observer} must be a "
                f"{OBSERVER_KINDS[observer]} item.",
                "observer",
            )
    return RubricItem(
        key=key,
        prompt=prompt,
        kind=kind,
        labels=labels,
        options=options,
        instructions=instructions,
        observer=observer,
        required=bool(required),
    )
