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


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"AERIES_HISTORY": "nan"}, "AERIES_HISTORY must be a finite number"),
        ({"AERIES_HISTORY": "inf"}, "AERIES_HISTORY must be a finite number"),
        ({"AERIES_HISTORY": "1e400"}, "AERIES_HISTORY must be a finite number"),
        ({"AERIES_HISTORY": "1e9"}, "AERIES_HISTORY must be at most"),
        ({"AERIES_READ_TIMEOUT": "nan"}, "AERIES_READ_TIMEOUT must be a finite number"),
        ({"AERIES_CONNECT_TIMEOUT": "-inf"}, "AERIES_CONNECT_TIMEOUT must be a finite"),
        ({"AERIES_BASE_URL": "http://[::1/v1"}, "not a valid URL"),
        ({"AERIES_BASE_URL": "http://h:99999/v1"}, "not a valid URL"),
        ({"AERIES_BASE_URL": "http://a:1,http://a:1/v1"}, "same endpoint twice"),
        ({"AERIES_DB": ":memory:"}, "AERIES_DB must be a file path"),
        ({"AERIES_SIGNUP": "maybe"}, "AERIES_SIGNUP must be one of"),
        ({"AERIES_SECRET": "short"}, "AERIES_SECRET must be at least"),
        ({"AERIES_RESEARCHER_SECRET_HASH": "hunter2"}, "Never put the secret itself"),
    ],
)
def test_every_bad_value_names_its_variable(env, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        load_settings(env, {})


def test_bad_secrets_file_values_name_the_variable():
    with pytest.raises(ConfigError, match="AERIES_HISTORY"):
        load_settings({}, {"history": True})
    with pytest.raises(ConfigError, match="AERIES_RESEARCHERS"):
        load_settings({}, {"researchers": {"a": 1}})


def test_a_password_in_the_url_is_never_shown():
    with pytest.raises(ConfigError) as error:
        load_settings({"AERIES_BASE_URL": "http://u:pw@[::1/v1"}, {})
    assert "pw" not in str(error.value)
    assert public_url("http://user:pw@[::1]:8000/v1") == "http://[::1]:8000/v1"


def test_db_folder_is_refused_and_emails_are_folded(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_settings({"AERIES_DB": str(tmp_path)}, {})
    s = load_settings({"AERIES_RESEARCHERS": "Boss@Example.org, x@y.z", "AERIES_MODEL": "m"}, {})
    assert s.researchers == ("boss@example.org", "x@y.z") and s.default_model == "m"
