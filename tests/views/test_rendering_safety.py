"""Nothing a model or a participant writes can make the browser fetch an image, and names and
titles render as the text they are (AppTest; the browser canary is in tests/e2e)."""

from __future__ import annotations

from markdown_it import MarkdownIt

from tests.helpers import participant_link, send

LEAK = "http://127.0.0.1:9/leak?q=secret"
PARSER = MarkdownIt("commonmark").enable("table")


def images(markdown: str) -> list[str]:
    """Image addresses a CommonMark renderer would fetch for this Markdown."""
    found: list[str] = []

    def walk(tokens):
        for token in tokens:
            if token.type == "image":
                found.append(token.attrs.get("src", ""))
            walk(token.children or [])

    walk(PARSER.parse(markdown))
    return found


def all_markdown(at) -> list[str]:
    return (
        [
            e.value
            for kind in ("markdown", "caption", "error", "warning", "info", "toast", "title")
            for e in getattr(at, kind)
        ]
        + [e.value for e in at.sidebar.markdown]
        + [e.value for e in at.sidebar.caption]
    )


def no_images(at) -> None:
    for text in all_markdown(at):
        assert not images(text), text


def test_an_image_in_an_answer_is_never_fetched_live_or_after_reload(app, env, sim):
    sim.config.reply = f"Here is a chart: ![chart]({LEAK}) and [a link](http://x.example)."
    link = participant_link(env, "alice")
    at = app(link).run()
    send(at, "show me a chart")
    no_images(at)
    assert any(LEAK in c.value.replace("\\", "") for c in at.caption)  # said what was held back
    again = app({**link, "c": at.query_params["c"]}).run()  # drawn from the database
    no_images(again)
    assert any("a link" in m.value for m in again.markdown)  # links stay links


def test_names_and_titles_stay_literal(app, env, sim):
    crafted = f"![x]({LEAK}) **bold**"
    at = app().run()  # the researcher, in local mode
    at.switch_page("views/personas.py").run()
    at.radio(key="aeries.personas.pick").set_value("__new__").run()
    name_box = next(t for t in at.text_input if (t.key or "").startswith("p-name-"))
    pid = name_box.key.removeprefix("p-name-")
    name_box.input(crafted[:80])
    at.button(key=f"FormSubmitter:persona-form-{pid}-Create").click().run()
    no_images(at)
    options = at.radio(key="aeries.personas.pick").options  # radio options render Markdown
    assert len(options) == 3 and not any(images(o) for o in options)
    at.switch_page("views/chat.py").run()
    send(at, crafted)  # the conversation's title is this text
    no_images(at)
    # The chat heading shows the title cut to one line; the whole title is in its tooltip.
    [heading] = at.subheader
    assert heading.value.startswith("\\!\\[x\\]\\(http")
    assert "\\*\\*bold\\*\\*" in heading.proto.help


def test_no_password_or_database_path_reaches_a_participant(app, env, sim, monkeypatch):
    port = sim.base_url.split(":")[2].split("/")[0]
    monkeypatch.setenv(
        "AERIES_BASE_URL", f"http://aeries:s3cr3t@127.0.0.1:{port}/v1,{sim.base_url}"
    )
    at = app(participant_link(env, "alice")).run()
    labels = at.selectbox(key="aeries.model").options
    assert len(labels) == 2 * len({o.split(" · ")[0] for o in labels})  # two endpoints listed
    everything = " ".join([*labels, *all_markdown(at), *(c.value for c in at.code)])
    assert "s3cr3t" not in everything
    assert env["AERIES_DB"] not in everything and "duckdb" not in everything
