"""A study participant's page: the only page a study link opens."""

from __future__ import annotations

from aeries.ui.resources import get_runtime
from aeries.ui.studies.participant import render_study

render_study(get_runtime())
