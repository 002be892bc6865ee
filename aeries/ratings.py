"""Arena ratings: Bradley–Terry with bootstrap intervals, online Elo and battle summaries.

Battles are a DataFrame with ``model_a``, ``model_b``, ``winner`` (``"a"``, ``"b"``, ``"tie"``
or ``"both_bad"``), an optional ``weight`` (default 1.0, also where missing), an optional ``n``
(a row stands for ``n`` identical battles; default 1) and an optional ``ts``. ``"both_bad"`` is
a tie, and a tie counts as half a win each way. Self-battles (``model_a == model_b``) and rows
of weight or ``n`` 0 are dropped.

Ratings use the Chatbot Arena logistic scale, P(i beats j) = 1 / (1 + base^((R_j − R_i)/scale)),
and are centred so the mean rating is ``init_rating`` (or so that ``anchor`` is).

The Bradley–Terry fit maximises the likelihood minus ``reg/2 · Σ θ²`` where θ is each model's
log-strength in nats (θ = (R − init_rating) · ln(base) / scale). ``DEFAULT_REG = 1e-3`` is a
Gaussian prior with a standard deviation of ~32 nats (~5,500 rating points): it moves ratings
of models with a handful of votes by well under a point, yet keeps the optimum unique and
finite when the data cannot pin a model down. Such models are "unbounded" (see
``unbounded_models``): their finite rating is an artefact of the prior, so the UI should
mark them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from aeries.ratings_data import (
    A_WINS,
    B_WINS,
    TIE,
    Battles,
    Keys,
    in_ts_order,
    outcome_counts,
    prepare,
    select_kind,
    split_groups,
    unique_battles,
    win_matrices,
    win_matrix,
)

DEFAULT_REG = 1e-3

LEADERBOARD_COLUMNS = [
    "model",
    "rating",
    "lower",
    "upper",
    "votes",
    "wins",
    "losses",
    "ties",
    "win_rate",
    "unbounded",
    "rank",
]
BOOTSTRAP_COLUMNS = ["rating", "lower", "upper", "rounds"]

_MAX_ITER = 200
_TOL = 1e-10
_MAX_HALVINGS = 40
_CHUNK_CELLS = 2_000_000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _objective(w: np.ndarray, theta: np.ndarray, reg: float) -> np.ndarray:
    """Penalised log-likelihood per round; w is (R, n, n), theta (R, n)."""
    diff = theta[:, :, None] - theta[:, None, :]
    log_p = -np.logaddexp(0.0, -diff)
    return (w * log_p).sum(axis=(1, 2)) - 0.5 * reg * (theta**2).sum(axis=1)


def _newton_step(w: np.ndarray, total: np.ndarray, theta: np.ndarray, reg: float) -> np.ndarray:
    p = _sigmoid(theta[:, :, None] - theta[:, None, :])
    grad = (w - total * p).sum(axis=2) - reg * theta
    v = total * p * (1.0 - p)
    n = theta.shape[1]
    hess = -v + np.eye(n) * (v.sum(axis=2)[:, :, None] + reg)  # negative Hessian (PSD)
    if reg > 0:
        return np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
    # Unpenalised: the Hessian is singular along shifts; the min-norm step keeps the mean.
    return (np.linalg.pinv(hess, hermitian=True) @ grad[:, :, None])[:, :, 0]


def _line_search(
    w: np.ndarray, theta: np.ndarray, step: np.ndarray, base_obj: np.ndarray, reg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Step-halving until the objective does not decrease; returns (accepted step, objective)."""
    t = np.ones(len(theta))
    obj = base_obj.copy()
    pending = np.ones(len(theta), dtype=bool)
    for _ in range(_MAX_HALVINGS):
        idx = np.flatnonzero(pending)
        trial = _objective(w[idx], theta[idx] + t[idx, None] * step[idx], reg)
        ok = trial >= base_obj[idx] - 1e-12 * np.abs(base_obj[idx])
        obj[idx[ok]] = trial[ok]
        pending[idx[ok]] = False
        t[idx[~ok]] /= 2
        if not pending.any():
            break
    t[pending] = 0.0
    return t[:, None] * step, obj


