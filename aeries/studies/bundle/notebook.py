"""The study bundle's analysis notebook, built with nbformat: it reads the bundle's Parquet files
with pandas from its own folder, recomputes the outcome table with scipy by the rules of
aeries/studies/report.py and outcomes.py, and writes ``outcomes.csv``; it needs no Aeries.
"""

from __future__ import annotations

_INTRO = """# {study_id}: the outcome table, recomputed

This notebook needs only pandas (with pyarrow), numpy and scipy — not Aeries. It reads the
Parquet files in `tables/` next to it, recomputes the outcome table Aeries shows on its Studies
page, displays it and writes `outcomes.csv`.

The rules (Aeries' `aeries/studies/report.py` and `outcomes.py`):

- **Participants**: completed enrolments only; one value per participant and measure.
- **Measures**: every Likert and numeric post-questionnaire item of the current version except
  attention checks (the answer's `value_number`: a Likert point is 1 for the lowest label); the
  participant's median TTFT and median E2E over their `ok` chat exchanges; their mean thumb
  (1 up, 0 down) and mean observer satisfaction (0..1).
- A measure is shown only when the reference condition has values for it.
- **Comparison** of each condition with the reference: difference of means with a 95% Welch
  interval; Welch's t test and Cohen's d (pooled SD) for interval measures; the two-sided
  Mann–Whitney U test and the rank-biserial r for Likert items (ordinal). A group with fewer
  than 2 values has no interval, effect or p; two constant groups have no Welch interval or p.
"""

_LOAD = """import math
from pathlib import Path

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover
    import tomli as tomllib

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path.cwd()  # Jupyter runs a notebook in its own folder
if not (HERE / "tables").is_dir():
    raise FileNotFoundError(f"Run this notebook from the unzipped bundle: no tables/ in {HERE}")
tables = {path.stem: pd.read_parquet(path) for path in sorted((HERE / "tables").glob("*.parquet"))}
{name: len(frame) for name, frame in tables.items()}"""

_SPEC = """# The current version's file: its reference condition and post-questionnaire measures.
study = tables["studies"].iloc[0]
version = int(study["current_version"])
spec = tomllib.loads((HERE / "versions" / f"v{version}.toml").read_text(encoding="utf-8"))
REFERENCE = spec.get("reference", spec["conditions"][0]["name"].strip())
KINDS = {
    item["id"]: "ordinal" if item["kind"] == "likert" else "interval"
    for item in spec.get("post", [])
    if item["kind"] in ("likert", "numeric") and "correct" not in item  # no attention checks
}
print(f"Study {study['id']!r}, version {version}; reference condition {REFERENCE!r}")
print("Questionnaire measures:", KINDS)"""

_MEASURES = """# One row per (participant, measure): completed enrolments only.
enrolments = tables["enrolments"]
done = enrolments.loc[enrolments["status"] == "completed", ["id", "user_id", "condition"]]
done = done.rename(columns={"id": "participant"})

answers = tables["answers"].merge(done, left_on="enrolment_id", right_on="participant")
answers = answers[answers["value_number"].notna() & answers["item_id"].isin(list(KINDS))]
items = answers[["participant", "condition", "item_id", "value_number"]].set_axis(
    ["participant", "condition", "measure", "value"], axis=1
)

exchanges = tables["exchanges"]
chat = exchanges[(exchanges["source"] == "chat") & (exchanges["status"] == "ok")]
chat = chat.merge(done, on="user_id")
latency = chat.groupby(["participant", "condition"])[["ttft_ms", "e2e_ms"]].median()

signals = tables["signals"].merge(done, on="user_id")
scores = {
    name: signals[signals["name"] == name].groupby(["participant", "condition"])["value_num"].mean()
    for name in ("thumbs", "satisfaction")
}
derived = pd.concat([latency, pd.DataFrame(scores)], axis=1)
derived = derived.reset_index().melt(
    id_vars=["participant", "condition"], var_name="measure", value_name="value"
)
derived = derived.dropna(subset=["value"])
kinds = dict(KINDS) | {str(m): "interval" for m in derived["measure"].unique()}

measures = pd.concat([items, derived], ignore_index=True)
measures["value"] = measures["value"].astype(float)
measures = measures.dropna(subset=["value"])
present = set(measures.loc[measures["condition"] == REFERENCE, "measure"])
measures = measures[measures["measure"].isin(present)]
measures.groupby(["measure", "condition"])["value"].agg(["count", "mean"])"""

