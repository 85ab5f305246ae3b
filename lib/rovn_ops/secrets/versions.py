"""A secret's versions by stage label, and the rotation token.

The token (ClientRequestToken, which becomes the new VersionId) is derived from the
version the rotation starts from, so a preview and the run that executes it, or a
re-run after a kill, agree on it: the same plan, the same AWSPENDING version."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

NAMESPACE = uuid.UUID("6f1d8a56-4c1e-4a34-9a5b-0d2f5e6c7a11")
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


@dataclass(frozen=True)
class Stages:
    arn: str
    name: str
    by_version: dict[str, tuple[str, ...]]

    def holder(self, stage: str) -> str | None:
        return next((v for v, s in self.by_version.items() if stage in s), None)

    @property
    def current(self) -> str:
        return self.holder(CURRENT)

    @property
    def pending(self) -> str | None:
        """AWSPENDING on a version other than AWSCURRENT: a rotation under way."""
        v = self.holder(PENDING)
        return v if v and v != self.current else None

    @property
    def previous(self) -> str | None:
        return self.holder(PREVIOUS)

    def pending_count(self) -> int:
        return sum(PENDING in s for s in self.by_version.values())


def stages(sm, name: str) -> Stages:
    d = sm.describe_secret(SecretId=name)
    return Stages(d["ARN"], d["Name"], {v: tuple(s) for v, s in (d.get("VersionIdsToStages") or {}).items()})


def token(arn: str, base_version: str, action: str = "rotate") -> str:
    return str(uuid.uuid5(NAMESPACE, f"{arn}|{base_version}|{action}"))
