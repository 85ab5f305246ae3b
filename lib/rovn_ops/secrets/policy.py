"""§8's rotation policy: each class's cadence, and how a secret's class is known
(its `class` tag, else the first name rule in parameters/secret_policy.yaml)."""
from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from .. import paths
from ..errors import BadInput


class SecretClass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cadence_days: int = Field(gt=0)
    description: str = ""


class NameRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    match: str
    klass: str = Field(alias="class")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_within_days: int = Field(14, ge=0)
    classes: dict[str, SecretClass]
    name_rules: list[NameRule] = []

    def classify(self, name: str, tags: dict[str, str]) -> str | None:
        """The class tag wins; else the first name rule that matches; else None."""
        if tags.get("class") in self.classes:
            return tags["class"]
        return next((r.klass for r in self.name_rules if re.search(r.match, name)), None)


@lru_cache(maxsize=4)
def _load(path: str) -> Policy:
    import yaml
    from pydantic import ValidationError

    try:
        return Policy(**yaml.safe_load(open(path, encoding="utf-8")))
    except (OSError, ValueError, TypeError, ValidationError) as e:
        raise BadInput(f"secret policy {path}: {str(e).splitlines()[0]}") from None


def load() -> Policy:
    return _load(str(paths.parameters() / "secret_policy.yaml"))
