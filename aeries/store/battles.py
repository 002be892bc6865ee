"""Arena rounds as rows: the battle, each side, and the vote (their preferences are built by
aeries.store.preferences.preference_row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aeries.calls import NO_STUDY, StudyRef
from aeries.vocabulary import VoteOutcome, VoteReason


def battle_row(
    *,
    battle_id: str,
    user_id: str,
    parent_battle_id: str | None,
    prompt: str,
    blind: bool,
    contestant_count: int,
    created_at: datetime,
    study: StudyRef | None = None,
) -> dict[str, Any]:
    """A ``battles`` row."""
    return {
        "id": battle_id,
        "user_id": user_id,
        "parent_battle_id": parent_battle_id,
        "prompt": prompt,
        "blind": blind,
        "contestant_count": contestant_count,
        "created_at": created_at,
        **(study.columns() if study else NO_STUDY),
    }


def battle_side_row(
    *,
    battle_id: str,
    position: int,
    contestant: str,
    model: str,
    persona_id: str | None,
    params: str,
    exchange_id: str | None,
) -> dict[str, Any]:
    """A ``battle_sides`` row (``params`` is the side's sampling as JSON)."""
    return {
        "battle_id": battle_id,
        "position": position,
        "contestant": contestant,
        "model": model,
        "persona_id": persona_id,
        "params": params,
        "exchange_id": exchange_id,
    }


def vote_row(
    *,
    vote_id: str,
    battle_id: str,
    user_id: str,
    outcome: VoteOutcome,
    best_position: int | None,
    reasons: list[VoteReason],
    comment: str | None,
    ms_to_vote: float | None,
    created_at: datetime,
    study: StudyRef | None = None,
) -> dict[str, Any]:
    """A ``votes`` row."""
    return {
        "id": vote_id,
        "battle_id": battle_id,
        "user_id": user_id,
        "outcome": outcome,
        "best_position": best_position,
        "reasons": list(reasons),
        "comment": comment,
        "ms_to_vote": ms_to_vote,
        "created_at": created_at,
        **(study.columns() if study else NO_STUDY),
    }
