"""What a participant's condition sends to the model: a chat turn's spec, the arena's
contestants."""

from __future__ import annotations

from typing import Any

from aeries.arena import Contestant
from aeries.brief import assemble_brief
from aeries.chat import TurnSpec
from aeries.llm import ModelInfo, Sampling
from aeries.runtime import Runtime
from aeries.store.personas import visible_personas
from aeries.studies.flow import Place
from aeries.studies.spec import Condition

NOT_SERVED = (
    "The model of this study is not available right now. Please try again in a few minutes."
)


def condition_model(models: list[ModelInfo], condition: Condition) -> ModelInfo | None:
    """The model a condition names (on its endpoint, if it names one); the first served model
    when it names none."""
    wanted = condition.endpoint.rstrip("/") if condition.endpoint else None
    for model in models:
        named = condition.model is None or model.id == condition.model
        if named and (wanted is None or model.endpoint.rstrip("/") == wanted):
            return model
    return None


def _sampling(condition: Condition, base: Sampling) -> Sampling:
    """``base`` with what the condition sets."""
    return Sampling(
        temperature=base.temperature if condition.temperature is None else condition.temperature,
        top_p=base.top_p if condition.top_p is None else condition.top_p,
        max_tokens=base.max_tokens if condition.max_tokens is None else condition.max_tokens,
        thinking=base.thinking if condition.thinking is None else condition.thinking,
    )


def condition_spec(rt: Runtime, place: Place, conversation_id: str) -> TurnSpec | None:
    """The turn spec of the participant's condition; None when its model is not served."""
    ref = place.ref
    assert ref is not None, "the condition is assigned when the task starts"
    condition = place.study.condition(ref.condition)
    model = condition_model(rt.models(), condition)
    if model is None:
        return None
    user_id = place.enrolment.user_id
    system_prompt = condition.system_prompt
    persona_id = None
    sampling = Sampling()
    if condition.persona is not None:
        persona = next(
            (p for p in visible_personas(rt.db, user_id) if p.name == condition.persona), None
        )
        if persona is not None:
            system_prompt = persona.system_prompt
            persona_id = persona.id
            sampling = Sampling(
                persona.temperature, persona.top_p, persona.max_tokens, persona.thinking
            )
    sampling = _sampling(condition, sampling)
    brief = assemble_brief(rt.db, user_id) if condition.brief else None
    params: dict[str, Any] = {"brief": condition.brief, "brief_hash": brief.hash if brief else None}
    if condition.persona:
        params["persona"] = condition.persona
    return TurnSpec(
        user_id=user_id,
        conversation_id=conversation_id,
        endpoint=model.endpoint,
        model=model.id,
        sampling=sampling,
        system_prompt=system_prompt,
        brief=brief.text if brief else None,
        persona_id=persona_id,
        brief_enabled=condition.brief,
        params=params,
        max_model_len=model.max_model_len,
        study=ref,
    )


def condition_contestants(rt: Runtime, place: Place) -> list[Contestant] | None:
    """The arena contestants of the participant's condition (its sampling on each); None when
    one of its models is not served."""
    ref = place.ref
    assert ref is not None, "the condition is assigned when the task starts"
    condition = place.study.condition(ref.condition)
    served = rt.models()
    sampling = _sampling(condition, Sampling())
    contestants = []
    for model_id in condition.arena_models:
        model = next((m for m in served if m.id == model_id), None)
        if model is None:
            return None
        contestants.append(Contestant(model, sampling))
    return contestants
