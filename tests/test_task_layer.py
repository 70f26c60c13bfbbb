"""The task layer: one way to fail, crash logs, JSON error documents, number
options, "not a project", and the parse errors of both programs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CliResult, run_cli, run_ops
from invoke import Collection

from ops import __version__
from ops.errors import INTERNAL, CheckFailed, OpsError
from ops.tasks import build_namespace
from ops.tasks._base import number_option, ops_task
from ops.tasks.program import OpsProgram


def project(root: Path, body: str = "[tool.ops]\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(body)
    return root


# -- tasks written for these tests, run through the real Program and wrapper ---------------


class Verdict:
    """A report whose result decides the exit, as the domains' reports do."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code

    def failure(self) -> OpsError | None:
        return CheckFailed("2 problems found", "fix them") if self.exit_code else None


@ops_task(help={"json_": "print one JSON document on stdout"})
def crash(c: Any, json_: bool = False) -> None:
    """Fails the way a bug does."""
    raise KeyError("postgresql://app:hunter22@db.example.com/app")


@ops_task(help={"json_": "print one JSON document on stdout"})
def query(c: Any, url: str = "", sql: str = "", json_: bool = False) -> None:
    """Runs one statement on a real server, the way a domain might without naming its errors."""
    from ops.pg.connect import connect

    with connect(url) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@ops_task
def verdict(c: Any, code: str = "0") -> Verdict:
    """Returns a report with the given exit code."""
    return Verdict(int(code))


@ops_task
def returns_int(c: Any) -> int:
    """The old idiom: a bare exit code."""
    return 1