_STATS = """def finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def cohen_d(ref, cond):
    n_r, n_c = ref.size, cond.size
    pooled = ((n_r - 1) * ref.var(ddof=1) + (n_c - 1) * cond.var(ddof=1)) / (n_r + n_c - 2)
    if not pooled > 0:
        return None
    return finite((cond.mean() - ref.mean()) / math.sqrt(pooled))


def compare(ref, cond, kind, confidence=0.95):
    \"\"\"(diff, ci_low, ci_high, effect, p) of a condition against the reference.\"\"\"
    if ref.size == 0 or cond.size == 0:
        return None, None, None, None, None
    diff = float(cond.mean() - ref.mean())
    if ref.size < 2 or cond.size < 2:
        return diff, None, None, None, None
    ci_low = ci_high = welch_p = None
    if np.ptp(ref) > 0 or np.ptp(cond) > 0:  # two constant groups: no Welch interval
        welch = stats.ttest_ind(cond, ref, equal_var=False)
        ci = welch.confidence_interval(confidence_level=confidence)
        ci_low, ci_high, welch_p = finite(ci.low), finite(ci.high), finite(welch.pvalue)
    if kind == "interval":
        return diff, ci_low, ci_high, cohen_d(ref, cond), welch_p
    mwu = stats.mannwhitneyu(cond, ref, alternative="two-sided")
    rank_biserial = 2.0 * float(mwu.statistic) / (cond.size * ref.size) - 1.0
    all_tied = np.ptp(np.concatenate([ref, cond])) == 0
    return diff, ci_low, ci_high, rank_biserial, None if all_tied else finite(mwu.pvalue)


rows = []
groups = {key: g.to_numpy() for key, g in measures.groupby(["measure", "condition"])["value"]}
for name in sorted(set(measures["measure"])):
    kind = kinds[name]
    ref = groups[(name, REFERENCE)]
    others = sorted(c for m, c in groups if m == name and c != REFERENCE)
    for condition in [REFERENCE, *others]:
        values = groups[(name, condition)]
        if condition == REFERENCE:
            diff = ci_low = ci_high = effect = p = None
        else:
            diff, ci_low, ci_high, effect, p = compare(ref, values, kind)
        rows.append({
            "measure": name,
            "kind": kind,
            "condition": condition,
            "n": values.size,
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if values.size >= 2 else None,
            "diff": diff,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "effect": effect,
            "effect_name": "cohen_d" if kind == "interval" else "rank_biserial",
            "test": "Welch t" if kind == "interval" else "Mann-Whitney U",
            "p_value": p,
        })
COLUMNS = ["measure", "kind", "condition", "n", "mean", "sd", "diff", "ci_low", "ci_high",
           "effect", "effect_name", "test", "p_value"]
outcomes = pd.DataFrame(rows, columns=COLUMNS)
outcomes.to_csv(HERE / "outcomes.csv", index=False)
print(f"{len(outcomes)} rows written to outcomes.csv")
outcomes"""


def analysis_notebook(study_id: str, reference: str | None) -> str:
    """The analysis notebook (nbformat 4) as JSON text."""
    import nbformat  # the notebook format's own writer and validator
    from nbformat import v4

    intro = _INTRO.format(study_id=study_id)
    if reference:
        intro += f"\nThe reference condition of the current version is **{reference}**.\n"
    notebook = v4.new_notebook(
        cells=[
            v4.new_markdown_cell(intro),
            v4.new_code_cell(_LOAD),
            v4.new_code_cell(_SPEC),
            v4.new_markdown_cell("## Per-participant measures"),
            v4.new_code_cell(_MEASURES),
            v4.new_markdown_cell("## The outcome table"),
            v4.new_code_cell(_STATS),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    text: str = nbformat.writes(notebook)
    return text
