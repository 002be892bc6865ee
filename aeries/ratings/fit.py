"""Bradley–Terry: the penalised maximum-likelihood fit (batched Newton) and its prior.

The fit maximises the likelihood minus ``reg/2 · Σ θ²`` where θ is each model's log-strength
in nats (θ = (R − init_rating) · ln(base) / scale, see ``aeries.ratings.scale``).
``DEFAULT_REG = 1e-3`` is a Gaussian prior with a standard deviation of ~32 nats (~5,500
rating points): it moves ratings of models with a handful of votes by well under a point, yet
keeps the optimum unique and finite when the data cannot pin a model down. Such models are
"unbounded" (see ``aeries.ratings.summaries``): their finite rating is an artefact of the
prior, so the UI should mark them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries.ratings.battles import prepare, win_matrix
from aeries.ratings.scale import RatingScale, _rating_series, _sigmoid

DEFAULT_REG = 1e-3

_MAX_ITER = 200
_TOL = 1e-10
_MAX_HALVINGS = 40


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
    on = RatingScale(scale, base, init_rating, anchor)
    return _rating_series(data.models, on.ratings(theta, data.models))
