"""Aeries: a research workbench for chatting with, comparing and studying LLMs served by vLLM."""

__version__ = "0.1.0"
