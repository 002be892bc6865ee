"""aeries.auth: names, signed links, the researcher secret, local mode, roles."""

from __future__ import annotations

import os
import stat

import pytest

from aeries.auth import (
    NameRefused,
    SigningKeyError,
    check_participant_name,
    display_name,
    hash_secret,
    load_or_create_key,
    local_mode_applies,
    name_key,
    participant_token,
    read_participant_token,
    read_researcher_token,
    researcher_token,
    secret_matches,
)
from aeries.auth.names import email_key
from aeries.auth.researcher_secret import SignInThrottle
from aeries.auth.roles import link_role, login_role, researcher_auth
from aeries.config import ConfigError, Settings, load_settings

KEY = bytes(range(32))
UID = "0190f0e0-0000-7000-8000-000000000001"


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "alice",
        "ALICE",
        "  Alice  ",
        "Ａｌｉｃｅ",
        "Ali\u200bce",
        "Al\u00adice",
        "A\u200dlice\ufeff",
    ],
)
def test_look_alikes_share_one_key(variant):
    assert name_key(variant) == name_key("Alice") == "alice"


def test_display_name_keeps_case_and_drops_controls():
    assert display_name("  Ada\x00 \n Lovelace\u202e ") == "Ada Lovelace"
    assert display_name("Straße") == "Straße"
    assert name_key("Straße") == name_key("STRASSE")


def test_names_are_never_cut():
    name, _ = check_participant_name("x" * 64)
    assert name == "x" * 64
    with pytest.raises(NameRefused, match="at most 64"):
        check_participant_name("x" * 65)
    # 64 visible characters with invisible ones around still fit: they are removed, not cut.
    assert check_participant_name("\u200b" * 10 + "y" * 64)[0] == "y" * 64


@pytest.mark.parametrize("typed", ["", " ", "\x00", "\u200b", "researcher", "Researcher", "oidc:a"])
def test_empty_reserved_and_login_shaped_names_are_refused(typed):
    with pytest.raises(NameRefused):
        check_participant_name(typed)


def test_login_keys_never_equal_a_typed_name():
    assert email_key("a@b.org") == "oidc:a@b.org"
    with pytest.raises(NameRefused):
        check_participant_name("OIDC:a@b.org")


# --- signed links and sessions -------------------------------------------------------------


def test_participant_token_round_trip_and_tampering():
    token = participant_token(KEY, UID, 0)
    claim = read_participant_token(KEY, token)
    assert claim is not None and (claim.user_id, claim.epoch) == (UID, 0)
    uid, epoch, sig = token.split(".")
    for bad in (
        f"{uid}.1.{sig}",
        f"{uid[:-1]}2.{epoch}.{sig}",
        f"{uid}.{epoch}.{sig[:-1]}",
        f"{uid}.{epoch}",
        "",
        None,
        token + "x",
        "a.b.c",
    ):
        assert read_participant_token(KEY, bad) is None
    assert read_participant_token(b"k" * 32, token) is None


def test_researcher_token_expires_and_follows_the_secret():
    secret_hash = hash_secret("a long enough secret")
    token = researcher_token(KEY, secret_hash, now=1000.0, ttl_s=60)
    assert read_researcher_token(KEY, secret_hash, token, now=1059.0)
    assert not read_researcher_token(KEY, secret_hash, token, now=1061.0)
    assert not read_researcher_token(KEY, hash_secret("another long secret"), token, now=1001)
    assert not read_researcher_token(KEY, None, token, now=1001)
    expiry, nonce, sig = token.split(".")
    assert not read_researcher_token(KEY, secret_hash, f"9{expiry}.{nonce}.{sig}", now=1001)
    # A participant token is not a researcher token, nor the reverse.
    assert not read_researcher_token(KEY, secret_hash, participant_token(KEY, "1", 0), now=1)
    assert read_participant_token(KEY, token) is None


