"""Participants page body: personal links for named participants, who did what, roles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aeries.auth import NameRefused, check_participant_name, participant_token
from aeries.runtime import Runtime
from aeries.store.db import is_storage_error, store_errors
from aeries.store.users import (
    NameTaken,
    create_account,
    get_account,
    participant_overview,
    renew_link,
    set_role,
)
from aeries.ui.identity import personal_link
from aeries.ui.notices import notice
from aeries.ui.text import literal

_MADE = "aeries.participants.made"
MAX_AT_ONCE = 500


def _make_links(rt: Runtime) -> None:
    lines = [ln for ln in str(st.session_state.get("aeries.participants.names", "")).splitlines()]
    made: list[dict[str, str]] = []
    problems: list[str] = []
    for raw in lines[:MAX_AT_ONCE]:
        if not raw.strip():
            continue
        try:
            name, key = check_participant_name(raw)
            account = create_account(rt.db, name, key, "invite")
        except NameRefused as exc:
            problems.append(f"{raw.strip()[:80]}: {exc}")
            continue
        except NameTaken:
            problems.append(f"{raw.strip()[:80]}: already taken (its link is in the list below)")
            continue
        except store_errors() as exc:
            if not is_storage_error(exc):
                raise
            problems.append("The database cannot be written right now; nothing more was made.")
            break
        token = participant_token(rt.key, account.id, account.link_epoch)
        made.append({"participant": account.name, "link": personal_link(token)})
    if len(lines) > MAX_AT_ONCE:
        problems.append(f"Only the first {MAX_AT_ONCE} lines were read; add the rest next.")
    st.session_state[_MADE] = (made, problems)
    st.session_state["aeries.participants.names"] = ""


def _add_section(rt: Runtime) -> None:
    st.subheader("Add participants", anchor=False)
    st.caption(
        "One name or participant ID per line. Each gets a personal link that signs them in: "
        "send each person their own link (anyone holding a link can read that participant's "
        "conversations). Names are unique; letter case and invisible characters do not count."
    )
    st.text_area("Names or IDs", key="aeries.participants.names", height=120)
    st.button("Make links", type="primary", on_click=_make_links, args=(rt,))
    made, problems = st.session_state.get(_MADE, ([], []))
    for problem in problems:
        st.warning(literal(problem))
    if made:
        table = pd.DataFrame(made)
        st.success(f"{len(made)} personal links made.")
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button(
            "Download links (CSV)",
            table.to_csv(index=False),
            file_name="aeries-participant-links.csv",
            mime="text/csv",
            on_click="ignore",
        )


def _account_actions(rt: Runtime, rows: list[dict[str, object]]) -> None:
    names = {str(r["id"]): str(r["name"]) for r in rows}
    picked = st.selectbox(
        "Participant",
        list(names),
        index=None,
        format_func=lambda uid: names[uid],
        placeholder="Choose a participant",
        key="aeries.participants.pick",
    )
    if picked is None:
        return
    account = get_account(rt.db, picked)
    if account is None:
        return
    link = personal_link(participant_token(rt.key, account.id, account.link_epoch))
    st.code(link, language=None, wrap_lines=True)
    left, right = st.columns(2)
    if left.button(
        "Make a new link",
        help="The old link stops working (sessions already open keep going until reloaded).",
        key=f"aeries.participants.renew.{account.id}",
    ):
        renew_link(rt.db, account.id)
        notice("New link made; the old one no longer signs in.")
        st.rerun()
    annotator = right.toggle(
        "Annotator",
        value=account.role == "annotator",
        help="Annotators rate other participants' answers (without seeing who wrote them).",
        key=f"aeries.participants.role.{account.id}",
    )
    if annotator != (account.role == "annotator"):
        set_role(rt.db, account.id, "annotator" if annotator else "participant")
        st.rerun()


def participants_body(rt: Runtime) -> None:
    """The whole Participants page (researchers only; the page checks)."""
    _add_section(rt)
    st.subheader("Everyone", anchor=False)
    rows = participant_overview(rt.db)
    if not rows:
        st.caption("No participants yet.")
        return
    st.dataframe(
        pd.DataFrame(rows).drop(columns=["id", "link_epoch"]),
        hide_index=True,
        width="stretch",
        column_config={
            "created_at": st.column_config.DatetimeColumn("joined (UTC)"),
            "last_seen": st.column_config.DatetimeColumn("last answer (UTC)"),
        },
    )
    _account_actions(rt, rows)
