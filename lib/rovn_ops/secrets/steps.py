"""AWS's four rotation steps, performed by the library (moto's RotateSecret without a
Lambda is no rotation). Each step checks the stage labels first and is idempotent,
as AWS's rotation templates are: a token that is already AWSCURRENT is a no-op, an
existing AWSPENDING version is resumed, never duplicated (a label sits on one version
at a time), and every read names its VersionStage or VersionId.

What a class does at each step lives in its `Strategy` (database, jwks, provider, mcp)."""
from __future__ import annotations

from dataclasses import dataclass

from rovn_ops.secrets.values import Secret, Version, read
from rovn_ops.secrets.versions import CURRENT, PENDING, stages


class Strategy:
    """One class of secret: how its next value is made, applied, proven and retired."""

    klass = ""

    def plan(self, base: Secret, token: str) -> dict:
        """Facts about the change, none of them a value (the plan's hash covers them)."""
        return {}

    def preflight(self, current: Secret) -> list[str]:
        """Problems with the secret as it is, found before anything changes."""
        return []

    def ready(self, pending_staged: bool) -> list[str]:
        """What must exist before createSecret can run (an operator's staged key)."""
        return []

    def make(self, current: Secret, token: str) -> Secret:
        raise NotImplementedError

    def set(self, pending: Secret, current: Secret) -> str:
        raise NotImplementedError

    def test(self, pending: Secret, current: Secret) -> str:
        raise NotImplementedError

    def retire(self, previous: Secret, current: Secret) -> str:
        """After the service's tasks rolled onto the new value: stop the old one working."""
        return "nothing to retire"

    def verify(self, current: Secret, previous: Secret | None) -> list[str]:
        return []


@dataclass(frozen=True)
class StepResult:
    step: str
    outcome: str   # done | resumed | skipped
    detail: str

    def as_dict(self) -> dict:
        return {"step": self.step, "outcome": self.outcome, "detail": self.detail}


def _is_current(sm, name: str, token: str) -> bool:
    return CURRENT in stages(sm, name).by_version.get(token, ())


def create_secret(sm, name: str, token: str, strategy: Strategy) -> StepResult:
    st = stages(sm, name)
    held = st.by_version.get(token, ())
    if CURRENT in held:
        return StepResult("createSecret", "skipped", f"version {token} is already AWSCURRENT")
    if PENDING in held:
        return StepResult("createSecret", "resumed", f"AWSPENDING version {token} exists: resumed, not recreated")
    current = read(sm, name, stage=CURRENT)
    new = strategy.make(current.value, token)
    if new == current.value:
        raise ValueError(f"{name}: the new value equals the current one")
    sm.put_secret_value(SecretId=name, ClientRequestToken=token, SecretString=new.reveal(), VersionStages=[PENDING])
    return StepResult("createSecret", "done", f"AWSPENDING version {token} created")


def _pair(sm, name: str, token: str) -> tuple[Version, Version]:
    return read(sm, name, stage=PENDING, version_id=token), read(sm, name, stage=CURRENT)


def set_secret(sm, name: str, token: str, strategy: Strategy) -> StepResult:
    if _is_current(sm, name, token):
        return StepResult("setSecret", "skipped", f"version {token} is already AWSCURRENT")
    pending, current = _pair(sm, name, token)
    return StepResult("setSecret", "done", strategy.set(pending.value, current.value))


def test_secret(sm, name: str, token: str, strategy: Strategy) -> StepResult:
    if _is_current(sm, name, token):
        return StepResult("testSecret", "skipped", f"version {token} is already AWSCURRENT")
    pending, current = _pair(sm, name, token)
    return StepResult("testSecret", "done", strategy.test(pending.value, current.value))


def finish_secret(sm, name: str, token: str) -> StepResult:
    st = stages(sm, name)
    moved = st.current != token
    if moved:
        sm.update_secret_version_stage(SecretId=name, VersionStage=CURRENT, MoveToVersionId=token,
                                       RemoveFromVersionId=st.current)
    if PENDING in stages(sm, name).by_version.get(token, ()):
        sm.update_secret_version_stage(SecretId=name, VersionStage=PENDING, RemoveFromVersionId=token)
    if not moved:
        return StepResult("finishSecret", "skipped", f"version {token} was already AWSCURRENT")
    return StepResult("finishSecret", "done", f"AWSCURRENT → {token}; AWSPREVIOUS → {st.current}")
