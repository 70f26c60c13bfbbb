"""The .env dual reader: Node's dotenv and python-dotenv, and where they disagree.

The python-dotenv port is checked against the real python-dotenv on random
input; the Node port against dotenv's documented behaviour. The fuzz tests
feed arbitrary bytes: no crash, no traceback, every finding on one line.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops.config import load
from ops.envcheck import check
from ops.envcheck.dotenv import parse_bytes, read_like_node, read_like_python_dotenv
from tests.conftest import run_cli

# dotenv's own test fixture (tests/.env in motdotla/dotenv) and what Node reads from it.
NODE_CASES = {
    "BASIC=basic": "basic",
    "EMPTY=": "",
    "SINGLE_QUOTES='single_quotes'": "single_quotes",
    "SINGLE_QUOTES_SPACED='    single quotes    '": "    single quotes    ",
    'DOUBLE_QUOTES="double_quotes"': "double_quotes",
    "BACKTICKS=`backticks`": "backticks",
    'EXPAND_NEWLINES="expand\\nnew\\nlines"': "expand\nnew\nlines",
    "DONT_EXPAND_UNQUOTED=dontexpand\\nnewlines": "dontexpand\\nnewlines",
    "DONT_EXPAND_SQUOTED='dontexpand\\nnewlines'": "dontexpand\\nnewlines",
    "INLINE_COMMENTS=inline comments # work #very #well": "inline comments",
    "INLINE_COMMENTS_SINGLE_QUOTES='inline comments outside of #singlequotes' # work": (
        "inline comments outside of #singlequotes"
    ),
    "EQUAL_SIGNS=equals==": "equals==",
    'RETAIN_INNER_QUOTES={"foo": "bar"}': '{"foo": "bar"}',
    "TRIM_SPACE_FROM_UNQUOTED=    some spaced out string": "some spaced out string",
    "    SPACED_KEY = parsed": "parsed",
    "export EXPORTED=yes": "yes",
    "COLON: value": "value",
    "HASH=abc#def": "abc",
}


@pytest.mark.parametrize("line", sorted(NODE_CASES))
def test_node_reader_matches_dotenv_behaviour(line: str) -> None:
    ((_key, value, number),) = read_like_node(line + "\n")
    assert (value, number) == (NODE_CASES[line], 1)


def test_node_reader_multiline_crlf_and_line_numbers() -> None:
    text = '# c\r\nA=1\r\n\r\nPEM="-----BEGIN\nbody\n-----END"\nB=2\rC=3\n'
    assert read_like_node(text) == [
        ("A", "1", 2),
        ("PEM", "-----BEGIN\nbody\n-----END", 4),
        ("B", "2", 7),
        ("C", "3", 8),
    ]


ENV_TOKENS = [*"AB_=#'\"`\\ \t\n\rxn$:{}e", "export ", "A=", "\n#", "\r\n", "\ufeff", "\u2028", "\xa0"]
ENV_TEXT = st.lists(st.sampled_from(ENV_TOKENS), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(ENV_TEXT)
def test_python_reader_agrees_with_real_python_dotenv(text: str) -> None:
    ours: dict[str, str | None] = {}
    for binding in read_like_python_dotenv(text):
        if binding.key is not None and not binding.error:
            ours[binding.key] = binding.value
    # python-dotenv skips a byte-order mark when it reads a file (utf-8-sig), as env.check reads them.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".env", newline="") as handle:
        handle.write(text)
        handle.flush()
        assert ours == dict(dotenv_values(handle.name, interpolate=False))


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("RESEND_API_KEY= # fill in later\n", {"RESEND_API_KEY": ""}),
        ("A='\\'\n", {}),  # unterminated: python-dotenv reports an error and reads nothing
        ("A=x #c\nB=x#c\n", {"A": "x", "B": "x#c"}),
    ],
)
def test_python_reader_is_python_dotenv(text: str, values: dict[str, str]) -> None:
    read = {b.key: b.value for b in read_like_python_dotenv(text) if b.key is not None and not b.error}
    assert read == values == {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def test_a_comment_after_an_empty_value_is_no_finding(tmp_path: Path) -> None:
    """Issue 14 item 15: both readers see an empty value, so the hook passes."""
    (tmp_path / "pyproject.toml").write_text("[tool.ops]\n")
    (tmp_path / ".env.local").write_text("RESEND_API_KEY= # fill in later\n")
    parsed = parse_bytes(b"RESEND_API_KEY= # fill in later\n", Path(".env.local"), ".env.local")
    assert (parsed.values, parsed.divergent, parsed.malformed) == ({"RESEND_API_KEY": ""}, [], [])
    report = check(load(tmp_path), "local")
    assert [f.code for f in report.findings if f.code == "ENV022"] == []


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=400))
def test_parser_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    parsed = parse_bytes(data, Path("fuzz.env"), "fuzz.env")
    line_count = data.count(b"\n") + data.count(b"\r") + 1
    for assignment in parsed.assignments.values():
        assert 1 <= assignment.line <= line_count
    for line, _expected in parsed.malformed:
        assert 1 <= line <= line_count


@pytest.fixture(scope="module")
def fuzz_project() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ops-env-fuzz-"))
    (root / "pyproject.toml").write_text("[tool.ops]\n")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | ENV_TEXT.map(str.encode))
def test_check_never_raises_and_findings_stay_on_one_line(fuzz_project: Path, data: bytes) -> None:
    (fuzz_project / ".env.local").write_bytes(data)
    report = check(load(fuzz_project), "local")
    for finding in report.findings:
        rendered = finding.render()
        assert "\n" not in rendered and "\r" not in rendered
    assert report.to_json()["environment"] == "local"


def test_cli_on_hostile_bytes_reports_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ops]\n")
    (tmp_path / ".env.local").write_bytes(b'\xef\xbb\xbfA=1\nB="x\x00\r\n\xff\xfeC\n`D=\x1b[31m\nE="open\n')
    result = run_cli("env.check", cwd=tmp_path)
    assert result.code == 1
    assert "Traceback" not in result.output and "\x1b" not in result.output
    assert ".env.local:1: ENV021 malformed line: starts with a byte-order mark; save it as UTF-8 without BOM" in (
        result.stdout.splitlines()
    )
    assert ".env.local:3: ENV021 malformed line: not valid UTF-8" in result.stdout.splitlines()


DIVERGENCES = {
    "A=abc#def\n": "unquoted '#'",
    'A="abc\n': "unbalanced quotes",
    "A=`abc`\n": "backtick quotes",
    'A="a\\tb"\n': "escapes or quotes",
    "A: abc\n": "only one of them reads this line",
}


@pytest.mark.parametrize("text", sorted(DIVERGENCES))
def test_divergences_are_named(text: str) -> None:
    parsed = parse_bytes(text.encode(), Path(".env"), ".env")
    assert parsed.divergent == [("A", 1, DIVERGENCES[text])]


def test_agreeing_lines_are_not_divergent() -> None:
    text = "A=abc #comment\nB='x#y'\nC=\"q\\nr\"\nexport D=1\nE=\n# note\n"
    parsed = parse_bytes(text.encode(), Path(".env"), ".env")
    assert parsed.divergent == [] and parsed.malformed == [] and parsed.duplicates == []
    assert parsed.values == {"A": "abc", "B": "x#y", "C": "q\nr", "D": "1", "E": ""}


# The real Node dotenv package (package.json devDependencies; Next.js reads .env files with it),
# run by the real Node engine: the Python port must reproduce it exactly.
NODE_DOTENV = Path(__file__).resolve().parents[1] / "node_modules" / "dotenv"
NODE_DOTENV_PARSE = r"""
const dotenv = require(process.argv[1])
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'))
process.stdout.write(JSON.stringify(inputs.map((text) => dotenv.parse(text))))
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs the node binary to run dotenv's own parser")
def test_node_port_agrees_with_dotenv_run_by_node() -> None:
    assert NODE_DOTENV.is_dir(), "node_modules/dotenv is missing: run ./scripts/bootstrap (npm ci)"
    import json
    import random
    import subprocess

    generator = random.Random(20251122)
    texts = [*(line + "\n" for line in NODE_CASES), "RESEND_API_KEY= # fill in later\n", "A='\\'\n"]
    texts += ["".join(generator.choices(ENV_TOKENS, k=generator.randint(0, 40))) for _ in range(1500)]
    completed = subprocess.run(
        ["node", "-e", NODE_DOTENV_PARSE, str(NODE_DOTENV)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
    )
    for text, expected in zip(texts, json.loads(completed.stdout), strict=True):
        ours = {key: value for key, value, _line in read_like_node(text)}
        assert ours == expected, repr(text)
