"""Coalescing and paragraph freezing for streamed text."""

from aeries.ui.chat.redraw import StreamText, Throttle, settled_end


def test_throttle_first_at_once_then_interval():
    t = Throttle(0.05)
    assert t.ready(10.0)
    assert not t.ready(10.01)
    assert not t.ready(10.049)
    assert t.ready(10.05)
    assert not t.ready(10.06)


def test_settled_end_ignores_blank_lines_inside_code_fences():
    text = "para one\n\n```\ncode\n\nmore\n"
    assert settled_end(text) == len("para one\n\n")
    closed = text + "```\n\nafter"
    assert settled_end(closed) == len(closed) - len("after")


def test_stream_text_freezes_each_paragraph_once_and_keeps_everything():
    s = StreamText()
    pieces = ["Hello", " world.", "\n\nSecond", " para.\n\n", "Third"]
    blocks = []
    for p in pieces:
        s.add("content", p)
        blocks += s.new_blocks()
    assert blocks == ["Hello world.", "Second para."]
    assert s.tail == "Third"
    assert s.content == "".join(pieces)
    s.add("reasoning", "hmm")
    assert s.reasoning == "hmm" and s.content == "".join(pieces)


def test_content_that_opens_with_blank_lines_draws_no_empty_paragraph():
    # vLLM with a reasoning parser: thinking, then content starting with "\n\n" (after </think>).
    text = StreamText()
    text.add("reasoning", "Let me think.")
    blocks: list[str] = []
    for delta in ("\n\n", "Hello", " there.", "\n\n", "Second."):
        text.add("content", delta)
        blocks += text.new_blocks()
        assert not text.tail.startswith("\n")  # the live tail never opens with a blank line
    assert blocks == ["Hello there."]
    assert text.tail == "Second."
    assert text.content == "\n\nHello there.\n\nSecond."  # what was sent is kept as sent
