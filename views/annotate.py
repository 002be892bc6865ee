"""Annotate: label answers on a rubric, blind (raters); rubrics, queues, agreement and
adjudication (researchers)."""

from __future__ import annotations

import streamlit as st

from aeries.ui.annotate import annotate_body
from aeries.ui.notices import show_notice
from aeries.ui.resources import get_runtime
from aeries.ui.sign_in import identity_box

rt = get_runtime()
identity_box(rt)
show_notice()
st.title("Annotate", anchor=False)
annotate_body(rt)
