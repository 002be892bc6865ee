"""vLLM endpoints: which to use, whether they answer, and which models they serve."""

from __future__ import annotations

from dataclasses import dataclass, field

import openai

from aeries.config import public_url
from aeries.llm.errors import RESTING


@dataclass(frozen=True)
class ModelInfo:
    """A model served by an endpoint."""

    endpoint: str
    id: str
    max_model_len: int | None = None


@dataclass
class EndpointStatus:
    """An endpoint's health as last seen."""

    url: str
    ok: bool
    models: list[ModelInfo] = field(default_factory=list)
    error: str | None = None

    @property
    def public(self) -> str:
        """The URL without credentials."""
        return public_url(self.url)


def list_models(
    url: str, api_key: str, timeout_s: float = 2.0, client: openai.OpenAI | None = None
) -> EndpointStatus:
    """Ask ``url`` for its models (``GET /v1/models``); never raises.

    Passing the client used for chat keeps its connection warm for the first answer.
    """
    own = client is None
    if client is None:
        client = openai.OpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=timeout_s)
    try:
        page = client.with_options(timeout=timeout_s).models.list()
    except openai.APIConnectionError:
        return EndpointStatus(url, False, error=RESTING)
    except openai.APIStatusError as exc:
        return EndpointStatus(url, False, error=f"{public_url(url)} answered {exc.status_code}.")
    except Exception as exc:  # a proxy returning HTML, a malformed body…
        return EndpointStatus(url, False, error=f"{public_url(url)} did not answer as vLLM: {exc}")
    finally:
        if own:
            client.close()
    models = []
    for model in page.data:
        extra = model.model_extra or {}
        length = extra.get("max_model_len")
        models.append(ModelInfo(url, model.id, int(length) if length else None))
    return EndpointStatus(url, True, models)


def answers(url: str, api_key: str = "EMPTY", timeout_s: float = 0.5) -> bool:
    """Whether something that speaks vLLM's API answers at ``url``."""
    return list_models(url, api_key, timeout_s).ok
