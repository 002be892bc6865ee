"""Rubrics on the Annotate page (researchers): the list, a TOML editor (pasted or uploaded),
and every version a rubric had.

A rubric is stored as its spec (JSON) and versioned by the spec's hash, so the editor shows a
stored rubric written back as TOML (``toml_text.rubric_toml``); saving an unchanged rubric
keeps its version. A file that cannot be used is refused with the message and the line the
parser names, never a traceback.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aeries.annotation.rubric import RubricError, from_spec, parse_rubric_toml
from aeries.auth import Identity
from aeries.runtime import Runtime
from aeries.store.annotation import (
    RubricVersion,
    delete_rubric,
    list_rubrics,
    rubric_version,
    save_rubric,
)
from aeries.ui.annotate.toml_text import rubric_toml
from aeries.ui.text import label, literal

_CHOICE = "aeries.annotate.rubric"
_CHOOSE_NEXT = "aeries.annotate.rubric_next"  # set on the box before it is drawn
_SAID = "aeries.annotate.rubric_said"
NEW = ""  # the selector's entry for a new rubric
STARTER = """name = "Answer quality"
instructions = "Read the conversation, then rate the last answer only."

[[items]]
key = "helpful"
prompt = "How helpful is the answer?"
kind = "likert"
labels = ["Not at all", "A little", "Somewhat", "Very", "Extremely"]
"""


def refusal(exc: RubricError) -> str:
    """What the editor says about a rubric it cannot use (the line first, when known)."""
    return f"Line {exc.line}: {exc.message}" if exc.line else exc.message


def _overview(rubrics: list[RubricVersion]) -> None:
    rows = []
    for r in rubrics:
        rubric = from_spec(r.spec)
        rows.append(
            {
                "rubric": r.name,
                "version": r.version,
                "questions": len(rubric.items),
                "kinds": ", ".join(dict.fromkeys(i.kind for i in rubric.items)),
                "saved (UTC)": r.created_at,
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _save(rt: Runtime, identity: Identity, rubric_id: str | None, text: str) -> None:
    try:
        rubric = parse_rubric_toml(text)
    except RubricError as exc:
        st.error(literal(refusal(exc)))
        return
    before = rubric_version(rt.db, rubric_id) if rubric_id else None
    saved = save_rubric(rt.db, rubric.name, rubric.spec(), by=identity.user_id, rubric_id=rubric_id)
    if before is not None and before.version == saved.version:
        said = f"“{saved.name}” is unchanged: still version {saved.version}."
    else:
        said = f"Saved “{saved.name}” as version {saved.version}."
    st.session_state[_SAID] = said
    st.session_state[_CHOOSE_NEXT] = saved.rubric_id
    st.rerun()


def _editor(rt: Runtime, identity: Identity, current: RubricVersion | None) -> None:
    text = rubric_toml(from_spec(current.spec)) if current else ""
    uploaded = st.file_uploader(
        "Upload a rubric file (.toml)", type=["toml"], key="aeries.annotate.rubric_upload"
    )
    if uploaded is not None:
        text = uploaded.getvalue().decode("utf-8", errors="replace")
    # One editor per rubric version (and per upload): a saved version or a new file shows
    # its own text, not what was typed over the last one.
    upload_id = getattr(uploaded, "file_id", "") if uploaded is not None else ""
    key = f"aeries.annotate.rubric_text.{current.rubric_id if current else 'new'}"
    key += f".{current.version if current else 0}.{upload_id}"
    edited = st.text_area(
        "Rubric (TOML)",
        value=text,
        height=380,
        key=key,
        placeholder=STARTER,
        help="The format, with a full example, is in docs/annotation.md (rubrics/example.toml).",
    )
    if current is not None:
        st.caption(
            "Saving a changed rubric makes its next version; queues made from an earlier "
            "version keep it, and their labels say which version they answer."
        )
    if st.button("Save rubric", type="primary", key="aeries.annotate.rubric_save"):
        if not edited.strip():
            st.error("The rubric is empty: paste or upload a rubric file first.")
        else:
            _save(rt, identity, current.rubric_id if current else None, edited)


def _versions(rt: Runtime, current: RubricVersion) -> None:
    with st.expander(f"Versions ({current.version})"):
        for number in range(current.version, 0, -1):
            version = rubric_version(rt.db, current.rubric_id, number)
            if version is None:
                continue
            st.markdown(
                f"**Version {number}** · saved {version.created_at:%Y-%m-%d %H:%M} UTC · "
                f"`{version.spec_hash[:12]}`"
            )
            st.code(rubric_toml(from_spec(version.spec)), language="toml")


def _delete(rt: Runtime, current: RubricVersion) -> None:
    with st.popover("Delete rubric…", icon=":material/delete:"):
        st.caption(
            "It leaves the list; its versions stay, so queues made from it and their labels "
            "keep their meaning."
        )
        if st.button("Delete", type="primary", key="aeries.annotate.rubric_delete"):
            delete_rubric(rt.db, current.rubric_id)
            st.session_state[_SAID] = f"Deleted “{current.name}”."
            st.session_state[_CHOOSE_NEXT] = NEW
            st.rerun()


def rubrics_section(rt: Runtime, identity: Identity) -> None:
    """The Rubrics section of the Annotate page."""
    if said := st.session_state.pop(_SAID, None):
        st.success(literal(said))
    rubrics = list_rubrics(rt.db)
    by_id = {r.rubric_id: r for r in rubrics}
    if rubrics:
        _overview(rubrics)
    else:
        st.caption("No rubric yet: write one below, or upload a file.")
    choices = [NEW, *by_id]
    chosen_next = st.session_state.pop(_CHOOSE_NEXT, None)
    if chosen_next in choices:
        st.session_state[_CHOICE] = chosen_next
    elif st.session_state.get(_CHOICE) not in choices:
        st.session_state[_CHOICE] = NEW
    chosen = st.selectbox(
        "Rubric",
        choices,
        format_func=lambda rid: (
            "New rubric…" if rid == NEW else f"{label(by_id[rid].name)} (v{by_id[rid].version})"
        ),
        key=_CHOICE,
    )
    current = by_id.get(chosen)
    _editor(rt, identity, current)
    if current is not None:
        left, right = st.columns([4, 1])
        with left:
            _versions(rt, current)
        with right:
            _delete(rt, current)
