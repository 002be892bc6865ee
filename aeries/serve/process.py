"""A child process of ``aeries serve``: spawned in its own session, its output forwarded line by
line with a name in front, stopped with SIGTERM and then SIGKILL.

Each child runs in a session (and so a process group) of its own: a Ctrl-C in the terminal then
reaches only the supervisor, which stops the children in order (the proxy first, so nobody is
sent to a worker that is going away) instead of every process racing to exit at once. Because
a child in its own session does not see the terminal's signals, each also asks the kernel to
send it SIGTERM should the supervisor die without cleaning up (``PR_SET_PDEATHSIG``), so a
``kill -9`` of the supervisor does not leave workers holding the store.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

_PR_SET_PDEATHSIG = 1
TAIL_LINES = 40
FOLLOW_STEP_S = 0.05  # how often a quiet log file is looked at again
_OUTPUT_LOCK = threading.Lock()  # one line at a time on our output, whichever child wrote it


def _death_signal_setter() -> Callable[[], None] | None:
    """A function for ``preexec_fn`` that sets PR_SET_PDEATHSIG, resolved here in the parent so
    the forked child only makes one system call (no library loading between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    term = int(signal.SIGTERM)

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, term, 0, 0, 0)

    return set_death_signal


_SET_DEATH_SIGNAL = _death_signal_setter()


def describe_status(returncode: int) -> str:
    """``exited with code 3`` or ``was killed by SIGKILL``, from a Popen return code."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state comes right after the command name, which is in parentheses and may hold spaces.
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X", "")


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (a child's own group: its descendants
    that did not move out of it), read from /proc."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


class Child:
    """One child process, its log file, and the last lines it wrote."""

    def __init__(self, name: str, log_path: Path, *, out: TextIO | None = None) -> None:
        self.name = name
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._out = out if out is not None else sys.stderr
        self._reader: threading.Thread | None = None

    def spawn(
        self, args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        """Start the process with its stdout and stderr appended to its log file, which a
        thread of ours follows.

        A file, not a pipe: were the supervisor to die, nobody would read a pipe, and
        Streamlit then ignores SIGTERM (measured: with its stdout a pipe closed at the other
        end, 3 of 3 workers were still running 8 s after SIGTERM; its handler fails on the
        "Stopping..." it prints). A file takes the lines whether or not anyone reads them."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # One prctl call, resolved in the parent: safe between fork and exec.
                preexec_fn=_SET_DEATH_SIGNAL,
            )
        self._reader = threading.Thread(target=self._forward, name=f"{self.name}-output")
        self._reader.daemon = True
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def _forward(self) -> None:
        """Follow the log file: copy each new line to our output with the child's name in
        front, so the interleaved logs of N workers and the proxy stay readable (and keep the
        tail for the message if the child dies). Ends once the child ended and the file is
        read to its end."""
        pending = b""
        with self.log_path.open("rb") as log:
            while True:
                chunk = log.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith(b"\n"):
                        self._emit(pending)
                        pending = b""
                    continue
                if self.poll() is not None:
                    rest = log.read()
                    for line in (pending + rest).splitlines():
                        self._emit(line)
                    return
                time.sleep(FOLLOW_STEP_S)

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        self.tail.append(line)
        with _OUTPUT_LOCK, contextlib.suppress(OSError, ValueError):
            self._out.write(f"{self.name} | {line}\n")
            self._out.flush()

    def poll(self) -> int | None:
        """The return code once the process ended, else None."""
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child itself (not its group: a worker's own helpers are its
        business, and it stops them when it stops)."""
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def wait(self, deadline: float) -> bool:
        """Wait until the child ended or ``deadline`` (time.monotonic) passed; True if ended."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill_group(self) -> None:
        """SIGKILL what is left of the child's process group (nginx's worker processes, a
        helper a worker forked), once the child itself is gone or refused to go."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the child leads a group with its own id
        if group_members(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    def finish_output(self, timeout: float = 2.0) -> None:
        """Let the reader thread copy what the child wrote before it ended."""
        if self._reader is not None:
            self._reader.join(timeout)

    def tail_text(self, lines: int = 15) -> str:
        """The last lines the child wrote, indented, for an error message."""
        shown = list(self.tail)[-lines:]
        return "\n".join(f"    {line}" for line in shown) if shown else "    (no output)"


def stop_all(children: Sequence[Child], *, grace_s: float, hurry: threading.Event) -> list[str]:
    """SIGTERM every child still running, wait up to ``grace_s`` seconds (less once ``hurry``
    is set: a second Ctrl-C), then SIGKILL each one left and its group. Returns the names of
    the children that had to be killed."""
    for child in children:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    killed: list[str] = []
    for child in children:
        while not child.wait(min(deadline, time.monotonic() + 0.1)):
            if hurry.is_set() or time.monotonic() >= deadline:
                killed.append(child.name)
                child.signal(signal.SIGKILL)
                break
        child.kill_group()
        child.finish_output()
    return killed
