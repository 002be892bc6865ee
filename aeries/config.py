"""Settings: environment (AERIES_*), then .streamlit/secrets.toml ([aeries]), then defaults.

Every value is checked here, once, and a bad one raises ConfigError naming the variable, so the
app can say what to fix instead of failing later (or silently ignoring the setting).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

DEFAULT_BASE_URL = "http://localhost:8000/v1"
DEFAULT_DB = "data/aeries.duckdb"
DEFAULT_HISTORY = 20
MAX_HISTORY = 10_000
SECRET_MIN_CHARS = 32

Signup = Literal["open", "invite"]
SIGNUPS: tuple[Signup, ...] = ("open", "invite")

# scrypt:<log2 n>:<r>:<p>:<salt hex>:<hash hex>, as `python -m aeries researcher-secret` prints.
_SECRET_HASH = re.compile(r"^scrypt:\d{1,2}:\d{1,2}:\d{1,2}:[0-9a-f]{16,}:[0-9a-f]{32,}$")


class ConfigError(ValueError):
    """A setting has a value Aeries cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Everything Aeries reads from its environment, resolved once per process."""

    base_urls: tuple[str, ...] = ()
    api_key: str = field(default="EMPTY", repr=False)
    db_path: Path = Path(DEFAULT_DB)
    # A postgresql:// URL (the shared store for several app processes) or None (the DuckDB
    # file db_path). With a URL, db_path names the local base of spill and key files.
    db_url: str | None = field(default=None, repr=False)
    history: int = DEFAULT_HISTORY
    observer_model: str | None = None
    researchers: tuple[str, ...] = ()
    annotators: tuple[str, ...] = ()
    researcher_secret_hash: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    signup: Signup = "open"
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 60.0
    default_model: str | None = None

    @property
    def endpoints_configured(self) -> bool:
        """True when the operator named endpoints (so Aeries must never fall back silently)."""
        return bool(self.base_urls)

    @property
    def store_target(self) -> str | Path:
        """What ``Database(...)`` opens: the PostgreSQL URL, or the DuckDB file."""
        return self.db_url or self.db_path

    @property
    def store_label(self) -> str:
        """The store as pages name it (no password)."""
        if self.db_url is None:
            return str(self.db_path)
        parts = urlsplit(self.db_url)
        return f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    @property
    def key_path(self) -> Path:
        """Where the per-install signing key lives when AERIES_SECRET is not set: next to the
        database, never inside it (exports copy the database)."""
        return self.db_path.with_name(self.db_path.name + ".key")


def _secrets_paths(cwd: Path) -> list[Path]:
    return [Path.home() / ".streamlit" / "secrets.toml", cwd / ".streamlit" / "secrets.toml"]


def read_secrets(cwd: Path | None = None) -> dict[str, object]:
    """The ``[aeries]`` table of Streamlit's secrets files (project file wins over home)."""
    merged: dict[str, object] = {}
    for path in _secrets_paths(cwd or Path.cwd()):
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path} could not be read as TOML: {exc}") from exc
        table = data.get("aeries", {})
        if isinstance(table, Mapping):
            merged.update(table)
    return merged


def _var(name: str) -> str:
    return f"AERIES_{name.upper()}"


def _pick(env: Mapping[str, str], secrets: Mapping[str, object], name: str) -> object | None:
    value = env.get(_var(name))
    if value is not None and value.strip() != "":
        return value
    return secrets.get(name)


