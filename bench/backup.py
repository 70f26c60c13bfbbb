"""Benchmark: ``backup.export`` against raw ``pg_dump``, and the drill's restore
step against raw ``pg_restore -j``, with the same flags, in the same run.

A throwaway cluster gets a ``pgbench -i`` database (scale 140 is about 2.1 GB;
the default scale 10 is a quick ~150 MB run). Each pair runs interleaved for
``--rounds`` rounds (alternating which goes first, with a CHECKPOINT before
each run) and the best time of each side is compared.
Targets: export <= 1.05x raw pg_dump, restore <= 1.05x raw pg_restore, and
export into an S3 repository with age <= 1.1x the bare pipeline
``pg_dump -Fc | age -r KEY |`` a boto3 upload of the same bytes.

Like with like: the export is the library call (``ops.backup.export``, exact
row counts, checksums and manifest included) against pg_dump with the very
arguments it passes (-Fd -j N -Z 6 --verbose, minus --snapshot); the restore
is the drill's restore step (``ops.backup.restore.restore`` with the server
version its create step returned) against pg_restore -j N of the same dump
directory into a database created the same way (template0), on a cluster with
autovacuum off so that no run pays for another's tables. Besides wall time
each side's CPU seconds are printed (the client processes plus the server's
backends): on a shared machine they move far less than wall time does.

    python bench/backup.py                 # quick: scale 10
    python bench/backup.py --scale 140     # the full >= 2 GB run
    python bench/backup.py --cli --no-s3   # also the command line, start-up included
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ops.backup import export  # noqa: E402
from ops.backup import restore as restore_ops  # noqa: E402
from ops.backup.catalog import find  # noqa: E402
from ops.backup.export import dump_args  # noqa: E402
from ops.backup.pgtools import run_tool, target, with_database  # noqa: E402
from ops.backup.settings import load_settings  # noqa: E402
from ops.config import load  # noqa: E402
from ops.pg.binaries import pg_bin  # noqa: E402
from ops.pg.cluster import Cluster  # noqa: E402

DATABASE = "bench"


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale (140 = about 2.1 GB; default 10)")
    parser.add_argument("--jobs", type=int, default=2, help="pg_dump/pg_restore jobs (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per pair (default 3)")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 repository comparison")
    parser.add_argument(
        "--cli",
        action="store_true",
        help="also time `python -m ops backup.export --json` (interpreter start-up and imports included)",
    )
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="ops-bench-backup-"))
    base.chmod(0o755)
    cluster = Cluster(base / "pg", settings={"max_wal_size": "4GB", "checkpoint_timeout": "30min", "autovacuum": "off"})
    try:
        cluster.init()
        cluster.start()
        cluster.create_database(DATABASE)
        url = cluster.url(DATABASE)
        source = target(url)
        print(f"pgbench -i -s {args.scale} ...", flush=True)
        started = time.perf_counter()
        subprocess.run(
            [pg_bin("pgbench"), "-i", "-q", "-s", str(args.scale), source.conninfo],
            env=source.env,
            check=True,
            capture_output=True,
        )
        with cluster.connection(DATABASE) as conn:
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        print(f"database: {size / 2**30:.2f} GB (built in {time.perf_counter() - started:.0f} s)")

        project = base / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            f'[tool.ops]\n[tool.ops.backup]\njobs = {args.jobs}\nroot = "backups"\n'
        )
        os.environ["SUPABASE_DB_URL"] = url
        cfg = load(project)
        settings = load_settings(cfg)

        def checkpoint() -> None:
            # Flush the previous run's dirty pages so no run pays for another's checkpoint.
            with cluster.connection() as conn:
                conn.execute("checkpoint")

        cpu = _CpuMeter(cluster.pid())

        def raw_dump() -> _Run:
            shutil.rmtree(raw_dir, ignore_errors=True)
            checkpoint()
            raw_args = dump_args(raw_dir, source, None, args.jobs, compression)
            return cpu.run(lambda: run_tool("pg_dump", raw_args, source))

        def our_export() -> _Run:
            for old in (settings.local_root / "production").glob("*"):
                shutil.rmtree(old)
            checkpoint()
            return cpu.run(lambda: export(cfg, "production", jobs=args.jobs))

        export_times: list[_Run] = []
        raw_dump_times: list[_Run] = []
        raw_dir, compression = base / "raw-dump", settings.compression
        for round_number in range(args.rounds):
            # Alternate which side goes first, so order effects cancel out.
            if round_number % 2:
                export_times.append(our_export())
                raw_dump_times.append(raw_dump())
            else:
                raw_dump_times.append(raw_dump())
                export_times.append(our_export())
        backup = find(settings, "production")
        dump_dir = Path(backup.path) / "dump"
        print(f"dump size: {_size(dump_dir) / 2**20:.0f} MB (raw {_size(raw_dir) / 2**20:.0f} MB)")

        def raw_restore(name: str) -> _Run:
            into = target(with_database(url, name))
            checkpoint()
            return cpu.run(lambda: run_tool("pg_restore", restore_ops.restore_args(dump_dir, into, args.jobs), into))

        def drill_restore(name: str, server_major: int) -> _Run:
            checkpoint()
            into = with_database(url, name)
            return cpu.run(lambda: restore_ops.restore(backup, into, args.jobs, server_major=server_major))

        restore_times, raw_restore_times = _interleaved_restores(
            args.rounds, url, cluster, "drill_bench", drill_restore, "raw_restore", raw_restore
        )

        print(
            f"\nflags: -Fd -j {args.jobs} -Z {settings.compression} (both sides); best of {args.rounds}"
            " interleaved rounds; the restores read the same dump directory"
        )
        _pair("export", export_times, "raw pg_dump", raw_dump_times, 1.05)
        _pair("drill restore", restore_times, "raw pg_restore", raw_restore_times, 1.05)
        print(f"all export runs {_fmt(export_times)}; raw pg_dump {_fmt(raw_dump_times)}")
        print(f"all restore runs {_fmt(restore_times)}; raw pg_restore {_fmt(raw_restore_times)}")
        if args.cli:
            _bench_cli(args, project, settings.local_root / "production", raw_dump, cpu)
        if not args.no_s3:
            _bench_repository(args, base, url, source, cluster, checkpoint)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _interleaved_restores(rounds, url, cluster, ours_prefix, ours, raw_prefix, raw):  # type: ignore[no-untyped-def]
    """Each round restores into two fresh databases, ours first on odd rounds and the raw tool
    first on even ones; ours is created as the drill's create step does (its restore step
    gets the server version from it), the raw one from template0."""
    ours_runs: list[_Run] = []
    raw_runs: list[_Run] = []
    for round_number in range(rounds):
        mine, theirs = f"{ours_prefix}_{round_number}", f"{raw_prefix}_{round_number}"
        server_major = restore_ops.create_database(url, mine, [])
        cluster.create_database(theirs, template="template0")
        if round_number % 2:
            ours_runs.append(ours(mine, server_major))
            raw_runs.append(raw(theirs))
        else:
            raw_runs.append(raw(theirs))
            ours_runs.append(ours(mine, server_major))
        for name in (mine, theirs):
            cluster.drop_database(name)
    return ours_runs, raw_runs


def _bench_cli(args, project: Path, env_dir: Path, raw_dump, cpu: _CpuMeter) -> None:  # type: ignore[no-untyped-def]
    """The command a team runs, as a process, against raw pg_dump as a process: the
    difference beyond the library call is the interpreter's start-up and the imports
    (invoke, pydantic, psycopg, rich), timed on their own below."""
    command = [sys.executable, "-m", "ops", "backup.export", "--jobs", str(args.jobs), "--json"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    def cli() -> _Run:
        for old in env_dir.glob("*"):
            shutil.rmtree(old)
        return cpu.run(lambda: subprocess.run(command, cwd=project, env=environment, check=True, capture_output=True))

    def imports() -> _Run:
        code = "import ops.tasks.program, ops.tasks, ops.backup, ops.backup.render, ops.console, psycopg, rich.progress"
        return _Run(_timed(lambda: subprocess.run([sys.executable, "-c", code], env=environment, check=True)))

    cli_times: list[_Run] = []
    raw_times: list[_Run] = []
    import_times: list[_Run] = []
    for round_number in range(args.rounds):
        if round_number % 2:
            cli_times.append(cli())
            raw_times.append(raw_dump())
        else:
            raw_times.append(raw_dump())
            cli_times.append(cli())
        import_times.append(imports())
    print("\ncommand line (python -m ops backup.export --json) against raw pg_dump:")
    _pair("export CLI", cli_times, "raw pg_dump", raw_times, 1.05)
    print(f"{'':>14}  of which start-up and imports alone: {min(import_times):.2f} s (best of {args.rounds})")
    print(f"all CLI runs {_fmt(cli_times)}; raw pg_dump {_fmt(raw_times)}")


def _bench_repository(args, base: Path, url: str, source, cluster, checkpoint) -> None:  # type: ignore[no-untyped-def]
    """Export into an S3 repository with age against the bare pipeline it replaces:
    ``pg_dump -Fc | age -r KEY |`` an upload of the same bytes with boto3 (one
    process, boto3's managed multipart upload), to a moto S3 server process on loopback."""
    import socket

    import boto3
    from boto3.s3.transfer import TransferConfig
    from pyrage import x25519

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL_S3": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench-secret",
                "AWS_REGION": "us-east-1",
            }
        )
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench-backups")
        identity = x25519.Identity.generate()
        recipient = str(identity.to_public())
        key_file = base / "key.txt"
        key_file.write_text(f"{identity}\n")
        key_file.chmod(0o600)
        os.environ["OPS_BACKUP_IDENTITY"] = str(key_file)
        project = base / "project-s3"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            f'[tool.ops]\n[tool.ops.backup]\nrepository = "s3://bench-backups/db"\nencrypt_to = ["{recipient}"]\n'
        )
        cfg = load(project)
        compression = load_settings(cfg).compression
        transfer = TransferConfig(multipart_chunksize=16 << 20, max_concurrency=1)

        def bare_pipeline() -> _Run:
            checkpoint()

            def run() -> None:
                dump = subprocess.Popen(
                    [pg_bin("pg_dump"), "--format=custom", f"--compress={compression}", f"--dbname={source.conninfo}"],
                    env=source.env,
                    stdout=subprocess.PIPE,
                )
                age = subprocess.Popen(["age", "-r", recipient], stdin=dump.stdout, stdout=subprocess.PIPE)
                assert dump.stdout is not None and age.stdout is not None
                dump.stdout.close()
                s3.upload_fileobj(age.stdout, "bench-backups", "bare/dump.pgc.age", Config=transfer)
                if dump.wait() or age.wait():
                    raise RuntimeError("the bare pipeline failed")

            return _Run(_timed(run))

        def ours() -> _Run:
            checkpoint()
            return _Run(_timed(lambda: export(cfg, "production")))

        ours_times: list[_Run] = []
        bare_times: list[_Run] = []
        for round_number in range(args.rounds):
            if round_number % 2:
                ours_times.append(ours())
                bare_times.append(bare_pipeline())
            else:
                bare_times.append(bare_pipeline())
                ours_times.append(ours())
        size = s3.head_object(Bucket="bench-backups", Key="bare/dump.pgc.age")["ContentLength"]

        # The drill's streamed restore against the same bytes by hand:
        # boto3 download -> age -d -> pg_restore (one job: stdin is not seekable).
        backup = find(load_settings(cfg), "production")
        key = f"db/production/{backup.id}/{backup.manifest['dump']['file']}"

        def raw_stream_restore(name: str) -> _Run:
            into = target(with_database(url, name))
            checkpoint()

            def run() -> None:
                restore = subprocess.Popen(
                    [pg_bin("pg_restore"), f"--dbname={into.conninfo}"], env=into.env, stdin=subprocess.PIPE
                )
                age = subprocess.Popen(["age", "-d", "-i", str(key_file)], stdin=subprocess.PIPE, stdout=restore.stdin)
                assert age.stdin is not None and restore.stdin is not None
                restore.stdin.close()
                body = s3.get_object(Bucket="bench-backups", Key=key)["Body"]
                while chunk := body.read(1 << 20):
                    age.stdin.write(chunk)
                age.stdin.close()
                if age.wait() or restore.wait():
                    raise RuntimeError("the raw streamed restore failed")

            return _Run(_timed(run))

        def our_stream_restore(name: str, server_major: int) -> _Run:
            checkpoint()
            into = with_database(url, name)
            return _Run(_timed(lambda: restore_ops.restore(backup, into, 1, server_major=server_major)))

        stream_times, raw_stream_times = _interleaved_restores(
            args.rounds, url, cluster, "drill_s3", our_stream_restore, "raw_s3", raw_stream_restore
        )

        print(f"\nS3 repository (moto server process), age-encrypted -Fc dump of {size / 2**20:.0f} MB:")
        _pair("export to S3", ours_times, "pg_dump|age|s3", bare_times, 1.1)
        _pair("S3 restore", stream_times, "s3|age -d|pg_restore", raw_stream_times, 1.05)
        print(f"all export-to-S3 times {_fmt(ours_times)}; bare pipeline {_fmt(bare_times)}")
        print(f"all S3 restore times {_fmt(stream_times)}; by hand {_fmt(raw_stream_times)}")
    finally:
        server.terminate()
        server.wait(timeout=10)


