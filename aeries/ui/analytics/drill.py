"""Drill-down tab (chart point → exchanges → one exchange in full) and Export tab."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import streamlit as st

from aeries.analytics import Filters, bucket_start
from aeries.analytics.drill import (
    DRILL_LIMIT,
    EXPORTS,
    STATUSES,
    ExchangeDetail,
    exchange_detail,
    exchange_list,
    export_table,
    to_csv,
    to_parquet,
)
from aeries.runtime import Runtime
from aeries.ui.analytics import data
from aeries.ui.text import answer_markdown, literal

if TYPE_CHECKING:
    import pyarrow as pa

ALL = "(all)"
BRIEF: dict[bool | None, str] = {True: "on", False: "off"}


def drill_target(points: list[dict]) -> tuple[str, datetime] | None:
    """(model, bucket start) of the first clicked point of a chart selection, if any."""
    for point in points:
        model, when = point.get("model"), point.get("bucket")
        if not isinstance(model, str) or when is None:
            continue
        if isinstance(when, int | float):
            return model, datetime.fromtimestamp(when / 1000, UTC)
        try:
            ts = pd.Timestamp(when)
        except (TypeError, ValueError):
            continue
        ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
        return model, ts.to_pydatetime()
    return None


def open_drill(model: str, start: datetime) -> None:
    """Switch to the Drill-down tab showing this model's exchanges in the bucket at ``start``."""
    st.session_state["an.drill.model"] = model
    st.session_state["an.drill.bucket"] = start
    st.session_state["view"] = "Drill-down"


def _bucket_options(rt: Runtime, f: Filters) -> list[datetime]:
    volume = data.volume(rt, f)
    return sorted(set(volume["bucket"].dt.to_pydatetime()), reverse=True)


def _pick_rows(rt: Runtime, f: Filters) -> pd.DataFrame:
    c1, c2, c3 = st.columns(3)
    models = list(f.models) or data.models(rt, f.users)
    model = c1.selectbox("Model", [ALL, *models], key="an.drill.model")
    buckets = _bucket_options(rt, f)
    fmt = "%Y-%m-%d %H:00" if f.bucket == "hour" else "%Y-%m-%d"
    bucket = c2.selectbox(
        f"{f.bucket.capitalize()} starting",
        [None, *buckets],
        format_func=lambda b: "(whole range)" if b is None else f"{b:{fmt}}",
        key="an.drill.bucket",
    )
    status = c3.selectbox("Status", [ALL, *STATUSES], key="an.drill.status")
    return exchange_list(
        rt.db,
        f,
        model=None if model == ALL else model,
        bucket_start=bucket_start(bucket, f.bucket) if bucket else None,
        status=None if status == ALL else status,
    )


