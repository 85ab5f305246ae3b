"""Typed parameters of each runbook (pydantic), and how they are resolved.

Precedence, lowest first: the model's defaults < the environment file
(parameters/<env>.yaml, its `parameters:` section) < each `-f FILE` in order <
each `-p NAME=VALUE`. The environment file is shared by every runbook, so it may
name parameters a runbook lacks; a `-f` file or `-p` may not.
"""
from __future__ import annotations

import ast
import copy
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rovn_ops.core import paths
from rovn_ops.core.errors import BadInput
from rovn_ops.safety.scrub import AWS_SECRET_KEY, looks_secret_env_name, looks_secret_name, looks_secret_value
from rovn_ops.core import controls

MAX_TEXT = 4096            # longest accepted string parameter (a 10 MB value is a mistake)
MAX_FILE = 1_000_000       # largest accepted parameter file
# The longest any wait may be (a rollout, a bake, a lock): the overview's RTO is minutes, so
# beyond 3 h a value is a typo (`deadline_s=99999999999999999999` would wait forever).
MAX_WAIT_S = 3 * 3600
REGION = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"
ECS_NAME = r"^([A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:(cluster|service)/[A-Za-z0-9_/-]{1,255})$"


# What each string parameter accepts (issue 20 class 7: `cpu=abc`, an empty alarm_prefix or
# `migrations_dir=/etc` were accepted and failed later, mid-run). Every str field has one of
# these; a unit test feeds junk to every field of every runbook.
URL = r"^(https?://[^\s<>\"'`\x00-\x1f]{1,2000})?$"
URL_OR_SECRET = r"^((https?://[^\s<>\"'`\x00-\x1f]{1,2000})|secret:[A-Za-z0-9/_+=.@!-]{1,512})?$"
ALARM = r"^[^\x00-\x1f<>`|]{1,255}$"           # a CloudWatch alarm name or name prefix (never empty)
RDS_ID = r"^([A-Za-z][A-Za-z0-9-]{0,62})?$"
ECR_REPOSITORY = r"^([a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*)?$"
CODEBUILD_PROJECT = r"^([A-Za-z0-9][A-Za-z0-9_-]{1,254})?$"
S3_BUCKET = r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$"
GITHUB_REPOSITORY = r"^([A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100})?$"
SLUG = r"^[a-z0-9][a-z0-9_-]{0,49}$"
MIGRATION_FILE = r"^([0-9]{4}_[A-Za-z0-9_.-]{1,200}\.sql)?$"
PERSON = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$"
PLAN_HASH = r"^([0-9a-f]{12,64})?$"  # the hash, or a 12+ digit prefix of it (docs/production.md: the protocol)
SQL_IDENTIFIER = r"^([A-Za-z_][A-Za-z0-9_]{0,62})?$"
LOG_GROUP = r"^([.\-_/#A-Za-z0-9]{1,512})?$"
CANARY = r"^([0-9a-z_-]{1,255})?$"
LOAD_BALANCER = r"^(app/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32})?$"
PATH = r"^[^\x00-\x1f]{0,1024}$"
SECRET_REF = r"^(secret:[A-Za-z0-9/_+=.@!-]{1,512})?$"
# A change's ticket: a URL or an id; which ones an environment accepts is its committed
# `change_ticket` pattern (check_ticket). A reason: one line of words.
TICKET = r"^(https://[^\s<>\"'`\x00-\x1f]{1,500}|[A-Za-z][A-Za-z0-9]{0,15}-[0-9]{1,9})?$"
REASON = r"^[^\x00-\x1f\x7f<>`]{0,200}$"
# How a refusal says what each kind expects (a regex is no answer for an operator).
KIND_WORDS = {
    URL: "an http(s) URL", URL_OR_SECRET: "an http(s) URL or secret:NAME",  # pragma: allowlist secret
    ALARM: "a CloudWatch alarm name or prefix (1 to 255 characters; no control characters, <, >, ` or |)",
    RDS_ID: "an RDS identifier (a letter, then letters, digits, hyphens)",
    ECR_REPOSITORY: "an ECR repository name (lower case, digits, . _ - /)",
    CODEBUILD_PROJECT: "a CodeBuild project name (letters, digits, _ -)",
    S3_BUCKET: "an S3 bucket name (3 to 63 lower-case letters, digits, . -)",
    GITHUB_REPOSITORY: "a GitHub repository OWNER/NAME", SLUG: "a Sentry slug (lower case, digits, _ -)",
    MIGRATION_FILE: "a migration file name NNNN_name.sql", PERSON: "an approver's name from the approvers list",
    PLAN_HASH: "the hash a preview printed (64 hex digits, or its first 12 or more)", SQL_IDENTIFIER: "a table name (letters, digits, _)",
    LOG_GROUP: "a CloudWatch Logs group name", CANARY: "a Synthetics canary name (lower case, digits, _ -)",
    LOAD_BALANCER: "an ALB dimension app/NAME/ID", PATH: "a path without control characters",
    SECRET_REF: "secret:NAME (a Secrets Manager name), never the value itself",  # pragma: allowlist secret
    TICKET: "a ticket URL (https://…) or id (e.g. OPS-123)",
    REASON: "one line of at most 200 characters (no control characters, <, > or `)",
}