def _fit_theta(w: np.ndarray, reg: float = DEFAULT_REG) -> np.ndarray:
    """Log-strengths (nats) maximising the penalised BT likelihood for each W[r]."""
    rounds, n, _ = w.shape
    total = w + w.transpose(0, 2, 1)
    theta = np.zeros((rounds, n))
    obj = _objective(w, theta, reg)
    active = np.ones(rounds, dtype=bool)
    for _ in range(_MAX_ITER):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        step = _newton_step(w[idx], total[idx], theta[idx], reg)
        step, obj[idx] = _line_search(w[idx], theta[idx], step, obj[idx], reg)
        theta[idx] += step
        active[idx] = np.abs(step).max(axis=1) > _TOL
    return theta


def _to_ratings(
    theta: np.ndarray,
    models: np.ndarray,
    *,
    scale: float,
    base: float,
    init_rating: float,
    anchor: str | None,
) -> np.ndarray:
    """Convert nats to the rating scale and centre each row (NaN-aware)."""
    ratings = theta * (scale / math.log(base))
    if anchor is None:
        centre = np.nanmean(ratings, axis=-1, keepdims=True)
    else:
        hits = np.flatnonzero(models == anchor)
        if hits.size == 0:
            raise KeyError(f"anchor model {anchor!r} has no battles")
        centre = ratings[..., hits[0] : hits[0] + 1]
    return ratings - centre + init_rating


def _rating_series(models: np.ndarray, values: np.ndarray) -> pd.Series:
    index = pd.Index(models, name="model", dtype="str")
    return pd.Series(values, index=index, name="rating", dtype=float).sort_values(
        ascending=False, kind="stable"
    )


def bradley_terry(
    battles: pd.DataFrame,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
    anchor: str | None = None,
    reg: float = DEFAULT_REG,
) -> pd.Series:
    """Maximum-likelihood Bradley–Terry ratings, indexed by model, best first.

    ``reg`` is the L2 penalty on log-strengths (see module docstring); ``reg=0`` gives the
    plain MLE, which only exists when every model is bounded.
    """
    data = prepare(battles, weight_col, count_col)
    if data.n == 0:
        return _rating_series(data.models, np.zeros(0))
    theta = _fit_theta(win_matrix(data)[None], reg)[0]
    ratings = _to_ratings(
        theta, data.models, scale=scale, base=base, init_rating=init_rating, anchor=anchor
    )
    return _rating_series(data.models, ratings)


def _resample(counts: np.ndarray, rounds: int, seed: int | None) -> np.ndarray:
    """The counts, then ``rounds`` multinomial resamples of them from a generator of ``seed``."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(counts.sum(), counts / counts.sum(), size=rounds)
    return np.vstack([counts[None], draws]).astype(float)


def _win_batches(keys: list[Keys], blocks: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """Win matrices of every row of every block (block b counts the battles in keys[b]),
    packed across blocks into batches of about ``_CHUNK_CELLS`` cells (~16 MB)."""
    chunk = max(1, _CHUNK_CELLS // (n * n))
    pending: list[np.ndarray] = []
    for k, block in zip(keys, blocks, strict=True):
        for start in range(0, len(block), chunk):
            pending.append(win_matrices(k, block[start : start + chunk], n))
            if sum(map(len, pending)) >= chunk:
                yield np.concatenate(pending)
                pending = []
    if pending:
        yield np.concatenate(pending)


def _fit_blocks(
    keys: list[Keys], blocks: list[np.ndarray], n: int, reg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fit every row of every block in batches; also which models appear in each row."""
    thetas, presents = [], []
    for w in _win_batches(keys, blocks, n):
        thetas.append(_fit_theta(w, reg))
        presents.append((w.sum(axis=2) + w.sum(axis=1)) > 0)
    return np.concatenate(thetas), np.concatenate(presents)


