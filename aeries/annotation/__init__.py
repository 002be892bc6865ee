"""Human evaluation: statistics on rubric labels given by several raters.

``agreement``: ``question_agreement`` (Krippendorff's α, Cohen's κ and percent agreement on
one rubric question, with bootstrap intervals over items, and the items for adjudication),
``consensus`` (per item), and ``automatic_vs_human`` (an automatic rater, the observer,
against the human consensus). Pure statistics: no database, no Streamlit.

Every public name is importable from here: ``from aeries.annotation import question_agreement``.
"""

from __future__ import annotations

from aeries.annotation.agreement import (
    AUTOMATIC_COLUMNS,
    DEFAULT_RESAMPLES,
    DEFAULT_THRESHOLD,
    LABEL_COLUMNS,
    LEVELS,
    MAX_VALUES,
    MIN_ITEMS,
    MIN_PAIR_ITEMS,
    Agreement,
    Estimate,
    KappaWeights,
    Level,
    automatic_vs_human,
    consensus,
    question_agreement,
)

__all__ = [
    "AUTOMATIC_COLUMNS",
    "DEFAULT_RESAMPLES",
    "DEFAULT_THRESHOLD",
    "LABEL_COLUMNS",
    "LEVELS",
    "MAX_VALUES",
    "MIN_ITEMS",
    "MIN_PAIR_ITEMS",
    "Agreement",
    "Estimate",
    "KappaWeights",
    "Level",
    "automatic_vs_human",
    "consensus",
    "question_agreement",
]
