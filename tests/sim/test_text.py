"""The simulator's approximate tokenizer."""

from __future__ import annotations

from aeries.sim.text import count_prompt_tokens


def test_prompt_token_count_reads_text_parts() -> None:
    parts = [{"type": "text", "text": "Hello, world"}, {"type": "image_url", "image_url": {}}]
    assert count_prompt_tokens([{"role": "user", "content": parts}]) == 3 + 4 + 2
    assert count_prompt_tokens([{"role": "user", "content": "Hello, world"}] * 2) == 2 * 7 + 2
