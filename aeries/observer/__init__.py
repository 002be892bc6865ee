"""The observer: after each finished chat answer, signals about the user, in the background.

``worker`` runs the bounded pool that asks a model and writes the signals; ``extraction`` is
what it asks (prompt, JSON schema, provenance) and how the answer is read.
"""

from aeries.observer.extraction import (
    EXTRACTOR,
    PROMPT_HASH,
    RESPONSE_FORMAT,
    SCHEMA,
    VERSION,
    Observation,
    ObservationError,
    observer_messages,
    parse_observation,
)
from aeries.observer.worker import MODEL_PROVENANCE, FinishedTurn, Observer

__all__ = [
    "EXTRACTOR",
    "MODEL_PROVENANCE",
    "PROMPT_HASH",
    "RESPONSE_FORMAT",
    "SCHEMA",
    "VERSION",
    "FinishedTurn",
    "Observation",
    "ObservationError",
    "Observer",
    "observer_messages",
    "parse_observation",
]
