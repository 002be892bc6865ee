"""What the researcher sees of a study: the funnel per condition and the outcome table.

Outcome measures are per participant (one value each, so the tests compare independent
groups): every Likert and numeric post-questionnaire item; the mean thumb (1 up, 0 down) and
observer satisfaction of their answers; their median TTFT and E2E over 'ok' exchanges.

The SQL is DuckDB's and runs on ``db.analytics(tables)``: the DuckDB file, or the process's
DuckDB replica of a PostgreSQL store (aeries.store.replica).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from aeries import ratings
from aeries.ids import utcnow
from aeries.store.db import Database
from aeries.studies.outcomes import MeasureKind, Outcome, outcome_table
from aeries.studies.spec import Study

DROPPED_AFTER_MIN = 30.0  # idle this long in one step (without a time limit): dropped


def funnel(db: Database, study: Study, now: datetime | None = None) -> pd.DataFrame:
    """Per condition ('—' before assignment): enrolled, in progress (of whom dropped: idle in
    their step past the study's time limit, or 30 minutes without one), each exit, attention
    failures."""
    idle = study.exits.time_limit_minutes or DROPPED_AFTER_MIN
    cutoff = (now or utcnow()) - timedelta(minutes=idle)
    return db.analytics("enrolments").df(
        """SELECT coalesce(condition, '—') AS condition,
                  count(*) AS enrolled,
                  count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
                  count(*) FILTER (WHERE status = 'in_progress' AND step_started_at < ?)
                      AS dropped,
                  count(*) FILTER (WHERE status = 'completed') AS completed,
                  count(*) FILTER (WHERE status = 'declined') AS declined,
                  count(*) FILTER (WHERE status = 'screened_out') AS screened_out,
                  count(*) FILTER (WHERE status = 'failed_attention') AS failed_attention,
                  count(*) FILTER (WHERE status = 'timed_out') AS timed_out,
                  sum(attention_failures) AS attention_failures
           FROM enrolments WHERE study_id = ? GROUP BY ALL ORDER BY condition""",
        [cutoff, study.id],
    )


def step_funnel(db: Database, study_id: str) -> pd.DataFrame:
    """Per condition and step: how many reached the step, and how many are there now (the
    drop-off between steps is where participants left). Before assignment the condition is
    '—'; a participant's later condition is used for every step they reached."""
    return db.analytics("enrolment_steps", "enrolments").df(
        """SELECT coalesce(e.condition, '—') AS condition, s.step,
                  count(*) AS reached, count(*) FILTER (WHERE s.left_at IS NULL
                      AND e.status = 'in_progress') AS there_now
           FROM enrolment_steps s JOIN enrolments e ON e.id = s.enrolment_id
           WHERE s.study_id = ? GROUP BY ALL ORDER BY condition, min(s.entered_at)""",
        [study_id],
    )


def arena_ratings(db: Database, study_id: str, *, rounds: int = 200) -> pd.DataFrame:
    """Bradley–Terry ratings with bootstrap intervals of the arena votes, per condition
    (condition, then the leaderboard's columns)."""
    prefs = db.analytics("preferences", "battles").df(
        """SELECT b.study_condition AS condition, p.model_a, p.model_b, p.winner, p.kind,
                  p.weight, count(*) AS n
           FROM preferences p JOIN battles b ON b.id = p.battle_id
           WHERE b.study_id = ? AND p.kind = 'explicit' GROUP BY ALL""",
        [study_id],
    )
    boards = []
    for condition, rows in prefs.groupby("condition", sort=True):
        board = ratings.leaderboard(rows.drop(columns=["condition"]), rounds=rounds, seed=0)
        boards.append(board.assign(condition=condition))
    if not boards:
        return pd.DataFrame()
    table = pd.concat(boards, ignore_index=True)
    return table[["condition", *[c for c in table.columns if c != "condition"]]]


def step_times(db: Database, study_id: str) -> pd.DataFrame:
    """Per step: how many entered it, how many are there now, median minutes spent."""
    return db.analytics("enrolment_steps").df(
        """SELECT step, count(*) AS entered, count(*) FILTER (WHERE left_at IS NULL) AS there_now,
                  median(epoch(left_at - entered_at) / 60.0) AS median_minutes
           FROM enrolment_steps WHERE study_id = ? GROUP BY step ORDER BY min(entered_at)""",
        [study_id],
    )


def measures(db: Database, study: Study) -> tuple[pd.DataFrame, dict[str, MeasureKind]]:
    """One row per (participant, measure) of completed enrolments, and each measure's kind."""
    kinds: dict[str, MeasureKind] = {}
    for item in study.post:
        if item.kind in ("likert", "numeric") and not item.is_attention_check:
            kinds[item.id] = "ordinal" if item.kind == "likert" else "interval"
    replica = db.analytics("answers", "enrolments", "exchanges", "signals")
    answers = replica.df(
        """SELECT e.id AS participant, e.condition, a.item_id AS measure, a.value_number AS value
           FROM answers a JOIN enrolments e ON e.id = a.enrolment_id
           WHERE e.study_id = ? AND e.status = 'completed' AND a.value_number IS NOT NULL""",
        [study.id],
    )
    answers = answers[answers["measure"].isin(list(kinds))]
    derived = replica.df(
        """WITH done AS (
               SELECT id, user_id, condition FROM enrolments
               WHERE study_id = ? AND status = 'completed'),
           calls AS (
               SELECT d.id AS participant, d.condition, median(x.ttft_ms) AS ttft_ms,
                      median(x.e2e_ms) AS e2e_ms
               FROM exchanges x JOIN done d ON d.user_id = x.user_id
               WHERE x.study_id = ? AND x.source = 'chat' AND x.status = 'ok' GROUP BY ALL),
           scored AS (
               SELECT d.id AS participant, d.condition,
                      avg(s.value_num) FILTER (WHERE s.name = 'thumbs') AS thumbs,
                      avg(s.value_num) FILTER (WHERE s.name = 'satisfaction') AS satisfaction
               FROM signals s JOIN done d ON d.user_id = s.user_id
               WHERE s.study_id = ? GROUP BY ALL)
           SELECT coalesce(c.participant, s.participant) AS participant,
                  coalesce(c.condition, s.condition) AS condition,
                  c.ttft_ms, c.e2e_ms, s.thumbs, s.satisfaction
           FROM calls c FULL JOIN scored s ON s.participant = c.participant""",
        [study.id, study.id, study.id],
    )
    long = derived.melt(
        id_vars=["participant", "condition"], var_name="measure", value_name="value"
    ).dropna(subset=["value"])
    for name in long["measure"].unique():
        kinds[str(name)] = "interval"
    frame = pd.concat([answers, long], ignore_index=True)
    frame["value"] = frame["value"].astype(float)
    return frame, kinds


def outcomes(db: Database, study: Study) -> list[Outcome]:
    """The outcome table: each measure per condition against the reference condition."""
    frame, kinds = measures(db, study)
    present = set(frame.loc[frame["condition"] == study.reference, "measure"])
    frame = frame[frame["measure"].isin(present)]
    if frame.empty:
        return []
    return outcome_table(frame, {m: kinds[m] for m in present}, study.reference)