# Paths a run reads: one given by -p, -f or a notebook (not the committed environment
# file's, which names the operator's checkout) must be what the parameter says.
def _migrations(d: Path) -> str | None:
    if not d.is_dir():
        return "a directory of NNNN_name.sql migrations; it is not a directory"
    if not any(d.glob("*.sql")):
        return "a directory of NNNN_name.sql migrations; it holds none"
    return None


REGISTRY = "a PHI column registry (a YAML mapping of table → columns)"


def _registry(f: Path) -> str | None:
    """What the migration step reads (phi.load_registry): table → list of column names.
    Checked here so /etc/passwd or a stray YAML file is exit 2, not a kernel's AttributeError."""
    if not f.is_file() or f.stat().st_size > MAX_FILE:
        return REGISTRY
    try:
        data = _load_limited(f.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - not UTF-8, not YAML, an alias bomb: not a registry either way
        return REGISTRY
    ok = isinstance(data, dict) and all(
        isinstance(t, str) and isinstance(cols, list) and all(isinstance(c, str) for c in cols)
        for t, cols in data.items())
    return None if ok else REGISTRY


def _source(p: Path) -> str | None:
    """A deploy ships a checkout of its repository (§2: committed source only) or a built zip.
    Any other directory is refused before a kernel starts: the preflight would scan it and
    archive where its secret-looking lines sit (/etc, a home directory; attack review MEDIUM 6)."""
    if p.is_file() and p.suffix == ".zip":
        return None
    return None if p.is_dir() and (p / ".git").exists() else "a git checkout (its work tree's root) or a .zip file"


PATH_CHECKS = {"migrations_dir": _migrations, "phi_registry": _registry, "source": _source}


class RunbookParams(BaseModel):
    """Every runbook's parameters: where it runs."""

    # pydantic's patterns are Rust regexes: `$` is the end of the value (no trailing newline)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=MAX_TEXT, defer_build=True)
    env: Literal["sandbox", "prod"] = Field("sandbox", description="target environment")
    region: str = Field("us-east-2", pattern=REGION, description="AWS region (one of the environment's allowed_regions)")


class ServiceParams(RunbookParams):
    cluster: str = Field("rovn-prod", pattern=ECS_NAME, description="ECS cluster")
    service: str = Field("rovn-passport-api", pattern=ECS_NAME, description="ECS service")
    health_url: str = Field("", pattern=URL, description="the service's /health URL")


class ChangeParams(RunbookParams):
    """Runbooks that write: the protocol's confirm and approval, and notifications."""

    confirm: bool = Field(False, description="execute; without it the run is a preview only")
    approved_by: list[Annotated[str, Field(pattern=PERSON)]] = Field(default_factory=list,
                                                                    description="approvers (headless runs)")
    plan_hash: str = Field("", pattern=PLAN_HASH, description="the hash a preview printed: execute only if "
                                                              "today's plan has it")
    ticket: str = Field("", pattern=TICKET, description="the change's ticket: a URL or id matching the environment's "
                        "change_ticket pattern; prod: required to confirm")
    reason: str = Field("", pattern=REASON, description="why this change, in one line; prod: required to confirm")
    deployers: list[str] = Field(default_factory=list, description="never set: the allow-list comes only from "
                                 "parameters/<env>.yaml (§10); a value here is refused")
    slack_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="Slack webhook (URL or secret:NAME)")
    pagerduty_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="PagerDuty events URL (URL or "
                                                                              "secret:NAME)")


class ServiceStatusParams(ServiceParams):
    events: int = Field(10, ge=1, le=100, description="how many recent service events to show")
    alarm_prefix: str = Field("rovn-prod-", pattern=ALARM, description="CloudWatch alarms to show, by name prefix")


class MigrationParams(ChangeParams):
    migrations_dir: str = Field("", pattern=PATH, description="migrations directory; empty takes the environment's")
    phi_registry: str = Field("", pattern=PATH, description="PHI columns registry; empty takes the environment's")
    rds_instance: str = Field("", pattern=RDS_ID, description="RDS instance to snapshot; empty takes the environment's")
    lock_wait: float = Field(10.0, gt=0, le=MAX_WAIT_S, description="seconds to wait for the migration lock")


# §2: prod-YYYYMMDDhhmmss[-suffix] for new builds; every image in production before them
# is prod-YYYYMMDDhhmm[-suffix] (12 digits), and stays deployable and a rollback target.
IMAGE_TAG = re.compile(r"^prod-(\d{12}|\d{14})(-[a-z0-9][a-z0-9-]*)?\Z", re.ASCII)  # \d: 0-9 only
SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")


class WatchParams(RunbookParams):
    """Runbooks that watch a rollout: adaptive polls (see polling.py)."""

    poll_min: float = Field(5, gt=0, le=300, description="first wait between rollout polls, seconds")
    poll_max: float = Field(30, gt=0, le=600, description="longest wait between rollout polls, seconds")


