"""Command line: ``python -m aeries demo|export|researcher-secret|serve``.

    python -m aeries demo --exchanges 1000000 [--db PATH] [--seed 0] [--weeks 12] [--replace]
                          [--study]
    python -m aeries export --out DIR [--db PATH|URL]
    python -m aeries researcher-secret [--stdin]
    python -m aeries serve [--workers N] [--port P] [--store URL|FILE | --local-store [DIR]]

``--db`` defaults to the configured store (AERIES_DB, secrets, or data/aeries.duckdb): a DuckDB
file, or a ``postgresql://`` URL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aeries.config import ConfigError, is_postgres_url, load_settings
from aeries.serve import add_arguments as add_serve_arguments


def _default_db() -> str | Path:
    return load_settings().store_target


def _shown(target: str | Path) -> str:
    """The store as a message names it: a path, or a URL without user and password."""
    if not is_postgres_url(target):
        return str(target)
    from aeries.store.postgres import describe_url

    return f"postgresql://{describe_url(str(target))}"


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aeries", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write a realistic synthetic database")
    demo.add_argument("--exchanges", type=_positive, default=100_000, help="exchanges to write")
    demo.add_argument("--signals", type=_positive, default=None, help="cap on signals")
    # A str, not a Path: Path would fold a URL's "//".
    demo.add_argument("--db", default=None, help="database file or postgresql:// URL")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--weeks", type=_positive, default=12, help="period covered, ending now")
    demo.add_argument("--replace", action="store_true", help="replace earlier demo rows")
    demo.add_argument(
        "--study",
        action="store_true",
        help="also write a live synthetic study (120 participants, three conditions, a planted "
        "effect) for the Studies page",
    )
    export = sub.add_parser("export", help="write a Parquet snapshot of every table")
    export.add_argument("--out", type=Path, required=True, help="directory to write into")
    export.add_argument("--db", default=None, help="database file or postgresql:// URL")
    secret = sub.add_parser(
        "researcher-secret",
        help="print the AERIES_RESEARCHER_SECRET_HASH line for a researcher secret",
    )
    secret.add_argument("--stdin", action="store_true", help="read the secret from stdin")
    serve = sub.add_parser(
        "serve",
        help="run N app workers behind nginx with sticky sessions (docs/serving.md)",
    )
    add_serve_arguments(serve)
    return parser


def _researcher_secret(args: argparse.Namespace) -> int:
    """Ask for the secret (twice, hidden) and print only its salted hash."""
    import getpass

    from aeries.auth import hash_secret

    if args.stdin:
        secret = sys.stdin.readline().rstrip("\n")
    else:
        secret = getpass.getpass("Researcher secret: ")
        if getpass.getpass("Again: ") != secret:
            print("error: the two secrets differ", file=sys.stderr)
            return 2
    try:
        hashed = hash_secret(secret)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"AERIES_RESEARCHER_SECRET_HASH={hashed}")
    print(
        'Put this line in the environment (or `researcher_secret_hash = "…"` under [aeries] '
        "in .streamlit/secrets.toml) and restart Aeries; then sign in with the secret.",
        file=sys.stderr,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from aeries.demo import DemoConfig, DemoError, run_demo
    from aeries.store.db import DatabaseError, DatabaseLocked

    path = args.db or _default_db()
    cfg = DemoConfig(args.exchanges, args.seed, args.weeks, args.signals)
    print(f"Writing {cfg.exchanges:,} demo exchanges to {_shown(path)} …", flush=True)
    try:
        report = run_demo(path, cfg, replace=args.replace)
    except (DemoError, DatabaseLocked, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for table, rows in report.rows.items():
        print(f"  {table:<14} {rows:>12,}")
    if args.study:
        from aeries.demo.study import run_demo_study

        try:
            study_id, completed = run_demo_study(path, seed=args.seed)
        except (DemoError, DatabaseLocked, DatabaseError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"  study {study_id!r}: {completed} participants completed it (Studies page)")
    print(f"Done in {report.seconds:.1f} s.")
    return 0


def _export(args: argparse.Namespace) -> int:
    from aeries.snapshot import SnapshotError, export_snapshot

    path = args.db or _default_db()
    try:
        snap = export_snapshot(path, args.out)
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    how = {
        "copy": "from a copy (the database is in use)",
        "repeatable_read": "in one transaction",
    }.get(snap.method, "directly")
    print(f"Exported {len(snap.tables)} tables of {snap.source} {how} to {snap.out_dir}:")
    for table, rows in snap.tables.items():
        print(f"  {table:<18} {rows:>12,}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from aeries.serve import run_command

    return run_command(args)


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit code."""
    args = _parser().parse_args(argv)
    commands = {
        "demo": _demo,
        "export": _export,
        "researcher-secret": _researcher_secret,
        "serve": _serve,
    }
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
