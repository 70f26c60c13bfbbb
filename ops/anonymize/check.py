"""``db.anonymize --check``: every column that looks personal and has no rule,
and every rule naming a column that no longer exists. A lint for CI and the
pre-commit hook: a migration adding a PII column fails until someone decides
how to mask it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ops.anonymize.catalog import Catalog, read_catalog
from ops.anonymize.personal import looks_personal
from ops.anonymize.plan import make_plan
from ops.anonymize.rules import RuleSet, rule_set
from ops.anonymize.settings import anonymize_settings
from ops.config import Config


@dataclass
class CheckReport:
    database: str
    unruled: list[dict[str, str]] = field(default_factory=list)  # {"column", "reason"}
    problems: list[str] = field(default_factory=list)  # stale rules, rules that cannot apply
    columns_checked: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.unruled or self.problems else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "database": self.database,
            "columns_checked": self.columns_checked,
            "unruled": self.unruled,
            "problems": self.problems,
        }


def check_catalog(catalog: Catalog, rules: RuleSet, database: str = "") -> CheckReport:
    report = CheckReport(database)
    for (schema, table_name), table in sorted(catalog.tables.items()):
        if not rules.copied(schema, table_name):
            continue  # nothing of it reaches staging
        for column in table.columns.values():
            report.columns_checked += 1
            if (schema, table_name, column.name) in rules.rules:
                continue
            reason = looks_personal(column)
            if reason:
                report.unruled.append({"column": f"{schema}.{table_name}.{column.name}", "reason": reason})
    report.problems = make_plan(catalog, rules).problems
    return report


def check(cfg: Config, db: str = "migrations", *, cluster: Any = None, step: Any = None) -> CheckReport:
    """Check the rules against the migrated schema: ``db`` is ``migrations``
    (a shadow database built from the migrations on ``cluster``, else on the
    running dev cluster, else on a throwaway cluster), an environment name or
    a postgres URL."""
    from ops.migrations.diff import migrated_template, resolve_url

    rules = rule_set(anonymize_settings(cfg))
    if db != "migrations":
        url = resolve_url(cfg, db)
        shown = db if not db.startswith(("postgres://", "postgresql://")) else "the given database"
        return check_catalog(_read(url), rules, shown)
    shown = "the migrations (shadow database)"
    if cluster is None:
        from ops.anonymize.scratch import running_local_cluster, throwaway_cluster

        cluster = running_local_cluster(cfg)
        if cluster is None:
            with throwaway_cluster(cfg) as scratch:
                return check_catalog(_read(scratch.url(migrated_template(cfg, scratch, step))), rules, shown)
    return check_catalog(_read(cluster.url(migrated_template(cfg, cluster, step))), rules, shown)


def _read(url: str) -> Catalog:
    from ops.anonymize.connect import connect

    with connect(url) as conn:
        return read_catalog(conn)