class GitHubParams(RunbookParams):
    """Runbooks that read GitHub's API (check runs, pull-request reviews)."""

    github_repository: str = Field("", pattern=GITHUB_REPOSITORY, description="the source's GitHub repository "
                                   "(owner/name); empty takes the environment's")
    github_api_url: str = Field("", pattern=URL, description="GitHub's REST API; empty takes the environment's")
    github_token_secret: str = Field("", pattern=SECRET_REF, description="GitHub token for commit statuses, "
                              "as secret:NAME; empty takes the environment's")


class DeployParams(ServiceParams, MigrationParams, WatchParams, GitHubParams):
    source: str = Field("", pattern=PATH, description="the service's source to build: a git checkout or a .zip; "
                                                      "empty takes the environment's")
    image_tag: str = Field("", description="deploy this image, already in ECR, instead of building")
    tag_suffix: str = Field("", pattern=r"^([a-z0-9][a-z0-9-]{0,39})?$",
                            description="suffix of the built image's tag (lowercase, digits, hyphens)")
    repository: str = Field("", pattern=ECR_REPOSITORY, max_length=256,
                            description="ECR repository; empty takes the environment's")
    codebuild_project: str = Field("", pattern=CODEBUILD_PROJECT, description="CodeBuild project; empty takes "
                                                                              "the environment's")
    source_bucket: str = Field("", pattern=S3_BUCKET, description="CodeBuild source bucket; empty takes the "
                                                                  "environment's")
    severity_threshold: Literal[SEVERITIES] = Field("CRITICAL", description="scan findings at or above this refuse")
    # checked against AWS's table of Fargate sizes, each and as a pair (fargate_sizes)
    cpu: str = Field("", description="new task cpu units (Fargate: 256 … 16384); empty keeps the current")
    memory: str = Field("", description="new task memory (MiB, 512 … 122880); empty keeps the current")
    set_env: list[str] = Field(default_factory=list, description="environment variables to change, "
                               "never a secret: each a name and value joined by an equals sign")
    deadline_s: float = Field(900, gt=0, le=MAX_WAIT_S, description="seconds the rollout may take before it is a failure")
    bake_s: float = Field(300, ge=0, le=MAX_WAIT_S, description="seconds to watch the alarms after the rollout")
    bake_alarms: list[Annotated[str, Field(pattern=ALARM)]] = Field(default_factory=list,
                                                                   description="alarms that must stay out of ALARM")
    auto_rollback: bool = Field(True, description="on failure, roll back if no migration ran")
    force: bool = Field(False, description="go ahead over a deployment in flight that the suite did not start; "
                                           "needs two approvers, and is recorded in audit_log")

    @field_validator("image_tag")
    @classmethod
    def _tag(cls, v: str) -> str:
        if v and not IMAGE_TAG.fullmatch(v):
            raise ValueError("an ECR tag like prod-YYYYMMDDhhmmss[-suffix] or prod-YYYYMMDDhhmm[-suffix], "
                             "e.g. prod-20261127031500-fix-login")
        return v

    @field_validator("cpu", "memory")
    @classmethod
    def _size(cls, v: str, info) -> str:
        from rovn_ops.core import fargate_sizes

        problem = (fargate_sizes.cpu_problem if info.field_name == "cpu" else fargate_sizes.memory_problem)(v)
        if problem:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _size_pair(self):
        from rovn_ops.core import fargate_sizes

        problem = fargate_sizes.pair_problem(self.cpu, self.memory)
        if problem:
            raise ValueError(f"parameters 'cpu' and 'memory': expected a Fargate pair: {problem}")
        return self

    @field_validator("set_env")
    @classmethod
    def _assignments(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not re.match(r"^[A-Z_][A-Z0-9_]*=", a)]
        if bad:
            raise ValueError(f"NAME=VALUE items with upper-case names, not {bad[0]!r}")
        return v


class RollbackParams(ServiceParams, ChangeParams, WatchParams):
    to_revision: str = Field("", description="FAMILY:N to go back to; empty takes the newest revision recorded "
                                             "as verified healthy")
    override_schema_gate: bool = Field(False, description="go back despite a breaking or unknown migration since "
                                       "the target (§7); needs two approvers, and is recorded as an override")
    migrations_dir: str = Field("", pattern=PATH, description="migrations directory; empty takes the environment's")
    deadline_s: float = Field(600, gt=0, le=MAX_WAIT_S, description="seconds the rollback rollout may take")
    severity_threshold: Literal[SEVERITIES] = Field("CRITICAL", description="the target's scan findings at or "
                                                    "above this refuse it (§9)")
    force: bool = Field(False, description="go ahead over a deployment in flight that the suite did not start; "
                                           "needs two approvers, and is recorded in audit_log")

    @field_validator("to_revision")
    @classmethod
    def _revision(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z0-9_-]+:[0-9]+", v):
            raise ValueError("a task definition revision FAMILY:N, e.g. rovn-passport-api:288")
        return v


class SnapshotRetentionParams(ChangeParams):
    rds_instance: str = Field("", pattern=RDS_ID, description="RDS instance whose manual snapshots are kept "
                                                              "90 days; empty takes the environment's")


class SchedulesParams(ChangeParams):
    """parameters/schedules.yaml is the input: the runbook takes only the protocol's."""


