"""Personas: a name, a system prompt, a model and sampling parameters a conversation uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.store.writer import Execute, Insert, Writer

DEFAULT_PERSONA_NAME = "Helpful assistant"
DEFAULT_PROMPT = (
    "You are a helpful, honest assistant. Answer clearly and accurately, say when you are "
    "unsure, and match the length of your answer to the question."
)
NAME_MAX = 80


@dataclass(frozen=True)
class Persona:
    """How a conversation's answers are produced."""

    id: str
    name: str
    system_prompt: str = ""
    model: str | None = None
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int | None = 1024
    thinking: bool = True
    is_default: bool = False


_COLUMNS = "id, name, system_prompt, model, temperature, top_p, max_tokens, thinking, is_default"


class PersonaError(ValueError):
    """A persona cannot be saved as given; the message says why."""


def validate(persona: Persona) -> Persona:
    """A cleaned persona, or PersonaError with a clear reason."""
    name = " ".join(persona.name.split())
    if not name:
        raise PersonaError("A persona needs a name.")
    if len(name) > NAME_MAX:
        raise PersonaError(f"Keep the name under {NAME_MAX} characters.")
    if not 0.0 <= persona.temperature <= 2.0:
        raise PersonaError("Temperature must be between 0 and 2.")
    if not 0.0 < persona.top_p <= 1.0:
        raise PersonaError("Top p must be above 0 and at most 1.")
    if persona.max_tokens is not None and persona.max_tokens < 1:
        raise PersonaError("Max tokens must be at least 1.")
    return replace(persona, name=name, model=persona.model or None)


def list_personas(db: Database) -> list[Persona]:
    """Personas that are not deleted: the default first, then by name."""
    rows = db.rows(
        f"SELECT {_COLUMNS} FROM personas WHERE NOT deleted ORDER BY is_default DESC, name, id"
    )
    return [Persona(*row) for row in rows]


def get_persona(db: Database, persona_id: str | None) -> Persona | None:
    """A persona by id (deleted ones too: old conversations still name them)."""
    if not persona_id:
        return None
    row = db.one(f"SELECT {_COLUMNS} FROM personas WHERE id = ?", [persona_id])
    return Persona(*row) if row else None


def ensure_default_persona(db: Database) -> Persona:
    """The default persona, created on first start."""
    row = db.one(f"SELECT {_COLUMNS} FROM personas WHERE is_default AND NOT deleted LIMIT 1")
    if row:
        return Persona(*row)
    persona = Persona(new_id(), DEFAULT_PERSONA_NAME, DEFAULT_PROMPT, is_default=True)
    now = utcnow()
    db.execute(
        f"INSERT INTO personas ({_COLUMNS}, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*asdict(persona).values(), now, now],
    )
    return persona


def save_persona(writer: Writer, persona: Persona, user_id: str | None = None) -> Persona:
    """Create or update a persona (validated); waits until it is stored."""
    clean = validate(persona)
    now = utcnow()
    values = asdict(clean)
    writer.submit(
        Insert("personas", {**values, "created_by": user_id, "created_at": now, "updated_at": now})
        if _is_new(writer, clean.id)
        else Execute(
            """UPDATE personas SET name = ?, system_prompt = ?, model = ?, temperature = ?,
               top_p = ?, max_tokens = ?, thinking = ?, updated_at = ? WHERE id = ?""",
            [
                clean.name,
                clean.system_prompt,
                clean.model,
                clean.temperature,
                clean.top_p,
                clean.max_tokens,
                clean.thinking,
                now,
                clean.id,
            ],
        )
    )
    writer.flush()
    return clean


def _is_new(writer: Writer, persona_id: str) -> bool:
    writer.flush()
    return writer.db.one("SELECT 1 FROM personas WHERE id = ?", [persona_id]) is None


def duplicate_persona(writer: Writer, persona: Persona, user_id: str | None = None) -> Persona:
    """A copy named '<name> (copy)', never the default."""
    name = f"{persona.name} (copy)"[:NAME_MAX]
    return save_persona(writer, replace(persona, id=new_id(), name=name, is_default=False), user_id)


def delete_persona(writer: Writer, persona: Persona) -> None:
    """Delete (soft: conversations that used it keep their history). The default stays."""
    if persona.is_default:
        raise PersonaError("The default persona cannot be deleted; edit it instead.")
    writer.submit(Execute("UPDATE personas SET deleted = true WHERE id = ?", [persona.id]))
    writer.flush()


def set_conversation_persona(
    writer: Writer, user_id: str, conversation_id: str, persona_id: str
) -> None:
    """Switch a conversation's persona (the change is logged as an event by the caller)."""
    writer.submit(
        Execute(
            "UPDATE conversations SET persona_id = ? WHERE id = ? AND user_id = ?",
            [persona_id, conversation_id, user_id],
        )
    )
