"""Streamlit components shared by the pages (the only part of aeries/ that imports streamlit)."""