class MigrationBaselineParams(MigrationParams):
    through: str = Field("", pattern=r"^([0-9]{4}_[A-Za-z0-9_.-]{1,200}\.sql|[0-9]{4}_[0-9]{2}_[0-9]{2}_"
                         r"[A-Za-z0-9_.-]{1,200}\.sql)?$", description="the last file another runner applied; "
                                                                      "empty: every file")


class MigrationReversalParams(MigrationParams, GitHubParams):
    migration: str = Field("0011_add_worker_npi.sql", pattern=MIGRATION_FILE, min_length=1,
                           description="the applied migration to reverse")
    pull_request: int = Field(0, ge=0, le=2**31 - 1, description="the migrations repository's pull request that commits the "
                              "reversal file; a PHI reversal needs one, approved on its head by someone other "
                              "than its author (§3)")


class SecretsAuditParams(RunbookParams):
    pagerduty_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="PagerDuty events URL (URL or "
                                                                              "secret:NAME): drift pages")
    security_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="security Slack channel webhook "
                                                                             "(URL or secret:NAME)")


class SecretRotationParams(ServiceParams, ChangeParams, WatchParams):
    secret: str = Field("rovn/prod/jwt-signing-key", pattern=r"^[A-Za-z0-9/_+=.@!-]{1,512}$",
                        description="the secret to rotate (its name)")
    action: Literal["rotate", "prune"] = Field("rotate", description="rotate; or prune: drop JWT keys past "
                                                                      "max_token_lifetime_s")
    max_token_lifetime_s: float = Field(86400, gt=0, le=30 * 86400, description="JWT: the longest a token lives; a retired "
                                                                 "key verifies this long after it stops signing")
    db_probe_table: str = Field("", pattern=SQL_IDENTIFIER, description="database: a table the new user must "
                                "be able to write (one row rewritten, rolled back)")
    provider_endpoint: str = Field("", pattern=URL, description="API keys: the providers' host (empty: each "
                                                                "provider's own)")
    mcp_inbound_url: str = Field("", pattern=URL, description="MCP inbound token API (our MCP server)")
    mcp_outbound_url: str = Field("", pattern=URL, description="MCP outbound token API (the MCP server we call)")
    security_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="security Slack channel webhook "
                                                                             "(URL or secret:NAME)")
    deadline_s: float = Field(900, gt=0, le=MAX_WAIT_S, description="seconds the task rollout may take")

class KeyRotationParams(ChangeParams):
    """The evidence signing key's rotation (evidence/rotation.py): the secret and its region
    are the environment file's (evidence.signing_key_secret, evidence.region), never a parameter."""

    security_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="security Slack channel webhook "
                                                                             "(URL or secret:NAME)")


class DrReadinessParams(ServiceParams):
    """dr_readiness (§11): read-only; the standby comes only from parameters/<env>.yaml."""

    REACHES_STANDBY: typing.ClassVar[bool] = True  # the only runbooks whose clients may reach standby.region
    rds_instance: str = Field("", pattern=RDS_ID, description="the primary RDS instance whose snapshots are "
                                                              "copied; empty takes the environment's")
    slack_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="Slack webhook (URL or secret:NAME): "
                                                                          "a standby not READY posts")


class DrFailoverParams(DrReadinessParams, ChangeParams):
    """dr_failover (§11): the protocol, two approvers; every step idempotent and resumable."""

    failure_at: str = Field("", pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{5,15}(Z|[+-][0-9]{2}:?[0-9]{2})?)?$",
                            description="when the primary failed, ISO 8601 UTC (the RPO is measured to it); "
                                        "empty: the decision time")
    deadline_s: float = Field(1800, gt=0, le=86400, description="seconds each waiting step may take")

    @field_validator("failure_at")
    @classmethod
    def _failure_past(cls, v: str) -> str:
        """The RPO is measured to it: a failure in the future (or unparseable) is a typo."""
        from datetime import datetime, timedelta, timezone

        if not v:
            return v
        try:
            when = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("an ISO 8601 UTC time like 2026-12-07T10:00:00Z") from None
        if when.tzinfo is None:
            raise ValueError("an ISO 8601 time with its zone (Z or +00:00)")
        if when > datetime.now(timezone.utc) + timedelta(minutes=5):
            raise ValueError("a time in the past (when the primary failed), not in the future")
        if when < datetime.now(timezone.utc) - timedelta(days=30) or abs(when.utcoffset()) > timedelta(hours=14):
            raise ValueError("a recent time (within the last 30 days: the RPO is measured to it) with a real "
                             "zone offset (at most ±14:00), e.g. 2026-12-07T10:00:00Z")
        return v
    poll_min: float = Field(5, gt=0, le=300, description="first wait between polls, seconds")
    poll_max: float = Field(30, gt=0, le=600, description="longest wait between polls, seconds")


