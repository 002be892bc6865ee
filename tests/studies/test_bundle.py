"""The study bundle: exactly the study's rows (not another study's, not a non-participant's),
each version's file and hash, a codebook naming every bundled column and item, and a notebook
whose code gives the outcome table Aeries shows."""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pyarrow.parquet as pq
import pytest

from aeries.calls import CallResult, ChatRequest, StudyRef
from aeries.demo.study import study_text, write_synthetic_study
from aeries.ids import new_id, utcnow
from aeries.messages import Message
from aeries.store.battles import battle_row, battle_side_row, vote_row
from aeries.store.conversations import message_row, new_conversation
from aeries.store.db import Database
from aeries.store.exchanges import exchange_row, log_exchange
from aeries.store.migrations import migrate
from aeries.store.preferences import PairSide, preference_row
from aeries.store.signals import USER_FEEDBACK, signal_row
from aeries.store.studies import get_study, get_version, save_study_version
from aeries.store.users import ensure_user
from aeries.store.writer import Insert, Writer
from aeries.studies import report
from aeries.studies.bundle import COLUMN_MEANINGS, TABLE_QUERIES, StudyNotFound, study_bundle
from aeries.studies.outcomes import outcome_frame
from aeries.studies.spec import parse_study

STUDY, OTHER = "bundle-a", "bundle-b"
# The study's second version: one more post item (a single choice, so no measure).
V2_ITEM = '\n[[post]]\nid = "clarity"\nkind = "single"\ntext = "Was it clear?"\n'
V2_ITEM += 'options = ["Yes", "No"]\n'


def _outsider(db: Database, writer: Writer) -> str:
    """A user who is in no study, with a conversation, an exchange and a thumb."""
    user_id = ensure_user(db, "outsider")
    conversation = new_conversation(writer, user_id, "Hello there")
    message = Message(new_id(), conversation.id, None, "user", "Hello there", utcnow())
    writer.submit(Insert("messages", message_row(message)))
    result = CallResult(new_id(), "ok", content="Hi!", ttft_ms=100.0, e2e_ms=300.0)
    request = ChatRequest("http://x/v1", "m", [{"role": "user", "content": "Hello there"}])
    log_exchange(
        writer,
        exchange_row(
            request, result, source="chat", user_id=user_id, conversation_id=conversation.id
        ),
    )
    thumb = signal_row(
        kind="feedback",
        name="thumbs",
        user_id=user_id,
        provenance=USER_FEEDBACK,
        exchange_id=result.id,
        value_num=1.0,
    )
    writer.submit(Insert("signals", thumb))
    assert writer.flush()
    return user_id


def _battle(writer: Writer, user_id: str, study: StudyRef | None) -> str:
    """An arena round of two sides, its vote and its preference."""
    battle_id, vote_id, now = new_id(), new_id(), utcnow()
    sides = [PairSide(m, m, new_id(), 100.0, i) for i, m in enumerate(("m1", "m2"))]
    writer.submit(
        Insert(
            "battles",
            battle_row(
                battle_id=battle_id,
                user_id=user_id,
                parent_battle_id=None,
                prompt="Which is better?",
                blind=True,
                contestant_count=2,
                created_at=now,
                study=study,
            ),
        ),
        *(
            Insert(
                "battle_sides",
                battle_side_row(
                    battle_id=battle_id,
                    position=side.position or 0,
                    contestant=side.contestant,
                    model=side.model,
                    persona_id=None,
                    params="{}",
                    exchange_id=side.exchange_id,
                ),
            )
            for side in sides
        ),
        Insert(
            "votes",
            vote_row(
                vote_id=vote_id,
                battle_id=battle_id,
                user_id=user_id,
                outcome="a",
                best_position=None,
                reasons=["clearer"],
                comment=None,
                ms_to_vote=900.0,
                created_at=now,
                study=study,
            ),
        ),
        Insert(
            "preferences",
            preference_row(
                kind="explicit",
                source="arena",
                user_id=user_id,
                a=sides[0],
                b=sides[1],
                winner="a",
                created_at=now,
                battle_id=battle_id,
                vote_id=vote_id,
            ),
        ),
    )
    return battle_id