def run_tasks(root: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    """``args`` against a namespace of the tasks above, through OpsProgram, in-process."""
    from conftest import _captured_output, _process_state

    namespace = Collection(crash, query, verdict, returns_int)
    full_env = {**os.environ, "OPS_PROJECT_ROOT": str(root), **(env or {})}
    code = 0
    with _process_state(root, full_env), _captured_output() as captured:
        try:
            OpsProgram(namespace=namespace, version=__version__, name="ops", binary="ops").run(["ops", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return CliResult(code, captured[0], captured[1])


def crash_log_of(line: str) -> Path:
    return Path(line.split("the traceback is in ", 1)[1].split(";", 1)[0])


def test_a_bug_is_one_masked_line_naming_a_private_crash_log(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    result = run_tasks(root, "crash")
    assert result.code == INTERNAL == 70
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: internal error: KeyError: 'postgresql://app:***@db.example.com/app' (fix: a bug")
    assert line.endswith("; OPS_DEBUG=1 prints it)")
    assert "hunter22" not in result.output and "Traceback" not in result.output
    log = crash_log_of(line)
    assert log.parent == root / ".ops" / "crash"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and 'raise KeyError("postgresql://app:***@' in text
    assert "hunter22" not in text


def test_ops_debug_prints_the_traceback(tmp_path: Path) -> None:
    result = run_tasks(project(tmp_path / "p"), "crash", env={"OPS_DEBUG": "1"})
    assert result.code == 70
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: internal error: KeyError")


def test_a_crash_log_falls_back_to_a_temp_dir_when_the_state_dir_is_not_writable(tmp_path: Path) -> None:
    root = project(tmp_path / "p", "[tool.ops]\nstate_dir = '/proc/no-such-dir/state'\n")
    result = run_tasks(root, "crash", "--json")
    assert result.code == 70
    document = json.loads(result.stdout)
    log = Path(document["error"]["crash_log"])
    assert document["ok"] is False and document["error"]["exit_code"] == 70
    assert log.is_file() and not log.is_relative_to(root)
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert str(log) in result.stderr


def test_a_report_decides_the_exit_and_its_failure_is_the_last_line(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    assert run_tasks(root, "verdict").code == 0
    failed = run_tasks(root, "verdict", "--code", "1")
    assert (failed.code, failed.stderr) == (1, "error: 2 problems found (fix: fix them)\n")


def test_a_bare_int_return_is_refused_as_a_bug(tmp_path: Path) -> None:
    result = run_tasks(project(tmp_path / "p"), "returns-int")
    assert result.code == 70
    assert "a task returns a report (with .exit_code) or None, not an int" in result.stderr


def test_every_json_task_prints_an_error_document_on_failure(tmp_path: Path) -> None:
    """An OpsError raised before a command wrote anything still gives one JSON document."""
    root = project(tmp_path / "p")
    for args in (("env.check", "--env", "qa"), ("health", "--env", "qa"), ("db.migrate", "--env", "qa")):
        result = run_cli(*args, "--json", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
        assert result.code == 2, (args, result.output)
        document = json.loads(result.stdout)
        assert document["ok"] is False
        assert document["error"]["message"] == "unknown environment 'qa'"
        assert result.stderr.strip() == "error: unknown environment 'qa' (fix: use one of: local, staging, production)"


def test_outside_a_project_tasks_refuse_in_one_line(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "pyproject.toml").write_text("[project]\nname = 'not-ops'\n")  # Python, but no [tool.ops]
    env = {"OPS_PROJECT_ROOT": str(bare)}
    for args in (("db.migrate",), ("env.check",), ("backup.list",), ("dev.status",), ("db.lint",)):
        result = run_cli(*args, cwd=bare, env=env)
        assert (result.code, result.stderr) == (2, "error: not an ops project here (fix: run ops init)\n"), args
    document = json.loads(run_cli("db.status", "--json", cwd=bare, env=env).stdout)
    assert document["error"] == {"message": "not an ops project here", "hint": "run ops init", "exit_code": 2}
    # An ops.toml makes a project, as [tool.ops] does.
    (bare / "ops.toml").write_text("")
    assert "not an ops project" not in run_cli("env.check", cwd=bare, env=env).stderr
    # health with --url needs no project (a deploy smoke test).
    (bare / "ops.toml").unlink()
    result = run_cli("health", "--url", "ftp://example.com", cwd=bare, env=env)
    assert result.stderr.startswith("error: base URL 'ftp://example.com' is not http(s)")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("backup.export", "--jobs", "ten"), "error: --jobs expects a whole number >= 1, got 'ten'"),
        (("backup.drill", "--jobs", "0"), "error: --jobs expects a whole number >= 1, got '0'"),
        (("dev.logs", "--lines", "-5"), "error: --lines expects a whole number >= 0, got '-5'"),
        (("health", "--wait", "soon"), "error: --wait expects a number >= 0, got 'soon'"),
        (("health", "--retries", "1.5"), "error: --retries expects a whole number >= 0, got '1.5'"),
        (("health", "--timeout", "nan"), "error: --timeout expects a number, got 'nan'"),
    ],
)
def test_a_bad_number_option_is_a_one_line_usage_error(args: tuple[str, ...], line: str) -> None:
    result = run_cli(*args)
    assert result.code == 2, result.output
    assert result.stderr.startswith(line + " (fix: for example ")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_number_option() -> None:
    assert number_option("", "--jobs") is None and number_option(None, "--jobs") is None
    assert number_option(" 4 ", "--jobs", minimum=1) == 4
    assert number_option("2.5", "--wait", whole=False) == 2.5
    with pytest.raises(OpsError, match="--wait expects a number >= 0, got 'inf'"):
        number_option("inf", "--wait", whole=False)


def test_no_task_option_is_cast_by_invoke() -> None:
    """Invoke casts int/float options while parsing and lets a bad value escape as a
    traceback: number options are text, parsed by number_option."""
    namespace = build_namespace()
    offenders = []
    for name in namespace.task_names:
        task = namespace[name]
        for argument in task.get_arguments():
            if argument.kind not in (str, bool, list):
                offenders.append(f"{name} --{argument.name}: {argument.kind.__name__}")
    assert offenders == []


def test_a_parse_error_is_a_usage_error_under_ops() -> None:
    result = run_cli("db.migrate", "--dryrun")
    assert result.code == 2
    assert result.stderr == "error: No idea what '--dryrun' is! (fix: see 'ops --list' and 'ops --help TASK')\n"
    assert run_cli("nope.task").code == 2


def test_the_console_script_and_inv_start_and_fail_as_documented(tmp_path: Path) -> None:
    """Real processes: ``ops`` exits 2 on a parse error; ``inv`` (Invoke's own
    program, which hard-codes it) exits 1, as the README says."""
    result = run_ops("db.migrate", "--dryrun")
    assert result.code == 2
    assert result.stderr.startswith("error: No idea what '--dryrun' is! (fix: see 'ops --list'")
    (tmp_path / "tasks.py").write_text("from ops.tasks import ns as ns\n")
    project(tmp_path)
    env = {**os.environ, "OPS_PROJECT_ROOT": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}

    def inv(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "invoke", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    parse = inv("db.migrate", "--dryrun")
    assert (parse.returncode, parse.stderr) == (1, "No idea what '--dryrun' is!\n")
    usage = inv("backup.export", "--jobs", "x")
    assert usage.returncode == 2 and usage.stderr.startswith("error: --jobs expects a whole number >= 1, got 'x'")


def test_python_m_ops_keeps_its_exit_code_after_an_interrupt_ended_a_string_exec(tmp_path: Path) -> None:
    """A Ctrl-C caught by the task layer can land inside a string ``exec`` (dataclasses and
    namedtuple build methods that way, during an import). CPython then ends ``python -m`` by
    SIGINT instead of with the command's code. An audit hook makes that happen at known points."""
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(
        "import sys\n"
        "def hook(event, args):\n"
        "    # On every import of ours: the last string exec before the exit must be the interrupted one.\n"
        "    if event == 'import' and str(args[0]).startswith('ops'):\n"
        "        try:\n"
        "            exec('raise KeyboardInterrupt')\n"
        "        except KeyboardInterrupt:\n"
        "            pass\n"
        "sys.addaudithook(hook)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook_dir), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, f"ops {__version__}"), proc.stderr


def test_an_os_error_is_the_machine_not_a_bug() -> None:
    """What the OS refuses becomes one line with a fix: a full disk says so (exit 3), a name
    too long is a usage error (2); an unwritable state dir is covered in test_bad_inputs."""
    import errno

    from ops.errors import from_os_error

    full = from_os_error(OSError(errno.ENOSPC, "No space left on device", "/backups/x/dump/3045.dat.gz"))
    assert (full.exit_code, full.one_line()) == (
        3,
        "error: the disk is full: No space left on device: /backups/x/dump/3045.dat.gz"
        " (fix: free space on that disk, then run the command again)",
    )
    long_name = from_os_error(OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300))
    assert long_name.exit_code == 2 and long_name.one_line().startswith("error: a name is too long: xxx")
    assert len(long_name.one_line()) < 200
    denied = from_os_error(PermissionError(errno.EACCES, "Permission denied", "/srv/.ops/stack"))
    assert denied.exit_code == 3 and "set state_dir in [tool.ops]" in denied.one_line()


def test_a_database_error_no_domain_named_is_an_external_failure(tmp_path: Path, database: Any) -> None:
    """A real server's refusal is the outside world, not a bug: one masked line, exit 3, no crash log."""
    root = project(tmp_path / "p")
    result = run_tasks(root, "query", "--url", database.url, "--sql", "select * from no_such_table", "--json")
    assert result.code == 3, result.output
    assert result.stderr.strip() == (
        'error: the database said: relation "no_such_table" does not exist (fix: check the server and rerun)'
    )
    assert json.loads(result.stdout)["error"]["exit_code"] == 3
    assert database.cluster.password not in result.output
    assert not (root / ".ops" / "crash").exists()