class TriageParams(ServiceParams):
    """incident_triage: what to read, how to judge it (§5, §6), whom to tell."""

    window_minutes: int = Field(60, ge=5, le=10080, description="minutes of history to read, ending at window_end")
    window_end: str = Field("", description="end of the window, ISO 8601 UTC; empty means now")
    incident_id: str = Field("", pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$",
                             description="the incident this triage belongs to; empty reuses the service's open "
                                         "incident or makes a new id")
    suspected_phi_exposure: bool = Field(False, description="a human suspects PHI was exposed (forces P0)")
    suspected_security_incident: bool = Field(False, description="a human suspects a security incident (forces P0)")
    data_integrity_concern: bool = Field(False, description="a human reports a data-integrity event (forces P0)")
    business_hours: str = Field("09:00-18:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$",
                                description="P1 Slack posts only between these local times, HH:MM-HH:MM")
    business_days: list[str] = Field(default_factory=lambda: ["Mon", "Tue", "Wed", "Thu", "Fri"],
                                     description="weekdays with business hours (Mon … Sun)")
    time_zone: str = Field("America/Chicago", description="IANA time zone of the business hours")
    alarm_prefix: str = Field("rovn-prod-", pattern=ALARM, description="CloudWatch alarms to read, by name prefix")
    load_balancer: str = Field("", pattern=LOAD_BALANCER, description="the ALB's CloudWatch dimension "
                               "(app/NAME/ID); empty takes the environment's")
    rds_instance: str = Field("", pattern=RDS_ID, description="RDS instance; empty takes the environment's")
    log_group: str = Field("", pattern=LOG_GROUP, description="the app's log group; empty means /ecs/<service>")
    canary: str = Field("", pattern=CANARY, description="CloudWatch Synthetics canary for /health; empty polls "
                                                        "/health now")
    sentry_url: str = Field("", pattern=URL, description="Sentry base URL; empty takes the environment's "
                                                         "(none: skipped)")
    sentry_org: str = Field("rovn", pattern=SLUG, description="Sentry organization slug")
    sentry_project: str = Field("rovn-passport-api", pattern=SLUG, description="Sentry project slug")
    sentry_token_secret: str = Field("", pattern=SECRET_REF, description="the Sentry auth token, as secret:NAME "
                                     "(Secrets Manager); empty takes the environment's")
    error_rate_pct: float = Field(1.0, gt=0, le=100, description="5xx share of requests that is an incident (§5)")
    outage_error_rate_pct: float = Field(25.0, gt=0, le=100, description="5xx share that is an outage (P0)")
    rds_cpu_pct: float = Field(85.0, gt=0, le=100, description="RDS CPU that, sustained, is an incident (§5)")
    sustained_minutes: int = Field(5, ge=1, le=120, description="minutes a threshold must hold (§5: 5)")
    deploy_lead_minutes: int = Field(15, ge=1, le=240, description="errors rising within this many minutes "
                                                                   "after a change point at it")
    top_messages: int = Field(10, ge=1, le=100, description="how many error-log messages to show")
    notify: bool = Field(True, description="page and post as the severity says; false only shows what would go")
    slack_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="Slack webhook (URL or secret:NAME)")
    pagerduty_webhook_url: str = Field("", pattern=URL_OR_SECRET, description="PagerDuty Events API v2 URL (URL "
                                                                              "or secret:NAME)")
    pagerduty_routing_key: str = Field("", pattern=SECRET_REF, description="PagerDuty integration key, as "
                                                                          "secret:NAME")

    @field_validator("window_end")
    @classmethod
    def _end(cls, v: str) -> str:
        if v:
            from datetime import datetime, timedelta, timezone

            try:
                end = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("an ISO 8601 time like 2026-11-27T03:15:00Z") from None
            end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
            now = datetime.now(timezone.utc)
            if end > now + timedelta(minutes=5):  # (a few minutes of clock skew allowed)
                raise ValueError(f"a time that has come (UTC now: {now:%Y-%m-%dT%H:%MZ}); empty means now")
            if end < now - timedelta(days=15):
                raise ValueError("a time within the last 15 days (CloudWatch keeps 1-minute data that long)")
        return v

    @field_validator("business_days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"weekdays among {', '.join(WEEKDAYS)}, not {bad[0]!r}")
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return iana_zone(v)

    @field_validator("sentry_token_secret", "pagerduty_routing_key")
    @classmethod
    def _secret_ref(cls, v: str) -> str:
        if v and not v.startswith("secret:"):
            raise ValueError("secret:NAME (a Secrets Manager name), never the value itself")
        return v


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

MODELS: dict[str, type[RunbookParams]] = {
    "service_status": ServiceStatusParams,
    "migration_reversal": MigrationReversalParams,
    "deploy": DeployParams,
    "rollback": RollbackParams,
    "secrets_audit": SecretsAuditParams,
    "secret_rotation": SecretRotationParams,
    "incident_triage": TriageParams,
    "migrations_baseline": MigrationBaselineParams,
    "snapshot_retention": SnapshotRetentionParams,
    "schedules": SchedulesParams,
    "dr_readiness": DrReadinessParams,
    "dr_failover": DrFailoverParams,
    "evidence_key_rotation": KeyRotationParams,
}


# §10: only claude-deploy may push to ECR and update the ECS service, and a task runs
# under a role: these never run as an ECS task (remote run, schedules).
NEVER_REMOTE = ("deploy", "rollback")


def iana_zone(v: str) -> str:
    """A time zone by its IANA name (UTC, America/Chicago), for pydantic validators."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"an IANA time zone like America/Chicago, not {v[:60]!r}") from None
    return v


def model_for(runbook: str) -> type[RunbookParams]:
    try:
        return MODELS[runbook]
    except KeyError:
        raise BadInput(f"runbook '{runbook}': unknown; expected one of: {', '.join(sorted(MODELS))}") from None


_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list[str], "None": str}


def inferred_model(notebook: Path) -> type[RunbookParams]:
    """A notebook outside the catalogue (one under development): its parameters cell,
    read by papermill, typed from the annotations; the same validation applies.
    Defaults are read as literals (ast.literal_eval), never evaluated."""
    from pydantic import create_model

    fields = {}
    for name, p in _inspect(notebook).items():
        if name in RunbookParams.model_fields:
            continue
        kind = _TYPES.get(p["inferred_type_name"], str)
        fields[name] = (kind, Field(_literal(notebook, name, p["default"]), description=p["help"]))
    return create_model(f"{notebook.stem}_params", __base__=RunbookParams, **fields)


def _inspect(notebook: Path) -> dict:
    import papermill as pm

    try:
        return pm.inspect_notebook(str(notebook))
    except Exception as e:  # noqa: BLE001 - nbformat, JSON and encoding errors alike: not a notebook
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise BadInput(f"runbook {notebook}: not a Jupyter notebook ({reason})") from None


def _literal(notebook: Path, name: str, source: str):
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise BadInput(f"runbook {notebook}: parameter '{name}': default {source[:60]!r} is not a literal "
                       "(a number, string, bool, None or list); draft defaults are read, never run") from None


_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def _interpolate(value):
    """${VAR} from the environment; a value naming an unset variable is left empty."""
    if not isinstance(value, str) or "${" not in value:
        return value
    names = _VAR.findall(value)
    if any(not os.environ.get(n) for n in names):
        return ""
    return _VAR.sub(lambda m: os.environ[m.group(1)], value)


_PARSED: dict = {}
PARAMETER_FILE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_NODES = 100_000        # YAML nodes a file may expand to (an alias bomb expands to billions)


def _parse(path: Path):
    """A YAML file's data, parsed once per process while the file is unchanged (a run
    reads its environment file several times), with libyaml's safe loader when present.
    Aliases are refused and the node count is bounded (yaml_limits), so a few hundred
    bytes cannot expand into billions of nodes."""
    import yaml

    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino)
    if key not in _PARSED:
        _PARSED[key] = _load_limited(path.read_text(encoding="utf-8")) or {}
    return _PARSED[key]


def _load_limited(text: str):
    """yaml.safe_load, refusing anchors and aliases and more than MAX_NODES nodes
    (checked on the event stream, before anything is built)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    nodes = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: anchors and aliases (&, *) are not accepted "
                                 "in a parameter file")
        nodes += 1
        if nodes > MAX_NODES:
            raise yaml.YAMLError(f"more than {MAX_NODES} YAML nodes")
    return yaml.load(text, Loader=loader)  # noqa: S506 - safe loader, aliases refused above


