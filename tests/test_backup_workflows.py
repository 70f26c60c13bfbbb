"""The scheduled backup workflow and the pre-migration backup of deploy-prod.yml
(actionlint and the inv-line check run over every workflow in test_workflows.py)."""

from __future__ import annotations

from tests.test_workflows import inv_commands, read

REPOSITORY_SECRETS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "AWS_REGION"}


def test_backup_yml_exports_and_prunes_daily_and_drills_monthly() -> None:
    workflow = read("backup.yml")
    assert [entry["cron"] for entry in workflow["on"]["schedule"]] == ["17 3 * * *", "43 4 1 * *"]
    jobs = workflow["jobs"]
    assert "'17 3 * * *'" in jobs["export"]["if"] and "'43 4 1 * *'" in jobs["drill"]["if"]
    assert inv_commands(workflow, "export") == [
        "inv backup.export --env production",
        "inv backup.verify --env production --latest",
        "inv backup.prune --env production --apply",
    ]
    assert inv_commands(workflow, "drill") == [
        "inv backup.drill --from production --to staging",
        # only with the repository variable OPS_REFRESH_STAGING_AFTER_DRILL = "true"
        "inv db.refresh --from production --to staging --anonymize --yes",
        "inv db.test --env staging",
    ]
    gated = [step for step in jobs["drill"]["steps"] if "db." in step.get("run", "")]
    assert [step["if"] for step in gated] == ["vars.OPS_REFRESH_STAGING_AFTER_DRILL == 'true'"] * 2
    assert set(jobs["export"]["env"]) >= REPOSITORY_SECRETS and set(jobs["drill"]["env"]) >= REPOSITORY_SECRETS
    # Export needs only the public recipients; the identity is the drill's alone.
    assert "OPS_BACKUP_IDENTITY" not in jobs["export"]["env"] and "OPS_BACKUP_IDENTITY" in jobs["drill"]["env"]
    for spec in jobs.values():
        assert all(value == "${{ secrets.%s }}" % name for name, value in spec["env"].items())  # noqa: UP031


def test_only_the_drill_report_becomes_an_artifact() -> None:
    workflow = read("backup.yml")
    uploads = [
        step
        for spec in workflow["jobs"].values()
        for step in spec["steps"]
        if "upload-artifact" in step.get("uses", "")
    ]
    assert len(uploads) == 1
    paths = uploads[0]["with"]["path"].split()
    assert paths == [".ops/backups/drills/*.md", ".ops/backups/drills/*.json"]
    assert uploads[0]["if"] == "always()"


def test_deploy_prod_backs_up_into_the_repository() -> None:
    release = read("deploy-prod.yml")["jobs"]["release"]
    assert set(release["env"]) >= REPOSITORY_SECRETS
    assert "inv backup.export --env production" in inv_commands(read("deploy-prod.yml"), "release")
