"""Run an engine process: output to a log file, progress on stderr, clean Ctrl-C.

The engine gets its own session, so a terminal Ctrl-C reaches only us; we
then pass one SIGINT on (both engines stop, flush and exit on it) and wait
for it before re-raising, so no engine outlives the command. Being in its own
session, the engine would also survive a SIGTERM sent to us alone (a CI job
cancelled, ``kill``), so SIGTERM is handled the same way while it runs. And
whatever the script does, the run stops at a hard deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from ops.errors import ExternalError

# How long an interrupted engine gets to stop on its own before it is killed.
STOP_GRACE_SECONDS = 15.0
POLL_SECONDS = 0.2

ProgressCallback = Callable[[float], None]


def run_engine(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    deadline_s: float | None = None,
    on_tick: ProgressCallback | None = None,
) -> int:
    """Run ``argv`` to completion and return its exit code; ``on_tick`` gets the elapsed seconds.

    Past ``deadline_s`` the engine is stopped and ``ExternalError`` raised: a script that
    hangs (a stuck setup, an endless loop) cannot turn a bounded run into an open-ended one.
    """
    started = time.monotonic()
    process: subprocess.Popen[bytes] | None = None
    with log_path.open("wb") as log, _sigterm_as_interrupt():
        try:
            try:
                process = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ExternalError(
                    f"cannot start {argv[0]}: {exc.strerror}", "check the engine installation"
                ) from None
            while True:
                try:
                    return process.wait(timeout=POLL_SECONDS)
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if deadline_s is not None and elapsed > deadline_s:
                        stop(process)
                        raise ExternalError(
                            f"{Path(argv[0]).name} was still running after {deadline_s:g}s and was stopped",
                            f"see {log_path}; a script must end within the run's duration",
                        ) from None
                    if on_tick is not None:
                        on_tick(elapsed)
        finally:
            # Ctrl-C, SIGTERM or any error: no engine outlives the command.
            if process is not None and process.poll() is None:
                stop(process)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the engine runs, SIGTERM stops it like Ctrl-C (signal handlers live in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (the engines' graceful stop), then SIGKILL after the grace period."""
    for sig, grace in ((signal.SIGINT, STOP_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            # A second Ctrl-C means: stop now.
            continue


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
