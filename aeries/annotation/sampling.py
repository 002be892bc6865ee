"""Which exchanges a queue labels: the answers its filters match, all of them, a seeded random
sample, or a seeded sample stratified by model, persona, study condition or source (equal
numbers per stratum, as far as each has them).

Only answers people saw are candidates (chat and arena exchanges with text); the observer's
own calls are never labelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from aeries.store.db import Database
from aeries.vocabulary import ExchangeStatus, QueueSampling, Source

StratifyBy = Literal["model", "persona_id", "study_condition", "source"]
STRATIFY_BY: tuple[StratifyBy, ...] = ("model", "persona_id", "study_condition", "source")
LABELLED_SOURCES: tuple[Source, ...] = ("chat", "arena")


@dataclass(frozen=True)
class QueueFilters:
    """What a queue's exchanges are drawn from (every empty field: no restriction)."""

    models: tuple[str, ...] = ()
    persona_ids: tuple[str, ...] = ()
    study_id: str | None = None
    conditions: tuple[str, ...] = ()
    sources: tuple[Source, ...] = LABELLED_SOURCES
    statuses: tuple[ExchangeStatus, ...] = ("ok",)
    since: datetime | None = None
    until: datetime | None = None
    include_synthetic: bool = True

    def as_json(self) -> dict[str, Any]:
        """The filters as the queue row keeps them."""
        data = asdict(self)
        for key in ("since", "until"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def matching_exchanges(
    db: Database, filters: QueueFilters, stratify_by: StratifyBy | None = None
) -> list[tuple[str, str | None]]:
    """(exchange id, stratum) of every answer the filters match, oldest first."""
    sources = [s for s in filters.sources if s in LABELLED_SOURCES] or list(LABELLED_SOURCES)
    where = ["e.source = ANY(?::VARCHAR[])", "e.response_text IS NOT NULL", "e.response_text <> ''"]
    params: list[Any] = [sources]
    if filters.statuses:
        where.append("e.status = ANY(?::VARCHAR[])")
        params.append(list(filters.statuses))
    for column, values in (("model", filters.models), ("persona_id", filters.persona_ids)):
        if values:
            where.append(f"e.{column} = ANY(?::VARCHAR[])")
            params.append(list(values))
    if filters.study_id is not None:
        where.append("e.study_id = ?")
        params.append(filters.study_id)
    if filters.conditions:
        where.append("e.study_condition = ANY(?::VARCHAR[])")
        params.append(list(filters.conditions))
    if filters.since is not None:
        where.append("e.started_at >= ?")
        params.append(filters.since)
    if filters.until is not None:
        where.append("e.started_at < ?")
        params.append(filters.until)
    if not filters.include_synthetic:
        where.append("NOT e.synthetic")
    stratum = f"CAST(e.{stratify_by} AS VARCHAR)" if stratify_by else "CAST(NULL AS VARCHAR)"
    rows = db.rows(
        f"SELECT e.id, {stratum} FROM exchanges e WHERE {' AND '.join(where)} "
        "ORDER BY e.started_at, e.id",
        params,
    )
    return [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows]


def sample_items(
    candidates: list[tuple[str, str | None]],
    sampling: QueueSampling,
    size: int | None,
    seed: int,
) -> list[tuple[str, str | None]]:
    """The queue's items from the candidates, in a seeded order raters get them: all (shuffled),
    ``size`` at random, or up to ``size`` split evenly over the strata (what a stratum lacks
    is not made up from the others, so the strata stay balanced)."""
    rng = np.random.default_rng(seed)
    if sampling == "all" or size is None or (size >= len(candidates) and sampling == "random"):
        order = rng.permutation(len(candidates))
        return [candidates[i] for i in order]
    if size < 1:
        raise ValueError("A sample needs at least one exchange.")
    if sampling == "random":
        picked = rng.choice(len(candidates), size=size, replace=False)
        return [candidates[i] for i in picked]
    strata: dict[str | None, list[int]] = {}
    for i, (_, stratum) in enumerate(candidates):
        strata.setdefault(stratum, []).append(i)
    per = max(1, size // max(1, len(strata)))
    chosen: list[int] = []
    for key in sorted(strata, key=lambda k: (k is None, k or "")):
        members = strata[key]
        take = min(per, len(members))
        chosen.extend(int(i) for i in rng.choice(members, size=take, replace=False))
    order = rng.permutation(len(chosen))
    return [candidates[chosen[i]] for i in order]
