"""A stored rubric written back as the TOML a researcher edits (the store keeps the spec as
JSON, not the file it came from), in the shape docs/annotation.md describes, so that
``parse_rubric_toml(rubric_toml(r)) == r``."""

from __future__ import annotations

from aeries.annotation.rubric import Rubric, RubricItem


def _escape(text: str, *, multiline: bool) -> str:
    """The body of a TOML basic string: backslash, quote and every control character TOML
    refuses (all of U+0000–U+001F but tab, and U+007F; newlines only in a multi-line string)
    escaped, so any text a rubric holds survives the round trip."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n" and multiline:
            out.append("\n")
        elif char == "\t":
            out.append("\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    return "".join(out)


def toml_string(text: str) -> str:
    """A TOML string literal for ``text``: multi-line (triple quotes) when it has line breaks,
    which reads like what was typed; a plain basic string otherwise."""
    if "\n" in text:
        # A newline right after the opening quotes is dropped by TOML, so the text starts on
        # the next line exactly as written.
        return '"""\n' + _escape(text, multiline=True) + '"""'
    return '"' + _escape(text, multiline=False) + '"'


def _array(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def _item(item: RubricItem) -> list[str]:
    lines = [
        "[[items]]",
        f"key = {toml_string(item.key)}",
        f"prompt = {toml_string(item.prompt)}",
        f"kind = {toml_string(item.kind)}",
    ]
    if item.labels:
        lines.append(f"labels = {_array(item.labels)}")
    if item.options:
        lines.append(f"options = {_array(item.options)}")
    if item.instructions:
        lines.append(f"instructions = {toml_string(item.instructions)}")
    if item.observer:
        lines.append(f"observer = {toml_string(item.observer)}")
    if not item.required:
        lines.append("required = false")
    return lines


def rubric_toml(rubric: Rubric) -> str:
    """The rubric as a TOML file."""
    lines = [f"name = {toml_string(rubric.name)}"]
    if rubric.instructions:
        lines.append(f"instructions = {toml_string(rubric.instructions)}")
    for item in rubric.items:
        lines.append("")
        lines.extend(_item(item))
    return "\n".join(lines) + "\n"