def _read_yaml(path: Path, label: str) -> dict:
    import yaml

    if not path.is_file():
        raise BadInput(f"{label} {path}: file not found")
    if path.stat().st_size > MAX_FILE:
        raise BadInput(f"{label} {path}: {path.stat().st_size} bytes; expected a parameter file under {MAX_FILE}")
    try:
        data = copy.deepcopy(_parse(path))
    except UnicodeDecodeError as e:
        raise BadInput(f"{label} {path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except yaml.YAMLError as e:
        raise BadInput(f"{label} {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except (RecursionError, MemoryError):
        raise BadInput(f"{label} {path}: nested too deeply; expected a mapping of NAME: VALUE") from None
    if not isinstance(data, dict):
        raise BadInput(f"{label} {path}: expected a mapping of NAME: VALUE")
    return data


def read_parameter_file(f) -> dict:
    """A `-f` file: a parameter file only (YAML or JSON by its name), a mapping of
    parameter names to a scalar or a list of scalars. Any other file (a credentials
    file, /proc/self/environ, a notebook) is refused without showing what it holds."""
    path = Path(f)
    if path.suffix.lower() not in PARAMETER_FILE_SUFFIXES:
        raise BadInput(f"-f {f}: expected a parameter file (.yaml, .yml or .json), not a {path.suffix or 'file without a suffix'}")
    data = _read_yaml(path, "-f")
    for name, value in data.items():
        if not isinstance(name, str):
            raise BadInput(f"-f {f}: expected parameter names as keys, got a {type(name).__name__}")
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, (dict, list)) for v in items):
            raise BadInput(f"parameter '{name}' (-f {f}): expected a value or a list of values, not a nested "
                           "mapping or list")
    return data


def environment_file(env: str) -> dict:
    """parameters/<env>.yaml as committed (no ${VAR} is resolved here)."""
    return _read_yaml(paths.parameters() / f"{env}.yaml", "environment file")


