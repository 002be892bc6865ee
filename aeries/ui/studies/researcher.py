"""The researcher's Studies page: the study file (edited here or uploaded), its status, the
participant link, the funnel and the outcome table."""

from __future__ import annotations

import streamlit as st

from aeries.runtime import Runtime
from aeries.store.studies import (
    StudyRecord,
    get_version,
    list_studies,
    list_versions,
    save_study_version,
    set_study_status,
)
from aeries.studies import report
from aeries.studies.bundle import study_bundle
from aeries.studies.outcomes import outcome_frame
from aeries.studies.spec import StudyFileError, parse_study
from aeries.vocabulary import StudyStatus

_SELECTED = "aeries.studies.selected"
_NEW = "New study…"
_CHOICE = "studies.choice"
_SELECT_NEXT = "aeries.studies.select_next"
# (label, status it moves to) offered from each status.
ACTIONS: dict[StudyStatus, list[tuple[str, StudyStatus]]] = {
    "draft": [("Go live", "live")],
    "live": [("Pause", "paused"), ("Close", "closed")],
    "paused": [("Resume", "live"), ("Close", "closed")],
    "closed": [],
}


def _save(rt: Runtime, text: str) -> str | None:
    """Store a study file; the study's id, or None after saying what is wrong."""
    try:
        study = parse_study(text)
    except StudyFileError as exc:
        st.error(exc.message if exc.line is None else f"Line {exc.line}: {exc.message}")
        return None
    saved = save_study_version(rt.db, study.id, study.title, study.config_hash, text)
    st.session_state["aeries.studies.notice"] = (
        f"Saved {study.id} as version {saved.version} ({saved.config_hash[:12]})."
    )
    return study.id


def _editor(rt: Runtime, record: StudyRecord | None) -> None:
    current = get_version(rt.db, record.id, record.current_version) if record else None
    text = current.config_toml if current else ""
    frozen = current is not None and current.frozen_at is not None
    if frozen:
        st.caption(
            "This version is frozen (the study has been live). Saving a change makes the next "
            "version; participants already enrolled keep theirs."
        )
    uploaded = st.file_uploader("Upload a study file (.toml)", type=["toml"], key="studies.upload")
    if uploaded is not None:
        text = uploaded.getvalue().decode("utf-8", errors="replace")
    key = f"studies.text.{record.id if record else 'new'}.{record.current_version if record else 0}"
    edited = st.text_area("Study file (TOML)", value=text, height=420, key=key)
    if st.button("Save study file", type="primary", key="studies.save"):
        study_id = _save(rt, edited)
        if study_id:
            st.session_state[_SELECTED] = study_id
            st.session_state[_SELECT_NEXT] = study_id  # set on the box before it is drawn
            st.rerun()


def _status(rt: Runtime, record: StudyRecord) -> None:
    st.markdown(f"**Status:** {record.status} · version {record.current_version}")
    columns = st.columns(max(1, len(ACTIONS[record.status])))
    for column, (label, status) in zip(columns, ACTIONS[record.status], strict=False):
        if column.button(label, key=f"studies.status.{status}"):
            set_study_status(rt.db, record.id, status)
            st.rerun()
    st.markdown("Participant link (the platform fills in its parameters):")
    st.code(
        f"/?study={record.id}&PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}",
        language=None,
    )


def _results(rt: Runtime, record: StudyRecord) -> None:
    version = get_version(rt.db, record.id, record.current_version)
    assert version is not None
    study = parse_study(version.config_toml)
    st.subheader("Enrolment", anchor=False)
    funnel = report.funnel(rt.db, study)
    if funnel.empty:
        st.caption("Nobody has enrolled yet.")
        return
    st.dataframe(funnel, hide_index=True)
    st.caption("By condition and step: how many reached each step, and how many are there now.")
    st.dataframe(report.step_funnel(rt.db, record.id), hide_index=True)
    st.caption("Per step: entries, and the median minutes spent there.")
    st.dataframe(report.step_times(rt.db, record.id), hide_index=True)
    st.subheader("Outcomes", anchor=False)
    st.caption(
        f"Against the reference condition “{study.reference}”: difference with its 95% interval "
        "(Welch), Cohen's d for numeric measures, rank-biserial r for Likert items; completed "
        "participants only."
    )
    outcomes = report.outcomes(rt.db, study)
    if outcomes:
        st.dataframe(outcome_frame(outcomes), hide_index=True)
    else:
        st.caption("No completed participant in the reference condition yet.")
    if "arena" in study.tasks:
        st.caption("Arena ratings per condition (Bradley–Terry, bootstrap 95% intervals):")
        board = report.arena_ratings(rt.db, record.id)
        if board.empty:
            st.caption("No arena votes yet.")
        else:
            st.dataframe(board, hide_index=True)
    st.download_button(
        "Download the study bundle (.zip)",
        data=lambda: study_bundle(rt.db, record.id),  # built when clicked, not on every run
        file_name=f"{record.id}-bundle.zip",
        mime="application/zip",
        key="studies.bundle",
        help="Every row made in the study as Parquet, each version's file, a codebook and a "
        "notebook that recomputes the outcome table without Aeries.",
    )
    versions = list_versions(rt.db, record.id)
    st.caption("Versions: " + ", ".join(f"{v.version} ({v.config_hash[:12]})" for v in versions))


def studies_body(rt: Runtime) -> None:
    notice = st.session_state.pop("aeries.studies.notice", None)
    if notice:
        st.success(notice)
    records = {r.id: r for r in list_studies(rt.db)}
    names = [_NEW, *records]
    selected = st.session_state.get(_SELECTED)
    index = names.index(selected) if selected in names else (1 if records else 0)
    selected_next = st.session_state.pop(_SELECT_NEXT, None)
    if selected_next in names:
        # A widget's own state is what the browser shows too; removing it would leave the
        # browser on the old choice, which it sends back with the next click.
        st.session_state[_CHOICE] = selected_next
    elif st.session_state.get(_CHOICE) not in names:
        st.session_state[_CHOICE] = names[index]
    choice = st.selectbox("Study", names, key=_CHOICE)
    record = records.get(choice)
    if record is not None:
        _status(rt, record)
    with st.expander("Study file", expanded=record is None):
        _editor(rt, record)
    if record is not None:
        _results(rt, record)
