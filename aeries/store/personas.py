"""Personas: a name, a system prompt, a model and sampling parameters a conversation uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from aeries.ids import new_id, utcnow
from aeries.store.db import Database
from aeries.store.writer import Execute, Insert, Writer

DEFAULT_PERSONA_NAME = "Helpful assistant"
DEFAULT_PROMPT = (
    "You are a helpful, honest assistant. Answer clearly and accurately, say when you are "
    "unsure, and match the length of your answer to the question."
)
NAME_MAX = 80

Visibility = Literal["shared", "private"]
VISIBILITIES: tuple[Visibility, ...] = ("shared", "private")


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
    owner_id: str | None = None  # created_by; None for the default persona
    visibility: Visibility = "private"


@dataclass(frozen=True)
class Editor:
    """Who wants to change personas: shared personas are the researcher's to change; a private
    one is its owner's alone."""

    user_id: str
    researcher: bool = False

    def may_edit(self, persona: Persona) -> bool:
        """Whether this person may change or delete ``persona``."""
        if persona.visibility == "shared":
            return self.researcher
        return persona.owner_id == self.user_id


_FIELDS = "id, name, system_prompt, model, temperature, top_p, max_tokens, thinking, is_default"
_COLUMNS = f"{_FIELDS}, created_by, visibility"


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
    if persona.visibility not in VISIBILITIES:
        raise PersonaError(f"Unknown visibility {persona.visibility!r}.")
    return replace(persona, name=name, model=persona.model or None)


def visible_personas(db: Database, user_id: str) -> list[Persona]:
    """The personas ``user_id`` may use: shared ones and their own (not deleted), the default
    first, then shared, then by name."""
    rows = db.rows(
        f"""SELECT {_COLUMNS} FROM personas
            WHERE NOT deleted AND (visibility = 'shared' OR created_by = ?)
            ORDER BY is_default DESC, visibility = 'shared' DESC, name, id""",
        [user_id],
    )
    return [Persona(*row) for row in rows]


def get_persona(db: Database, user_id: str, persona_id: str | None) -> Persona | None:
    """A persona ``user_id`` may see, by id (deleted ones too: old conversations name them)."""
    if not persona_id:
        return None
    row = db.one(
        f"SELECT {_COLUMNS} FROM personas WHERE id = ? AND (visibility = 'shared' OR "
        "created_by = ?)",
        [persona_id, user_id],
    )
    return Persona(*row) if row else None


def ensure_default_persona(db: Database) -> Persona:
    """The default persona, created on first start."""
    # Processes starting together on one store must not each make a default: the look and
    # the insert happen under one store-wide lock.
    with db.lock("persona:default"):
        row = db.one(  # the oldest, should a store hold two
            f"SELECT {_COLUMNS} FROM personas WHERE is_default AND NOT deleted"
            " ORDER BY created_at, id LIMIT 1"
        )
        if row:
            return Persona(*row)
        persona = Persona(
            new_id(), DEFAULT_PERSONA_NAME, DEFAULT_PROMPT, is_default=True, visibility="shared"
        )
        now = utcnow()
        values = {k: v for k, v in asdict(persona).items() if k != "owner_id"}
        db.execute(
            f"INSERT INTO personas ({', '.join(values)}, created_at, updated_at) "
            f"VALUES ({', '.join('?' for _ in values)}, ?, ?)",
            [*values.values(), now, now],
        )
    return persona


def _stored(writer: Writer, persona_id: str) -> Persona | None:
    writer.flush()
    row = writer.db.one(f"SELECT {_COLUMNS} FROM personas WHERE id = ?", [persona_id])
    return Persona(*row) if row else None


def save_persona(writer: Writer, persona: Persona, editor: Editor) -> Persona:
    """Create or update a persona (validated, and only by someone who may: see Editor);
    waits until it is stored. A participant's personas are private to them."""
    stored = _stored(writer, persona.id)
    if stored is not None and not editor.may_edit(stored):
        raise PersonaError("This persona is shared by the researcher: duplicate it to change it.")
    visibility: Visibility = persona.visibility if editor.researcher else "private"
    owner = stored.owner_id if stored is not None else editor.user_id
    clean = validate(replace(persona, visibility=visibility, owner_id=owner))
    now = utcnow()
    values = {k: v for k, v in asdict(clean).items() if k != "owner_id"}
    if stored is None:
        op: Insert | Execute = Insert(
            "personas",
            {**values, "created_by": editor.user_id, "created_at": now, "updated_at": now},
        )
    else:
        op = Execute(
            """UPDATE personas SET name = ?, system_prompt = ?, model = ?, temperature = ?,
               top_p = ?, max_tokens = ?, thinking = ?, visibility = ?, updated_at = ?
               WHERE id = ? AND (created_by = ? OR (visibility = 'shared' AND ?))""",
            [
                clean.name,
                clean.system_prompt,
                clean.model,
                clean.temperature,
                clean.top_p,
                clean.max_tokens,
                clean.thinking,
                clean.visibility,
                now,
                clean.id,
                editor.user_id,
                editor.researcher,
            ],
        )
    writer.submit(op)
    writer.flush()
    return clean


def duplicate_persona(writer: Writer, persona: Persona, editor: Editor) -> Persona:
    """A copy named '<name> (copy)', never the default, owned by ``editor`` (private)."""
    name = f"{persona.name} (copy)"[:NAME_MAX]
    copy = replace(persona, id=new_id(), name=name, is_default=False, visibility="private")
    return save_persona(writer, copy, editor)


def delete_persona(writer: Writer, persona: Persona, editor: Editor) -> None:
    """Delete (soft: conversations that used it keep their history). The default stays."""
    if persona.is_default:
        raise PersonaError("The default persona cannot be deleted; edit it instead.")
    stored = _stored(writer, persona.id)
    if stored is None or not editor.may_edit(stored):
        raise PersonaError(
            "Only the researcher can delete a shared persona, and only its owner a private one."
        )
    writer.submit(
        Execute(
            "UPDATE personas SET deleted = true WHERE id = ? AND (created_by = ? OR "
            "(visibility = 'shared' AND ?))",
            [persona.id, editor.user_id, editor.researcher],
        )
    )
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
