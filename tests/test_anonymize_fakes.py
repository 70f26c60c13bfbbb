"""The fake values and the rules' syntax, without a database."""

from __future__ import annotations

import pytest

from ops.anonymize.catalog import Column
from ops.anonymize.fakes import GENERATORS, Mapper, normalise
from ops.anonymize.personal import looks_personal
from ops.anonymize.settings import AnonymizeSettings, Strategy, parse_strategy
from ops.errors import ConfigError

KEY = bytes(range(32))


def test_the_same_input_gives_the_same_output_under_one_key_and_another_under_the_next() -> None:
    originals = [f"user{i}@corp.test" for i in range(200)]
    first = dict(Mapper("email", KEY).map(originals))
    again = dict(Mapper("email", KEY).map(reversed(originals)))
    assert first == again
    other = dict(Mapper("email", bytes(32)).map(originals))
    assert sum(first[o] == other[o] for o in originals) < 5


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_every_mapping_is_one_to_one_and_never_an_original(kind: str) -> None:
    # Originals that look like fakes, so collisions with them must be avoided.
    originals = [f"{i}@example.com" for i in range(300)] + [f"1555{i:07d}" for i in range(300)]
    originals += [f"10.0.{i // 256}.{i % 256}" for i in range(300)] + ["x", "ab", "Ann Smith", "a b c d e f"]
    originals = [normalise(kind, value) for value in originals]
    mapping = dict(Mapper(kind, KEY).map(originals))
    fakes = list(mapping.values())
    assert not {normalise(kind, fake) for fake in fakes} & set(originals)
    if kind != "text":  # text keeps its length, so two-letter words may share a fake
        assert len({normalise(kind, fake) for fake in fakes}) == len(mapping)


def test_fakes_have_the_expected_shapes() -> None:
    fake = {
        kind: dict(Mapper(kind, KEY).map(["Ann Real\t<ann@corp.test>\n"]))["Ann Real\t<ann@corp.test>\n"]
        for kind in GENERATORS
    }
    local, _, domain = fake["email"].partition("@")
    assert domain in {"example.com", "example.net", "example.org"} and local == local.lower()
    assert fake["phone"].startswith("1555") and fake["phone"].isdigit() and len(fake["phone"]) == 11
    assert len(fake["text"]) == len("Ann Real\t<ann@corp.test>\n")
    assert fake["ip"].startswith("10.")
    assert len(fake["name"].split()) == 2
    assert dict(Mapper("ip", KEY).map(["2001:db8::1"]))["2001:db8::1"].startswith("fd00::")
    assert dict(Mapper("phone", KEY).map(["+44 7700 900001"]))["+44 7700 900001"].startswith("+1555")


def test_strategies_parse_in_both_forms() -> None:
    assert parse_strategy("email") == Strategy("email")
    assert parse_strategy("fixed:") == Strategy("fixed", value="")
    assert parse_strategy("fixed:a:b") == Strategy("fixed", value="a:b")
    both = Strategy("json", keys=(("phone", Strategy("phone")), ("plan", Strategy("fixed", value="free"))))
    assert parse_strategy("json:{phone: phone, plan: fixed:free}") == both
    assert parse_strategy({"phone": "phone", "plan": "fixed:free"}) == both
    assert str(both) == "json:{phone: phone, plan: fixed:free}"
    with pytest.raises(ValueError, match="unknown strategy 'emial' \\(did you mean 'email'\\?\\)"):
        parse_strategy("emial")
    with pytest.raises(ValueError, match="cannot nest"):
        parse_strategy("json:{a: json:{b: email}}")


def test_settings_take_rules_from_dotted_keys() -> None:
    from ops.settings import config_error

    settings = AnonymizeSettings.model_validate({"public.users.email": "email", "test_password_env": "PW"})
    assert settings.rules == {"public.users.email": Strategy("email")}
    assert settings.test_password_env == "PW"
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as bad:
        AnonymizeSettings.model_validate({"public.email": "email"})
    error = config_error(bad.value, "anonymize", AnonymizeSettings)
    assert isinstance(error, ConfigError)
    assert "rule key 'public.email' must name schema.table.column" in error.message


@pytest.mark.parametrize(
    ("name", "base_type", "personal"),
    [
        ("email", "text", True),
        ("contact_email", "varchar", True),
        ("phone_number", "text", True),
        ("firstName", "text", True),
        ("ip_address", "text", True),
        ("date_of_birth", "date", True),
        ("birth_date", "date", True),
        ("dob", "date", True),
        ("iban", "text", True),
        ("email_confirmed_at", "timestamptz", False),
        ("zip", "text", True),
        ("description", "text", False),
        ("slug", "text", False),
        ("anything", "inet", True),
        ("anything", "citext", True),
    ],
)
def test_what_looks_personal(name: str, base_type: str, personal: bool) -> None:
    column = Column(name, base_type, base_type, generated=False, not_null=False)
    assert (looks_personal(column) is not None) is personal
