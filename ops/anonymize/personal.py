"""Which columns look personal: by name (email, phone, name, address, birth,
ip, ssn/tax, iban...) or by type (inet, cidr, citext, macaddr).

Names are split into words (``billing_address``, ``firstName`` ->
``billing``, ``address`` / ``first``, ``name``), so ``zip`` is not ``ip``
and ``email_confirmed_at`` (a timestamp) is not an email: only text-like
and json columns count by name, plus dates for birth words.
"""

from __future__ import annotations

import re

from ops.anonymize.catalog import Column

PERSONAL_WORDS = frozenset(
    {
        # contact
        "email",
        "mail",
        "emailaddress",
        "phone",
        "phonenumber",
        "mobile",
        "telephone",
        "tel",
        "fax",
        "msisdn",
        # names
        "name",
        "firstname",
        "lastname",
        "fullname",
        "surname",
        "givenname",
        "familyname",
        "middlename",
        "nickname",
        "displayname",
        "username",
        "maidenname",
        # where someone lives
        "address",
        "street",
        "addr",
        "city",
        "postcode",
        "postalcode",
        "zip",
        "zipcode",
        # who someone is
        "birth",
        "birthday",
        "birthdate",
        "dob",
        "ssn",
        "sin",
        "tax",
        "taxid",
        "tin",
        "vat",
        "nino",
        "passport",
        "license",
        "licence",
        "nationalid",
        "iban",
        "bic",
        "swift",
        "accountnumber",
        "cardnumber",
        "creditcard",
        # where someone connects from
        "ip",
        "ipaddress",
        "ipaddr",
        "useragent",
        "geo",
        "latitude",
        "longitude",
        "lat",
        "lng",
    }
)
PERSONAL_TYPES = frozenset({"inet", "cidr", "citext", "macaddr", "macaddr8"})
_TEXTUAL = frozenset({"text", "varchar", "bpchar", "citext", "name", "json", "jsonb"})
_DATES = frozenset({"date", "timestamp", "timestamptz"})
_BIRTH = frozenset({"birth", "birthday", "birthdate", "dob"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(column_name: str) -> list[str]:
    spaced = _CAMEL.sub("_", column_name).lower()
    parts = [part for part in re.split(r"[^a-z0-9]+", spaced) if part]
    # "first_name" is also "firstname"; "ip_address" also "ipaddress"
    joined = ["".join(parts[i : i + 2]) for i in range(len(parts) - 1)]
    return parts + joined + ["".join(parts)]


def looks_personal(column: Column) -> str | None:
    """Why the column looks personal, or None."""
    if column.generated:
        return None
    if column.base_type in PERSONAL_TYPES:
        return f"type {column.type_sql}"
    found = [word for word in words(column.name) if word in PERSONAL_WORDS]
    if not found:
        return None
    if column.base_type in _TEXTUAL or (column.base_type in _DATES and _BIRTH.intersection(found)):
        return f"name ({found[0]})"
    return None