def _arena(db: Database, writer: Writer, study_id: str) -> str:
    """A round by one of the study's assigned participants."""
    row = db.one(
        "SELECT user_id, config_hash, condition FROM enrolments"
        " WHERE study_id = ? AND condition IS NOT NULL ORDER BY started_at LIMIT 1",
        [study_id],
    )
    assert row is not None
    return _battle(writer, row[0], StudyRef(study_id, row[1], row[2]))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Two synthetic studies (the first with a second version) and an outsider; the first
    study's bundle, unzipped."""
    path = tmp_path_factory.mktemp("bundle") / "b.duckdb"
    db = Database(path)
    migrate(db)
    writer = Writer(db)
    write_synthetic_study(db, writer, participants=14, seed=1, study_id=STUDY)
    write_synthetic_study(db, writer, participants=8, seed=2, study_id=OTHER)
    outsider = _outsider(db, writer)
    battles = [_arena(db, writer, STUDY), _arena(db, writer, STUDY)]
    _arena(db, writer, OTHER)
    _battle(writer, outsider, None)
    assert writer.flush()
    v2 = study_text(STUDY, 1) + V2_ITEM
    study = parse_study(v2)
    save_study_version(db, STUDY, study.title, study.config_hash, v2)
    data = study_bundle(db, STUDY)
    folder = tmp_path_factory.mktemp("unzipped")
    zipfile.ZipFile(io.BytesIO(data)).extractall(folder)
    yield db, folder, outsider, battles
    writer.close()
    db.close()


def _table(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / "tables" / f"{name}.parquet")


def _ids(db: Database, sql: str, params: list[object]) -> set[str]:
    return {row[0] for row in db.rows(sql, params)}


def test_the_bundle_holds_the_files_it_promises(made):
    _, folder, _, _ = made
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert files == {
        *(f"tables/{t}.parquet" for t in TABLE_QUERIES),
        "versions/v1.toml",
        "versions/v2.toml",
        "versions/hashes.json",
        "codebook.md",
        "analysis.ipynb",
        "manifest.json",
    }
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["study_id"] == STUDY and manifest["current_version"] == 2
    for table, entry in manifest["tables"].items():
        assert pq.read_metadata(folder / entry["file"]).num_rows == entry["rows"], table


def test_the_bundle_holds_exactly_the_study_rows(made):
    db, folder, outsider, battles = made
    params = [STUDY]
    participants = _ids(db, "SELECT user_id FROM enrolments WHERE study_id = ?", params)
    others = _ids(db, "SELECT user_id FROM enrolments WHERE study_id = ?", [OTHER])
    assert len(participants) == 14 and others and outsider not in participants | others

    def same(name: str, key: str, sql: str) -> pd.DataFrame:
        frame = _table(folder, name)
        expected = _ids(db, sql, params)
        assert expected, name
        assert set(frame[key]) == expected and len(frame) == len(expected), name
        return frame

    assert _table(folder, "studies")["id"].tolist() == [STUDY]
    assert _table(folder, "study_versions")["version"].tolist() == [1, 2]
    for name in ("enrolments", "exchanges", "signals"):
        same(name, "id", f"SELECT id FROM {name} WHERE study_id = ?")
    steps = _table(folder, "enrolment_steps")
    answers = _table(folder, "answers")
    for frame, table in ((steps, "enrolment_steps"), (answers, "answers")):
        rows = db.one(f"SELECT count(*) FROM {table} WHERE study_id = ?", params)
        assert set(frame["study_id"]) == {STUDY} and len(frame) == rows[0]
    users = same("users", "id", "SELECT user_id FROM enrolments WHERE study_id = ?")
    assert users.columns.tolist() == ["id", "name", "origin", "created_at"]
    assert set(users["origin"]) == {"study"}
    conversations = same(
        "conversations",
        "id",
        "SELECT c.id FROM conversations c JOIN enrolments e ON e.user_id = c.user_id"
        " WHERE e.study_id = ?",
    )
    assert set(conversations["user_id"]) <= participants
    same(
        "messages",
        "id",
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " JOIN enrolments e ON e.user_id = c.user_id WHERE e.study_id = ?",
    )
    # Nothing of the outsider or of the other study, wherever a user id is kept.
    kept_by = ("enrolments", "answers", "exchanges", "signals", "conversations", "battles")
    for name in (*kept_by, "votes", "preferences"):
        kept = set(_table(folder, name)["user_id"])
        assert kept <= participants and not kept & (others | {outsider}), name
    # The arena task's rounds: the study's, with their sides, votes and preferences.
    assert set(_table(folder, "battles")["id"]) == set(battles)
    for name in ("battle_sides", "votes", "preferences"):
        frame = _table(folder, name)
        assert set(frame["battle_id"]) == set(battles), name
    assert len(_table(folder, "battle_sides")) == 4
    assert set(_table(folder, "votes")["study_id"]) == {STUDY}
    # The rows are the database's, value for value.
    expected = db.df("SELECT * FROM enrolments WHERE study_id = ? ORDER BY started_at, id", params)
    got = _table(folder, "enrolments")
    assert got.columns.tolist() == expected.columns.tolist()
    for column in ("id", "condition", "status", "completion_code", "turns"):
        assert got[column].tolist() == expected[column].tolist()
    assert (got["started_at"] == expected["started_at"]).all()


