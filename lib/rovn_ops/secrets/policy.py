"""§8's rotation policy: each class's cadence, and how a secret's class is known
(its `class` tag, else the service that owns it, else the first name rule in
parameters/secret_policy.yaml). A secret a service owns (OwningService: the RDS-managed
master secret, rds!db-…) is rotated by that service on its own schedule: its class
says so, and the inventory reads the schedule from the secret (RotationRules)."""
from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from rovn_ops.core import paths
from rovn_ops.core.errors import BadInput


class SecretClass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cadence_days: int = Field(gt=0)
    description: str = ""
    rotated_by: str = ""  # a service that rotates it itself (managed rotation): not this runbook


class NameRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    match: str
    klass: str = Field(alias="class")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_within_days: int = Field(14, ge=0)
    classes: dict[str, SecretClass]
    owning_services: dict[str, str] = {}  # OwningService -> class
    name_rules: list[NameRule] = []

    def classify(self, name: str, tags: dict[str, str], owning_service: str | None = None) -> str | None:
        """The class tag wins; else the owning service's class; else the first name rule
        that matches; else None."""
        if tags.get("class") in self.classes:
            return tags["class"]
        owner = owning_service or tags.get("aws:secretsmanager:owningService")
        if owner in self.owning_services:
            return self.owning_services[owner]
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
