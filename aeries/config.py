"""Settings: environment (AERIES_*), then .streamlit/secrets.toml ([aeries]), then defaults."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_BASE_URL = "http://localhost:8000/v1"
DEFAULT_DB = "data/aeries.duckdb"
DEFAULT_HISTORY = 20


class ConfigError(ValueError):
    """A setting has a value Aeries cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Everything Aeries reads from its environment, resolved once per process."""

    base_urls: tuple[str, ...] = ()
    api_key: str = field(default="EMPTY", repr=False)
    db_path: Path = Path(DEFAULT_DB)
    history: int = DEFAULT_HISTORY
    observer_model: str | None = None
    researchers: tuple[str, ...] = ()
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 60.0
    default_model: str | None = None

    @property
    def endpoints_configured(self) -> bool:
        """True when the operator named endpoints (so Aeries must never fall back silently)."""
        return bool(self.base_urls)


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
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path} could not be read as TOML: {exc}") from exc
        table = data.get("aeries", {})
        if isinstance(table, Mapping):
            merged.update(table)
    return merged


def _pick(env: Mapping[str, str], secrets: Mapping[str, object], name: str) -> object | None:
    value = env.get(f"AERIES_{name.upper()}")
    if value is not None and value.strip() != "":
        return value
    return secrets.get(name)


def _as_list(value: object | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    return tuple(str(item).strip() for item in items if str(item).strip())


def _as_number(value: object | None, name: str, default: float, *, minimum: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"AERIES_{name.upper()} must be a number, got {value!r}.") from None
    if number < minimum:
        raise ConfigError(f"AERIES_{name.upper()} must be at least {minimum:g}, got {value!r}.")
    return number


def normalise_base_url(url: str) -> str:
    """``host:8000`` or ``http://host:8000`` → ``http://host:8000/v1`` (vLLM's OpenAI prefix)."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Endpoint {url!r} is not an http(s) URL.")
    path = parts.path if parts.path.endswith("/v1") else parts.path + "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def public_url(url: str) -> str:
    """The URL without user:password, safe to show and to store."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, object] | None = None
) -> Settings:
    """Resolve settings: environment first, then secrets.toml, then defaults."""
    env = os.environ if env is None else env
    secrets = read_secrets() if secrets is None else secrets
    urls = tuple(normalise_base_url(u) for u in _as_list(_pick(env, secrets, "base_url")))
    history = _as_number(_pick(env, secrets, "history"), "history", DEFAULT_HISTORY, minimum=1)
    if history != int(history):
        raise ConfigError(f"AERIES_HISTORY must be a whole number, got {history:g}.")
    observer = _pick(env, secrets, "observer_model")
    default_model = _pick(env, secrets, "model")
    return Settings(
        base_urls=urls,
        api_key=str(_pick(env, secrets, "api_key") or "EMPTY"),
        db_path=Path(str(_pick(env, secrets, "db") or DEFAULT_DB)),
        history=int(history),
        observer_model=str(observer) if observer else None,
        researchers=_as_list(_pick(env, secrets, "researchers")),
        connect_timeout_s=_as_number(
            _pick(env, secrets, "connect_timeout"), "connect_timeout", 3.0, minimum=0.1
        ),
        read_timeout_s=_as_number(
            _pick(env, secrets, "read_timeout"), "read_timeout", 60.0, minimum=0.1
        ),
        default_model=str(default_model) if default_model else None,
    )
