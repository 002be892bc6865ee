"""Putting participants in conditions: balanced blocks in an order fixed by the study's seed.

Slot ``n`` of a stratum (the n-th participant assigned in it) takes the condition at position
``n`` of an endless sequence of blocks; each block holds every condition ``blocks_of`` times in
an order drawn from ``(seed, stratum, block)``. So after every full block the conditions are
exactly balanced, anyone can recompute the sequence from the seed, and a participant's
condition never changes (it is stored with their slot). A condition that reached its cap is
skipped: the next slot whose condition still has room is taken.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aeries.studies.spec import Study

NO_STRATUM = ""


@dataclass(frozen=True)
class Assigned:
    condition: str
    slot: int  # position in the stratum's sequence
    block: int


def block_order(
    conditions: Sequence[str], seed: int, stratum: str, block: int, size: int
) -> list[str]:
    """The conditions of one block, in their drawn order."""
    order = [name for name in conditions for _ in range(size)]
    # A string seed: random.Random hashes it with SHA-512, the same on every machine and run.
    random.Random(f"{seed}:{stratum}:{block}").shuffle(order)
    return order


def condition_at(study: Study, stratum: str, slot: int) -> str:
    """The condition of slot ``slot`` of ``stratum`` (before any cap)."""
    names = [c.name for c in study.conditions]
    size = len(names) * study.assignment.blocks_of
    block, offset = divmod(slot, size)
    return block_order(names, study.assignment.seed, stratum, block, study.assignment.blocks_of)[
        offset
    ]


def all_full(study: Study, counts: Mapping[str, int]) -> bool:
    """Whether every condition reached the study's cap (never, without a cap)."""
    cap = study.assignment.cap
    return cap is not None and all(counts.get(c.name, 0) >= cap for c in study.conditions)


def assign(
    study: Study, stratum: str, next_slot: int, counts: Mapping[str, int]
) -> Assigned | None:
    """The condition for the next participant of ``stratum``; None when every condition is full.

    ``next_slot`` is one past the highest slot taken in the stratum; ``counts`` is how many
    participants each condition already has (over all strata: the cap is per condition).
    """
    if all_full(study, counts):
        return None
    cap = study.assignment.cap
    size = len(study.conditions) * study.assignment.blocks_of
    slot = next_slot
    while True:
        name = condition_at(study, stratum, slot)
        if cap is None or counts.get(name, 0) < cap:
            return Assigned(condition=name, slot=slot, block=slot // size)
        slot += 1
