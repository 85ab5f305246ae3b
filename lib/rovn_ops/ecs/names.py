"""How ECS names things, as people read them: shared by deploy, rollback and status,
so none of them imports another for it."""
from __future__ import annotations


def short_td(arn: str) -> str:
    """arn:…:task-definition/rovn-passport-api:288 → rovn-passport-api:288"""
    return arn.rsplit("/", 1)[-1]
