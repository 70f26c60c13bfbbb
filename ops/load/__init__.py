"""Load runs (``inv load.run``) and their distributed form (``inv load.k8s``).

``run(cfg, "catalog", env="staging")`` runs one bounded k6 or Artillery test
and returns a report in one shape for both engines; ``k8s_manifests(cfg,
"catalog", parallelism=4)`` writes the k6-operator ``TestRun`` for the same
script. Neither ever targets production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.load.runner import LoadReport, RunPlan, plan_run, run

if TYPE_CHECKING:
    from ops.load.k8s import K8sManifests, k8s_manifests, validate_testrun

__all__ = ["K8sManifests", "LoadReport", "RunPlan", "k8s_manifests", "plan_run", "run", "validate_testrun"]

# The Kubernetes side (schema, manifests) loads on first use: a load run starts its engine without it.
_K8S_NAMES = frozenset({"K8sManifests", "k8s_manifests", "validate_testrun"})


def __getattr__(name: str) -> Any:
    if name in _K8S_NAMES:
        from ops.load import k8s

        return getattr(k8s, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
