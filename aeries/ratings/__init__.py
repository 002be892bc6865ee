"""Arena ratings: Bradley–Terry with bootstrap intervals, online Elo and battle summaries.

Battles are a DataFrame with ``model_a``, ``model_b``, ``winner`` (``"a"``, ``"b"``, ``"tie"``
or ``"both_bad"``), an optional ``weight`` (default 1.0, also where missing), an optional ``n``
(a row stands for ``n`` identical battles; default 1) and an optional ``ts``. ``"both_bad"`` is
a tie, and a tie counts as half a win each way. Self-battles (``model_a == model_b``) and rows
of weight or ``n`` 0 are dropped.

Ratings use the Chatbot Arena logistic scale, P(i beats j) = 1 / (1 + base^((R_j − R_i)/scale)),
and are centred so the mean rating is ``init_rating`` (or so that ``anchor`` is).

Layered like FastChat's ratings, data → maths → report:

- ``battles``: a battles frame validated and encoded as arrays, distinct battles with counts,
  win matrices, outcome counts; a best-of-N vote expanded into pairwise rows.
- ``scale``: the logistic rating scale (nats ↔ points, centring, expected win probability).
- ``fit``: the penalised Bradley–Terry fit (batched Newton) and its prior, ``DEFAULT_REG``.
- ``bootstrap``: percentile bootstrap intervals, all rounds and groups fitted in one batch.
- ``elo``: online Elo.
- ``summaries``: the leaderboard, win-rate and battle-count matrices, unbounded models.

Every public name is importable from here: ``from aeries.ratings import leaderboard``.
"""

from __future__ import annotations

from aeries.ratings.battles import (
    A_WINS,
    B_WINS,
    KEY_COLUMNS,
    TIE,
    WINNER_CODES,
    Battles,
    Keys,
    cell_contributions,
    counts,
    encode_winner,
    expand_best_of,
    group_codes,
    in_ts_order,
    model_codes,
    outcome_counts,
    prepare,
    select_kind,
    split_groups,
    unique_battles,
    weights,
    win_matrices,
    win_matrix,
)
from aeries.ratings.bootstrap import BOOTSTRAP_COLUMNS, bootstrap_ratings, bootstrap_ratings_by
from aeries.ratings.elo import online_elo
from aeries.ratings.fit import DEFAULT_REG, bradley_terry
from aeries.ratings.scale import RatingScale, expected_win_prob
from aeries.ratings.summaries import (
    LEADERBOARD_COLUMNS,
    battle_count_matrix,
    leaderboard,
    unbounded_models,
    unbounded_reasons,
    win_rate_matrix,
)

__all__ = [
    "A_WINS",
    "BOOTSTRAP_COLUMNS",
    "B_WINS",
    "DEFAULT_REG",
    "KEY_COLUMNS",
    "LEADERBOARD_COLUMNS",
    "TIE",
    "WINNER_CODES",
    "Battles",
    "Keys",
    "RatingScale",
    "battle_count_matrix",
    "bootstrap_ratings",
    "bootstrap_ratings_by",
    "bradley_terry",
    "cell_contributions",
    "counts",
    "encode_winner",
    "expand_best_of",
    "expected_win_prob",
    "group_codes",
    "in_ts_order",
    "leaderboard",
    "model_codes",
    "online_elo",
    "outcome_counts",
    "prepare",
    "select_kind",
    "split_groups",
    "unbounded_models",
    "unbounded_reasons",
    "unique_battles",
    "weights",
    "win_matrices",
    "win_matrix",
    "win_rate_matrix",
]
