"""The one place where library errors become command-line exits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from invoke import Exit, task

from ops.console import mask
from ops.errors import OpsError


def ops_task(*args: Any, **kwargs: Any) -> Any:
    """``@task`` whose body may raise ``OpsError`` or return an exit code.

    An ``OpsError`` becomes ``invoke.Exit`` with its one-line, masked message
    and its exit code; a non-zero int return becomes a silent exit with that code.
    """

    def decorate(body: Callable[..., Any]) -> Any:
        @functools.wraps(body)
        def wrapper(c: Any, *a: Any, **kw: Any) -> None:
            try:
                code = body(c, *a, **kw)
            except OpsError as exc:
                raise Exit(mask(exc.one_line()), exc.exit_code) from None
            except KeyboardInterrupt:
                raise Exit("error: interrupted", 130) from None
            if isinstance(code, int) and code != 0:
                raise Exit(code=code)

        return task(**kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate
