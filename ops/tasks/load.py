"""``inv load.run`` and ``inv load.k8s``: bounded load tests, never against production."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.tasks._base import number_option, ops_task

if TYPE_CHECKING:
    from ops.load import LoadReport


@ops_task(
    help={
        "scenario": "catalog, product, checkout, admin or ratelimit (infra/tests/load/)",
        "env": "staging (default) or local; production is always refused",
        "engine": "k6 (default) or artillery",
        "vus": "virtual users (k6) / arrivals per second (Artillery); capped by max_vus",
        "duration": "how long, e.g. 30s or 2m; capped by max_duration",
        "script": "your own k6 .js or Artillery .yml, run with the same target and thresholds",
        "json_": "print one JSON document on stdout",
    }
)
def run(
    c: Any,
    scenario: str = "",
    env: str = "staging",
    engine: str = "",
    vus: str = "",
    duration: str = "",
    script: str = "",
    json_: bool = False,
) -> LoadReport:
    """Run a load test against staging or local; exit 1 when a threshold fails."""
    from ops.config import load
    from ops.console import Output
    from ops.load import run as load_run
    from ops.load.render import render_report

    out = Output(json_)
    report = load_run(
        load(), scenario or None, env=env, engine=engine or None, vus=number_option(vus, "--vus", minimum=1),
        duration=duration or None, script=script or None, out=out,
    )  # fmt: skip
    render_report(out, report)
    return report


@ops_task(
    help={
        "scenario": "the scenario whose k6 script runs in the cluster",
        "parallelism": "number of k6 runner pods (VUs are split over them)",
        "env": "whose base URL the runners target: staging (default); production is refused",
        "vus": "total virtual users; capped by max_vus",
        "duration": "how long, e.g. 5m; capped by max_duration",
        "script": "your own k6 .js instead of a scenario",
        "namespace": "Kubernetes namespace for both resources",
        "output": "write the manifests to this file instead of stdout",
        "json_": "print the manifests as one JSON document",
    }
)
def k8s(
    c: Any,
    scenario: str = "",
    parallelism: str = "2",
    env: str = "staging",
    vus: str = "",
    duration: str = "",
    script: str = "",
    namespace: str = "",
    output: str = "",
    json_: bool = False,
) -> None:
    """Write the k6-operator TestRun (+ script ConfigMap), checked against the CRD schema."""
    from pathlib import Path

    from ops.config import load
    from ops.console import Output
    from ops.load import k8s_manifests

    out = Output(json_)
    manifests = k8s_manifests(
        load(), scenario or None, parallelism=number_option(parallelism, "--parallelism", minimum=1), env=env,
        vus=number_option(vus, "--vus", minimum=1),
        duration=duration or None, script=script or None, namespace=namespace or None,
    )  # fmt: skip
    if json_:
        out.result({"manifests": manifests.documents})
    elif output:
        manifests.write_yaml(Path(output))
        out.line(
            f"wrote {output}: ConfigMap + TestRun, valid for k6-operator v1.6.0; apply with kubectl apply -f {output}"
        )
    else:
        print(manifests.to_yaml(), end="")
