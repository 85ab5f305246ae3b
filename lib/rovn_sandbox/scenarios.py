"""Fault-injection scenarios the sandbox can switch on (`rovn-ops sandbox scenario`)."""
from __future__ import annotations

KNOWN = {
    "ecs_new_tasks_fail": "new ECS tasks fail to start; the circuit breaker trips",
    "health_down": "the app's /health answers 503",
    "health_proxied": "the app's /health answers through Cloudflare's edge (cf-ray, server: cloudflare)",
    "sink_down": "the webhook sink answers 503 to every post",
    "rds_snapshot_fails": "RDS CreateDBSnapshot fails (quota exceeded)",
    "codebuild_fails": "CodeBuild builds FAIL in the BUILD phase; nothing is pushed to ECR",
    "image_critical_finding": "images CodeBuild pushes scan with a CRITICAL finding",
    "codebuild_pushes_stale_image": "CodeBuild pushes the repository's newest image again under the new tag "
                                    "(same digest, its old IMAGE_TAG baked in): /health reports the old version",
    "github_status_failing": "with github_statuses_only: the combined commit status is failure (CI failed)",
    "github_statuses_only": "a legacy CI: commit statuses only, no check runs in the repository",
    "github_check_failing": "the `unit tests` check run of every commit concludes failure",
    "github_check_pending": "the `snyk scan` check run of every commit is still in_progress",
    "github_checks_paged": "a 120-job matrix runs before the CI jobs: the required check runs are on page 2",
    "github_token_revoked": "GitHub answers 401 Bad credentials to every token (the status token was revoked)",
    "ecs_fargate_no_tmpfs": "ECS as before 2026-01-06: a FARGATE task definition with tmpfs is refused",
    "ecs_update_service_hangs": "ECS UpdateService hangs while on, then fails without updating",
    "secret_checks_hang": "the fake provider and MCP stub hold checks of keys newer than the seed while on",
    # incidents (incidents.py): metrics, logs, alarms and Sentry issues written over the last two hours
    "bad_deploy": "a deploy 20 minutes ago (audit_log, ECS); 5xx at ~4% from 3 minutes after it",
    "db_saturation": "RDS CPU at 95% for the last 15 minutes, connections climbing, then 5xx",
    "tasks_crashing": "revision 289, deployed 9 minutes ago, crashes (OOM): 0 of 3 running for 6 minutes, /health "
                      "503; a rollback to 288 mends it",
    "quiet": "two hours of ordinary traffic: nothing wrong",
    "phi_logged": "ordinary traffic, but the app logs CRITICAL and FATAL lines and lines carrying PHI "
                  "(an NPI, an SSN, a patient's name with a DOB)",
    "single_az": "the ECS service's subnets are all in one Availability Zone (§11 needs two)",
    "tasks_one_az": "the service's subnets span two AZs, but every running task sits in the first (§11)",
    "canary_first_run": "the health canary rovn-prod-health was just created: its first check is RUNNING",
    "hostile_strings": "tasks_crashing, with script and Markdown injections in log lines, Sentry titles, an alarm "
                       "reason and an ECS event",
    "image_missing": "revision 289's image expired from ECR; its tasks, retired 5 minutes ago, cannot be replaced "
                     "(CannotPullContainerError); a rollback to 288 mends it",
    "canary_failing": "revision 289, deployed 12 minutes ago, serves requests but its /health answers 500: the "
                      "canary fails while the ALB is fine; a rollback to 288 mends it",
    "slow_query_deploy": "a deploy 20 minutes ago whose query saturates RDS (CPU 95% from 3 minutes after it), "
                         "then 5xx: the database is the symptom, the deploy the cause; a rollback to 288 mends it",
    "bad_deploy_migration": "bad_deploy, whose deploy also ran 0013 (a UNIQUE index the older image cannot be "
                            "trusted on): §7's path, the reversal then the rollback",
    "phi_deploy": "a deploy 10 minutes ago logs each intake request's PHI (an NPI, a patient's name with a DOB) "
                  "at INFO: suspected PHI exposure caused by the deploy; a rollback to 288 ends it",
    "secret_exposed": "secrets_audit found user/contractor-export (on no allow-list) reading rovn/prod/db-master "
                      "6 minutes ago: a suspected security incident; rotating the secret retires what it read",
    "audit_tampered": "a superuser dropped audit_log's UPDATE/DELETE trigger and added a second approver to the "
                      "newest deploy row (its hash unchanged): a data-integrity event, P0 (audit_tamper.py)",
    # §11 DR (standby.py): the cross-region cold standby in us-west-2
    "dr_gap": "the standby misses the live image (its ECR) and one secret's replica (rovn/prod/stripe-api-key)",
    "region_outage": "the primary region is unreachable: its ECS and RDS answer 503, its /health 503",
    # the deploy's bake (bake_incidents.py): the 5xx alarm moves when the next rollout completes
    "incident_5xx": "the 5xx alarm is in ALARM with a high rate; the next rollout brings the rate down",
    "alarm_fires_after_rollout": "the 5xx alarm (no data) goes INSUFFICIENT_DATA → ALARM when the next rollout completes",
}
_on: set[str] = set()
_hooks: dict = {}  # name -> what switching it on writes into the world (incidents.py)


def on_activate(name: str, hook) -> None:
    _hooks[name] = hook


def active(name: str) -> bool:
    return name in _on


def set_scenario(name: str, on: bool = True) -> None:
    if name not in KNOWN:
        raise KeyError(name)
    (_on.add if on else _on.discard)(name)
    if on and name in _hooks:
        _hooks[name]()


def clear() -> None:
    _on.clear()


def current() -> list[str]:
    return sorted(_on)
