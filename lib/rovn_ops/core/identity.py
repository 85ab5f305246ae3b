"""Which run this is and which local account runs it: asked by the context, the
runner and the archive alike, so it lives below all three (no import runs back up)."""
from __future__ import annotations

import getpass
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from rovn_ops.core import aws


def new_run_id(runbook: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{runbook}-{secrets.token_hex(3)}"


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class Operator:
    arn: str
    local_user: str

    @property
    def name(self) -> str:
        """The IAM user or role name (the last part of the ARN)."""
        return self.arn.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{self.arn} (local user {self.local_user})"

    def as_dict(self) -> dict:
        """The operator as the manifest keeps it: the STS identity, the local user and the
        person behind them (person())."""
        return {"arn": self.arn, "local_user": self.local_user, "person": person(self.arn)}


def operator(env: str, region: str) -> Operator:
    arn = aws.caller_arn(env, region)
    return Operator(arn=arn, local_user=os.environ.get("ROVN_LOCAL_USER") or local_user())


# GitHub Actions' default variables (https://docs.github.com/en/actions/reference/variables-reference):
# set by GitHub for every step, and a workflow cannot overwrite GITHUB_*. Outside Actions they
# are whatever the shell says, so they count only with GITHUB_ACTIONS=true, each of its shape.
CI_VARS = {"actor": ("GITHUB_ACTOR", r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?"),
           "triggering_actor": ("GITHUB_TRIGGERING_ACTOR", r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?"),
           "workflow": ("GITHUB_WORKFLOW", r"[^\x00-\x1f<>`]{1,200}"),
           "repository": ("GITHUB_REPOSITORY", r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}"),
           "run_id": ("GITHUB_RUN_ID", r"[0-9]{1,20}"), "run_attempt": ("GITHUB_RUN_ATTEMPT", r"[0-9]{1,6}"),
           "server_url": ("GITHUB_SERVER_URL", r"https://[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?"),
           "sha": ("GITHUB_SHA", r"[0-9a-f]{40}"), "ref": ("GITHUB_REF", r"[^\x00-\x1f<>`\s]{1,255}")}


def ci(environ=None) -> dict | None:
    """Who started this GitHub Actions run: the actor, the workflow and the run's URL
    ({server}/{owner}/{repo}/actions/runs/{id}); None outside Actions. A value off its shape is
    left out, never shown."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") != "true":
        return None
    got = {k: env.get(var, "") for k, (var, shape) in CI_VARS.items()
           if re.fullmatch(shape, env.get(var, ""))}
    if {"server_url", "repository", "run_id"} <= got.keys():
        got["run_url"] = f"{got['server_url']}/{got['repository']}/actions/runs/{got['run_id']}"
    return got


def person(arn: str, environ=None) -> dict:
    """The human behind a machine identity (issue 27, build 3), from what STS says and, under
    CI, what GitHub says: an assumed role's session name (`assumed-role/ROLE/SESSION`: the person
    when the role's trust policy requires a session name or SourceIdentity that is theirs; STS's
    GetCallerIdentity returns the session name, never the SourceIdentity, which CloudTrail
    keeps), an IAM user's name, and GitHub's actor, workflow and run URL."""
    out: dict = {"proof": "sts:GetCallerIdentity"}
    m = re.fullmatch(r"arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/([^/]+)/(.+)", arn or "")
    if m:
        out |= {"kind": "role session", "role": m.group(1), "session": m.group(2), "name": m.group(2)}
    else:
        out |= {"kind": "iam user" if ":user/" in (arn or "") else "principal", "name": (arn or "?").rsplit("/", 1)[-1]}
    github = ci(environ)
    if github is not None:
        out["ci"] = github
    return out


def who(operator: dict) -> str:
    """One line for the index and the HTML header: the person first, the identity after."""
    op = operator or {}
    p = op.get("person") or {}
    name = (op.get("arn") or "?").rsplit("/", 1)[-1]
    github = p.get("ci") or {}
    if github.get("actor"):
        return f"{github['actor']} (GitHub Actions: {github.get('workflow') or '?'}; as {name})"
    if p.get("kind") == "role session":
        return f"{p['session']} (role {p['role']}; local user {op.get('local_user', '?')})"
    return f"{name} ({op.get('local_user', '?')})"
