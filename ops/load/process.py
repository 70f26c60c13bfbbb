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
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from ops.errors import ExternalError

# How long an interrupted engine gets to stop on its own before it is killed.
STOP_GRACE_SECONDS = 15.0
# How often progress is updated and the deadline checked; the engine's exit itself is seen at once.
POLL_SECONDS = 0.2

ProgressCallback = Callable[[float], None]
# Builds the progress display; entered once the engine has started, so that its set-up
# (rich's import) overlaps the engine's own start-up instead of delaying it.
ProgressDisplay = Callable[[], AbstractContextManager[ProgressCallback]]
ExitWait = Callable[[float], int | None]


def run_engine(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    deadline_s: float | None = None,
    progress: ProgressDisplay | None = None,
) -> int:
    """Run ``argv`` to completion and return its exit code; ``progress`` gets the elapsed seconds.

    Past ``deadline_s`` the engine is stopped and ``ExternalError`` raised: a script that
    hangs (a stuck setup, an endless loop) cannot turn a bounded run into an open-ended one.
    """
    started = time.monotonic()
    process: subprocess.Popen[bytes] | None = None
    with log_path.open("wb") as log, _sigterm_as_interrupt(), ExitStack() as running:
        try:
            # Ctrl-C or SIGTERM while Popen waits for the exec would leave a started engine with no
            # Popen object to stop it by: such a signal is only noted, and acted on once ``process`` is set.
            with _signals_deferred() as interrupted:
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
            if interrupted:
                raise KeyboardInterrupt
            wait_exit = running.enter_context(_exit_waiter(process))
            on_tick = running.enter_context(progress()) if progress is not None else None
            while (code := wait_exit(POLL_SECONDS)) is None:
                elapsed = time.monotonic() - started
                if deadline_s is not None and elapsed > deadline_s:
                    stop(process)
                    raise ExternalError(
                        f"{Path(argv[0]).name} was still running after {deadline_s:g}s and was stopped",
                        f"see {log_path}; a script must end within the run's duration",
                    ) from None
                if on_tick is not None:
                    on_tick(elapsed)
            return code
        finally:
            # Ctrl-C, SIGTERM or any error: no engine outlives the command.
            if process is not None and process.poll() is None:
                stop(process)


@contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """While the body runs, SIGINT and SIGTERM are noted in the yielded list instead of raising
    (main thread only: signal handlers live there)."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(signum: int, frame: FrameType | None) -> None:
        noted.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield noted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _exit_waiter(process: subprocess.Popen[bytes]) -> Iterator[ExitWait]:
    """``wait(timeout)`` -> exit code, or None while running, woken the moment the engine exits.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which every run would pay at its
    end; a pidfd (Linux 5.3+) becomes readable exactly when the process exits.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux, or an old kernel: Popen's own polling

        def wait_polling(timeout: float) -> int | None:
            try:
                return process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None

        yield wait_polling
        return

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)

    def wait_pidfd(timeout: float) -> int | None:
        if poller.poll(timeout * 1000):
            return process.wait()
        return process.poll()

    try:
        yield wait_pidfd
    finally:
        os.close(pidfd)


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
