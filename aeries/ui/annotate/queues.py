"""Queues on the Annotate page (researchers): make one from a rubric version, a filter over
the exchanges, a sample and the number of raters per item; follow each queue's progress;
close and reopen.

The filter offers what the store holds (models and personas seen, studies and their
conditions); the sample is drawn by ``aeries.annotation.sampling`` with a seed kept on the
queue, so the same filters, sample and seed draw the same items in the same order.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from aeries.analytics.filters import model_options, persona_options
from aeries.annotation.sampling import (
    LABELLED_SOURCES,
    STRATIFY_BY,
    QueueFilters,
    StratifyBy,
    matching_exchanges,
    sample_items,
)
from aeries.auth import Identity
from aeries.runtime import Runtime
from aeries.store.annotation import (
    Queue,
    RubricVersion,
    create_queue,
    list_queues,
    list_rubrics,
    progress,
    rubric_version,
    set_queue_status,
)
from aeries.store.studies import get_version, list_studies
from aeries.store.users import get_account
from aeries.studies.spec import StudyFileError, parse_study
from aeries.ui.annotate.rater import QUEUE_PARAM
from aeries.ui.text import label, literal
from aeries.vocabulary import EXCHANGE_STATUSES, QUEUE_SAMPLINGS, QueueSampling

_P = "aeries.annotate.new_queue."
_SAID = "aeries.annotate.queue_said"
_PICKED = "aeries.annotate.queue_detail"
MAX_SEED = 2**31 - 1  # the queue's seed column is a 32-bit INTEGER
NO_NAME = "(no name)"
STRATA_NAMES: dict[StratifyBy, str] = {
    "model": "model",
    "persona_id": "persona",
    "study_condition": "study condition",
    "source": "source (chat or arena)",
}
SAMPLING_NAMES: dict[QueueSampling, str] = {
    "all": "all that match",
    "random": "random sample",
    "stratified": "stratified sample",
}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _conditions(rt: Runtime, study_id: str) -> list[str]:
    """The condition names of a study's current file (none if it cannot be read)."""
    record = next((s for s in list_studies(rt.db) if s.id == study_id), None)
    version = get_version(rt.db, study_id, record.current_version) if record else None
    if version is None:
        return []
    try:
        return [c.name for c in parse_study(version.config_toml).conditions]
    except StudyFileError:
        return []


def _filters(rt: Runtime) -> QueueFilters:
    """The filter widgets, read into QueueFilters."""
    left, right = st.columns(2)
    models = left.multiselect(
        "Models", model_options(rt.db), key=_P + "models", placeholder="All models"
    )
    personas = persona_options(rt.db)
    persona_ids = right.multiselect(
        "Personas",
        list(personas),
        format_func=lambda pid: label(personas[pid]),
        key=_P + "personas",
        placeholder="All personas",
    )
    studies = {s.id: s.title for s in list_studies(rt.db)}
    study_id = left.selectbox(
        "Study",
        list(studies),
        index=None,
        format_func=lambda sid: f"{label(studies[sid])} ({sid})",
        key=_P + "study",
        placeholder="Any exchange, in a study or not",
    )
    conditions = right.multiselect(
        "Study conditions",
        _conditions(rt, study_id) if study_id else [],
        key=_P + "conditions",
        disabled=study_id is None,
        placeholder="All conditions" if study_id else "Pick a study first",
    )
    sources = left.multiselect(
        "Sources",
        list(LABELLED_SOURCES),
        default=list(LABELLED_SOURCES),
        key=_P + "sources",
        help="Chat answers, and arena answers (each side of a round is an item).",
    )
    statuses = right.multiselect(
        "Statuses",
        list(EXCHANGE_STATUSES),
        default=["ok"],
        key=_P + "statuses",
        help="How an answer ended. Only answers with text are ever labelled.",
    )
    since = left.date_input("From (UTC)", value=None, key=_P + "since")
    until = right.date_input("To (UTC, inclusive)", value=None, key=_P + "until")
    synthetic = st.checkbox("Include synthetic (demo) exchanges", value=True, key=_P + "synthetic")
    return QueueFilters(
        models=tuple(models),
        persona_ids=tuple(persona_ids),
        study_id=study_id,
        conditions=tuple(conditions),
        sources=tuple(sources),
        statuses=tuple(statuses),
        since=_day_start(since) if isinstance(since, date) else None,
        until=_day_start(until) + timedelta(days=1) if isinstance(until, date) else None,
        include_synthetic=synthetic,
    )


