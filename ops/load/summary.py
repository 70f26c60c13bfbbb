"""One summary shape for both engines.

Each engine writes its own summary (k6 ``--summary-export``, Artillery
``--output``); the parsers here turn either into a ``LoadSummary`` with the
same fields, so the table and the ``--json`` document never depend on the
engine. Thresholds are judged on that summary; for k6 the verdict k6 itself
wrote wins, since k6 judged on its own full data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.errors import ExternalError
from ops.load.settings import Threshold

# Status codes k6 counts separately (a threshold per sub-metric makes k6 export it);
# 0 is k6's status for a request that got no response.
K6_TRACKED_STATUSES = (0, 200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504)
OTHER_STATUS = "other"


@dataclass
class ThresholdResult:
    name: str
    key: str
    limit: float
    actual: float | None
    passed: bool
    source: str = "config"  # "config": [tool.ops.load]; "script": the script's own thresholds


@dataclass
class LoadSummary:
    engine: str
    requests: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    status_codes: dict[str, int]
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    # The script's own checks: k6 check()s, Artillery expectations and captures.
    checks_passed: int = 0
    checks_failed: int = 0
    # Verdicts the engine wrote itself, by threshold key (k6 only).
    engine_verdicts: dict[str, bool] = field(default_factory=dict)
    # The script's own thresholds (k6 options.thresholds, Artillery ensure): name -> passed.
    script_thresholds: dict[str, bool] = field(default_factory=dict)

    @property
    def checks_rate(self) -> float | None:
        """The share of passing checks, None when the script has none."""
        total = self.checks_passed + self.checks_failed
        return round(self.checks_passed / total, 6) if total else None

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document.pop("engine_verdicts")
        document.pop("script_thresholds")
        document["checks_rate"] = self.checks_rate
        return document


def read_json(path: Path, engine: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExternalError(f"{engine} wrote no summary at {path}", f"see the {engine} log next to it") from None
    except json.JSONDecodeError as exc:
        raise ExternalError(f"{engine} summary {path} is not JSON: {exc}", "rerun the load test") from None
    if not isinstance(data, dict):
        raise ExternalError(f"{engine} summary {path} has an unexpected shape", "rerun the load test")
    return data


def parse_k6(data: dict[str, Any], k6_expressions: dict[str, tuple[str, str]]) -> LoadSummary:
    """Parse k6's ``--summary-export`` document.

    ``k6_expressions`` maps each of our threshold keys to the (metric, expression)
    we injected, so k6's own verdict can be read back. In that export a
    threshold's value is True when it was crossed (failed).
    """
    metrics: dict[str, Any] = data.get("metrics", {})
    duration = metrics.get("http_req_duration", {})
    requests = int(metrics.get("http_reqs", {}).get("count", 0))
    counted: dict[str, int] = {}
    for status in K6_TRACKED_STATUSES:
        count = int(metrics.get(f"http_reqs{{status:{status}}}", {}).get("count", 0))
        if count:
            counted[str(status)] = count
    other = requests - sum(counted.values())
    if other > 0:
        counted[OTHER_STATUS] = other
    errors = {"no response": counted.pop("0")} if "0" in counted else {}

    verdicts: dict[str, bool] = {}
    ours: set[tuple[str, str]] = set()
    for key, (metric, expression) in k6_expressions.items():
        crossed = metrics.get(metric, {}).get("thresholds", {}).get(expression)
        ours.add((metric, expression))
        if crossed is not None:
            verdicts[key] = not crossed
    script_thresholds = {
        f"{metric}: {expression}": not crossed
        for metric, values in metrics.items()
        for expression, crossed in values.get("thresholds", {}).items()
        if (metric, expression) not in ours and not _is_status_counter(metric, expression)
    }
    checks = metrics.get("checks", {})
    return LoadSummary(
        engine="k6",
        requests=requests,
        rps=round(float(metrics.get("http_reqs", {}).get("rate", 0.0)), 2),
        p50_ms=_ms(duration.get("med")),
        p95_ms=_ms(duration.get("p(95)")),
        p99_ms=_ms(duration.get("p(99)")),
        error_rate=round(float(metrics.get("http_req_failed", {}).get("value", 0.0)), 6),
        status_codes=dict(sorted(counted.items())),
        latency_ms={
            "min": _ms(duration.get("min")),
            "avg": _ms(duration.get("avg")),
            "p50": _ms(duration.get("med")),
            "p90": _ms(duration.get("p(90)")),
            "p95": _ms(duration.get("p(95)")),
            "p99": _ms(duration.get("p(99)")),
            "max": _ms(duration.get("max")),
        },
        errors=errors,
        checks_passed=int(checks.get("passes", 0)),
        checks_failed=int(checks.get("fails", 0)),
        engine_verdicts=verdicts,
        script_thresholds=script_thresholds,
    )


# Artillery counts a failed capture or match under errors.*, next to the network errors: it is the
# script's check failing, not a request failing.
ARTILLERY_CHECK_ERRORS = frozenset({"Failed capture or match"})


def parse_artillery(data: dict[str, Any], expected_statuses: tuple[int, ...]) -> LoadSummary:
    """Parse Artillery's ``--output`` report (its ``aggregate`` section).

    The error rate is k6's ``http_req_failed``: requests that got no response
    (``http.requests`` - ``http.responses``) plus responses whose status is
    neither 2xx/3xx nor expected by the scenario, over the requests sent, so it
    never exceeds 100%. Failed expectations (the expect plugin) and failed
    captures are the script's checks, counted apart.
    """
    aggregate: dict[str, Any] = data.get("aggregate", {})
    counters: dict[str, int] = aggregate.get("counters", {})
    times: dict[str, float] = aggregate.get("summaries", {}).get("http.response_time", {})
    statuses = {
        name.removeprefix("http.codes."): int(count)
        for name, count in counters.items()
        if name.startswith("http.codes.")
    }
    all_errors = {
        name.removeprefix("errors."): int(count) for name, count in counters.items() if name.startswith("errors.")
    }
    errors = {name: count for name, count in all_errors.items() if name not in ARTILLERY_CHECK_ERRORS}
    failed_captures = sum(count for name, count in all_errors.items() if name in ARTILLERY_CHECK_ERRORS)
    requests = int(counters.get("http.requests", 0))
    responses = int(counters.get("http.responses", sum(statuses.values())))
    unanswered = max(0, requests - responses)
    unexpected = sum(count for code, count in statuses.items() if not _expected(int(code), expected_statuses))
    failed = min(requests, unanswered + unexpected)
    # Artillery stamps the first and last metric in ms; their gap is the run's measured span.
    first, last = aggregate.get("firstMetricAt"), aggregate.get("lastMetricAt")
    span_s = (float(last) - float(first)) / 1000 if first and last and last > first else 0.0
    return LoadSummary(
        engine="artillery",
        requests=requests,
        rps=round(requests / span_s, 2) if span_s else float(requests),
        p50_ms=_ms(times.get("median", times.get("p50"))),
        p95_ms=_ms(times.get("p95")),
        p99_ms=_ms(times.get("p99")),
        error_rate=round(failed / requests, 6) if requests else (1.0 if errors else 0.0),
        status_codes=dict(sorted(statuses.items())),
        latency_ms={
            "min": _ms(times.get("min")),
            "avg": _ms(times.get("mean")),
            "p50": _ms(times.get("median", times.get("p50"))),
            "p90": _ms(times.get("p90")),
            "p95": _ms(times.get("p95")),
            "p99": _ms(times.get("p99")),
            "max": _ms(times.get("max")),
        },
        errors=errors,
        checks_passed=int(counters.get("plugins.expect.ok", 0)),
        checks_failed=int(counters.get("plugins.expect.failed", 0)) + failed_captures,
    )


def judge(summary: LoadSummary, thresholds: tuple[Threshold, ...]) -> list[ThresholdResult]:
    """Each threshold's verdict: the engine's own when it wrote one, else ours."""
    results: list[ThresholdResult] = []
    for threshold in thresholds:
        actual = _actual(summary, threshold)
        if threshold.key in summary.engine_verdicts:
            passed = summary.engine_verdicts[threshold.key]
        elif threshold.kind == "status_seen":
            passed = bool(actual)
        elif threshold.kind == "checks":
            passed = actual is None or actual >= threshold.limit  # a script without checks has none failing
        else:
            passed = actual is not None and actual < threshold.limit
        results.append(ThresholdResult(threshold.name, threshold.key, threshold.limit, actual, passed))
    for name, passed in summary.script_thresholds.items():
        results.append(ThresholdResult(name, "script", 0.0, None, passed, source="script"))
    return results


def _actual(summary: LoadSummary, threshold: Threshold) -> float | None:
    if threshold.kind == "latency":
        return summary.latency_ms.get(threshold.stat)
    if threshold.kind == "error_rate":
        return summary.error_rate
    if threshold.kind == "checks":
        return summary.checks_rate
    return float(summary.status_codes.get(str(int(threshold.limit)), 0))


def _expected(status: int, expected_statuses: tuple[int, ...]) -> bool:
    return 200 <= status < 400 or status in expected_statuses


def _is_status_counter(metric: str, expression: str) -> bool:
    return metric.startswith("http_reqs{status:") and expression == "count>=0"


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
