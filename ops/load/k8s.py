"""Scale out on Kubernetes with the k6-operator: a ``TestRun`` plus its script as a ConfigMap.

The same scenario script, and the same thresholds entry module ``load.run``
uses locally, go into one ConfigMap (k6-operator mounts it flat, so a script
may import only sibling files). VUs are the total: the operator splits them
over ``parallelism`` runner pods with execution segments. Tokens are never
written into the manifest: the runners read them from a Secret.

Each manifest is checked against the ``TestRun`` CRD's OpenAPI schema,
vendored from k6-operator v1.6.0, with unknown fields rejected the way
``kubectl apply --validate=strict`` rejects them.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import CheckFailed, UsageError
from ops.load.k6 import SUMMARY_TREND_STATS, blocked_targets, k6_thresholds, render_entry
from ops.load.settings import format_duration, parse_count
from ops.load.target import guard

SCHEMA_FILE = Path(__file__).parent / "schemas" / "k6-operator-v1.6.0-testrun-v1alpha1.json"
OPERATOR_VERSION = "k6-operator v1.6.0"
TOKENS_SECRET = "ops-load-tokens"
MAX_PARALLELISM = 50
CONFIGMAP_LIMIT_BYTES = 1024 * 1024
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_RELATIVE_IMPORT = re.compile(r"""(?:from|import)\s*\(?\s*['"](\.{1,2}/[^'"]+)['"]""")


@dataclass(frozen=True)
class K8sManifests:
    configmap: dict[str, Any]
    testrun: dict[str, Any]

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [self.configmap, self.testrun]

    def write_yaml(self, path: Path) -> None:
        """Write both documents to ``path`` for ``kubectl apply -f``."""
        try:
            path.write_text(self.to_yaml())
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}", "pass a writable --output path") from None

    def to_yaml(self) -> str:
        import yaml

        class _Dumper(yaml.SafeDumper):
            pass

        def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        _Dumper.add_representer(str, text)
        return yaml.dump_all(self.documents, Dumper=_Dumper, sort_keys=False, explicit_start=True)


def k8s_manifests(
    cfg: Config,
    scenario: str | None = None,
    *,
    parallelism: int,
    env: str = "staging",
    vus: int | None = None,
    duration: str | None = None,
    script: str | Path | None = None,
    namespace: str | None = None,
) -> K8sManifests:
    """The ConfigMap and the validated ``TestRun`` for one scenario, aimed at ``env``'s base URL."""
    from ops.load.runner import plan_run
    from ops.targets import base_url, configured_url

    guard(cfg, env)
    plan = plan_run(cfg, scenario, engine="k6", vus=vus, duration=duration, script=script)
    parallelism = parse_count(parallelism, "--parallelism") or 0
    if not 1 <= parallelism <= MAX_PARALLELISM:
        raise UsageError(f"--parallelism must be between 1 and {MAX_PARALLELISM}, not {parallelism}")
    if plan.vus < parallelism:
        raise UsageError(
            f"{plan.vus} VUs cannot be split over {parallelism} runners", "raise --vus or lower --parallelism"
        )
    target = base_url(cfg, env)
    guard(cfg, env, target)

    name = _resource_name(f"ops-load-{plan.scenario}")
    files = _script_files(plan.script)
    # In the pod the scenario sits next to the entry module.
    # The runner pods block production's host too (resolved here, when the manifest is written).
    blocked = blocked_targets(configured_url(cfg, "production", "base"), target)
    files["entry.js"] = render_entry(
        f"./{plan.script.name}", k6_thresholds(plan.settings.thresholds), plan.settings.expected_statuses, blocked
    )
    labels = {"app.kubernetes.io/managed-by": "ops-toolkit", "ops/scenario": plan.scenario}
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        metadata["namespace"] = namespace
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": copy.deepcopy(metadata), "data": files}
    arguments = [f"--vus {plan.vus}", f"--duration {format_duration(plan.duration_s)}"]
    if plan.iterations:
        arguments.append(f"--iterations {plan.iterations}")
    arguments += [f"--summary-trend-stats {SUMMARY_TREND_STATS}", "--no-usage-report"]
    testrun = {
        "apiVersion": "k6.io/v1alpha1",
        "kind": "TestRun",
        "metadata": copy.deepcopy(metadata),
        "spec": {
            "parallelism": parallelism,
            "script": {"configMap": {"name": name, "file": "entry.js"}},
            "arguments": " ".join(arguments),
            "runner": {"env": _runner_env(cfg, target, plan.settings)},
        },
    }
    manifests = K8sManifests(configmap, testrun)
    problems = validate_testrun(testrun) + _configmap_problems(configmap)
    if problems:
        raise CheckFailed(f"the generated TestRun is invalid: {problems[0]}", f"{OPERATOR_VERSION} CRD schema")
    return manifests


def validate_testrun(manifest: dict[str, Any]) -> list[str]:
    """Schema violations of a ``TestRun`` (empty when valid), as ``path: message`` lines."""
    from jsonschema import Draft202012Validator

    problems = [
        f"{'.'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(Draft202012Validator(strict_schema()).iter_errors(manifest), key=lambda e: list(e.path))
    ]
    if manifest.get("apiVersion") != "k6.io/v1alpha1" or manifest.get("kind") != "TestRun":
        problems.append("apiVersion/kind: must be k6.io/v1alpha1 TestRun")
    name = manifest.get("metadata", {}).get("name", "")
    if not (isinstance(name, str) and _DNS_LABEL.match(name) and len(name) <= 63):
        problems.append(f"metadata.name: {name!r} is not a valid resource name")
    return problems


@cache
def strict_schema() -> dict[str, Any]:
    """The vendored CRD schema, with unknown fields rejected (as kubectl's strict validation does)."""
    schema = json.loads(SCHEMA_FILE.read_text())

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema.get("properties", {}).get("spec"))
    return schema


def _runner_env(cfg: Config, target: str, settings: Any) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "BASE_URL", "value": target},
        {"name": "RATE_LIMIT_PER_MINUTE", "value": str(settings.rate_limit_per_minute)},
    ]
    for variable in (settings.bypass_token_env, settings.admin_token_env):
        env.append(
            {
                "name": "RATE_LIMIT_BYPASS_TOKEN" if variable == settings.bypass_token_env else "ADMIN_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": TOKENS_SECRET, "key": variable, "optional": True}},
            }
        )
    return env


def _script_files(script: Path) -> dict[str, str]:
    """The script and the sibling modules it imports, by file name."""
    files: dict[str, str] = {}
    pending = [script]
    while pending:
        current = pending.pop()
        if current.name in files:
            continue
        text = current.read_text()
        files[current.name] = text
        for spec in _RELATIVE_IMPORT.findall(text):
            if not spec.startswith("./") or "/" in spec[2:]:
                raise UsageError(
                    f"{current.name} imports {spec}: a ConfigMap is mounted flat",
                    "import only files in the script's own directory",
                )
            sibling = current.parent / spec[2:]
            if not sibling.is_file():
                raise UsageError(f"{current.name} imports {spec}, which does not exist")
            pending.append(sibling)
    return files


def _configmap_problems(configmap: dict[str, Any]) -> list[str]:
    problems = [f"data.{key}: not a valid ConfigMap key" for key in configmap["data"] if not _CONFIGMAP_KEY.match(key)]
    size = sum(len(key) + len(value.encode()) for key, value in configmap["data"].items())
    if size > CONFIGMAP_LIMIT_BYTES:
        problems.append(f"data: {size} bytes exceeds the 1 MiB ConfigMap limit")
    return problems


def _resource_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    return name or "ops-load"
