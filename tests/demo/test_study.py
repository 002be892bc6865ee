"""The synthetic study: written the way the app writes a study, its outcome table equal to an
independent calculation on the bundle's Parquet files, the bundle's notebook run in a Jupyter
kernel without Aeries giving the same table, the planted effect recovered, and the CLI flag."""

from __future__ import annotations

import io
import math
import tomllib
import zipfile
from collections import defaultdict
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aeries.__main__ import main
from aeries.demo import study as demo_study
from aeries.demo.study import DEMO_STUDY_ID, EFFECT_CONDITION, write_synthetic_study
from aeries.store.db import Database
from aeries.store.migrations import migrate
from aeries.store.studies import get_study, get_version
from aeries.store.writer import Writer
from aeries.studies import report
from aeries.studies.bundle import study_bundle
from aeries.studies.outcomes import Outcome
from aeries.studies.spec import parse_study

# scipy warns about "precision loss" for a group of equal values (e.g. every thumb up).
pytestmark = pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
FIELDS = ("n", "mean", "sd", "diff", "ci_low", "ci_high", "effect", "p_value")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The default synthetic study (120 arrivals), its outcome table and its unzipped bundle."""
    path = tmp_path_factory.mktemp("study") / "study.duckdb"
    db = Database(path)
    migrate(db)
    writer = Writer(db)
    study_id = write_synthetic_study(db, writer, seed=0)
    record = get_study(db, study_id)
    assert record is not None
    version = get_version(db, study_id, record.current_version)
    assert version is not None
    outcomes = report.outcomes(db, parse_study(version.config_toml))
    folder = tmp_path_factory.mktemp("bundle")
    zipfile.ZipFile(io.BytesIO(study_bundle(db, study_id))).extractall(folder)
    yield db, study_id, outcomes, folder
    writer.close()
    db.close()


def _one(db: Database, sql: str, params: list[object]) -> object:
    row = db.one(sql, params)
    assert row is not None
    return row[0]


def test_the_study_is_written_the_way_the_app_writes_one(written):
    db, study_id, _, _ = written
    params = [study_id]
    assert study_id == DEMO_STUDY_ID
    assert db.one("SELECT status, current_version FROM studies WHERE id = ?", params) == ("live", 1)
    assert _one(db, "SELECT frozen_at IS NOT NULL FROM study_versions WHERE study_id = ?", params)
    assert _one(db, "SELECT count(*) FROM enrolments WHERE study_id = ?", params) == 120
    statuses = dict(
        db.rows("SELECT status, count(*) FROM enrolments WHERE study_id = ? GROUP BY ALL", params)
    )
    assert set(statuses) >= {"completed", "declined", "screened_out", "in_progress"}
    assert statuses["completed"] >= 80
    # Blocks of 2 × 3 conditions: the counts never differ by more than one block's worth.
    counts = [
        n
        for (n,) in db.rows(
            "SELECT count(*) FROM enrolments WHERE study_id = ? AND condition IS NOT NULL"
            " GROUP BY condition",
            params,
        )
    ]
    assert len(counts) == 3 and max(counts) - min(counts) <= 2
    # Every exchange and signal carries the participant's condition and version.
    for table in ("exchanges", "signals"):
        wrong = _one(
            db,
            f"""SELECT count(*) FROM {table} x JOIN enrolments e ON e.user_id = x.user_id
                WHERE x.study_id = ? AND (x.study_condition IS DISTINCT FROM e.condition
                      OR x.study_hash IS DISTINCT FROM e.config_hash OR NOT x.synthetic)""",
            params,
        )
        assert wrong == 0, table
    sources = dict(
        db.rows("SELECT source, count(*) FROM exchanges WHERE study_id = ? GROUP BY ALL", params)
    )
    assert set(sources) == {"chat", "observer"}
    # Steps follow each other in time, answers are given on leaving the questionnaire, and the
    # participants came over days, not within a second.
    assert (
        _one(
            db,
            """SELECT count(*) FROM enrolment_steps
               WHERE study_id = ? AND left_at IS NOT NULL AND left_at <= entered_at""",
            params,
        )
        == 0
    )
    assert (
        _one(
            db,
            """SELECT count(*) FROM answers a JOIN enrolment_steps s
                 ON s.enrolment_id = a.enrolment_id AND s.step = a.questionnaire
               WHERE a.study_id = ? AND a.answered_at IS DISTINCT FROM s.left_at""",
            params,
        )
        == 0
    )
    days = _one(
        db,
        "SELECT epoch(max(started_at) - min(started_at)) / 86400 FROM enrolments"
        " WHERE study_id = ?",
        params,
    )
    assert 2 < float(days) < 4  # type: ignore[arg-type]
    # Chat answers come within the chat step of their participant.
    outside = _one(
        db,
        """SELECT count(*) FROM exchanges x JOIN enrolments e ON e.user_id = x.user_id
           JOIN enrolment_steps s ON s.enrolment_id = e.id AND s.step = 'chat'
           WHERE x.study_id = ? AND x.source = 'chat' AND (x.started_at < s.entered_at
                 OR (s.left_at IS NOT NULL AND x.started_at > s.left_at))""",
        params,
    )
    assert outside == 0
    # The participants' accounts are synthetic, so the Participants page leaves them out.
    assert _one(
        db,
        "SELECT bool_and(u.synthetic) FROM users u JOIN enrolments e ON e.user_id = u.id"
        " WHERE e.study_id = ?",
        params,
    )


# --- an independent calculation on the Parquet files ---------------------------------------


def _welch(c: np.ndarray, r: np.ndarray) -> tuple[float, float, float]:
    """Welch's interval of mean(c) − mean(r) and its two-sided p, from the formulas."""
    vc, vr = c.var(ddof=1) / c.size, r.var(ddof=1) / r.size
    se = math.sqrt(vc + vr)
    df = (vc + vr) ** 2 / (vc**2 / (c.size - 1) + vr**2 / (r.size - 1))
    diff = c.mean() - r.mean()
    half = stats.t.ppf(0.975, df) * se
    return diff - half, diff + half, 2 * stats.t.sf(abs(diff) / se, df)