def environment_section(env: str, section: str) -> dict:
    """A section of parameters/<env>.yaml, with ${VAR}s resolved."""
    return {k: _interpolate(v) for k, v in (environment_file(env).get(section) or {}).items()}


def environment_defaults(env: str) -> dict:
    return environment_section(env, "parameters")


def _split_assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise BadInput(f"-p {text!r}: expected NAME=VALUE")
    return name.strip(), value


def _coerce_cli(model: type[RunbookParams], name: str, value: str):
    """-p values are text; a list parameter takes comma-separated items."""
    field = model.model_fields.get(name)
    if field is not None and typing.get_origin(field.annotation) is list:
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _check_name(model, runbook: str, name: str, source: str) -> None:
    if name == "env":  # one switch picks the environment, so a preset cannot reach prod
        raise BadInput(f"parameter 'env' ({source}): expected --env sandbox|prod, not a parameter")
    if name not in model.model_fields:
        raise _unknown(model, runbook, name, source)


def _unknown(model, runbook: str, name: str, source: str) -> BadInput:
    known = ", ".join(sorted(model.model_fields))
    return BadInput(f"parameter '{name}' ({source}): unknown to runbook {runbook}; expected one of: {known}")


def _layers(runbook: str, env: str, files, model: type[RunbookParams]) -> dict:
    """The environment file's values, then each file's, over the model's defaults."""
    merged: dict = {k: v for k, v in environment_defaults(env).items() if k in model.model_fields}
    for f in files:
        for name, value in read_parameter_file(f).items():
            _check_name(model, runbook, name, f"-f {f}")
            merged[name] = value
    return merged


def resolve(runbook: str, env: str, files: list[str] = (), assignments: list[str] = (),
            model: type[RunbookParams] | None = None) -> RunbookParams:
    """Merge the layers, then validate once. Raises BadInput naming the parameter."""
    model = model or model_for(runbook)
    merged = _layers(runbook, env, files, model)
    for text in assignments:
        name, value = _split_assignment(text)
        _check_name(model, runbook, name, "-p")
        merged[name] = _coerce_cli(model, name, value)
    merged["env"] = env
    return validate(model, merged)


PARAMETER_FILES = "ROVN_PARAMETER_FILES"  # `rovn-ops lab -f FILE`: the files of an interactive session


def resolve_notebook(runbook: str, values: dict, model: type[RunbookParams] | None = None) -> RunbookParams:
    """An interactive (or bare papermill) run resolves as `rovn-ops run` does: the
    defaults, then parameters/<env>.yaml, then the session's files; a value the
    operator changed in the parameters cell (one that differs from the default) wins
    over all of them, as `-p` does. So JupyterLab polls and bakes as CI would."""
    model = model or model_for(runbook)
    env = values.get("env", "sandbox")
    files = [f for f in os.environ.get(PARAMETER_FILES, "").split(os.pathsep) if f]
    merged = _layers(runbook, env, files, model)
    defaults = {n: f.get_default(call_default_factory=True) for n, f in model.model_fields.items()}
    merged.update({k: v for k, v in values.items() if k != "env" and (k not in defaults or v != defaults[k])})
    merged["env"] = env
    return validate(model, merged)


def validate(model: type[RunbookParams], values: dict) -> RunbookParams:
    for name, value in values.items():
        check_assignments(name, value)
        if looks_secret_name(name) or looks_secret_value(value) or _carries_aws_key(name, value):
            raise BadInput(f"parameter '{name}': looks like a secret value; parameters name "
                           "secrets (e.g. a Secrets Manager name), they never carry them")
    try:
        p = model(**values)
    except ValidationError as e:
        raise BadInput(describe(e)) from None
    check_region(p)
    check_ticket(p)
    check_confirm(p)
    check_endpoints(p)
    check_paths(p)
    return p


def _carries_aws_key(name: str, value) -> bool:
    """An AWS secret access key as a word of free text (`reason=key wJalr…`) or the tail of a
    URL (`health_url=http://h/wJalr…`): the whole-value rule missed both, and the run archived
    them under Object Lock (attack review MEDIUM 4). Paths are left out: a directory's
    name is no secret, and it is checked for what it is (PATH_CHECKS)."""
    if not isinstance(value, str) or name in PATH_CHECKS:
        return False
    for word in value.split():
        tails = [word, *(word[i + 1:] for i, c in enumerate(word) if c in "/:=@")]
        if any(AWS_SECRET_KEY.fullmatch(t) for t in tails):
            return True
    return False


def check_paths(p: RunbookParams) -> None:
    committed = environment_defaults(p.env)
    for name, check in PATH_CHECKS.items():
        value = getattr(p, name, "")
        if value and value != committed.get(name):
            problem = check(paths.project_path(value))
            if problem:  # the valid value to use instead: the environment's own
                own = f"; the environment's is {committed[name]} (leave it empty to take it)" if committed.get(name) else ""
                raise BadInput(f"parameter '{name}': expected {problem}, got {value[:80]!r}{own}")


