"""Aeries: entry point. Who is here, which pages they may open, notices shown on every page."""

from __future__ import annotations

import streamlit as st

from aeries.ui.identity import auth_mode, resolve_identity
from aeries.ui.resources import get_runtime
from aeries.ui.store_health import store_banner, store_guard
from aeries.ui.studies.participant import study_requested

st.set_page_config(page_title="Aeries", page_icon=":material/forum:", layout="wide")

rt = get_runtime()
if study_requested():
    # A study link opens the study alone: no navigation, no other page, no identity beyond
    # the participant's enrolment (a crafted URL to another page lands back here).
    study = st.Page("views/study.py", title="Study", icon=":material/science:", default=True)
    page = st.navigation([study], position="hidden")
    store_banner(rt)
    with store_guard(rt):
        page.run()
    st.stop()
with store_guard(rt):
    identity = resolve_identity(rt)
# The chat page is also the start page: without an identity it shows the sign-in, so signing in
# changes what that page shows, not which page is open.
chat = st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True, url_path="chat")
if identity is None:
    pages = [chat]
else:
    pages = [
        chat,
        st.Page("views/arena.py", title="Arena", icon=":material/swords:", url_path="arena"),
        st.Page(
            "views/personas.py",
            title="Personas",
            icon=":material/theater_comedy:",
            url_path="personas",
        ),
    ]
    # Research pages: for researchers; when nobody can be one, they say how to set one up.
    if identity.is_researcher or auth_mode(rt) == "none":
        pages += [
            st.Page(
                "views/analytics.py",
                title="Analytics",
                icon=":material/monitoring:",
                url_path="analytics",
            ),
            st.Page(
                "views/participants.py",
                title="Participants",
                icon=":material/group:",
                url_path="participants",
            ),
            st.Page(
                "views/studies.py",
                title="Studies",
                icon=":material/experiment:",
                url_path="studies",
            ),
        ]
    # Annotate: for those who rate (researchers, and the annotators a researcher names); a
    # participant's navigation never holds it, so ?queue= in their URL opens nothing.
    if identity.role in ("researcher", "annotator"):
        pages.append(
            st.Page(
                "views/annotate.py",
                title="Annotate",
                icon=":material/rate_review:",
                url_path="annotate",
            )
        )
page = st.navigation(pages)

if rt.simulated:
    st.info(
        "**Answers are simulated.** No vLLM server was configured or found on localhost:8000, "
        "so Aeries started its built-in simulator. Set `AERIES_BASE_URL` to use a real model.",
        icon=":material/science:",
    )
store_banner(rt)
with store_guard(rt):
    page.run()
