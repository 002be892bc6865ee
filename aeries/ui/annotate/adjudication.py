"""Agreement and adjudication on the Annotate page (researchers).

Per question of a queue's rubric: Krippendorff's α at the question's level, Cohen's κ
(weighted for Likert items) and percent agreement, each with its bootstrap 95% interval, from
``aeries.annotation.question_agreement``; then the items whose own agreement is below a
threshold, where the researcher reads the raters' labels and records the label they settle
on. An adjudicated label is stored beside the raters' labels, which stay as they were.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import streamlit as st

from aeries.annotation import DEFAULT_THRESHOLD, Estimate, question_agreement
from aeries.annotation.item_view import item_view
from aeries.annotation.rubric import Rubric, RubricItem, from_spec
from aeries.auth import Identity
from aeries.runtime import Runtime
from aeries.store.annotation import (
    Queue,
    adjudicate,
    adjudications,
    list_queues,
    queue_labels,
    rubric_version,
)
from aeries.ui.annotate.queues import rater_name
from aeries.ui.text import answer_markdown, label, literal

_QUEUE = "aeries.annotate.agreement_queue"
_THRESHOLD = "aeries.annotate.threshold"
_PICK = "aeries.annotate.adjudicate_pick"
_SAID = "aeries.annotate.adjudicate_said"
MAX_LISTED = 500  # items below the threshold listed at once (the lowest first)
BOOLEAN_NAMES = {"true": "Yes", "false": "No"}


def _interval(e: Estimate | None, *, percent: bool = False) -> str:
    """``0.72 (0.60–0.83)``; ``–`` where the statistic is undefined."""
    if e is None or math.isnan(e.value):
        return "–"

    def f(x: float) -> str:
        return f"{x:.0%}" if percent else f"{x:.2f}"

    if math.isnan(e.lower) or math.isnan(e.upper):
        return f(e.value)
    return f"{f(e.value)} ({f(e.lower)}–{f(e.upper)})"


@st.cache_data(max_entries=16, show_spinner="Computing agreement…")
def _compute(labels: pd.DataFrame, spec: str, threshold: float) -> dict[str, Any]:
    """The agreement table's rows and the items below ``threshold``, per question. Cached on
    the labels themselves: a new label, or one taken back, computes it again."""
    rubric = from_spec(json.loads(spec))
    rows: list[dict[str, Any]] = []
    below: list[dict[str, Any]] = []
    for item in rubric.items:
        row: dict[str, Any] = {"question": item.prompt, "level": item.level or "free text"}
        if item.level is None:
            row["note"] = "Free text: no agreement statistic."
            rows.append(row)
            continue
        frame = labels.loc[labels["item_key"] == item.key, ["exchange_id", "rater_id", "value"]]
        frame = frame.rename(columns={"exchange_id": "item_id"})
        try:
            found = question_agreement(frame, item.level, item.values, threshold=threshold)
        except ValueError as exc:  # too few items rated twice, a single rater: said plainly
            row["note"] = str(exc)
            rows.append(row)
            continue
        weights = f" ({found.kappa_weights})" if found.kappa_weights else ""
        row.update(
            {
                "n": found.n_items,
                "raters": found.n_raters,
                "labels": found.n_labels,
                "α (95% CI)": _interval(found.alpha),
                "κ (95% CI)": _interval(found.kappa) + (weights if found.kappa else ""),
                "agreement (95% CI)": _interval(found.percent, percent=True),
                "below threshold": len(found.adjudicate),
                "note": "",
            }
        )
        rows.append(row)
        flagged = found.items[found.items["adjudicate"]].sort_values("item_alpha", kind="stable")
        for record in flagged.to_dict("records"):
            below.append(
                {
                    "exchange_id": str(record["item_id"]),
                    "item_key": item.key,
                    "item_alpha": float(record["item_alpha"]),
                    "n_labels": int(record["n_labels"]),
                }
            )
    below.sort(key=lambda b: b["item_alpha"])
    return {"rows": rows, "below": below}


def _choose_queue(queues: list[Queue]) -> Queue:
    by_id = {q.id: q for q in queues}
    if st.session_state.get(_QUEUE) not in by_id:
        st.session_state[_QUEUE] = queues[0].id
    picked = st.selectbox(
        "Queue", list(by_id), format_func=lambda qid: label(by_id[qid].name), key=_QUEUE
    )
    return by_id[picked]


def _value_name(item: RubricItem, value: str | None) -> str:
    if value is None:
        return "–"
    if item.kind == "likert" and value in item.values:
        return f"{value} · {item.labels[item.values.index(value)]}"
    if item.kind == "boolean":
        return BOOLEAN_NAMES.get(value, value)
    return value


def _raters_labels(rt: Runtime, rubric: Rubric, labels: pd.DataFrame, exchange_id: str) -> None:
    """Every rater's labels of one item, one row per rater (the researcher's view)."""
    mine = labels[labels["exchange_id"] == exchange_id]
    rows: dict[str, dict[str, Any]] = {}
    for record in mine.to_dict("records"):
        rater = str(record["rater_id"])
        row = rows.setdefault(
            rater, {"rater": rater_name(rt, rater), "flagged": bool(record["flagged"])}
        )
        try:
            item = rubric.item(str(record["item_key"]))
        except KeyError:
            continue
        row[item.prompt] = _value_name(item, record["value"])
    st.dataframe(pd.DataFrame(list(rows.values())), hide_index=True, width="stretch")


def _record(
    rt: Runtime, identity: Identity, queue: Queue, item: RubricItem, exchange_id: str
) -> None:
    key = f"aeries.annotate.adjudicated.{exchange_id}.{item.key}"
    value = st.session_state.get(key)
    note = str(st.session_state.get(key + ".note") or "").strip() or None
    if value is None:
        st.session_state[_SAID] = ("error", "Choose the label to record first.")
        return
    adjudicate(rt.db, queue.id, exchange_id, item.key, value, by=identity.user_id, note=note)
    st.session_state[_SAID] = (
        "success",
        f"Recorded “{_value_name(item, value)}” for “{item.prompt}”; the raters' labels stay.",
    )


def _adjudicate_one(
    rt: Runtime,
    identity: Identity,
    queue: Queue,
    rubric: Rubric,
    labels: pd.DataFrame,
    entry: dict[str, Any],
    settled: dict[tuple[str, str], str | None],
) -> None:
    exchange_id, item = entry["exchange_id"], rubric.item(entry["item_key"])
    view = item_view(rt.db, exchange_id)
    with st.container(border=True):
        if view is None:
            st.caption("This item's answer is no longer in the store.")
        else:
            for turn in view.turns:
                with st.chat_message(turn.role):
                    if turn.role == "user":
                        st.markdown(literal(turn.text))
                    else:
                        answer_markdown(turn.text)
    st.markdown("**The raters' labels**")
    _raters_labels(rt, rubric, labels, exchange_id)
    current = settled.get((exchange_id, item.key))
    if (exchange_id, item.key) in settled:
        st.info(f"Adjudicated so far: **{literal(_value_name(item, current))}**")
    key = f"aeries.annotate.adjudicated.{exchange_id}.{item.key}"
    st.radio(
        f"Adjudicated label: {label(item.prompt)}",
        item.values,
        index=item.values.index(current) if current in item.values else None,
        horizontal=len(item.values) <= 7,
        format_func=lambda v: label(_value_name(item, v)),
        key=key,
    )
    st.text_input("Why (optional)", key=key + ".note", max_chars=2000)
    st.button(
        "Record adjudicated label",
        type="primary",
        key=f"aeries.annotate.adjudicate.{exchange_id}.{item.key}",
        on_click=_record,
        args=(rt, identity, queue, item, exchange_id),
    )


def agreement_section(rt: Runtime, identity: Identity) -> None:
    """The Agreement section of the Annotate page."""
    queues = list_queues(rt.db)
    if not queues:
        st.info("No queue yet: agreement is computed per queue, once raters have labelled it.")
        return
    queue = _choose_queue(queues)
    version = rubric_version(rt.db, queue.rubric_id, queue.rubric_version)
    assert version is not None
    rubric = from_spec(version.spec)
    labels = pd.DataFrame(
        queue_labels(rt.db, queue.id),
        columns=[
            "queue_id",
            "exchange_id",
            "rater_id",
            "item_key",
            "value",
            "created_at",
            "rubric_id",
            "rubric_version",
            "flagged",
        ],
    )
    if labels.empty:
        st.caption("Nobody has labelled this queue yet.")
        return
    threshold = st.slider(
        "Adjudication threshold (item α)",
        min_value=0.0,
        max_value=1.0,
        value=DEFAULT_THRESHOLD,
        step=0.01,
        key=_THRESHOLD,
        help="An item whose raters agree less than this (its own α: 1 when they agree, 0 "
        "when they agree as much as chance) is listed for adjudication. 0.667 is "
        "Krippendorff's lowest α for tentative conclusions.",
    )
    found = _compute(
        labels[["exchange_id", "rater_id", "item_key", "value"]],
        json.dumps(version.spec, sort_keys=True),
        float(threshold),
    )
    st.dataframe(pd.DataFrame(found["rows"]), hide_index=True, width="stretch")
    st.caption(
        "n: items labelled by two or more raters. Intervals: percentile bootstrap over items "
        "(1,000 resamples). κ is the mean of Cohen's κ over rater pairs with enough items in "
        "common; linear-weighted for Likert questions."
    )
    st.subheader("For adjudication", anchor=False)
    if said := st.session_state.pop(_SAID, None):
        kind, text = said
        (st.error if kind == "error" else st.success)(literal(text))
    below: list[dict[str, Any]] = found["below"]
    if not below:
        st.caption("No item is below the threshold.")
        return
    settled = adjudications(rt.db, queue.id)
    listed = below[:MAX_LISTED]
    entries = {f"{b['exchange_id']}|{b['item_key']}": b for b in listed}
    table = [
        {
            "item": f"…{b['exchange_id'][-8:]}",
            "question": rubric.item(b["item_key"]).prompt,
            "item α": round(b["item_alpha"], 3),
            "labels": b["n_labels"],
            "adjudicated": _value_name(
                rubric.item(b["item_key"]), settled.get((b["exchange_id"], b["item_key"]))
            )
            if (b["exchange_id"], b["item_key"]) in settled
            else "",
        }
        for b in listed
    ]
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    if len(below) > MAX_LISTED:
        st.caption(f"The {MAX_LISTED} lowest of {len(below):,} are listed.")
    if st.session_state.get(_PICK) not in entries:
        st.session_state[_PICK] = next(iter(entries))
    pick = st.selectbox(
        "Item to adjudicate",
        list(entries),
        format_func=lambda k: (
            f"…{entries[k]['exchange_id'][-8:]} · "
            f"{label(rubric.item(entries[k]['item_key']).prompt)} · "
            f"item α {entries[k]['item_alpha']:.2f}"
        ),
        key=_PICK,
    )
    _adjudicate_one(rt, identity, queue, rubric, labels, entries[pick], settled)
