"""Run an engine process: output to a log file, progress on stderr, clean Ctrl-C.

The engine gets its own session, so a terminal Ctrl-C reaches only us; we
then pass one SIGINT on (both engines stop, flush and exit on it) and wait
for it before re-raising, so no engine outlives the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

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
    on_tick: ProgressCallback | None = None,
) -> int:
    """Run ``argv`` to completion and return its exit code; ``on_tick`` gets the elapsed seconds."""
    started = time.monotonic()
    with log_path.open("wb") as log:
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
            raise ExternalError(f"cannot start {argv[0]}: {exc.strerror}", "check the engine installation") from None
        try:
            while True:
                try:
                    return process.wait(timeout=POLL_SECONDS)
                except subprocess.TimeoutExpired:
                    if on_tick is not None:
                        on_tick(time.monotonic() - started)
        except KeyboardInterrupt:
            stop(process)
            raise
        finally:
            if process.poll() is None:
                stop(process)


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
