"""Settings resolution: environment over secrets over defaults; bad values explained."""

from pathlib import Path

import pytest

from aeries.config import ConfigError, load_settings, normalise_base_url, public_url, read_secrets


def test_defaults():
    s = load_settings({}, {})
    assert s.base_urls == ()
    assert not s.endpoints_configured
    assert s.db_path == Path("data/aeries.duckdb")
    assert s.history == 20


def test_environment_wins_over_secrets():
    s = load_settings(
        {"AERIES_BASE_URL": "http://a:8000/v1,b:9000", "AERIES_HISTORY": "5"},
        {"base_url": "http://ignored:1", "history": 7, "api_key": "sekrit", "db": "x.duckdb"},
    )
    assert s.base_urls == ("http://a:8000/v1", "http://b:9000/v1")
    assert s.history == 5
    assert s.api_key == "sekrit"
    assert s.db_path == Path("x.duckdb")


def test_api_key_is_not_in_repr():
    assert "sekrit" not in repr(load_settings({"AERIES_API_KEY": "sekrit"}, {}))


@pytest.mark.parametrize(
    ("env", "word"),
    [
        ({"AERIES_HISTORY": "abc"}, "number"),
        ({"AERIES_HISTORY": "0"}, "at least"),
        ({"AERIES_HISTORY": "2.5"}, "whole"),
        ({"AERIES_BASE_URL": "ftp://x"}, "http"),
    ],
)
def test_bad_values_raise_config_error(env, word):
    with pytest.raises(ConfigError, match=word):
        load_settings(env, {})


def test_urls_normalised_and_credentials_hidden():
    assert normalise_base_url("localhost:8000") == "http://localhost:8000/v1"
    assert normalise_base_url("https://h/v1/") == "https://h/v1"
    assert public_url("http://user:pw@h:1/v1") == "http://h:1/v1"


def test_secrets_file_read_from_project(tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[aeries]\nbase_url = "h:1"\n')
    assert read_secrets(tmp_path)["base_url"] == "h:1"
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[aeries\n")
    with pytest.raises(ConfigError, match="TOML"):
        read_secrets(tmp_path)
