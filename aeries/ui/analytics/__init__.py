"""The analytics page's sections, named like the modules of aeries.analytics they draw, plus the
cached data layer and the chart builders."""

from aeries.ui.analytics.arena import arena_tab
from aeries.ui.analytics.drill import drill_tab, export_tab
from aeries.ui.analytics.feedback import feedback_tab
from aeries.ui.analytics.filters import analytics_filters
from aeries.ui.analytics.latency import latency_tab

__all__ = [
    "analytics_filters",
    "arena_tab",
    "drill_tab",
    "export_tab",
    "feedback_tab",
    "latency_tab",
]
