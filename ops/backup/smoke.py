"""The drill's smoke checks: what the app must answer on a restored database.

``[[tool.ops.backup.drill.smoke]]`` lists them; by default ``GET /healthz``
and ``GET /readyz`` answering 200, which any app the toolkit runs serves. Each
check may also look into a JSON body: ``json`` compares values at dotted
paths, ``json_types`` checks their JSON types (an ``array`` reports its
length). This repo adds ``/api/products`` for its sample app.

```toml
[[tool.ops.backup.drill.smoke]]
path = "/api/products"
status = 200
json_types = { products = "array" }
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from ops.config import Config
from ops.errors import CheckFailed
from ops.settings import Section, config_error

JsonType = Literal["object", "array", "string", "number", "boolean", "null"]
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class SmokeCheck(Section):
    path: str
    status: int = Field(default=200, ge=100, le=599, strict=True)
    # dotted path -> the value it must hold ({ status = "ok" }, { "data.count" = 3 })
    json_: dict[str, Any] = Field(default_factory=dict, alias="json")
    # dotted path -> its JSON type ({ products = "array" })
    json_types: dict[str, JsonType] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a URL path starting with /")
        return value

    @property
    def name(self) -> str:
        return f"smoke GET {self.path}"

    @property
    def wants_json(self) -> bool:
        return bool(self.json_ or self.json_types)

    def verify(self, status: int, body: Any) -> str:
        """The step's detail when the answer passes; raises ``CheckFailed`` otherwise."""
        hint = "see the app log in the drills directory"
        if status != self.status:
            raise CheckFailed(f"GET {self.path} answered {status}, expected {self.status}", hint)
        details = [f"{status}"]
        for dotted, expected in self.json_.items():
            found, value = _lookup(body, dotted)
            if not found or value != expected or isinstance(value, bool) != isinstance(expected, bool):
                shown = repr(value) if found else "missing"
                raise CheckFailed(f"GET {self.path}: {dotted} is {shown}, expected {expected!r}", hint)
            details.append(f"{dotted} = {value!r}")
        for dotted, kind in self.json_types.items():
            found, value = _lookup(body, dotted)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not found or not (isinstance(value, _PYTHON_TYPES[kind]) and (kind != "number" or number)):
                raise CheckFailed(f"GET {self.path}: {dotted} is not a JSON {kind}", hint)
            details.append(f"{len(value)} {dotted}" if isinstance(value, list) else f"{dotted} is a {kind}")
        return ", ".join(details)


DEFAULT_CHECKS = (SmokeCheck(path="/healthz"), SmokeCheck(path="/readyz"))


class _SmokeTable(Section):
    smoke: list[SmokeCheck]


def smoke_checks(cfg: Config) -> list[SmokeCheck]:
    """``[[tool.ops.backup.drill.smoke]]``, else the defaults (/healthz and /readyz answer 200)."""
    backup = cfg.raw.get("backup")
    drill = backup.get("drill") if isinstance(backup, dict) else None
    if not isinstance(drill, dict) or "smoke" not in drill:
        return list(DEFAULT_CHECKS)
    try:
        return _SmokeTable.model_validate({"smoke": drill["smoke"]}).smoke
    except ValidationError as exc:
        raise config_error(exc, "backup.drill", _SmokeTable, cfg.source_name) from None


def _lookup(body: Any, dotted: str) -> tuple[bool, Any]:
    node = body
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node