def test_each_version_is_bundled_with_its_hash(made):
    db, folder, _, _ = made
    hashes = json.loads((folder / "versions" / "hashes.json").read_text())
    assert sorted(hashes) == ["v1.toml", "v2.toml"]
    for number in (1, 2):
        version = get_version(db, STUDY, number)
        assert version is not None
        text = (folder / "versions" / f"v{number}.toml").read_text(encoding="utf-8")
        assert text == version.config_toml
        assert hashes[f"v{number}.toml"]["config_hash"] == parse_study(text).config_hash
    assert hashes["v1.toml"]["frozen_at"] is not None  # the study went live on version 1


def _sections(codebook: str, level: str) -> dict[str, str]:
    """Heading → the text under it, for headings of this level ("###")."""
    parts = re.split(rf"^{level} (.+)$", codebook, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_codebook_describes_every_bundled_column(made):
    _, folder, _, _ = made
    sections = _sections((folder / "codebook.md").read_text(encoding="utf-8"), "###")
    for table in TABLE_QUERIES:
        heading = next(h for h in sections if h.startswith(f"`{table}` "))
        listed = re.findall(r"^\| `(\w+)` \| ([A-Z]+[^|]*) \| (.+) \|$", sections[heading], re.M)
        schema = pq.read_schema(folder / "tables" / f"{table}.parquet")
        assert [name for name, _, _ in listed] == schema.names, table
        for name, kind, meaning in listed:
            assert kind.strip() and meaning.strip(), (table, name)
            assert name in COLUMN_MEANINGS[table], f"describe {table}.{name} in COLUMN_MEANINGS"
    exchanges = next(v for h, v in sections.items() if h.startswith("`exchanges`"))
    assert "| `ttft_ms` | DOUBLE |" in exchanges and "| `started_at` | TIMESTAMPTZ |" in exchanges


def test_the_codebook_lists_every_item_of_every_version(made):
    db, folder, _, _ = made
    sections = _sections((folder / "codebook.md").read_text(encoding="utf-8"), "###")
    for number in (1, 2):
        version = get_version(db, STUDY, number)
        assert version is not None
        study = parse_study(version.config_toml)
        text = next(v for h, v in sections.items() if h.startswith(f"Version {number} "))
        assert version.config_hash in text
        rows = {
            cells[0].strip("` "): cells
            for line in text.splitlines()
            if line.startswith("| `") and (cells := line.strip("|").split(" | "))
        }
        items = [*study.pre, *study.post]
        assert [i.id for i in items] == list(rows)
        for item in items:
            cells = [c.strip() for c in rows[item.id]]
            assert cells[1] == ("pre" if item in study.pre else "post") and cells[2] == item.kind
            assert cells[3] == item.text and cells[5] == ("yes" if item.required else "no")
            for k, label in enumerate(item.scale, start=1):
                assert f"{k} = {label}" in cells[4]
            for option in item.options:
                assert f"“{option}”" in cells[4]
            if item.is_attention_check:
                assert cells[6] == f"yes: correct is “{item.correct}”"
            else:
                assert cells[6] == "no"
    assert "`clarity`" in next(v for h, v in sections.items() if h.startswith("Version 2 "))
    assert "`clarity`" not in next(v for h, v in sections.items() if h.startswith("Version 1 "))


def _run_notebook_code(folder: Path) -> pd.DataFrame:
    """The notebook's code, run here in its folder (the kernel run is in tests/demo)."""
    notebook = nbformat.read(folder / "analysis.ipynb", as_version=4)
    nbformat.validate(notebook)
    namespace: dict[str, object] = {}
    here = Path.cwd()
    os.chdir(folder)
    try:
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert "aeries" not in cell.source  # it must run without Aeries
                exec(compile(cell.source, "analysis.ipynb", "exec"), namespace)
    finally:
        os.chdir(here)
    return pd.read_csv(folder / "outcomes.csv")


# scipy warns about "precision loss" for a small group of equal values (a thumbs mean of 1).
@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_the_notebook_code_gives_the_outcome_table_of_the_current_version(made):
    db, folder, _, _ = made
    record = get_study(db, STUDY)
    assert record is not None
    version = get_version(db, STUDY, record.current_version)
    assert version is not None
    expected = outcome_frame(report.outcomes(db, parse_study(version.config_toml)))
    got = _run_notebook_code(folder)
    assert not expected.empty
    assert got.columns.tolist() == expected.columns.tolist()
    assert got[["measure", "condition"]].values.tolist() == (
        expected[["measure", "condition"]].values.tolist()
    )
    for column in ("n", "mean", "sd", "diff", "ci_low", "ci_high", "effect", "p_value"):
        for a, b in zip(got[column], expected[column], strict=True):
            a, b = float(a), float("nan") if b is None else float(b)
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, abs_tol=1e-9), column


def test_an_unknown_study_has_no_bundle(made):
    db, _, _, _ = made
    with pytest.raises(StudyNotFound):
        study_bundle(db, "no-such-study")
