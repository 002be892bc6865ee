"""Talking to vLLM: the streaming client and its timings, the endpoints and their models, and
every failure mapped to a message a person can act on. The call's data types live in
aeries.calls (the store builds rows from them without importing this package)."""

from aeries.calls import CallResult, ChatRequest, Delta, Sampling, Status, StreamHook
from aeries.llm.client import (
    ClientPool,
    LiveStreams,
    LLMStream,
    stream_chat,
    warm_up_client_stack,
)
from aeries.llm.endpoints import EndpointStatus, ModelInfo, answers, list_models
from aeries.llm.errors import RESTING, ErrorInfo, describe_error

__all__ = [
    "RESTING",
    "CallResult",
    "ChatRequest",
    "ClientPool",
    "Delta",
    "EndpointStatus",
    "ErrorInfo",
    "LLMStream",
    "LiveStreams",
    "ModelInfo",
    "Sampling",
    "Status",
    "StreamHook",
    "answers",
    "describe_error",
    "list_models",
    "stream_chat",
    "warm_up_client_stack",
]