def check_endpoints(p: RunbookParams) -> None:
    """A secret goes only to its declared endpoint (endpoints.py)."""
    from rovn_ops.core import endpoints

    declared = endpoints.declared(environment_file(p.env))
    endpoints.check(p.model_dump(), p.env, declared, environment_defaults(p.env))


_ASSIGNMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)", re.DOTALL)


def check_assignments(name: str, value) -> None:
    """Every NAME=VALUE item (set_env and the like): a name that says secret, or a
    value shaped like one, is refused before anything runs or is recorded."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        m = _ASSIGNMENT.fullmatch(item) if isinstance(item, str) else None
        if m is None:
            continue
        var, val = m.groups()
        if looks_secret_env_name(var) or looks_secret_value(val):
            raise BadInput(f"parameter '{name}': item {var}=… would carry a secret; expected plain settings "
                           f"only: a secret reaches the service as a Secrets Manager reference, never a value")


@controls.enforces('§10 protocol')
def check_ticket(p: RunbookParams) -> None:
    """Every change names its ticket and reason (issue 27, build 2): a ticket given must match
    the environment's committed `change_ticket` pattern; in prod, confirm needs both (a preview,
    which changes nothing, does not). Checked with the parameters, so a refusal is exit 2 before
    anything ran, headless and in JupyterLab alike."""
    if not hasattr(p, "ticket"):
        return
    pattern = environment_file(p.env).get("change_ticket") or ""
    if p.ticket and pattern and not re.fullmatch(pattern, p.ticket):
        raise BadInput(f"parameter 'ticket': expected a ticket matching parameters/{p.env}.yaml's change_ticket "
                       f"({pattern}), got {p.ticket[:80]!r}")
    if p.env == "prod" and p.confirm:
        for name in ("ticket", "reason"):
            if not getattr(p, name).strip():
                what = "the change's ticket (URL or id)" if name == "ticket" else "one line saying why"
                raise BadInput(f"parameter '{name}': expected {what}: prod needs a ticket and a reason to confirm "
                               f"(-p {name}=…); preview with the same ticket and reason, since the plan hash "
                               "covers them")


def check_confirm(p: RunbookParams) -> None:
    """confirm executes only the plan a preview printed (protocol/change.py): without its
    hash the run is the operator's input error (attack review LOW 7), refused before a kernel
    starts, headless and in JupyterLab alike; change.py still refuses a hash that does not match."""
    if getattr(p, "confirm", False) and not getattr(p, "plan_hash", "").strip():
        raise BadInput("parameter 'plan_hash': expected the hash a preview printed: confirm=true executes only "
                       "a reviewed plan; preview first (the same parameters without confirm), then confirm with "
                       "-p plan_hash=<the preview's hash>")


def allowed_regions(env: str) -> list[str]:
    """The regions the environment file allows (its `allowed_regions`)."""
    data = _read_yaml(paths.parameters() / f"{env}.yaml", "environment file")
    return list(data.get("allowed_regions") or [])


def standby(p: RunbookParams) -> dict:
    """parameters/<env>.yaml's `standby` section (§11 DR), ${VAR}s resolved, for the DR
    runbooks only: allowed_regions stays the primary's for every other runbook, so no
    other runbook's client can be pointed at the standby region."""
    if not getattr(type(p), "REACHES_STANDBY", False):
        raise BadInput(f"parameter 'region': the standby region is for the DR runbooks (dr_readiness, "
                       f"dr_failover) only; expected one of the {p.env} environment's allowed_regions")
    data = environment_file(p.env).get("standby") or {}
    if not data.get("region"):
        raise BadInput(f"environment file parameters/{p.env}.yaml: expected a `standby:` section naming the "
                       "standby region (§11), found none")
    return {k: ({kk: _interpolate(vv) for kk, vv in v.items()} if isinstance(v, dict) else _interpolate(v))
            for k, v in data.items()}


def check_region(p: RunbookParams) -> None:
    allowed = allowed_regions(p.env)
    if allowed and p.region not in allowed:
        raise BadInput(f"parameter 'region': expected one of the {p.env} environment's regions "
                       f"({', '.join(allowed)}), got {p.region!r}")


def describe(error: ValidationError) -> str:
    """One line for the first problem: the parameter, what was expected, what came."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"]] or ["?"]
    name = loc[0]  # a list's item is named by its parameter (and its position below)
    if first["type"] == "extra_forbidden":
        return f"parameter '{name}': unknown"
    if not first["loc"]:  # a rule across parameters (a model validator): its own words name them
        return first["msg"].removeprefix("Value error, ")
    expected = first["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    if first["type"] == "string_pattern_mismatch":
        pattern = first["ctx"]["pattern"]
        expected = KIND_WORDS.get(pattern) or "a value of the form " + pattern.removeprefix("^").removesuffix("$")
    if len(loc) > 1:
        expected += f" (item {int(loc[1]) + 1})" if loc[1].isdigit() else f" ({'.'.join(loc[1:])})"
    if looks_secret_value(first.get("input")) or looks_secret_name(name):
        return f"parameter '{name}': expected {expected} (the value given is not shown: it looks like a secret)"
    got = repr(first.get("input"))
    return f"parameter '{name}': expected {expected}, got {got if len(got) <= 80 else got[:60] + '…'}"
