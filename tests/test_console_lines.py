"""Output.line writes an unstyled line into a pipe itself: exactly what rich would print."""

from __future__ import annotations

import io

import pytest

from ops import console

LINES = [
    "applied 20240101000000_m0.sql (3 statements, 0.01s)",
    "applied 500 migration(s) on postgresql://postgres:***@127.0.0.1:5432/app",
    "",
    "  indented and trailing   ",
    "x" * 300,
    "two\nlines",
    "[bold]not markup[/bold]",
    "unicode: é 漢字 😀 ’",
    "an emoji code :smile: and :thumbs_up: and :Smile-text:",
    "times 10:20:30 and a:b:c",
    "tab\there",
    "carriage\rreturn and bell\x07",
    "escape \x1b[31mred",
]


@pytest.mark.parametrize("text", LINES)
def test_an_unstyled_line_is_printed_as_rich_prints_it(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    expected = io.StringIO()
    Console(file=expected, highlight=False, soft_wrap=True).print(text, markup=False)
    console.Output().line(text)
    console.Output(json_mode=True).line(text)
    captured = capsys.readouterr()
    assert captured.out == expected.getvalue()
    assert captured.err == expected.getvalue()


def test_a_plain_line_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    console.register_secret("s3cr3t-value")
    console.Output().line("postgresql://app:hunter22@db/app token s3cr3t-value")
    assert capsys.readouterr().out == "postgresql://app:***@db/app token ***\n"


def test_printing_plain_lines_into_a_pipe_does_not_import_rich() -> None:
    import subprocess
    import sys

    code = "import sys; from ops.console import Output; Output().line('applied x'); print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "applied x\nFalse\n"


def test_a_line_reaches_a_merged_ci_log_before_what_follows_on_stderr() -> None:
    """stdout into a pipe is block-buffered: a line must not arrive after the error that follows it."""
    import os
    import subprocess
    import sys

    program = (
        "import sys\n"
        "from ops.console import Output\n"
        "Output().line('the failing statement')\n"
        "sys.stderr.write('error: it failed\\n')\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    proc = subprocess.run(
        [sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.stdout == "the failing statement\nerror: it failed\n"