def _create(rt: Runtime, identity: Identity, rubrics: list[RubricVersion]) -> None:
    with st.expander("New queue", expanded=not list_queues(rt.db), icon=":material/add:"):
        by_id = {r.rubric_id: r for r in rubrics}
        name = st.text_input(
            "Name",
            key=_P + "name",
            max_chars=120,
            help="Raters see this name: keep models, personas and conditions out of it.",
        )
        left, right = st.columns(2)
        rubric_id = left.selectbox(
            "Rubric",
            list(by_id),
            format_func=lambda rid: label(by_id[rid].name),
            key=_P + "rubric",
        )
        current = by_id[rubric_id]
        version = right.selectbox(
            "Rubric version",
            list(range(current.version, 0, -1)),
            format_func=lambda v: f"v{v}" + (" (current)" if v == current.version else ""),
            key=f"{_P}version.{rubric_id}",
        )
        st.markdown("**Which exchanges**")
        filters = _filters(rt)
        st.markdown("**Sample**")
        left, mid, right = st.columns(3)
        sampling: QueueSampling = (
            left.radio(
                "Draw",
                QUEUE_SAMPLINGS,
                format_func=lambda s: SAMPLING_NAMES[s],
                key=_P + "sampling",
            )
            or "all"
        )
        size = mid.number_input(
            "How many",
            min_value=1,
            value=100,
            step=10,
            key=_P + "size",
            disabled=sampling == "all",
            help="Stratified: split evenly over the strata (a small stratum is not topped up "
            "from the others, so the strata stay balanced).",
        )
        stratify: StratifyBy = (
            right.selectbox(
                "Strata",
                STRATIFY_BY,
                format_func=lambda s: STRATA_NAMES[s],
                key=_P + "stratify",
                disabled=sampling != "stratified",
            )
            or "model"
        )
        left, right = st.columns(2)
        raters = left.number_input(
            "Raters per item",
            min_value=1,
            max_value=50,
            value=2,
            key=_P + "raters",
            help="Each item is handed out until this many raters have labelled it; two or "
            "more give agreement statistics.",
        )
        if _P + "seed" not in st.session_state:
            st.session_state[_P + "seed"] = secrets.randbelow(MAX_SEED)
        seed = right.number_input(
            "Seed",
            min_value=0,
            max_value=MAX_SEED,
            key=_P + "seed",
            help="The same seed, filters and sample draw the same items in the same order.",
        )
        by = stratify if sampling == "stratified" else None
        matching = matching_exchanges(rt.db, filters, by)
        st.caption(f"{len(matching):,} exchanges match these filters.")
        if st.button("Create queue", type="primary", key=_P + "create"):
            _make(
                rt,
                identity,
                name,
                rubric_id,
                int(version),
                filters,
                matching,
                sampling,
                int(size),
                by,
                int(raters),
                int(seed),
            )


def _make(
    rt: Runtime,
    identity: Identity,
    name: str,
    rubric_id: str,
    version: int,
    filters: QueueFilters,
    matching: list[tuple[str, str | None]],
    sampling: QueueSampling,
    size: int,
    stratify: StratifyBy | None,
    raters: int,
    seed: int,
) -> None:
    if not name.strip():
        st.error("Give the queue a name (raters see it).")
        return
    if not matching:
        st.error(
            "No exchange matches these filters, so this queue would have nothing to label. "
            "Widen them: more models, personas, conditions, sources or statuses, or a longer "
            "date range."
        )
        return
    rubric = rubric_version(rt.db, rubric_id, version)
    assert rubric is not None
    items = sample_items(matching, sampling, None if sampling == "all" else size, seed)
    # Kept with the filters: how the sample was drawn from them (the row has no columns for it).
    drawn: dict[str, Any] = {
        **filters.as_json(),
        "sample_size": None if sampling == "all" else size,
        "stratify_by": stratify,
    }
    queue = create_queue(
        rt.db,
        name=name.strip(),
        rubric=rubric,
        raters_per_item=raters,
        sampling=sampling,
        filters=drawn,
        seed=seed,
        items=items,
        by=identity.user_id,
    )
    st.session_state[_SAID] = (
        f"Queue “{queue.name}” made: {len(items):,} items, {raters} "
        f"rater{'s' if raters != 1 else ''} each."
    )
    st.session_state[_PICKED] = queue.id
    st.rerun()