class _Run(float):
    """A run's wall time (the float) and the CPU seconds it cost (None where unmeasured)."""

    cpu: float | None = None


class _CpuMeter:
    """CPU seconds of a run: this process and the client programs it waited for
    (getrusage), plus the server's backends, which the postmaster accounts for
    once it has reaped them (/proc/<postmaster>/stat cutime + cstime). Linux only;
    elsewhere only wall time is measured."""

    def __init__(self, postmaster: int | None) -> None:
        self._stat = Path(f"/proc/{postmaster}/stat") if postmaster else None
        self._ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _server(self) -> float | None:
        if self._stat is None or not self._stat.exists():
            return None
        fields = self._stat.read_text().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / self._ticks  # utime stime cutime cstime

    @staticmethod
    def _client() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def run(self, action) -> _Run:  # type: ignore[no-untyped-def]
        server, client = self._server(), self._client()
        result = _Run(_timed(action))
        time.sleep(0.2)  # the run's backends exit and are reaped
        server_after = self._server()
        if server is not None and server_after is not None:
            result.cpu = self._client() - client + server_after - server
        return result


def _fmt(runs: list[_Run]) -> str:
    return ", ".join(f"{run:.2f}s" + (f" ({run.cpu:.2f} cpu-s)" if run.cpu is not None else "") for run in runs)


def _pair(ours: str, ours_runs: list[_Run], theirs: str, theirs_runs: list[_Run], target_ratio: float) -> None:
    ours_time, theirs_time = min(ours_runs), min(theirs_runs)
    ratio = ours_time / theirs_time
    verdict = "ok" if ratio <= target_ratio else "over target"
    print(
        f"{ours:>14}: {ours_time:8.2f} s   {theirs:>14}: {theirs_time:8.2f} s"
        f"   ratio {ratio:.3f} ({verdict}, target <= {target_ratio})"
    )
    ours_cpu = [run.cpu for run in ours_runs if run.cpu is not None]
    theirs_cpu = [run.cpu for run in theirs_runs if run.cpu is not None]
    if ours_cpu and theirs_cpu:
        print(
            f"{'':>14}  {min(ours_cpu):8.2f} cpu-s{'':>12}{min(theirs_cpu):8.2f} cpu-s"
            f" ratio {min(ours_cpu) / min(theirs_cpu):.3f} (client programs + server backends, least of each)"
        )


if __name__ == "__main__":
    sys.exit(main())
