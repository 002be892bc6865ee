"""The researcher secret: configured only as a salted scrypt hash, checked in constant time.

``python -m aeries researcher-secret`` asks for the secret and prints the hash to put in
``AERIES_RESEARCHER_SECRET_HASH``; the secret itself is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

_LOG2_N, _R, _P = 14, 8, 1  # ~50 ms per check: slow enough to make guessing expensive
MIN_LENGTH = 12
_FAILURES_BEFORE_PAUSE = 5
_PAUSE_S = 30.0


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """``scrypt:14:8:1:<salt>:<hash>`` (shell-safe) for a secret of MIN_LENGTH chars or more."""
    if len(secret) < MIN_LENGTH:
        raise ValueError(f"Use a researcher secret of at least {MIN_LENGTH} characters.")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=2**_LOG2_N, r=_R, p=_P, dklen=32)
    return f"scrypt:{_LOG2_N}:{_R}:{_P}:{salt.hex()}:{digest.hex()}"


def secret_matches(stored: str, secret: str) -> bool:
    """Whether ``secret`` is the one ``stored`` was made from."""
    try:
        _, log2_n, r, p, salt, digest = stored.split(":")
        candidate = hashlib.scrypt(
            secret.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=2 ** int(log2_n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
            maxmem=2**27,
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


class SignInThrottle:
    """After a few wrong secrets in a row, refuse every attempt for a while (per process:
    guessing from many sessions at once is slowed as much as from one)."""

    def __init__(self, failures: int = _FAILURES_BEFORE_PAUSE, pause_s: float = _PAUSE_S) -> None:
        self._failures_allowed = failures
        self._pause_s = pause_s
        self._failures = 0
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait_s(self) -> float:
        """Seconds until attempts are accepted again (0 when they are now)."""
        with self._lock:
            return max(0.0, self._paused_until - time.monotonic())

    def record(self, ok: bool) -> None:
        """Count an attempt's outcome."""
        with self._lock:
            if ok:
                self._failures = 0
                return
            self._failures += 1
            if self._failures >= self._failures_allowed:
                self._failures = 0
                self._paused_until = time.monotonic() + self._pause_s