def _mann_whitney(c: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Rank-biserial r by counting pairs, and the two-sided p of U (normal approximation,
    tie-corrected variance, continuity 0.5)."""
    sign = np.sign(np.subtract.outer(c, r))
    u = float((sign > 0).sum() + 0.5 * (sign == 0).sum())
    _, ties = np.unique(np.concatenate([c, r]), return_counts=True)
    n = c.size + r.size
    var = c.size * r.size / 12 * ((n + 1) - (ties**3 - ties).sum() / (n * (n - 1)))
    z = (abs(u - c.size * r.size / 2) - 0.5) / math.sqrt(var)
    return float(sign.mean()), min(1.0, 2 * stats.norm.sf(z))


def _independent(folder: Path) -> dict[tuple[str, str], dict[str, float | None]]:
    """The outcome table from the bundle's files, computed another way than Aeries does."""
    tables = {p.stem: pd.read_parquet(p) for p in (folder / "tables").glob("*.parquet")}
    spec = tomllib.loads((folder / "versions" / "v1.toml").read_text(encoding="utf-8"))
    reference = spec["reference"]
    measures = {
        item["id"]: item["kind"] == "likert"
        for item in spec["post"]
        if item["kind"] in ("likert", "numeric") and "correct" not in item
    }
    enrolments = tables["enrolments"]
    completed = enrolments[enrolments["status"] == "completed"]
    condition_of = dict(zip(completed["id"], completed["condition"], strict=True))
    enrolment_of = dict(zip(completed["user_id"], completed["id"], strict=True))
    values: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)  # measure → person → x
    for a in tables["answers"].itertuples():
        if a.enrolment_id in condition_of and a.item_id in measures and pd.notna(a.value_number):
            values[a.item_id][a.enrolment_id] = float(a.value_number)
    calls: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for x in tables["exchanges"].itertuples():
        if x.source == "chat" and x.status == "ok" and x.user_id in enrolment_of:
            for name in ("ttft_ms", "e2e_ms"):
                if pd.notna(getattr(x, name)):
                    calls[name][enrolment_of[x.user_id]].append(float(getattr(x, name)))
    for s in tables["signals"].itertuples():
        wanted = s.name in ("thumbs", "satisfaction") and s.user_id in enrolment_of
        if wanted and pd.notna(s.value_num):
            calls[s.name][enrolment_of[s.user_id]].append(float(s.value_num))
    for name, by_person in calls.items():
        summary = np.median if name.endswith("_ms") else np.mean
        values[name] = {p: float(summary(xs)) for p, xs in by_person.items()}

    table: dict[tuple[str, str], dict[str, float | None]] = {}
    for name, by_person in values.items():
        groups: dict[str, list[float]] = defaultdict(list)
        for person, x in by_person.items():
            groups[condition_of[person]].append(x)
        r = np.array(groups[reference])
        for condition, xs in groups.items():
            c = np.array(xs)
            row: dict[str, float | None] = {
                "n": c.size,
                "mean": c.mean(),
                "sd": c.std(ddof=1),
                "diff": None,
                "ci_low": None,
                "ci_high": None,
                "effect": None,
                "p_value": None,
            }
            if condition != reference:
                low, high, p = _welch(c, r)
                pooled = ((c.size - 1) * c.var(ddof=1) + (r.size - 1) * r.var(ddof=1)) / (
                    c.size + r.size - 2
                )
                d = (c.mean() - r.mean()) / math.sqrt(pooled)
                row |= {"diff": c.mean() - r.mean(), "ci_low": low, "ci_high": high}
                if measures.get(name, False):  # a Likert item
                    row["effect"], row["p_value"] = _mann_whitney(c, r)
                else:
                    row["effect"], row["p_value"] = d, p
            table[(name, condition)] = row
    return table