def _nan_quantiles(x: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.nanquantile(x, qs, axis=1)`` (linear) of a 3-D array, bit for bit, without its
    loop over columns; NaN where a column is all NaN."""
    ordered = np.sort(x, axis=1)  # NaN sorts last
    last = (~np.isnan(x)).sum(axis=1, keepdims=True) - 1
    pos = last * np.asarray(qs, dtype=float)[None, :, None]
    below = np.floor(pos)
    gamma = pos - below
    a = np.take_along_axis(ordered, np.clip(below, 0, None).astype(np.intp), axis=1)
    upper = np.clip(np.minimum(below + 1, last), 0, None).astype(np.intp)
    b = np.take_along_axis(ordered, upper, axis=1)
    diff = b - a
    lerp = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)  # as numpy's
    return np.moveaxis(np.where(last >= 0, lerp, np.nan), 1, 0)


def _empty_bootstrap() -> pd.DataFrame:
    dtypes = {"group": int, "model": "str", "rating": float, "lower": float, "upper": float}
    columns = {c: pd.Series(dtype=t) for c, t in dtypes.items()}
    return pd.DataFrame({**columns, "rounds": pd.Series(dtype=int)})


def _bootstrap(
    data: Battles,
    *,
    rounds: int,
    seed: int | None,
    ci: float,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: str | None = None,
    reg: float = DEFAULT_REG,
) -> pd.DataFrame:
    """Point fit and bootstrap of every group of ``data`` in one batch: group (index into
    ``data.groups``), model, rating, lower, upper, rounds; by group, then best first.

    A model without battles in a group has zero rows and columns in that group's matrices:
    the penalty is separable, so it stays at 0, does not move the others, and is masked out
    before centring. Each group resamples with its own generator seeded with ``seed``.
    """
    if rounds < 1 or not 0 < ci < 1:
        raise ValueError("need rounds >= 1 and 0 < ci < 1")
    if data.n == 0:
        return _empty_bootstrap()
    parts = split_groups(*unique_battles(data), len(data.groups))
    blocks = [_resample(counts, rounds, seed) for _, counts in parts]
    theta, present = _fit_blocks([keys for keys, _ in parts], blocks, data.n, reg)
    shape = (len(parts), rounds + 1, data.n)
    theta, present = theta.reshape(shape), present.reshape(shape)
    ratings = _to_ratings(
        np.where(present, theta, np.nan),
        data.models,
        scale=scale,
        base=base,
        init_rating=init_rating,
        anchor=anchor,
    )
    group, model = np.nonzero(present[:, 0])
    if np.isnan(ratings[group, 0, model]).any():
        raise KeyError(f"anchor model {anchor!r} has no battles in some group")
    # A model drawn in no round has an all-NaN column: its bounds are NaN.
    lower, upper = _nan_quantiles(ratings[:, 1:], ((1 - ci) / 2, (1 + ci) / 2))
    out = pd.DataFrame(
        {
            "group": group,
            "model": pd.array(data.models[model], dtype="str"),
            "rating": ratings[group, 0, model],
            "lower": lower[group, model],
            "upper": upper[group, model],
            "rounds": present[:, 1:].sum(axis=1)[group, model],
        }
    )
    return out.sort_values(["group", "rating"], ascending=[True, False], kind="stable")


def bootstrap_ratings(
    battles: pd.DataFrame,
    *,
    rounds: int = 100,
    seed: int | None = None,
    ci: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
    anchor: str | None = None,
    reg: float = DEFAULT_REG,
) -> pd.DataFrame:
    """BT ratings with percentile bootstrap intervals over battles resampled with replacement.

    Index: model (best first). Columns: rating (full-data fit), lower, upper, rounds (how
    many rounds the model appeared in; a round without the model does not count for its
    interval). Each round draws as many battles as there are (the sum of ``n``).
    """
    data = prepare(battles, weight_col, count_col)
    fit = _bootstrap(
        data,
        rounds=rounds,
        seed=seed,
        ci=ci,
        scale=scale,
        base=base,
        init_rating=init_rating,
        anchor=anchor,
        reg=reg,
    )
    return fit.set_index("model")[BOOTSTRAP_COLUMNS]


def bootstrap_ratings_by(
    battles: pd.DataFrame,
    by: str,
    *,
    rounds: int = 100,
    seed: int | None = None,
    ci: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
    anchor: str | None = None,
    reg: float = DEFAULT_REG,
) -> pd.DataFrame:
    """``bootstrap_ratings`` of each group of battles (same value of ``by``), fitted together.

    A long frame: ``by``, model, rating, lower, upper, rounds; groups in sorted order, best
    first within each. A model without battles in a group has no row there, and rows whose
    ``by`` is missing are left out. Each group resamples with its own generator seeded with
    ``seed``, so its rows are those of ``bootstrap_ratings`` on that group alone, same seed.
    """
    data = prepare(battles, weight_col, count_col, by)
    fit = _bootstrap(
        data,
        rounds=rounds,
        seed=seed,
        ci=ci,
        scale=scale,
        base=base,
        init_rating=init_rating,
        anchor=anchor,
        reg=reg,
    )
    labels = data.groups.take(fit.pop("group").to_numpy())
    fit.insert(0, by, labels.array)
    return fit.reset_index(drop=True)


# ---------------------------------------------------------------------------
# Unbounded models


def _reachability(adjacency: np.ndarray) -> np.ndarray:
    """Transitive closure of a boolean adjacency matrix (reflexive)."""
    reach = (adjacency | np.eye(len(adjacency), dtype=bool)).astype(float)
    while True:
        grown = (reach @ reach) > 0
        if np.array_equal(grown, reach > 0):
            return grown
        reach = grown.astype(float)


def _main_component(w: np.ndarray) -> np.ndarray:
    """Mask of the largest strongly connected "beats" component (ties broken by weight)."""
    same = _reachability(w > 0)
    component = same & same.T
    sizes = component.sum(axis=1)
    if sizes.max() < 2:
        return np.zeros(len(w), dtype=bool)
    members = component.astype(float)
    inner_weight = ((members @ (w + w.T)) * members).sum(axis=1)
    best = np.lexsort((inner_weight, sizes))[-1]
    return component[best]


def _unbounded_reasons(data: Battles) -> np.ndarray:
    w = win_matrix(data)
    won, lost = w.sum(axis=1) > 0, w.sum(axis=0) > 0
    main = _main_component(w)
    reasons = np.full(data.n, "", dtype=object)
    reasons[~main] = "outside the main comparison graph"
    reasons[~lost] = "no losses"
    reasons[~won] = "no wins"
    return reasons


def unbounded_reasons(
    battles: pd.DataFrame, *, weight_col: str | None = "weight", count_col: str | None = "n"
) -> pd.Series:
    """Why each model's BT rating is unbounded ("" when it is well defined).

    The unpenalised MLE is finite only inside a strongly connected "beats" graph (a tie is
    an edge both ways). Models outside the largest such component — all wins, all losses,
    or disconnected — are unbounded.
    """
    data = prepare(battles, weight_col, count_col)
    index = pd.Index(data.models, name="model", dtype="str")
    if data.n == 0:
        return pd.Series([], index=index, name="reason", dtype="str")
    return pd.Series(_unbounded_reasons(data), index=index, name="reason", dtype="str")


def unbounded_models(
    battles: pd.DataFrame, *, weight_col: str | None = "weight", count_col: str | None = "n"
) -> pd.Series:
    """Boolean Series by model: True where the rating is not pinned down by the data."""
    reasons = unbounded_reasons(battles, weight_col=weight_col, count_col=count_col)
    return (reasons != "").rename("unbounded")


# ---------------------------------------------------------------------------
# Online Elo


def online_elo(
    battles: pd.DataFrame,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    weight_col: str | None = "weight",
    count_col: str | None = "n",
) -> pd.Series:
    """Sequential Elo in ``ts`` order (else row order); a battle's K is scaled by its weight.

    A row standing for ``n`` battles is played as ``n`` consecutive identical battles.
    """
    data = prepare(in_ts_order(battles), weight_col, count_col)
    ratings = [init_rating] * data.n
    score = {A_WINS: 1.0, B_WINS: 0.0, TIE: 0.5}
    sequence = (np.repeat(x, data.count).tolist() for x in (data.i, data.j, data.res, data.w))
    for i, j, res, w in zip(*sequence, strict=True):
        expected = 1.0 / (1.0 + base ** ((ratings[j] - ratings[i]) / scale))
        delta = k * w * (score[res] - expected)
        ratings[i] += delta
        ratings[j] -= delta
    return _rating_series(data.models, np.asarray(ratings, dtype=float))


# ---------------------------------------------------------------------------
# Summaries


def _model_frame(models: np.ndarray, values: np.ndarray, dtype: type) -> pd.DataFrame:
    index = pd.Index(models, name="model", dtype="str")
    columns = pd.Index(models, name="opponent", dtype="str")
    return pd.DataFrame(values, index=index, columns=columns, dtype=dtype)


def win_rate_matrix(
    battles: pd.DataFrame, *, weight_col: str | None = "weight", count_col: str | None = "n"
) -> pd.DataFrame:
    """Row model's (weighted) win rate against the column model, ties half; NaN if unplayed."""
    data = prepare(battles, weight_col, count_col)
    if data.n == 0:
        return _model_frame(data.models, np.zeros((0, 0)), float)
    w = win_matrix(data)
    total = w + w.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(total > 0, w / total, np.nan)
    return _model_frame(data.models, rate, float)


def battle_count_matrix(battles: pd.DataFrame, *, count_col: str | None = "n") -> pd.DataFrame:
    """Symmetric count of battles between each pair of models (unweighted)."""
    data = prepare(battles, weight_col=None, count_col=count_col)
    n = data.n
    cells = np.bincount(data.i * n + data.j, weights=data.count, minlength=n * n)
    counts = cells.reshape(n, n).astype(np.int64)
    return _model_frame(data.models, counts + counts.T, int)


def _empty_leaderboard() -> pd.DataFrame:
    dtypes = {
        "model": "str",
        "rating": float,
        "lower": float,
        "upper": float,
        "votes": int,
        "wins": int,
        "losses": int,
        "ties": int,
        "win_rate": float,
        "unbounded": bool,
        "rank": int,
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in LEADERBOARD_COLUMNS})