def queue_address(queue_id: str) -> str:
    """The address that opens a queue on the Annotate page (for a rater already signed in)."""
    base = (st.context.url or "").split("?")[0].split("#")[0].rstrip("/")
    if base.endswith("/annotate"):
        base = base[: -len("/annotate")]
    return f"{base}/annotate?{QUEUE_PARAM}={queue_id}"


def _rubric_names(rt: Runtime, queues: list[Queue]) -> dict[tuple[str, int], str]:
    names: dict[tuple[str, int], str] = {}
    for q in queues:
        found = rubric_version(rt.db, q.rubric_id, q.rubric_version)
        names[(q.rubric_id, q.rubric_version)] = found.name if found else "(missing)"
    return names


def _overview(rt: Runtime, queues: list[Queue]) -> None:
    names = _rubric_names(rt, queues)
    rows = []
    for q in queues:
        done = progress(rt.db, q)
        rows.append(
            {
                "queue": q.name,
                "status": q.status,
                "rubric": f"{names[(q.rubric_id, q.rubric_version)]} v{q.rubric_version}",
                "raters per item": q.raters_per_item,
                "sample": SAMPLING_NAMES[q.sampling],
                "items": done.items,
                "complete": done.complete,
                "labels": done.labelled,
                "skipped": done.skipped,
                "flagged": done.flagged,
                "raters": len(done.per_rater),
                "made (UTC)": q.created_at,
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "complete": st.column_config.NumberColumn(help="Items with all their raters' labels"),
            "made (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )


def rater_name(rt: Runtime, rater_id: str) -> str:
    """A rater's name as researchers see it."""
    account = get_account(rt.db, rater_id)
    return account.name if account else rater_id


def _detail(rt: Runtime, queues: list[Queue]) -> None:
    by_id = {q.id: q for q in queues}
    if st.session_state.get(_PICKED) not in by_id:
        st.session_state[_PICKED] = queues[0].id
    picked = st.selectbox(
        "Queue", list(by_id), format_func=lambda qid: label(by_id[qid].name), key=_PICKED
    )
    queue = by_id[picked]
    done = progress(rt.db, queue)
    share = done.complete / done.items if done.items else 0.0
    st.progress(share, text=f"{done.complete:,} of {done.items:,} items complete")
    if done.per_rater:
        st.dataframe(
            pd.DataFrame(
                [
                    {"rater": rater_name(rt, rid), "labelled": n, "skipped": s}
                    for rid, n, s in done.per_rater
                ]
            ),
            hide_index=True,
        )
    else:
        st.caption("Nobody has labelled this queue yet.")
    st.caption("Raters who are signed in open this queue with:")
    st.code(queue_address(queue.id), language=None, wrap_lines=True)
    if queue.status == "open":
        if st.button(
            "Close queue",
            key=f"aeries.annotate.close.{queue.id}",
            help="Hands out nothing more; the labels stay.",
        ):
            set_queue_status(rt.db, queue.id, "closed")
            st.session_state[_SAID] = f"Closed “{queue.name}”."
            st.rerun()
    elif st.button("Reopen queue", key=f"aeries.annotate.reopen.{queue.id}"):
        set_queue_status(rt.db, queue.id, "open")
        st.session_state[_SAID] = f"Reopened “{queue.name}”."
        st.rerun()
    with st.expander("How its items were drawn"):
        st.json({"sampling": queue.sampling, "seed": queue.seed, **queue.filters})


def queues_section(rt: Runtime, identity: Identity) -> None:
    """The Queues section of the Annotate page."""
    if said := st.session_state.pop(_SAID, None):
        st.success(literal(said))
    rubrics = list_rubrics(rt.db)
    if rubrics:
        _create(rt, identity, rubrics)
    else:
        st.info("A queue labels exchanges with a rubric: make a rubric first (Rubrics).")
    queues = list_queues(rt.db)
    if not queues:
        st.caption("No queue yet.")
        return
    st.subheader("Queues", anchor=False)
    _overview(rt, queues)
    _detail(rt, queues)
