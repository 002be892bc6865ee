"""Analytics over the log, one module per section of the analytics page (aeries/ui/analytics/
has the same module names): ``filters`` (shared by every section, with the time buckets),
``latency`` (latency, volume and tokens), ``arena`` (preferences and ratings), ``feedback``
(thumbs and observer signals), ``drill`` (drill-down and exports), ``stats``.

All aggregation runs in DuckDB and comes back as small DataFrames. The filter and latency names
are re-exported here; the other sections are imported as modules.
"""

from aeries.analytics import arena, drill, feedback, stats
from aeries.analytics.filters import (
    BUCKETS,
    COUNTED_TABLES,
    MAX_BUCKETS,
    NO_PERSONA,
    SOURCES,
    FilterError,
    Filters,
    bucket_key,
    bucket_start,
    bucket_time,
    choose_bucket,
    data_range,
    exchange_where,
    frame,
    has_rows,
    model_options,
    persona_options,
    user_options,
)
from aeries.analytics.latency import (
    METRICS,
    TABLE_QUANTILES,
    TREND_QUANTILES,
    TTFT_PARTS,
    latency_table,
    latency_trend,
    ttft_breakdown,
    volume_trend,
)

__all__ = [
    "BUCKETS",
    "COUNTED_TABLES",
    "MAX_BUCKETS",
    "METRICS",
    "NO_PERSONA",
    "SOURCES",
    "TABLE_QUANTILES",
    "TREND_QUANTILES",
    "TTFT_PARTS",
    "FilterError",
    "Filters",
    "arena",
    "bucket_key",
    "bucket_start",
    "bucket_time",
    "choose_bucket",
    "data_range",
    "drill",
    "exchange_where",
    "feedback",
    "frame",
    "has_rows",
    "latency_table",
    "latency_trend",
    "model_options",
    "persona_options",
    "stats",
    "ttft_breakdown",
    "user_options",
    "volume_trend",
]
