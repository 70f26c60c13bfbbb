"""The drill's smoke checks: generic defaults, per-project checks with JSON expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.backup.smoke import SmokeCheck, smoke_checks
from ops.config import load
from ops.errors import CheckFailed, ConfigError


def project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "ops.toml").write_text(table)
    return tmp_path


def test_the_default_is_healthz_and_readyz_answering_200(tmp_path: Path) -> None:
    checks = smoke_checks(load(project(tmp_path)))
    assert [(check.name, check.status, check.wants_json) for check in checks] == [
        ("smoke GET /healthz", 200, False),
        ("smoke GET /readyz", 200, False),
    ]
    # Any body passes a check without JSON expectations, an HTML page included.
    assert checks[0].verify(200, {}) == "200"


def test_a_project_lists_its_own_checks(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        '[[backup.drill.smoke]]\npath = "/api/health"\nstatus = 204\n\n'
        '[[backup.drill.smoke]]\npath = "/api/products"\njson = { "meta.source" = "db" }\n'
        'json_types = { products = "array" }\n',
    )
    health, products = smoke_checks(load(root))
    assert health.verify(204, None) == "204"
    body = {"meta": {"source": "db"}, "products": [{"id": 1}, {"id": 2}]}
    assert products.verify(200, body) == "200, meta.source = 'db', 2 products"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, {}, "GET /api/products answered 500, expected 200"),
        (
            200,
            {"meta": {"source": "cache"}, "products": []},
            "GET /api/products: meta.source is 'cache', expected 'db'",
        ),
        (200, {"products": []}, "GET /api/products: meta.source is missing, expected 'db'"),
        (200, {"meta": {"source": "db"}, "products": {}}, "GET /api/products: products is not a JSON array"),
    ],
)
def test_a_check_fails_on_the_wrong_status_value_or_type(status: int, body: object, message: str) -> None:
    check = SmokeCheck.model_validate(
        {"path": "/api/products", "json": {"meta.source": "db"}, "json_types": {"products": "array"}}
    )
    with pytest.raises(CheckFailed) as caught:
        check.verify(status, body)
    assert caught.value.message == message


def test_true_is_not_the_number_one() -> None:
    check = SmokeCheck.model_validate({"path": "/x", "json": {"count": 1}, "json_types": {"n": "number"}})
    with pytest.raises(CheckFailed, match="count is True, expected 1"):
        check.verify(200, {"count": True, "n": 2})
    with pytest.raises(CheckFailed, match="n is not a JSON number"):
        check.verify(200, {"count": 1, "n": False})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[[backup.drill.smoke]]\npath = "healthz"\n', "smoke.0.path: must be a URL path starting with /"),
        (
            '[[backup.drill.smoke]]\npath = "/x"\nstatus = 42\n',
            "smoke.0.status: Input should be greater than or equal to 100",
        ),
        ('[[backup.drill.smoke]]\npath = "/x"\njson_types = { a = "list" }\n', "smoke.0.json_types.a: Input should be"),
        ('[[backup.drill.smoke]]\npath = "/x"\nstatuss = 200\n', "unknown key 'smoke.0.statuss'"),
    ],
)
def test_a_bad_check_is_a_config_error_naming_the_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        smoke_checks(load(project(tmp_path, table)))
    assert caught.value.message.startswith("[tool.ops.backup.drill] ")
    assert message in caught.value.message
