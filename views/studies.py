"""Studies: write or upload a study file, run it, follow enrolment and outcomes (researchers)."""

from __future__ import annotations

import streamlit as st

from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box, research_gate
from aeries.ui.studies.researcher import studies_body

rt = get_runtime()
identity_box(rt)
st.title("Studies", anchor=False)
if research_gate(rt):
    studies_body(rt)
