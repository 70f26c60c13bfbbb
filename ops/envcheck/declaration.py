"""``[tool.ops.env]`` as a pydantic model: the section's contract.

``EnvSection`` validates the whole table (presets, exclude, example_file and
each ``[tool.ops.env.variables.NAME]``); errors name the key path and never
echo the input. ``ops.envcheck.settings`` reads plainly written tables without
it, so that the commit hook does not import pydantic; the tests hold both
readings to the same answers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from ops.envcheck.kinds import KINDS
from ops.envcheck.presets import PRESETS
from ops.envcheck.schema import VARIABLE_NAME
from ops.envcheck.variable import Variable
from ops.settings import Section

Environment = Literal["local", "staging", "production"]


def _known_preset(name: str) -> str:
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}' (presets: {', '.join(PRESETS)})")
    return name


def _known_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of: {', '.join(KINDS)}")
    return kind


class VariableDeclaration(Section):
    kind: Annotated[str, AfterValidator(_known_kind)]
    description: str = Field(min_length=1)
    secret: bool = False
    required_in: list[Environment] = Field(default_factory=list)
    choices: list[str] = Field(default_factory=list)
    example: str = ""
    alternatives: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> VariableDeclaration:
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
            alternatives=tuple(self.alternatives),
        )


class EnvSection(Section):
    section_name = "env"

    example_file: str = Field(default=".env.example", min_length=1)
    presets: list[Annotated[str, AfterValidator(_known_preset)]] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    variables: dict[str, VariableDeclaration] = Field(default_factory=dict)

    @field_validator("variables")
    @classmethod
    def _names(cls, variables: dict[str, VariableDeclaration]) -> dict[str, VariableDeclaration]:
        for name in variables:
            if not VARIABLE_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid variable name (use letters, digits and _)")
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
            alternatives=list(variable.alternatives),
        )