def leaderboard(
    battles: pd.DataFrame,
    *,
    rounds: int = 100,
    seed: int | None = 0,
    implicit_weight: float | None = None,
    kind_col: str = "kind",
    weight_col: str = "weight",
    count_col: str | None = "n",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Ratings with bootstrap intervals and vote counts, best first.

    If ``kind_col`` exists, rows with kind "implicit" are dropped when ``implicit_weight`` is
    None, else kept with that weight (replacing any weight they had). ``votes``, ``wins``,
    ``losses`` and ``ties`` are unweighted counts (a row counts ``n`` times); ``win_rate`` =
    (wins + ties/2) / votes. ``rank`` is 1 + the number of models rated strictly higher.
    """
    selected = select_kind(battles, implicit_weight, kind_col, weight_col)
    data = prepare(selected, weight_col, count_col)
    if data.n == 0:
        return _empty_leaderboard()
    boot = _bootstrap(data, rounds=rounds, seed=seed, ci=ci)
    wins, losses, ties = outcome_counts(data)
    votes = wins + losses + ties
    table = pd.DataFrame(
        {
            "model": pd.array(data.models, dtype="str"),
            "votes": votes,
            "wins": wins,
            "losses": losses,
            "ties": ties,
            "win_rate": (wins + 0.5 * ties) / votes,
            "unbounded": _unbounded_reasons(data) != "",
        }
    )
    table = boot[["model", "rating", "lower", "upper"]].merge(table, on="model")
    table["rank"] = table["rating"].rank(ascending=False, method="min").astype(int)
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="stable")
    return table[LEADERBOARD_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------------------
# Helpers


def expected_win_prob(
    r_a: float | np.ndarray, r_b: float | np.ndarray, scale: float = 400.0, base: float = 10.0
) -> float | np.ndarray:
    """P(a beats b) under the logistic rating model (a tie counts as half a win)."""
    x = (np.asarray(r_a, dtype=float) - np.asarray(r_b, dtype=float)) * math.log(base) / scale
    p = _sigmoid(x)
    return float(p) if p.ndim == 0 else p


def expand_best_of(contestants: list[str], best: str) -> list[tuple[str, str, str]]:
    """Pairwise (model_a, model_b, winner) rows for a best-of-N vote: best beats each other."""
    if len(set(contestants)) != len(contestants):
        raise ValueError("contestants must be distinct")
    if best not in contestants:
        raise ValueError(f"best {best!r} is not among the contestants")
    return [(best, other, "a") for other in contestants if other != best]
