"""The baseline for bench_browser.py: the smallest Streamlit chat page over an OpenAI API.

It hands the openai stream straight to ``st.write_stream`` (one screen update per token, each
re-sending the whole text so far) and keeps the history in session state, nothing else.

    AERIES_BASE_URL=http://127.0.0.1:8000/v1 streamlit run bench/minimal_chat_page.py
"""

from __future__ import annotations

import os

import openai
import streamlit as st


@st.cache_resource
def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=os.environ["AERIES_BASE_URL"], api_key="EMPTY", max_retries=0)


@st.cache_resource
def model() -> str:
    return client().models.list().data[0].id


if "messages" not in st.session_state:
    st.session_state.messages = []
if st.sidebar.button("New chat"):
    st.session_state.messages = []

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

if prompt := st.chat_input("Message"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = client().chat.completions.create(
            model=model(), messages=st.session_state.messages, stream=True
        )
        answer = st.write_stream(stream)
    st.session_state.messages.append({"role": "assistant", "content": answer})
