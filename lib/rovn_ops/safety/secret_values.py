"""Secret values, masked by construction.

The library hands a secret around only as a `Secret`. Its `str`, `repr`, format,
IPython rich reprs (`_repr_html_`, `_repr_markdown_`, `_repr_json_`, pretty) and JSON
forms show the secret's *name* and a mask, never the value; it refuses pickling and
`json.dumps` without `default=str`. Code that needs the value asks for it explicitly,
inside the library, at the point of use (an HTTP call, a login):

    from rovn_ops.safety import secret_values

    s = secret_values.read(sm_client, "rovn/prod/slack-webhook")   # -> Secret
    s.name                 # "rovn/prod/slack-webhook": safe to print, log and archive
    s.reveal()             # the value (also `s.get_secret_value()`, pydantic's spelling)
    s.field("password")    # a JSON secret's field, itself a Secret ("rovn/prod/db#password")
    s.too_short            # True: too short for the evidence scrubber to catch (rotate it)
    secret_values.too_short("value")   # the same check for a plain string (rotation inventory)

`read` always names a VersionStage (moto and a half-rotated secret can disagree on
the default) and registers the value, each leaf string of a JSON value, and their
derived forms with the scrubber (scrub.register), so the run's evidence never carries
them even when a notebook reveals and prints one. A value shorter than
scrub.MIN_SECRET_LEN cannot be scrubbed safely: reading one warns, naming the secret,
and the run's manifest lists it under `short_secrets`.
"""
from __future__ import annotations

import hmac
import json
import warnings

from rovn_ops.core import record
from rovn_ops.safety import scrub

MASK = "**********"


class ShortSecretWarning(UserWarning):
    """A secret too short for the evidence scrubber to match safely."""


class Secret:
    __slots__ = ("name", "_value")

    def __init__(self, value: str, name: str = "secret"):
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "name", name)

    def __setattr__(self, key, value):
        raise AttributeError("a Secret is immutable")

    def reveal(self) -> str:
        """The value. Call it where the value is used, never to display it."""
        return self._value

    get_secret_value = reveal

    @property
    def too_short(self) -> bool:
        return too_short(self._value)

    def field(self, key: str) -> "Secret":
        """A field of a JSON secret (e.g. a database secret's password)."""
        try:
            value = json.loads(self._value)[key]
        except (ValueError, TypeError, KeyError):
            raise KeyError(f"secret {self.name}: no JSON field {key!r}") from None
        return Secret(value if isinstance(value, str) else json.dumps(value), f"{self.name}#{key}")

    # every way Python, IPython and json show an object: the name and a mask
    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self.name!r}, {MASK!r})"

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        return f"<code>secret {self.name}: {MASK}</code>"

    def _repr_markdown_(self) -> str:
        return f"`secret {self.name}: {MASK}`"

    def _repr_json_(self) -> dict:
        return {"secret": self.name, "value": MASK}

    def __json__(self) -> str:
        return str(self)

    def __reduce__(self):
        raise TypeError("a Secret is not pickled: pass its name and read it where it is used")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __eq__(self, other) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self.name))

    def __bool__(self) -> bool:
        return bool(self._value)


def too_short(value: str) -> bool:
    """Whether a value is too short for the scrubber to match safely (the rotation
    inventory flags such secrets: rotate them to a longer value)."""
    return len(value) < scrub.MIN_SECRET_LEN


def read(client, name: str, stage: str = "AWSCURRENT") -> Secret:
    """The secret `name` at `stage`, registered for redaction, as a Secret."""
    value = client.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"]
    return wrap(value, name)


def wrap(value: str, name: str) -> Secret:
    """A value the library obtained some other way (a URL's password), masked and
    registered like one read from Secrets Manager."""
    short = scrub.register(value)
    if short:
        warnings.warn(f"secret {name}: {len(short)} value(s) shorter than {scrub.MIN_SECRET_LEN} "
                      "characters cannot be scrubbed from the evidence; rotate it to a longer value",
                      ShortSecretWarning, stacklevel=3)
        record.record(short_secrets=[name])
    return Secret(value, name)
