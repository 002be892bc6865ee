"""The analytics filters: sidebar widgets bound to the URL, so a view can be shared as a link.

Query parameters (Streamlit keeps them in sync with the widgets): ``range`` (24h, 7d, 30d, 90d,
all, custom), ``from`` / ``to`` (YYYY-MM-DD, inclusive; either one implies custom), ``bucket``
(auto, hour, day, week), ``model``, ``persona``, ``user`` (researchers only) and ``source``
(repeat the parameter for several values), ``brief`` (any, on, off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import streamlit as st

from aeries.analytics import MAX_BUCKETS, NO_PERSONA, SOURCES, FilterError, Filters, choose_bucket
from aeries.runtime import Runtime
from aeries.ui.analytics import data
from aeries.ui.identity import current_user, is_researcher
from aeries.ui.text import literal

# Bound widgets put their option (not its label) in the URL, so options are the short codes.
# The default comes first: a default at index 0 lets the URL seed the range without a warning.
RANGES = {
    "30d": "last 30 days",
    "7d": "last 7 days",
    "24h": "last 24 hours",
    "90d": "last 90 days",
    "all": "all time",
    "custom": "custom dates",
}
_RANGE_DAYS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}
BUCKET_CHOICES = {"auto": "Automatic", "hour": "By hour", "day": "By day", "week": "By week"}
BRIEF_CHOICES = {"any": "Any", "on": "On", "off": "Off"}
NO_PERSONA_NAME = "(no persona)"
BIND: Final = "query-params"  # Final keeps the Literal type the widget stubs ask for


@dataclass(frozen=True)
class Options:
    """What the filters can choose from."""

    models: list[str]
    personas: dict[str, str]  # display name → id
    users: dict[str, str]  # name → id


def _warn_unknown(param: str, known: list[str], noun: str) -> None:
    """Say which values of ``param`` in the URL are unknown (Streamlit then drops them)."""
    given = [v for v in st.query_params.get_all(param) if v != ""]
    unknown = [v for v in given if v not in known]
    if not unknown:
        return
    # Values from the URL are shown literally: a crafted link must not inject Markdown.
    listed = ", ".join(literal(k) for k in known[:12]) or "none yet"
    shown = ", ".join(f"“{literal(u[:80])}”" for u in unknown[:10])
    st.warning(
        f"Unknown {noun} {shown} in the link (?{param}=): "
        f"there is no data for it, so it is left out. Known {noun}s: {listed}."
    )


def _check_url(opts: Options, researcher: bool) -> None:
    """Explain URL values the widgets cannot take (they would be dropped silently)."""
    _warn_unknown("range", list(RANGES), "range")
    _warn_unknown("bucket", list(BUCKET_CHOICES), "bucket")
    _warn_unknown("brief", list(BRIEF_CHOICES), "brief setting")
    _warn_unknown("model", opts.models, "model")
    _warn_unknown("persona", [*opts.personas, NO_PERSONA_NAME], "persona")
    _warn_unknown("source", list(SOURCES), "source")
    if researcher:
        _warn_unknown("user", list(opts.users), "user")
    for param in ("from", "to"):
        raw = st.query_params.get(param)
        if raw:
            try:
                date.fromisoformat(raw)
            except ValueError:
                st.warning(
                    f"Could not read {param}=“{literal(raw[:40])}” in the link as a date "
                    "(YYYY-MM-DD)."
                )
    dated = "from" in st.query_params or "to" in st.query_params
    if dated and "range" not in st.query_params and "range" not in st.session_state:
        st.session_state["range"] = "custom"


def _time_range(span: tuple[datetime, datetime] | None, choice: str) -> tuple[datetime, datetime]:
    """The chosen range as [start, end); FilterError for an unusable custom range."""
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if choice in _RANGE_DAYS:
        return now - timedelta(days=_RANGE_DAYS[choice]), now
    if choice == "all":
        if span is None:
            return now - timedelta(days=30), now
        return span[0].replace(minute=0, second=0, microsecond=0), max(now, span[1])
    start, end = st.session_state.get("from"), st.session_state.get("to")
    if start is None or end is None:
        raise FilterError("The time range is empty: pick both a start and an end date.")
    if start > end:
        raise FilterError(
            f"The time range is inverted: it starts {start:%Y-%m-%d} but ends {end:%Y-%m-%d}. "
            "Pick an end on or after the start."
        )
    midnight = time(tzinfo=UTC)
    return datetime.combine(start, midnight), datetime.combine(end + timedelta(days=1), midnight)


def _range_widgets() -> str:
    sb = st.sidebar
    choice = sb.selectbox(
        "Time range",
        list(RANGES),
        key="range",
        bind=BIND,
        help=", ".join(f"{k}: {v}" for k, v in RANGES.items()),
    )
    if choice == "custom":
        today = datetime.now(UTC).date()
        left, right = sb.columns(2)
        left.date_input(
            "From", value=today - timedelta(days=30), key="from", format="YYYY-MM-DD", bind=BIND
        )
        right.date_input("To (incl.)", value=today, key="to", format="YYYY-MM-DD", bind=BIND)
    sb.selectbox(
        "Time buckets",
        list(BUCKET_CHOICES),
        key="bucket",
        bind=BIND,
        help="auto: by hour up to 2 days, by day up to ~3 months, else by week.",
    )
    return choice


def _choice_widgets(opts: Options, researcher: bool) -> None:
    sb = st.sidebar
    sb.multiselect("Models", opts.models, key="model", bind=BIND, placeholder="All models")
    personas = [*opts.personas, NO_PERSONA_NAME]
    sb.multiselect("Personas", personas, key="persona", bind=BIND, placeholder="All personas")
    if researcher:
        sb.multiselect("Users", list(opts.users), key="user", bind=BIND, placeholder="All users")
    else:
        sb.caption("You see your own data only.")
    sb.multiselect("Source", list(SOURCES), key="source", bind=BIND, placeholder="All sources")
    sb.segmented_control(
        "Brief",
        list(BRIEF_CHOICES),
        default="any",
        key="brief",
        bind=BIND,
        help="Whether the learned brief was in the system prompt (exchanges.brief_enabled).",
    )


def _build(rt: Runtime, opts: Options, researcher: bool, choice: str) -> Filters:
    state = st.session_state
    start, end = _time_range(data.span(rt), choice)
    bucket = state.get("bucket") or "auto"
    if bucket == "auto":
        bucket = choose_bucket(start, end)
    if researcher:
        users = tuple(opts.users[n] for n in state.get("user", []))
    else:
        users = (current_user(rt),)
    personas = tuple(
        NO_PERSONA if n == NO_PERSONA_NAME else opts.personas[n] for n in state.get("persona", [])
    )
    brief = {"on": True, "off": False}.get(state.get("brief") or "any")
    return Filters(
        start,
        end,
        models=tuple(state.get("model", [])),
        personas=personas,
        users=users,
        sources=tuple(state.get("source", [])),
        brief=brief,
        bucket=bucket,
    )


def analytics_filters(rt: Runtime) -> Filters | None:
    """Render the filters; the Filters to apply, or None after explaining what is wrong."""
    researcher = is_researcher(rt)
    own = () if researcher else (current_user(rt),)
    opts = Options(data.models(rt, own), data.personas(rt), data.users(rt) if researcher else {})
    st.sidebar.subheader("Filters")
    _check_url(opts, researcher)
    choice = _range_widgets()
    _choice_widgets(opts, researcher)
    if st.sidebar.button("Refresh data", help="Analytics are cached for a minute."):
        data.clear()
    try:
        f = _build(rt, opts, researcher, choice)
    except FilterError as exc:
        st.error(str(exc))
        return None
    if f.bucket_count() > MAX_BUCKETS:
        st.warning(
            f"That is {f.bucket_count():,} {f.bucket} buckets, too many to draw: "
            "pick a coarser bucket or a shorter range."
        )
        return None
    return f
