"""Signed tokens: a participant's personal link and a researcher's signed-in session.

Both are HMAC-SHA256 over a purpose-tagged message with the per-install key, so a token cannot
be made without the key, nor reused for another purpose. A participant token names an account
and the account's link epoch (raising the epoch revokes every earlier link); a researcher token
carries its expiry and a fingerprint of the configured secret hash (changing the secret signs
every researcher out).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
RESEARCHER_SESSION_S = 12 * 3600
_PARTICIPANT = b"aeries/participant/v1"
_RESEARCHER = b"aeries/researcher/v1"
_STUDY = b"aeries/study/v1"


class SigningKeyError(RuntimeError):
    """The signing key cannot be read or made; the message says where and why."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(key: bytes, purpose: bytes, *parts: str) -> str:
    message = purpose + b"\x00" + b"\x00".join(p.encode("utf-8") for p in parts)
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:18])


def load_or_create_key(path: Path, configured: str | None = None) -> bytes:
    """The install's signing key: AERIES_SECRET when set (several processes sharing a store
    must share it), else a random key kept in ``path`` (created once, readable by the owner
    only)."""
    if configured:
        return hashlib.sha256(b"aeries/key\x00" + configured.encode("utf-8")).digest()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        raise SigningKeyError(
            f"The signing key {path} cannot be read: {exc.strerror or exc}."
        ) from None
    if data:
        try:
            key = bytes.fromhex(data.decode("ascii", "replace").strip())
        except ValueError:
            key = b""
        if len(key) < KEY_BYTES:
            raise SigningKeyError(
                f"The signing key {path} is damaged; delete it to make a new one "
                "(every participant link made with it stops working)."
            )
        return key
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load_or_create_key(path)
    except OSError as exc:
        raise SigningKeyError(
            f"The signing key {path} cannot be written: {exc.strerror or exc}."
        ) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        with contextlib.suppress(OSError):
            os.fsync(handle.fileno())
    return key


@dataclass(frozen=True)
class ParticipantClaim:
    """What a valid participant token says."""

    user_id: str
    epoch: int


def participant_token(key: bytes, user_id: str, epoch: int) -> str:
    """``<user id>.<epoch>.<signature>``: the secret part of a participant's personal link."""
    return f"{user_id}.{epoch}.{_sign(key, _PARTICIPANT, user_id, str(epoch))}"


def read_participant_token(key: bytes, token: str | None) -> ParticipantClaim | None:
    """The claim of a well-formed, correctly signed token, else None."""
    if not token or len(token) > 200:
        return None
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    user_id, epoch, signature = parts
    if not hmac.compare_digest(signature, _sign(key, _PARTICIPANT, user_id, epoch)):
        return None
    return ParticipantClaim(user_id, int(epoch))


def study_proof(key: bytes, enrolment_id: str) -> str:
    """``<enrolment id>.<signature>``: proves a session is the one that enrolled (a study
    page puts it in its URL). Signed for its own purpose: it is never a personal link."""
    return f"{enrolment_id}.{_sign(key, _STUDY, enrolment_id)}"


def read_study_proof(key: bytes, token: str | None) -> str | None:
    """The enrolment id a correctly signed study proof names, else None."""
    if not token or len(token) > 200:
        return None
    enrolment_id, _, signature = token.strip().rpartition(".")
    if not enrolment_id or not hmac.compare_digest(signature, _sign(key, _STUDY, enrolment_id)):
        return None
    return enrolment_id


def _fingerprint(secret_hash: str) -> str:
    return hashlib.sha256(secret_hash.encode("utf-8")).hexdigest()[:16]


def researcher_token(
    key: bytes, secret_hash: str, *, now: float | None = None, ttl_s: int = RESEARCHER_SESSION_S
) -> str:
    """``<expiry>.<nonce>.<signature>``: proof of a researcher sign-in until the expiry."""
    expiry = str(int((time.time() if now is None else now) + ttl_s))
    nonce = _b64(secrets.token_bytes(9))
    signature = _sign(key, _RESEARCHER, expiry, nonce, _fingerprint(secret_hash))
    return f"{expiry}.{nonce}.{signature}"


def read_researcher_token(
    key: bytes, secret_hash: str | None, token: str | None, *, now: float | None = None
) -> bool:
    """Whether ``token`` is a researcher sign-in that is still valid for this secret."""
    if not secret_hash or not token or len(token) > 200:
        return False
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return False
    expiry, nonce, signature = parts
    expected = _sign(key, _RESEARCHER, expiry, nonce, _fingerprint(secret_hash))
    if not hmac.compare_digest(signature, expected):
        return False
    return int(expiry) > (time.time() if now is None else now)
