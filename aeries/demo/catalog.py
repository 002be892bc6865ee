"""What the synthetic demo data is made of: models and their latency profiles, personas, texts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from aeries.vocabulary import ErrorKind


@dataclass(frozen=True)
class ModelProfile:
    """A served model as the demo pretends it behaved over the weeks."""

    name: str
    ttft_ms: float  # median time to first token at low load
    tpot_ms: float  # median time per output token at low load
    strength: float  # log-strength: drives votes, thumbs and satisfaction
    share: float  # relative traffic once available
    reasoning: bool = False
    start_frac: float = 0.0  # available from this fraction of the period on
    strength_slope: float = 0.0  # strength gained over the whole period (a fine-tune update)
    slowdown_at: float | None = None  # a deployment change that made it slower ...
    slowdown: float = 0.0  # ... by this factor
    speedup_at: float | None = None  # an upgrade that made it faster ...
    speedup: float = 0.0  # ... by this fraction
    incident_at: float | None = None  # a day of server errors starting here

    def latency_factor(self, t: np.ndarray) -> np.ndarray:
        """Latency multiplier at period fractions ``t`` (smooth steps at the changes)."""
        factor = np.ones_like(t)
        if self.slowdown_at is not None:
            factor *= 1.0 + self.slowdown * _step(t - self.slowdown_at)
        if self.speedup_at is not None:
            factor *= 1.0 - self.speedup * _step(t - self.speedup_at)
        return factor

    def strength_at(self, t: np.ndarray) -> np.ndarray:
        """Log-strength at period fractions ``t``."""
        return self.strength + self.strength_slope * t


def _step(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x * 40.0))


MODELS: tuple[ModelProfile, ...] = (
    ModelProfile("llama-3.1-8b-instruct", 110, 11, 0.0, 1.2, speedup_at=0.45, speedup=0.35),
    ModelProfile("qwen3-8b", 160, 15, 0.2, 1.0, reasoning=True, strength_slope=0.4),
    ModelProfile("qwen3-32b", 380, 32, 0.75, 0.7, reasoning=True, slowdown_at=0.65, slowdown=0.8),
    ModelProfile("mistral-small-24b", 280, 26, 0.45, 0.6, incident_at=0.52),
    ModelProfile("gemma-3-12b", 210, 19, 0.3, 0.8, start_frac=0.3),
)
OBSERVER_MODEL = 1  # qwen3-8b reads the conversations
ENDPOINT = "http://gpu-box:8000/v1"


@dataclass(frozen=True)
class PersonaProfile:
    """A demo persona."""

    name: str
    system_prompt: str
    temperature: float
    thinking: bool
    topic_bias: tuple[int, ...]  # topics this persona attracts
    satisfaction: float  # effect on satisfaction and thumbs


PERSONAS: tuple[PersonaProfile, ...] = (
    PersonaProfile(
        "Helpful assistant",
        "You are a helpful, honest assistant. Answer clearly and accurately.",
        0.7,
        True,
        (),
        0.0,
    ),
    PersonaProfile(
        "Concise expert", "Answer in as few words as possible. No filler.", 0.3, False, (1, 8), 0.15
    ),
    PersonaProfile(
        "Socratic tutor",
        "Guide the user to the answer with questions; never just give it away.",
        0.8,
        True,
        (1, 8, 13),
        -0.2,
    ),
    PersonaProfile(
        "Code reviewer",
        "You review code. Point out bugs first, then style. Show corrected code.",
        0.2,
        True,
        (0, 5, 6),
        0.1,
    ),
    PersonaProfile(
        "Friendly explainer",
        "Explain things warmly, with everyday analogies, for a curious beginner.",
        0.9,
        False,
        (2, 3, 4, 9, 12),
        0.05,
    ),
)

TOPICS: tuple[str, ...] = (
    "python",
    "statistics",
    "cooking",
    "travel",
    "history",
    "linux",
    "machine learning",
    "writing",
    "math",
    "fitness",
    "finance",
    "music",
    "gardening",
    "physics",
    "career",
)
_PROMPTS = (
    "Can you explain the basics of {t} to me?",
    "What is a common mistake people make with {t}, and how do I avoid it?",
    "Give me three practical tips about {t}.",
    "I have an hour a day for two weeks. How should I get better at {t}?",
)
_ANSWERS = (
    "Here is a short overview of {t}. First, the core idea: start from what you already know "
    "and build up one concept at a time. Second, practise with small, concrete examples. "
    "Third, check your understanding by explaining it back in your own words.",
    "A frequent pitfall with {t} is trying to learn everything at once. Pick one narrow goal, "
    "measure progress weekly, and only then widen the scope. Most problems people report "
    "come from skipping the fundamentals.",
    "Three tips on {t}:\n\n1. Keep a small notebook of what worked.\n2. Ask for feedback "
    "early.\n3. Revisit the basics every few weeks; they read differently once you know more.",
)
_REASONING = (
    "The user asks about {t}. They seem to be a beginner, so I should keep it simple, give an "
    "example, and avoid jargon. Let me structure the answer in three parts.",
    "Let me think about what matters most for {t}. The question is practical; a short list "
    "with one concrete action per item would serve them best.",
)
PROMPTS_PER_TOPIC = len(_PROMPTS)
ANSWERS_PER_TOPIC = len(_ANSWERS)
REASONING_PER_TOPIC = len(_REASONING)

PROMPT_TEXTS: tuple[str, ...] = tuple(p.format(t=t) for t in TOPICS for p in _PROMPTS)
ANSWER_TEXTS: tuple[str, ...] = tuple(a.format(t=t) for t in TOPICS for a in _ANSWERS)
REASONING_TEXTS: tuple[str, ...] = tuple(r.format(t=t) for t in TOPICS for r in _REASONING)

OBSERVER_SYSTEM = "You observe a conversation between a user and an AI assistant (demo)."
OBSERVER_ANSWERS: tuple[str, ...] = tuple(
    json.dumps(
        {"sentiment": s, "satisfaction": round((s + 1) / 2, 2), "topics": [t], "intent": "question"}
    )
    for t in TOPICS
    for s in (-0.4, 0.2, 0.7)
)

INTENTS: tuple[str, ...] = ("question", "task", "chitchat", "feedback", "other")
ASPECTS: dict[str, tuple[str, ...]] = {
    "verbosity": ("concise", "detailed"),
    "format": ("prose", "bullets", "tables", "code", "step_by_step"),
    "tone": ("casual", "formal", "friendly", "direct"),
    "expertise": ("beginner", "intermediate", "expert"),
}
PREFERENCE_TEXTS: tuple[str, ...] = tuple(f"{a}={v}" for a, vs in ASPECTS.items() for v in vs)
COMMENTS: tuple[str, ...] = (
    "Too long.",
    "Exactly what I needed, thanks!",
    "This is wrong, check the second point.",
    "Could you add an example?",
    "Great explanation.",
    "Slow to start answering today.",
)
# What went wrong when the observer failed (the reason an ``observer_error`` signal carries).
OBSERVER_ERRORS: tuple[str, ...] = ("invalid_json", "timeout", "schema", "refusal")


@dataclass(frozen=True)
class ErrorProfile:
    """A way a demo call fails: its kind, how often among failures, and the error text."""

    kind: ErrorKind
    p: float
    text: str


ERRORS: tuple[ErrorProfile, ...] = (
    ErrorProfile(
        "server_down", 0.3, "Aeries is resting. Try again in a moment. (connection refused)"
    ),
    ErrorProfile("timeout", 0.2, "No token for 60 s: the request timed out."),
    ErrorProfile("midstream_error", 0.2, "The server failed while streaming: internal error."),
    ErrorProfile(
        "context_length",
        0.15,
        "This model's maximum context length is 8192 tokens. However, your prompt contains more.",
    ),
    ErrorProfile("connection_lost", 0.15, "The connection was lost while streaming."),
)


def text_pool() -> tuple[str, ...]:
    """Every short text a signal can carry (topics, intents, preferences, comments, errors)."""
    return TOPICS + INTENTS + PREFERENCE_TEXTS + COMMENTS + OBSERVER_ERRORS
