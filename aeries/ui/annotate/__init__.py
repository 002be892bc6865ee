"""The Annotate page: rubrics, queues, agreement and adjudication for researchers; labelling
for every rater (researchers, and the annotators a researcher names). Participants never
reach it: app.py does not register it for them, and the page itself refuses them.

``rater``: the rater's view · ``rubrics`` · ``queues`` · ``adjudication`` (agreement and
adjudication) · ``keys`` (the keyboard script) · ``toml_text`` (a stored rubric as TOML).
"""

from __future__ import annotations

import streamlit as st

from aeries.auth import Identity
from aeries.runtime import Runtime
from aeries.store.annotation import list_queues, list_rubrics
from aeries.ui.annotate.adjudication import agreement_section
from aeries.ui.annotate.queues import queues_section
from aeries.ui.annotate.rater import rater_view
from aeries.ui.annotate.rubrics import rubrics_section
from aeries.ui.identity import resolve_identity

RATER_ROLES = frozenset({"researcher", "annotator"})
SECTIONS = ("Label", "Queues", "Rubrics", "Agreement")
_SECTION = "aeries.annotate.section"
REFUSED = "This page is for raters: researchers, and the annotators a researcher names."


def may_rate(identity: Identity | None) -> bool:
    """Whether this identity may open the Annotate page."""
    return identity is not None and identity.role in RATER_ROLES


def _first_section(rt: Runtime) -> str:
    """Where a researcher starts: labelling when a queue is open, else what comes first."""
    if any(q.status == "open" for q in list_queues(rt.db)):
        return "Label"
    return "Queues" if list_rubrics(rt.db) else "Rubrics"


def annotate_body(rt: Runtime) -> None:
    """The whole Annotate page."""
    identity = resolve_identity(rt)
    if identity is None or not may_rate(identity):
        st.error(REFUSED)
        return
    if not identity.is_researcher:
        rater_view(rt, identity)
        return
    section = st.segmented_control(
        "Section",
        SECTIONS,
        default=_first_section(rt) if _SECTION not in st.session_state else None,
        required=True,
        key=_SECTION,
        label_visibility="collapsed",
    )
    if section == "Queues":
        queues_section(rt, identity)
    elif section == "Rubrics":
        rubrics_section(rt, identity)
    elif section == "Agreement":
        agreement_section(rt, identity)
    else:
        rater_view(rt, identity)
