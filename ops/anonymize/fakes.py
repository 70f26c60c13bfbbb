"""Fake values, deterministic per refresh.

Each original is hashed with HMAC-SHA256 under a key drawn at random for this
refresh (never stored); the digest picks the fake from Faker's en_US data
(its first names, last names, street suffixes, lorem words). So the same input
gives the same output in every table and column of one refresh (joins on an
email still match), nothing links a fake to its original once the key is
gone, and the next refresh gives other fakes.

Calling Faker itself per value (``seed_instance(digest)`` then ``fake.email()``)
gives the same kind of values but costs about 90 µs each, 90 s per million;
picking from its lists with the digest costs about 2 µs.

A ``Mapper`` makes every mapping one-to-one: a fake is never the fake of
another original, nor equal to any original, so unique columns stay unique
and no masked value can equal an original value.
"""

from __future__ import annotations

import hmac
import random
import re
from collections.abc import Callable, Iterable
from functools import cache

_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606: never deliverable
_NOT_LETTERS = re.compile(r"[^a-z]")


def require_faker() -> None:
    """A one-line error, before any work, when the ``anonymize`` extra is missing."""
    import importlib.util

    if importlib.util.find_spec("faker") is None:
        from ops.errors import ConfigError

        raise ConfigError("Faker is not installed", "pip install 'ops-toolkit[anonymize]'")


@cache
def _data() -> dict[str, tuple[str, ...]]:
    require_faker()
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.lorem.en_US import Provider as Lorem
    from faker.providers.person.en_US import Provider as Person

    return {
        "first": tuple(Person.first_names),
        "last": tuple(Person.last_names),
        "street_suffix": tuple(Address.street_suffixes),
        "city_suffix": tuple(Address.city_suffixes),
        "state": tuple(Address.states_abbr),
        "word": tuple(Lorem.word_list),
        # the same names as they go into an email's local part
        "first_local": tuple(_NOT_LETTERS.sub("", name.lower()) for name in Person.first_names),
        "last_local": tuple(_NOT_LETTERS.sub("", name.lower()) for name in Person.last_names),
    }


def _pick(values: tuple[str, ...], digest: bytes, at: int) -> str:
    return values[int.from_bytes(digest[at : at + 4], "big") % len(values)]


def _number(digest: bytes, at: int, modulo: int) -> int:
    return int.from_bytes(digest[at : at + 6], "big") % modulo


def _first(digest: bytes) -> str:
    return _pick(_data()["first"], digest, 0)


def _last(digest: bytes) -> str:
    return _pick(_data()["last"], digest, 4)


def fake_email(digest: bytes, _original: str) -> str:
    data = _data()
    local = f"{_pick(data['first_local'], digest, 0)}.{_pick(data['last_local'], digest, 4)}"
    return f"{local}{_number(digest, 8, 1000)}@{_DOMAINS[digest[14] % 3]}"


def fake_phone(digest: bytes, original: str) -> str:
    # 555-01xx-style fictional numbers, in GoTrue's form (digits, no "+") unless the original had one.
    prefix = "+" if original.lstrip().startswith("+") else ""
    return f"{prefix}1555{_number(digest, 8, 10_000_000):07d}"


def fake_name(digest: bytes, _original: str) -> str:
    return f"{_first(digest)} {_last(digest)}"


def fake_first_name(digest: bytes, _original: str) -> str:
    return _first(digest)


def fake_last_name(digest: bytes, _original: str) -> str:
    return _last(digest)


def fake_address(digest: bytes, _original: str) -> str:
    data = _data()
    street = f"{_number(digest, 8, 9900) + 100} {_last(digest)} {_pick(data['street_suffix'], digest, 14)}"
    city = f"{_first(digest)}{_pick(data['city_suffix'], digest, 18)}"
    return f"{street}, {city}, {_pick(data['state'], digest, 22)} {_number(digest, 26, 100_000):05d}"