def _close(a: float | None, b: float | None, rel: float = 1e-9) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def _as_dict(outcomes: list[Outcome]) -> dict[tuple[str, str], dict[str, float | None]]:
    return {(o.measure, o.condition): {f: getattr(o, f) for f in FIELDS} for o in outcomes}


def test_the_outcome_table_equals_an_independent_calculation_on_the_parquet_files(written):
    _, _, outcomes, folder = written
    expected = _independent(folder)
    got = _as_dict(outcomes)
    measures = {m for m, _ in got}
    assert measures == {"helpful", "reuse", "ttft_ms", "e2e_ms", "thumbs", "satisfaction"}
    assert set(got) == set(expected)
    for key, row in got.items():
        for field in FIELDS:
            # p values far in the tail are compared relatively: they are tiny numbers.
            assert _close(row[field], expected[key][field], rel=1e-6), (key, field)


def test_the_planted_effect_is_recovered(written):
    _, _, outcomes, _ = written
    rows = {(o.measure, o.condition): o for o in outcomes}
    helpful = rows[("helpful", EFFECT_CONDITION)]
    assert helpful.ci_low is not None and helpful.ci_low > 0  # the interval excludes 0
    assert helpful.diff is not None and 0.4 < helpful.diff < 1.2  # planted: +0.8
    assert helpful.p_value is not None and helpful.p_value < 0.01 and helpful.effect > 0
    ttft = rows[("ttft_ms", EFFECT_CONDITION)]
    assert ttft.ci_high is not None and ttft.ci_high < 0  # faster first token
    assert ttft.p_value is not None and ttft.p_value < 0.001


# --- the notebook, run in a Jupyter kernel ------------------------------------------------------

BLOCK_AERIES = "import sys\nsys.modules['aeries'] = None  # the bundle must work without Aeries"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A python3 kernelspec for this interpreter in a temporary Jupyter path (nothing is
    installed for the user; only `pip install -r requirements-dev.txt` is assumed)."""
    from ipykernel.kernelspec import install

    install(prefix=str(tmp_path / "jupyter"), kernel_name="python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return "python3"


@pytest.mark.timeout(180)
def test_the_notebook_runs_without_aeries_and_gives_the_same_table(written, kernel):
    from nbclient import NotebookClient

    _, _, outcomes, folder = written
    notebook = nbformat.read(folder / "analysis.ipynb", as_version=4)
    nbformat.validate(notebook)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(BLOCK_AERIES))
    NotebookClient(
        notebook, timeout=120, kernel_name=kernel, resources={"metadata": {"path": str(folder)}}
    ).execute()
    shown = notebook.cells[-1].outputs
    assert any("text/html" in o.get("data", {}) for o in shown)  # the table is displayed
    csv = pd.read_csv(folder / "outcomes.csv")
    expected = _as_dict(outcomes)
    assert list(zip(csv["measure"], csv["condition"], strict=True)) == list(expected)
    for row in csv.to_dict("records"):
        want = expected[(row["measure"], row["condition"])]
        for field in FIELDS:
            assert _close(float(row[field]), want[field]), (row["measure"], field)
    kinds = {(o.measure, o.condition): (o.kind, o.effect_name, o.test) for o in outcomes}
    assert [tuple(r) for r in csv[["kind", "effect_name", "test"]].values] == list(kinds.values())


# --- the command line ------------------------------------------------------------------------


def test_the_demo_cli_writes_the_study_and_replace_removes_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo_study, "DEMO_PARTICIPANTS", 8)
    path = tmp_path / "demo.duckdb"
    assert main(["demo", "--exchanges", "300", "--db", str(path), "--study"]) == 0
    assert f"study '{DEMO_STUDY_ID}'" in capsys.readouterr().out

    def count(table: str) -> int:
        db = Database(path)
        try:
            return int(_one(db, f"SELECT count(*) FROM {table}", []))  # type: ignore[arg-type]
        finally:
            db.close()

    assert count("enrolments") == 8 and count("studies") == 1
    # --replace regenerates the demo; without --study the demo study goes with it, leaving
    # nothing behind that points at the removed accounts.
    assert main(["demo", "--exchanges", "300", "--db", str(path), "--replace", "--study"]) == 0
    assert count("enrolments") == 8 and count("studies") == 1
    assert main(["demo", "--exchanges", "300", "--db", str(path), "--replace"]) == 0
    for table in ("studies", "study_versions", "enrolments", "enrolment_steps", "answers"):
        assert count(table) == 0, table
    assert count("exchanges WHERE study_id IS NOT NULL") == 0


def test_a_second_study_with_the_same_id_is_refused(tmp_path):
    from aeries.demo import DemoError

    db = Database(tmp_path / "x.duckdb")
    migrate(db)
    writer = Writer(db)
    try:
        write_synthetic_study(db, writer, participants=3, seed=1)
        with pytest.raises(DemoError, match="already holds a study"):
            write_synthetic_study(db, writer, participants=3, seed=1)
    finally:
        writer.close()
        db.close()