def test_key_file_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / "data" / "aeries.duckdb.key"
    first = load_or_create_key(path)
    assert len(first) == 32 and load_or_create_key(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path, "x" * 40) != first  # AERIES_SECRET wins
    path.write_text("zz\n")
    with pytest.raises(SigningKeyError, match="damaged"):
        load_or_create_key(path)


def test_key_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SigningKeyError, match="Not a directory"):
        load_or_create_key(blocker / "sub" / "k.key")


# --- the researcher secret ------------------------------------------------------------------


def test_secret_hash_matches_only_its_secret():
    stored = hash_secret("correct horse battery")
    assert stored.startswith("scrypt:")
    assert "correct horse" not in stored
    assert secret_matches(stored, "correct horse battery")
    assert not secret_matches(stored, "correct horse batterz")
    assert not secret_matches("scrypt:x:y", "anything")
    with pytest.raises(ValueError, match="at least"):
        hash_secret("short")


def test_settings_take_only_a_hash(monkeypatch):
    stored = hash_secret("correct horse battery")
    assert load_settings({"AERIES_RESEARCHER_SECRET_HASH": stored}, {}).researcher_secret_hash
    with pytest.raises(ConfigError, match="Never put the secret itself"):
        load_settings({"AERIES_RESEARCHER_SECRET_HASH": "correct horse battery"}, {})
    assert stored not in repr(load_settings({"AERIES_RESEARCHER_SECRET_HASH": stored}, {}))


def test_throttle_pauses_after_repeated_failures():
    throttle = SignInThrottle(failures=3, pause_s=60)
    for _ in range(2):
        throttle.record(False)
    assert throttle.wait_s() == 0
    throttle.record(False)
    assert throttle.wait_s() > 50


# --- local mode and roles ---------------------------------------------------------------------

LOCAL = {"Host": "localhost:8501", "Origin": "http://localhost:8501"}


@pytest.mark.parametrize(
    ("bind", "headers", "peer_loopback", "expected"),
    [
        ("127.0.0.1", LOCAL, True, True),
        ("localhost", {"Host": "127.0.0.1:8501"}, True, True),
        ("::1", {"Host": "[::1]:8501", "Origin": "http://[::1]:8501"}, True, True),
        ("", LOCAL, True, False),  # listening on every interface
        ("0.0.0.0", LOCAL, True, False),
        ("127.0.0.1", LOCAL, False, False),  # a remote peer
        ("127.0.0.1", {**LOCAL, "X-Forwarded-For": "203.0.113.9"}, True, False),  # a proxy
        ("127.0.0.1", {**LOCAL, "Forwarded": "for=203.0.113.9"}, True, False),
        ("127.0.0.1", {**LOCAL, "Origin": "https://study.example.org"}, True, False),
        ("127.0.0.1", {"Host": "study.example.org"}, True, False),
        ("127.0.0.1", {}, True, True),  # no HTTP client at all: in-process (tests)
    ],
)
def test_local_mode_only_for_this_machine_directly(bind, headers, peer_loopback, expected):
    got = local_mode_applies(bind_address=bind, headers=headers, peer_loopback=peer_loopback)
    assert got is expected


def test_researcher_auth_precedence():
    stored = hash_secret("correct horse battery")
    plain, with_secret = Settings(), Settings(researcher_secret_hash=stored)
    assert researcher_auth(plain, oidc=True, local=True) == "oidc"
    assert researcher_auth(with_secret, oidc=False, local=True) == "secret"
    assert researcher_auth(plain, oidc=False, local=True) == "local"
    assert researcher_auth(plain, oidc=False, local=False) == "none"


def test_roles_come_from_sign_in_never_from_names():
    settings = Settings(researchers=("boss@example.org",), annotators=("ann@example.org",))
    assert login_role(settings, "Boss@Example.org", "participant") == "researcher"
    assert login_role(settings, "ann@example.org", "participant") == "annotator"
    assert login_role(settings, "pat@example.org", "annotator") == "annotator"
    assert login_role(settings, "pat@example.org", "participant") == "participant"
    assert link_role("annotator") == "annotator"
    assert link_role("researcher") == "participant"  # a stored value never makes a researcher
