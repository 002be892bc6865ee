"""The study bundle's codebook as Markdown: every bundled column with its type (read from the
database, so it cannot drift) and meaning, and every version's conditions and questionnaire
items with their coded values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aeries.store.studies import StudyVersion
from aeries.studies.bundle.meanings import COLUMN_MEANINGS, SIGNAL_TABLE, TABLE_MEANINGS
from aeries.studies.bundle.tables import BundledTable
from aeries.studies.spec import Item, Study


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _cell(text: object) -> str:
    """Text for one Markdown table cell (one line, no column breaks)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def coded_values(item: Item) -> str:
    """How an item's answers are stored: each choice with its code, or the numeric range."""
    if item.kind == "likert":
        points = "; ".join(f"{k} = {label}" for k, label in enumerate(item.scale, start=1))
        return f"`value_number`: {points} (`value_text`: the label)"
    if item.kind == "single":
        return "`value_text`: one of " + "; ".join(f"“{o}”" for o in item.options)
    if item.kind == "multiple":
        options = "; ".join(f"“{o}”" for o in item.options)
        return f"`value_text`: a JSON list of those chosen among {options}"
    if item.kind == "numeric":
        low = "−∞" if item.minimum is None else f"{item.minimum:g}"
        high = "∞" if item.maximum is None else f"{item.maximum:g}"
        return f"`value_number`: a number from {low} to {high}"
    return "`value_text`: the text typed"


def _items_table(study: Study) -> list[str]:
    lines = [
        "| id | questionnaire | kind | text | scale / options (coded values) | required | "
        "attention check | screens out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for questionnaire, items in (("pre", study.pre), ("post", study.post)):
        for item in items:
            check = f"yes: correct is “{item.correct}”" if item.is_attention_check else "no"
            screen = "; ".join(f"“{a}”" for a in item.screen_out) or "—"
            cells = (
                f"`{item.id}`",
                questionnaire,
                item.kind,
                item.text,
                coded_values(item),
                "yes" if item.required else "no",
                check,
                screen,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(lines) == 2:
        lines.append("| — | | | (this version has no questionnaire items) | | | | |")
    return lines


def _conditions_table(study: Study) -> list[str]:
    lines = ["| condition | reference | description | model |", "|---|---|---|---|"]
    for c in study.conditions:
        reference = "yes" if c.name == study.reference else ""
        model = c.model or "(the first model the server offers)"
        lines.append(f"| {_cell(c.name)} | {reference} | {_cell(c.description)} | {_cell(model)} |")
    return lines


def codebook(
    title: str,
    study_id: str,
    tables: Sequence[BundledTable],
    versions: Sequence[StudyVersion],
    studies: Mapping[int, Study | None],
) -> str:
    """The codebook: every bundled column (from the database's own schema) and every item."""
    out = [
        f"# Codebook: {title} (`{study_id}`)",
        "",
        "The rows made in this study, as Parquet files under `tables/`, one per table. "
        "Timestamps are UTC. Ids are UUIDv7 strings (they sort by creation time). "
        "`analysis.ipynb` recomputes the outcome table from these files (pandas and scipy; "
        "Aeries is not needed) and writes `outcomes.csv`.",
        "",
        "Joins: `enrolments.user_id` = `users.id` = `conversations.user_id` = "
        "`exchanges.user_id` = `signals.user_id`; `answers.enrolment_id` and "
        "`enrolment_steps.enrolment_id` = `enrolments.id`; `messages.conversation_id` = "
        "`conversations.id`; `messages.exchange_id` = `exchanges.id`; "
        "`signals.exchange_id` = `exchanges.id` (the answer it is about); arena rounds: "
        "`battles.id` = `battle_sides.battle_id` = `votes.battle_id` = "
        "`preferences.battle_id`, `battle_sides.exchange_id` = `exchanges.id`.",
        "",
        "## Tables",
        "",
    ]
    for table in tables:
        out += [
            f"### `{table.name}` — `tables/{table.name}.parquet`, {_rows(table.rows.num_rows)}",
            "",
            TABLE_MEANINGS.get(table.name, ""),
            "",
            "| column | type | meaning |",
            "|---|---|---|",
        ]
        meanings = COLUMN_MEANINGS.get(table.name, {})
        for column, kind in table.types.items():
            meaning = meanings.get(column, "(not described yet: see docs/schema.md)")
            out.append(f"| `{column}` | {kind} | {_cell(meaning)} |")
        out.append("")
        if table.name == "signals":
            out += ["Signal kinds and names:", "", SIGNAL_TABLE]
    out += ["## Versions and questionnaire items", ""]
    for v in versions:
        frozen = f"frozen {v.frozen_at:%Y-%m-%d %H:%M} UTC" if v.frozen_at else "never live"
        out += [
            f"### Version {v.version} — `versions/v{v.version}.toml`",
            "",
            f"`config_hash` {v.config_hash} · saved {v.created_at:%Y-%m-%d %H:%M} UTC · {frozen}",
            "",
        ]
        study = studies.get(v.version)
        if study is None:
            out += ["(This version's file no longer parses; see its text.)", ""]
            continue
        out += ["Conditions:", "", *_conditions_table(study), "", "Items:", ""]
        out += [*_items_table(study), ""]
    return "\n".join(out).rstrip() + "\n"
