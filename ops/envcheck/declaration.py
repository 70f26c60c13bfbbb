"""Variable declarations validated with pydantic.

A project declares variables in ``[tool.ops.env.variables.NAME]``; this model
is the contract for those tables (and the shipped schema is tested against it).
Validation errors never echo the input (``hide_input_in_errors``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ops.envcheck.kinds import KINDS
from ops.envcheck.variable import Variable
from ops.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Environment = Literal["local", "staging", "production"]


class VariableDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: str
    description: str = Field(min_length=1)
    secret: bool = False
    required_in: list[Environment] = Field(default_factory=list)
    choices: list[str] = Field(default_factory=list)
    example: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> VariableDeclaration:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of: {', '.join(KINDS)}")
        if self.kind == "enum" and not self.choices:
            raise ValueError("an enum needs choices")
        if self.secret and self.example:
            raise ValueError("a secret has no example value (.env.example is committed)")
        return self

    def to_variable(self, name: str) -> Variable:
        return Variable(
            name=name,
            kind=self.kind,
            description=self.description,
            secret=self.secret,
            required_in=frozenset(self.required_in),
            choices=tuple(self.choices),
            example=self.example,
        )


def parse_declarations(tables: Any) -> dict[str, Variable]:
    """``{NAME: {kind=..., ...}}`` from pyproject.toml -> variables, or a ConfigError."""
    if not isinstance(tables, dict):
        raise ConfigError("[tool.ops.env.variables] must be a table of tables", "see README: env.check")
    variables: dict[str, Variable] = {}
    for name, table in tables.items():
        where = f"[tool.ops.env.variables.{name}]"
        if not _NAME.match(name):
            raise ConfigError(f"{where}: not a valid variable name", "use letters, digits and _")
        try:
            declaration = VariableDeclaration.model_validate(table)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "table"
            raise ConfigError(f"{where} {field}: {first['msg']}", "fix it in pyproject.toml") from None
        variables[name] = declaration.to_variable(name)
    return variables


def validate_shipped(variables: tuple[Variable, ...]) -> None:
    """Check declarations written in Python against the same contract (used by the tests)."""
    for variable in variables:
        VariableDeclaration(
            kind=variable.kind,
            description=variable.description,
            secret=variable.secret,
            required_in=sorted(variable.required_in),  # type: ignore[arg-type]
            choices=list(variable.choices),
            example=variable.example,
        )