def fake_ip(digest: bytes, original: str) -> str:
    if ":" in original:  # IPv6: a unique local address
        groups = [int.from_bytes(digest[i : i + 2], "big") for i in range(0, 8, 2)]
        return "fd00::" + ":".join(f"{g:x}" for g in groups)
    return f"10.{digest[0]}.{digest[1]}.{digest[2]}"


def fake_text(digest: bytes, original: str) -> str:
    """Lorem words of exactly the original's length (in characters)."""
    length = len(original)
    if length == 0:
        return ""
    rng = random.Random(digest)
    words = _data()["word"]
    parts: list[str] = []
    size = -1
    while size < length:
        word = rng.choice(words)
        parts.append(word)
        size += len(word) + 1
    text = " ".join(parts)[:length]
    return text[:-1] + "x" if text.endswith(" ") else text


GENERATORS: dict[str, Callable[[bytes, str], str]] = {
    "email": fake_email,
    "phone": fake_phone,
    "name": fake_name,
    "first_name": fake_first_name,
    "last_name": fake_last_name,
    "address": fake_address,
    "ip": fake_ip,
    "text": fake_text,
}

# How a strategy's originals are compared (SQL over the value as text, and
# the same in Python): emails ignore case, phones everything but digits.
NORMALISE_SQL = {
    "email": "lower({})",
    "phone": "regexp_replace({}, '[^0-9]', '', 'g')",
}
_NOT_DIGITS = re.compile(r"[^0-9]")


def normalise(kind: str, value: str) -> str:
    if kind == "email":
        return value.lower()
    if kind == "phone":
        return _NOT_DIGITS.sub("", value)
    return value


class Mapper:
    """Originals -> fakes for one strategy under one refresh key."""

    # Attempts at a fresh fake before a numeric suffix makes it unique
    # ("text" keeps its length instead, so it may repeat when tiny).
    ATTEMPTS = 12

    def __init__(self, kind: str, key: bytes) -> None:
        self.kind = kind
        self._key = key
        self._generate = GENERATORS[kind]

    def digest(self, original: str, attempt: int = 0) -> bytes:
        return hmac.digest(self._key, f"{self.kind}\x00{attempt}\x00{original}".encode(), "sha256")

    def map(self, originals: Iterable[str]) -> Iterable[tuple[str, str]]:
        """(original, fake) for each distinct normalised original. The mapping
        is computed once per refresh, so the order of ``originals`` (which only
        decides who retries on a rare collision) needs no sorting."""
        ordered = list(dict.fromkeys(originals))
        taken = set(ordered)  # no fake may equal any original
        # The hot loop, by hand: the first attempt almost always succeeds.
        kind, key, generate = self.kind, self._key, self._generate
        first = f"{kind}\x000\x00"
        for original in ordered:
            fake = generate(hmac.digest(key, (first + original).encode(), "sha256"), original)
            if normalise(kind, fake) in taken:
                fake = self._retry(original, taken)
            taken.add(normalise(kind, fake))
            yield original, fake

    def _retry(self, original: str, taken: set[str]) -> str:
        for attempt in range(1, self.ATTEMPTS):
            candidate = self._generate(self.digest(original, attempt), original)
            if normalise(self.kind, candidate) not in taken:
                return candidate
        return self._unique_fallback(original, taken)

    def _unique_fallback(self, original: str, taken: set[str]) -> str:
        base = self._generate(self.digest(original), original)
        if self.kind == "text":
            return base
        for counter in range(2, 1_000_000):
            if self.kind == "email":
                local, _, domain = base.partition("@")
                candidate = f"{local}.{counter}@{domain}"
            elif self.kind == "ip":
                candidate = fake_ip(self.digest(original, counter), original)
            elif self.kind == "phone":
                candidate = base[:-7] + f"{(int(base[-7:]) + counter) % 10_000_000:07d}"
            else:
                candidate = f"{base} {counter}"
            if normalise(self.kind, candidate) not in taken:
                return candidate
        return base