def _as_text(value: object | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(f"{_var(name)} must be text, got {value!r}.")
    text = str(value).strip()
    if "\x00" in text:
        raise ConfigError(f"{_var(name)} contains a NUL character.")
    return text or None


def _as_list(value: object | None, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ConfigError(f"{_var(name)} must be a comma-separated list, got {value!r}.")
    return tuple(t for item in items if (t := _as_text(item, name)))


def _as_number(value: object | None, name: str, default: float, *, minimum: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool):
        raise ConfigError(f"{_var(name)} must be a number, got {value!r}.")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{_var(name)} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ConfigError(f"{_var(name)} must be a finite number, got {value!r}.")
    if number < minimum:
        raise ConfigError(f"{_var(name)} must be at least {minimum:g}, got {value!r}.")
    return number


def _as_whole(value: object | None, name: str, default: int, *, lo: int, hi: int) -> int:
    number = _as_number(value, name, default, minimum=lo)
    if number != int(number):
        raise ConfigError(f"{_var(name)} must be a whole number, got {value!r}.")
    if number > hi:
        raise ConfigError(f"{_var(name)} must be at most {hi:,}, got {value!r}.")
    return int(number)


def normalise_base_url(url: str) -> str:
    """``host:8000`` or ``http://host:8000`` → ``http://host:8000/v1`` (vLLM's OpenAI prefix)."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ConfigError(f"Endpoint {public_text(url)!r} is not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Endpoint {public_text(url)!r} is not an http(s) URL.")
    path = parts.path if parts.path.endswith("/v1") else parts.path + "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def public_url(url: str) -> str:
    """The URL without user:password, safe to show and to store."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def public_text(url: str) -> str:
    """A URL-ish string with anything before an '@' in its authority masked (for messages
    about URLs that may not even parse)."""
    return re.sub(r"(://)[^/@]*@", r"\1***@", url)


def _base_urls(value: object | None) -> tuple[str, ...]:
    urls = tuple(normalise_base_url(u) for u in _as_list(value, "base_url"))
    if len(set(urls)) != len(urls):
        raise ConfigError("AERIES_BASE_URL lists the same endpoint twice.")
    return urls


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a DuckDB file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def _db_url(value: object | None) -> str | None:
    text = _as_text(value, "db")
    if not is_postgres_url(text):
        return None
    assert text is not None
    parts = urlsplit(text)
    if not parts.path.strip("/"):
        raise ConfigError("AERIES_DB's PostgreSQL URL must name a database (…/dbname).")
    return text


def _db_path(value: object | None) -> Path:
    text = _as_text(value, "db") or DEFAULT_DB
    if is_postgres_url(text):
        # Spill files (rows kept while the server is away) and the signing key stay local.
        name = urlsplit(text).path.strip("/").replace("/", "_") or "postgres"
        return Path(DEFAULT_DB).with_name(f"postgres-{name}")
    if text == ":memory:":
        raise ConfigError("AERIES_DB must be a file path; an in-memory database loses every row.")
    path = Path(text).expanduser()
    if path.exists() and path.is_dir():
        raise ConfigError(f"AERIES_DB={text!r} is a folder; name a file inside it.")
    return path


def _secret_hash(value: object | None) -> str | None:
    text = _as_text(value, "researcher_secret_hash")
    if text is None:
        return None
    if not _SECRET_HASH.match(text):
        raise ConfigError(
            "AERIES_RESEARCHER_SECRET_HASH is not a hash made by "
            "`python -m aeries researcher-secret` (it starts with `scrypt:`). "
            "Never put the secret itself in the configuration."
        )
    return text


def _secret(value: object | None) -> str | None:
    text = _as_text(value, "secret")
    if text is not None and len(text) < SECRET_MIN_CHARS:
        raise ConfigError(
            f"AERIES_SECRET must be at least {SECRET_MIN_CHARS} characters (it signs every "
            "participant's link); leave it unset to let Aeries make one next to the database."
        )
    return text


def _signup(value: object | None) -> Signup:
    text = (_as_text(value, "signup") or "open").lower()
    for choice in SIGNUPS:
        if text == choice:
            return choice
    raise ConfigError(f"AERIES_SIGNUP must be one of {', '.join(SIGNUPS)}, got {value!r}.")


def _emails(value: object | None, name: str) -> tuple[str, ...]:
    # Compared with the signed-in email case-insensitively (see aeries.auth.names.email_key).
    return tuple(item.casefold() for item in _as_list(value, name))


def settings_fingerprint(cwd: Path | None = None) -> tuple[object, ...]:
    """What the settings are read from, cheaply: the AERIES_* variables and the secrets files'
    modification times. Equal fingerprints give equal settings, so a page run need not parse
    the files again."""
    files = []
    for path in _secrets_paths(cwd or Path.cwd()):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append((str(path), stat.st_mtime_ns, stat.st_size))
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AERIES_")))
    return (str(Path.cwd()), env, tuple(files))


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, object] | None = None
) -> Settings:
    """Resolve settings: environment first, then secrets.toml, then defaults."""
    env = os.environ if env is None else env
    secrets = read_secrets() if secrets is None else secrets

    def pick(name: str) -> object | None:
        return _pick(env, secrets, name)

    return Settings(
        base_urls=_base_urls(pick("base_url")),
        api_key=_as_text(pick("api_key"), "api_key") or "EMPTY",
        db_path=_db_path(pick("db")),
        db_url=_db_url(pick("db")),
        history=_as_whole(pick("history"), "history", DEFAULT_HISTORY, lo=1, hi=MAX_HISTORY),
        observer_model=_as_text(pick("observer_model"), "observer_model"),
        researchers=_emails(pick("researchers"), "researchers"),
        annotators=_emails(pick("annotators"), "annotators"),
        researcher_secret_hash=_secret_hash(pick("researcher_secret_hash")),
        secret=_secret(pick("secret")),
        signup=_signup(pick("signup")),
        connect_timeout_s=_as_number(pick("connect_timeout"), "connect_timeout", 3.0, minimum=0.1),
        read_timeout_s=_as_number(pick("read_timeout"), "read_timeout", 60.0, minimum=0.1),
        default_model=_as_text(pick("model"), "model"),
    )
