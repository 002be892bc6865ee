"""Aeries: entry point. Navigation, page config and the notice shown on every page."""

from __future__ import annotations

import streamlit as st

from aeries.ui.resources import get_runtime

st.set_page_config(page_title="Aeries", page_icon="🪶", layout="wide")

pages = [
    st.Page("pages/chat.py", title="Chat", icon="💬", default=True, url_path="chat"),
    st.Page("pages/analytics.py", title="Analytics", icon="📈", url_path="analytics"),
    st.Page("pages/arena.py", title="Arena", icon="⚔️", url_path="arena"),
    st.Page("pages/personas.py", title="Personas", icon="🎭", url_path="personas"),
]
page = st.navigation(pages)

rt = get_runtime()
if rt.simulated:
    st.info(
        "**Answers are simulated.** No vLLM server was configured or found on localhost:8000, "
        "so Aeries started its built-in simulator. Set `AERIES_BASE_URL` to use a real model.",
        icon="🧪",
    )
st.sidebar.caption(f"Data: `{rt.settings.db_path}`")
page.run()