def _labels(rows: pd.DataFrame) -> dict[str, str]:
    ttft = rows["ttft_ms"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f} ms")
    text = (
        rows["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
        + " · " + rows["model"] + " · " + rows["status"] + " · TTFT " + ttft
    )  # fmt: skip
    return dict(zip(rows["id"], text, strict=True))


def _metrics(row: dict) -> None:
    cols = st.columns(5)
    for col, (label, key, unit) in zip(
        cols,
        (("TTFT", "ttft_ms", "ms"), ("E2E", "e2e_ms", "ms"), ("TPOT", "tpot_ms", "ms"),
         ("Tokens in", "prompt_tokens", ""), ("Tokens out", "completion_tokens", "")),
        strict=True,
    ):  # fmt: skip
        value = row.get(key)
        text = "–" if value is None or pd.isna(value) else f"{value:,.1f} {unit}"
        if unit == "" and text != "–":
            text = f"{value:,.0f}"
        col.metric(label, text)


def show_exchange(detail: ExchangeDetail) -> None:
    """One exchange in full: request, answer, reasoning, timings, params and signals."""
    row = detail.row
    when = row["started_at"].astimezone(UTC)
    # Names, models and errors are data, some of it typed by participants: shown literally.
    st.markdown(
        f"**{literal(row['model'])}** · {literal(row['source'])} · status "
        f"**{literal(row['status'])}** · {when:%Y-%m-%d %H:%M:%S} UTC · "
        f"user {literal(row.get('user_name') or '–')} · "
        f"persona {literal(row.get('persona_name') or '–')} · "
        f"brief {BRIEF.get(row.get('brief_enabled'), '–')}"
    )
    st.caption(f"Exchange {literal(row['id'])} · endpoint {literal(row.get('endpoint') or '–')}")
    if row.get("error"):
        st.error(f"{literal(row.get('error_kind') or 'error')}: {literal(row['error'])}")
    _metrics(row)
    st.markdown("**Request**")
    if detail.request is None:
        st.code(str(row.get("request_messages")), language=None)
    else:
        st.json(detail.request, expanded=2)
    if row.get("reasoning_text"):
        with st.expander("Reasoning"):
            st.text(row["reasoning_text"])
    st.markdown("**Answer**")
    with st.container(border=True):
        if row.get("response_text"):
            answer_markdown(row["response_text"])
        else:
            st.markdown("_(no answer)_")
    with st.expander("Parameters and stream statistics"):
        st.json(detail.params or {}, expanded=1)
        stats = {k: row.get(k) for k in ("itl_mean_ms", "itl_p50_ms", "itl_p95_ms", "itl_max_ms")}
        st.json({**stats, "chunk_count": row.get("chunk_count"), "finish": row["finish_reason"]})
        st.caption(
            "ITL is per chunk, as `vllm bench serve` measures it: the gaps between consecutive "
            "output chunks. Under load or with `--stream-interval` one chunk carries several "
            "tokens; TPOT (E2E − TTFT) / (tokens − 1) is per token. See docs/timings.md."
        )
    st.markdown("**Signals about this exchange**")
    if detail.signals.empty:
        st.caption("None.")
    else:
        st.dataframe(detail.signals, hide_index=True, width="stretch")


@st.fragment
def drill_tab(rt: Runtime, f: Filters) -> None:
    """Pick a model, a time bucket and a status; then open one exchange."""
    rows = _pick_rows(rt, f)
    if rows.empty:
        st.info("No exchanges match these filters and choices.")
    else:
        st.caption(f"The newest {min(len(rows), DRILL_LIMIT)} matching exchanges.")
        st.dataframe(
            rows.drop(columns=["id"]),
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(c, format="%.0f")
                for c in ("ttft_ms", "e2e_ms", "tpot_ms")
            }
            | {"started_at": st.column_config.DatetimeColumn("started (UTC)")},
        )
    labels = _labels(rows) if not rows.empty else {}
    picked = st.selectbox(
        "Open an exchange",
        list(labels),
        index=None,
        # Only the keys of ``labels`` are offered, so ``get`` always finds a label.
        format_func=cast(Callable[[Any], str], labels.get),
        key="an.drill.pick",
        placeholder="Choose one of the exchanges above",
    )
    typed = st.text_input("…or an exchange id", key="exchange", bind="query-params").strip()
    exchange_id = picked or typed
    if not exchange_id:
        return
    detail = exchange_detail(rt.db, exchange_id, f.users)
    if detail is None:
        st.warning(f"No exchange “{literal(exchange_id[:60])}” that you can see.")
        return
    show_exchange(detail)


def _export_bytes(
    rt: Runtime, what: str, f: Filters, convert: Callable[[pa.Table], bytes]
) -> bytes:
    """The filtered rows of ``what``, converted (run when the download is clicked)."""
    return convert(export_table(rt.db, what, f))


def export_tab(rt: Runtime, f: Filters) -> None:
    """CSV and Parquet downloads of the filtered rows (built when clicked)."""
    st.markdown(
        "Downloads hold the rows behind this page's filters. For every table, unfiltered, "
        "run `python -m aeries export --out DIR` (works while Aeries runs)."
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    for what in EXPORTS:
        cols = st.columns([2, 1, 1])
        cols[0].markdown(f"**{what.capitalize()}**")
        for col, fmt, convert, mime in (
            (cols[1], "csv", to_csv, "text/csv"),
            (cols[2], "parquet", to_parquet, "application/vnd.apache.parquet"),
        ):
            col.download_button(
                f"{what}.{fmt}",
                data=functools.partial(_export_bytes, rt, what, f, convert),
                file_name=f"aeries-{what}-{stamp}.{fmt}",
                mime=mime,
                on_click="ignore",
                key=f"an.export.{what}.{fmt}",
                icon=":material/download:",
            )
