"""Incident scenarios: two hours of the service's telemetry, written into moto through
the same APIs production's agents use (PutMetricData, PutLogEvents), plus what each
incident does to the rest of the world (a deploy in audit_log and ECS, alarm states,
Sentry issues, tasks stopped), so triage reads it exactly as it reads production.

Time runs backwards from the moment the scenario is switched on: minute 0 is now,
minute -120 two hours ago. Values are deterministic (a seeded generator).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import datetime, timedelta, timezone

ACCOUNT = "123456789012"
HISTORY_MINUTES = 120
REQUESTS_PER_MINUTE = 1200
LOAD_BALANCER = "app/rovn-prod-alb/50dc6c495c0c9188"
# Planted in the incidents' log lines and a Sentry title: triage must show them redacted.
PLANTED = {"email": "ana.ruiz@example.org", "phone": "+1 512-555-0142",
           "token": "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffee"}
SENTRY_ISSUES: list[dict] = []  # what the Sentry stub serves (sentry_stub.py)
# Strings from a hostile world (scenario hostile_strings, and the browser tests): each
# would run script, end an embedded script or bend Markdown if rendered unescaped. The
# script they run counts into window.__xss.
HOSTILE = (
    '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
    "<!--<script>",
    "</script><script>window.__xss=(window.__xss||0)+1</script>",
    '<svg onload="window.__xss=(window.__xss||0)+1"></svg>',
    "[click me](javascript:window.__xss=1) ![i](x) **bold** | cell | # heading",
    "`</code><img src=x onerror=window.__xss=1>`",
    "\u2028\u2029 \" ' & __DATA__ __CHART__ \x1b[31mred\x1b[0m",
)


@dataclass
class Shape:
    """Per-minute telemetry as functions of the minute (negative: minutes ago)."""

    error_share: callable = lambda m: 0.001
    elb_error_share: callable = lambda m: 0.0
    cpu: callable = lambda m: 32.0
    connections: callable = lambda m: 40.0
    latency_scale: callable = lambda m: 1.0
    running: callable = lambda m: 3
    error_logs: callable = lambda m: []  # messages logged at ERROR in that minute
    other_logs: callable = lambda m: []  # whole JSON bodies logged in that minute, any level
    extra: dict = field(default_factory=dict)


def _series(shape: Shape, minutes: int, now: datetime, rng: random.Random, ids: dict) -> dict[str, list]:
    """MetricData batches per namespace, one datum per metric and minute."""
    out: dict[str, list] = {"AWS/ApplicationELB": [], "AWS/RDS": [], "ECS/ContainerInsights": []}
    alb = [{"Name": "LoadBalancer", "Value": ids["load_balancer"]}]
    rds = [{"Name": "DBInstanceIdentifier", "Value": ids["rds_instance"]}]
    ecs = [{"Name": "ClusterName", "Value": ids["cluster"]}, {"Name": "ServiceName", "Value": ids["service"]}]
    for m in range(-minutes, 0):
        at = now + timedelta(minutes=m)
        requests = int(REQUESTS_PER_MINUTE * rng.uniform(0.9, 1.1))
        scale = shape.latency_scale(m)
        put = lambda ns, name, dims, unit, **v: out[ns].append(  # noqa: E731
            {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Unit": unit, **v})
        put("AWS/ApplicationELB", "RequestCount", alb, "Count", Value=requests)
        # ELB reports its 5xx counts only when nonzero (load-balancer-cloudwatch-metrics.html)
        for name, count in (("HTTPCode_Target_5XX_Count", round(requests * shape.error_share(m) * rng.uniform(0.85, 1.15))),
                            ("HTTPCode_ELB_5XX_Count", round(requests * shape.elb_error_share(m)))):
            if count:
                put("AWS/ApplicationELB", name, alb, "Count", Value=count)
        # Latency as a distribution (Values/Counts), so percentiles mean something.
        put("AWS/ApplicationELB", "TargetResponseTime", alb, "Seconds",
            Values=[round(v * scale, 3) for v in (0.04, 0.08, 0.15, 0.3, 0.9)], Counts=[6, 8, 4, 1, 1])
        put("AWS/RDS", "CPUUtilization", rds, "Percent", Value=round(shape.cpu(m) + rng.uniform(-3, 3), 1))
        put("AWS/RDS", "DatabaseConnections", rds, "Count", Value=round(shape.connections(m) + rng.uniform(-4, 4)))
        put("ECS/ContainerInsights", "RunningTaskCount", ecs, "Count", Value=shape.running(m))
        put("ECS/ContainerInsights", "DesiredTaskCount", ecs, "Count", Value=3)
    return out


def _log_events(shape: Shape, minutes: int, now: datetime, rng: random.Random) -> list[dict]:
    """Structured JSON lines, as the app writes them: requests at INFO, errors at ERROR."""
    events = []
    for m in range(-minutes, 0):
        base = now + timedelta(minutes=m)
        for i in range(3):
            events.append((base + timedelta(seconds=5 + i * 17), {
                "level": "INFO", "message": "request completed", "path": rng.choice(
                    ["/v1/workers", "/v1/credentials", "/v1/facilities/search", "/health"]),
                "status": 200, "duration_ms": rng.randint(20, 180)}))
        for i, message in enumerate(shape.error_logs(m)):
            events.append((base + timedelta(seconds=2 + i), {"level": "ERROR", "message": message, "status": 500}))
        for i, body in enumerate(shape.other_logs(m)):
            events.append((base + timedelta(seconds=40 + i), body))
    events.sort(key=lambda e: e[0])
    return [{"timestamp": int(at.timestamp() * 1000), "message": json.dumps(body)} for at, body in events]


def _every(n: int, message: str, since: int, until: int = 0):
    """`message`, n times a minute, from minute `since` (exclusive of `until`)."""
    return lambda m: [message] * n if since <= m < until else []


def quiet() -> Shape:
    return Shape()


def bad_deploy(deploy_minute: int = -20) -> Shape:
    start = deploy_minute + 3
    npe = ("TypeError: 'NoneType' object is not subscriptable in credentials.verify "
           f"(user {PLANTED['email']}, callback {PLANTED['phone']}, token={PLANTED['token']})")
    return Shape(error_share=lambda m: 0.04 if m >= start else 0.001,
                 latency_scale=lambda m: 1.3 if m >= start else 1.0,
                 error_logs=lambda m: _every(6, npe, start)(m) + _every(
                     2, "KeyError: 'facility_timezone' in facilities.search", start)(m))


def db_saturation(since: int = -15) -> Shape:
    pool = ("psycopg.OperationalError: connection pool exhausted (timeout 30s) for "
            f"{PLANTED['email']} token={PLANTED['token']}")
    return Shape(cpu=lambda m: 95.0 if m >= since else 32.0,
                 connections=lambda m: 40 + 12 * (m - since + 1) if m >= since else 40.0,
                 latency_scale=lambda m: 4.0 if m >= since + 1 else 1.0,
                 error_share=lambda m: 0.015 if m >= since + 3 else 0.001,
                 error_logs=_every(5, pool, since + 3))


def tasks_crashing(since: int = -6) -> Shape:
    oom = (f"worker killed: exit code 137 (OutOfMemoryError) while serving {PLANTED['email']} "
           f"tel {PLANTED['phone']} token={PLANTED['token']}")
    return Shape(running=lambda m: 0 if m >= since else 3,
                 error_share=lambda m: 0.0 if m >= since else 0.001,
                 elb_error_share=lambda m: 1.0 if m >= since else 0.0,
                 error_logs=_every(4, oom, since - 2, since))


# PHI as the scrubber should have caught it: a check-digit-valid NPI, an SSN, a name with a DOB.
PHI = {"npi": "1234567893", "ssn": "219-09-9999", "name": "Maria Q Delgado", "dob": "1984-07-19"}


def phi_logged(since: int = -12) -> Shape:
    """Traffic is fine; the app logs at CRITICAL and FATAL (which a filter on ERROR never
    sees), and three lines carry PHI: one at INFO, where no error filter looks."""
    def lines(m: int) -> list[dict]:
        if m < since:
            return []
        out = [{"level": "CRITICAL", "message": "audit writer queue full; dropping audit events", "status": 500},
               {"levelname": "FATAL", "message": "worker cannot reach the KMS key; exiting", "status": 500}]
        if m == since:
            out += [{"level": "INFO", "message": f"credential check for provider NPI {PHI['npi']} ok"},
                    {"level": "WARNING", "message": "identity mismatch", "ssn": PHI["ssn"]},
                    {"level": "ERROR", "message": f"patient_name={PHI['name']} dob={PHI['dob']} not matched"}]
        return out
    return Shape(other_logs=lines)


SHAPES = {"quiet": quiet, "phi_logged": phi_logged, "bad_deploy": bad_deploy, "db_saturation": db_saturation, "tasks_crashing": tasks_crashing}


class Writer:
    """Writes one scenario into the running sandbox (its moto, database and stubs)."""

    def __init__(self, sandbox):
        self.sb = sandbox
        self.world = sandbox.world
        self.now = datetime.now(timezone.utc).replace(second=0, microsecond=0)

    def client(self, service: str):
        from rovn_sandbox.world import _client

        return _client(self.sb.endpoint, self.world["region"], service)

    def ids(self) -> dict:
        return {"load_balancer": self.sb.defaults.get("load_balancer") or LOAD_BALANCER,
                "rds_instance": self.world["rds"]["instance"], "cluster": self.world["ecs"]["cluster"],
                "service": self.world["ecs"]["service"]}

    def telemetry(self, shape: Shape, seed: int) -> None:
        rng = random.Random(seed)
        cw = self.client("cloudwatch")
        for namespace, data in _series(shape, HISTORY_MINUTES, self.now, rng, self.ids()).items():
            for i in range(0, len(data), 500):
                cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 500])
        logs = self.client("logs")
        group, stream = f"/ecs/{self.world['ecs']['family']}", f"api/api/{rng.getrandbits(64):016x}"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = _log_events(shape, HISTORY_MINUTES, self.now, rng)
        for i in range(0, len(events), 5000):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i:i + 5000])
        from rovn_sandbox import alarm_eval

        # The agents published this minute by minute; CloudWatch evaluated each minute of it.
        alarm_eval.replay(self.world["region"], self.at(-HISTORY_MINUTES), self.now)

    def at(self, minute: int) -> datetime:
        return self.now + timedelta(minutes=minute)

    def moto_at(self, minute: int) -> datetime:
        """moto keeps naive UTC times."""
        return self.at(minute).replace(tzinfo=None)

    def alarm(self, name: str, minute: int, reason: str) -> None:
        """SetAlarmState, as an operator may call it, back-dated to `minute` (hostile_strings'
        reason); every other state comes from the data (alarm_eval.py)."""
        from moto.cloudwatch.models import cloudwatch_backends

        self.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)
        alarm = cloudwatch_backends[ACCOUNT][self.world["region"]].alarms[name]
        alarm.state_updated_timestamp = self.moto_at(minute)

    def sentry(self, issues: list[dict]) -> None:
        SENTRY_ISSUES.extend(issues)


def _issue(n: int, title: str, substatus: str, first: datetime, last: datetime, count: int) -> dict:
    return {"id": str(4_200_000 + n), "shortId": f"ROVN-PASSPORT-API-{n:X}", "title": title,
            "culprit": title.split(" in ", 1)[-1] if " in " in title else "", "level": "error",
            "status": "unresolved", "substatus": substatus, "isUnhandled": True,
            "firstSeen": _iso(first), "lastSeen": _iso(last), "count": str(count), "userCount": count // 3,
            "permalink": f"https://sentry.io/organizations/rovn/issues/{4_200_000 + n}/",
            "project": {"slug": "rovn-passport-api", "name": "rovn-passport-api"}}


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _background_issue(w: Writer) -> dict:
    """An old, ongoing issue every project has: not new since any recent deploy."""
    return _issue(1, "ConnectionResetError in integrations.checkr.poll", "ongoing", w.at(-60 * 24 * 9), w.at(-30), 212)


def write_quiet(sb) -> None:
    w = Writer(sb)
    w.telemetry(quiet(), seed=1)
    w.sentry([_background_issue(w)])


def write_phi_logged(sb) -> None:
    w = Writer(sb)
    w.telemetry(phi_logged(), seed=5)
    w.sentry([_background_issue(w)])


CANARY = "rovn-prod-health"


def write_canary_first_run(sb) -> None:
    """A canary created a minute ago, its first check still RUNNING (no Completed)."""
    from rovn_sandbox import synthetics_sim

    w = Writer(sb)
    w.telemetry(quiet(), seed=6)
    w.client("synthetics").create_canary(
        Name=CANARY, Code={"Handler": "index.handler", "S3Bucket": "rovn-canaries", "S3Key": "health.zip"},
        ArtifactS3Location=f"s3://cw-syn-results-{ACCOUNT}-{w.world['region']}/canary/{CANARY}",
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/rovn-canary", Schedule={"Expression": "rate(1 minute)"},
        RuntimeVersion="syn-python-selenium-5.1")
    synthetics_sim.add_run(CANARY, "RUNNING", w.at(0) - timedelta(seconds=20))


def write_single_az(sb) -> None:
    """The service keeps only its first subnet: every task lands in one AZ."""
    svc = _service(Writer(sb))
    net = svc.network_configuration["awsvpcConfiguration"]
    svc.network_configuration = {"awsvpcConfiguration": {**net, "subnets": net["subnets"][:1]}}


def write_tasks_one_az(sb) -> None:
    """The subnets still span two AZs, but every task of the service runs in the first."""
    svc = _service(Writer(sb))
    from rovn_sandbox import ecs_rollout

    svc._one_az = ecs_rollout._zone(svc, 0)


def write_bad_deploy(sb, deploy_minute: int = -20) -> None:
    w = Writer(sb)
    deploy = _deploy(w, deploy_minute)
    _BAD_REVISIONS.add(deploy["new_task_definition"])
    w.telemetry(bad_deploy(deploy_minute), seed=2)
    w.sentry([_background_issue(w),
              _issue(2, "TypeError: 'NoneType' object is not subscriptable in credentials.verify", "new",
                     w.at(deploy_minute + 3), w.at(-1), 860),
              _issue(3, f"KeyError: 'facility_timezone' for {PLANTED['email']} in facilities.search", "regressed",
                     w.at(-60 * 24 * 30), w.at(-1), 290)])
    return deploy


def write_db_saturation(sb) -> None:
    w = Writer(sb)
    w.telemetry(db_saturation(), seed=3)
    w.sentry([_background_issue(w),
              _issue(4, "OperationalError: connection pool exhausted in db.pool.acquire", "escalating",
                     w.at(-60 * 24 * 60), w.at(-1), 1400)])


def write_tasks_crashing(sb) -> None:
    """Revision 289, deployed 9 minutes ago, crashes: from minute -6 its tasks are OOM-killed
    and every replacement exits soon after it starts (the image's fault, image_faults.py),
    so a rollback to 288 brings the tasks and /health back."""
    from rovn_sandbox import image_faults

    w = Writer(sb)
    deploy = _deploy(w, -9, "worker-pool")
    image_faults.crash(deploy["new_image_tag"])
    w.telemetry(tasks_crashing(), seed=4)
    _stop_tasks(w, -6)
    w.sentry([_background_issue(w)])


def write_image_missing(sb) -> None:
    """Revision 289, deployed three hours ago and healthy since, loses its image: an ECR
    lifecycle policy expired the tag 12 minutes ago, then Fargate retired the tasks 5
    minutes ago (platform maintenance, as AWS does) and no replacement can pull the
    image (CannotPullContainerError). A rollback to 288, whose image is there, mends it."""
    w = Writer(sb)
    deploy = _deploy(w, -200, "lifecycle-expired")
    w.client("ecr").batch_delete_image(repositoryName=w.world["ecr"]["repository"],
                                       imageIds=[{"imageTag": deploy["new_image_tag"]}])
    w.telemetry(Shape(running=lambda m: 0 if m >= -5 else 3, error_share=lambda m: 0.0 if m >= -5 else 0.001,
                      elb_error_share=lambda m: 1.0 if m >= -5 else 0.0), seed=5)  # no container, no app log
    _stop_tasks(w, -5, "Task stopped: CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                       f"failed to resolve ref {deploy['new_image']}: not found")
    w.sentry([_background_issue(w)])


def write_canary_failing(sb) -> None:
    """Revision 289, deployed 12 minutes ago, serves requests (the ALB's 5xx rate stays at its
    usual 0.1%) but its /health handler is broken (500): the §5 canary fails while the
    ALB is fine. A rollback to 288 mends /health."""
    from rovn_sandbox import image_faults

    w = Writer(sb)
    deploy = _deploy(w, -12, "health-refactor")
    image_faults.break_health(deploy["new_image_tag"])
    w.telemetry(quiet(), seed=6)
    w.sentry([_background_issue(w)])


def write_slow_query_deploy(sb) -> None:
    """A deploy 20 minutes ago whose new search query scans facility_contacts: RDS CPU at 95%
    from 3 minutes after it (the §5 RDS alarm), connections climbing, then 5xx. The database
    is the symptom, the deploy the cause (it came first): a rollback to 288 mends it."""
    w = Writer(sb)
    _BAD_REVISIONS.add(_deploy(w, -20, "facility-search-v2")["new_task_definition"])
    w.telemetry(db_saturation(-17), seed=8)
    w.sentry([_background_issue(w)])


def phi_line() -> dict:
    """What revision 289's intake debug logging writes per request: an INFO line with a
    provider's NPI and a patient's name and date of birth, unscrubbed (§5 scrubs PHI
    before write; this line was not)."""
    return {"level": "INFO", "message": f"intake accepted: provider NPI {PHI['npi']}",
            "patient": f"patient_name={PHI['name']} dob={PHI['dob']}"}


def write_phi_deploy(sb) -> None:
    """A deploy 10 minutes ago turned on request-body logging in the intake path: from 2
    minutes after it each request's INFO line carries PHI (phi_line). Traffic is fine, no
    alarm fires. The cause is the deploy's code, so the rollback to 288 ends it: from the
    rollback on, the tasks log scrubbed lines (rollout_completed)."""
    w = Writer(sb)
    _PHI_REVISIONS.add(_deploy(w, -10, "intake-debug-logging")["new_task_definition"])
    w.telemetry(Shape(other_logs=lambda m: [phi_line()] * 2 if m >= -8 else []), seed=9)
    w.sentry([_background_issue(w)])


EXPOSED_SECRET = "rovn/prod/db-master"


def write_secret_exposed(sb) -> None:
    """§8's drift monitoring fired 6 minutes ago: IAM user contractor-export, on no
    allow-list, was given an inline policy reading the database master secret, and the
    scheduled secrets_audit wrote its `secrets_drift` row (as it writes it). Traffic is
    fine. §6: a suspected security incident, P0. The value may have been read, so the
    remedy is rotating that secret (secret_rotation retires the exposed version); the
    grant is removed in IAM afterwards."""
    from rovn_ops.audit import log as audit
    import psycopg

    w = Writer(sb)
    iam, sm = w.client("iam"), w.client("secretsmanager")
    arn = sm.describe_secret(SecretId=EXPOSED_SECRET)["ARN"]
    user = iam.create_user(UserName="contractor-export")["User"]
    iam.put_user_policy(UserName="contractor-export", PolicyName="export-db", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                "Resource": arn}]}))
    with psycopg.connect(w.sb.admin_db_url, autocommit=True) as conn:
        audit.append(conn, actor=f"arn:aws:iam::{ACCOUNT}:user/claude-deploy", action="secrets_drift",
                     target="user/contractor-export", outcome="deviation",
                     run_id=w.at(-6).strftime("%Y%m%dT%H%M%SZ") + "-secrets_audit-scenario",
                     details={"at": w.at(-6).isoformat(), "policy": "export-db", "via": "inline", "arn": user["Arn"],
                              "secrets": [EXPOSED_SECRET], "condition": "", "sandbox_history": True})
    w.telemetry(quiet(), seed=10)
    w.sentry([_background_issue(w)])


SHIFT_SLOT_KEY = ("0013_shift_requests_slot_key.sql",
                  "CREATE UNIQUE INDEX IF NOT EXISTS shift_requests_slot_key ON shift_requests "
                  "(facility_id, starts_at, role);\n")


def write_bad_deploy_migration(sb) -> None:
    """bad_deploy, whose deploy also ran a migration the older image cannot be trusted on
    (a UNIQUE index: its INSERTs may be rejected), as the deploy runbook applies it. §7's
    path: reverse the migration, then roll back."""
    w = Writer(sb)
    _BAD_REVISIONS.add(_deploy(w, -20, "shift-dedupe", migrations=[SHIFT_SLOT_KEY])["new_task_definition"])
    w.telemetry(bad_deploy(-20), seed=7)
    w.sentry([_background_issue(w)])


def _migrate(w: Writer, migrations: list[tuple[str, str]], run_id: str) -> list[str]:
    """The deploy's migrations: committed and pushed in the source checkout (the release
    shipped them), then applied through the engine as the deploy applies them."""
    from rovn_ops.migrations import engine, phi
    from rovn_ops.core import paths
    from rovn_sandbox import github
    import psycopg

    for name, sql in migrations:
        (w.sb.migrations_dir / name).write_text(sql)
    github.git(w.sb.source_dir, "add", "-A")
    github.git(w.sb.source_dir, "commit", "-q", "-m", "release: " + ", ".join(n for n, _ in migrations))
    github.git(w.sb.source_dir, "push", "-q", "origin", "main")
    actor = engine.Actor(f"arn:aws:iam::{ACCOUNT}:user/claude-deploy", "sandbox-scenario", run_id)
    with psycopg.connect(w.sb.admin_db_url, autocommit=True) as conn:
        done = engine.apply(conn, w.sb.migrations_dir, actor=actor, approvers=["giles"],
                            registry=phi.load_registry(paths.project_path(w.sb.defaults["phi_registry"])))
    return done.names


def _deploy(w: Writer, minute: int, suffix: str = "credential-verify",
            migrations: list[tuple[str, str]] = ()) -> dict:
    """A deploy as the deploy runbook leaves it: its migrations applied, a new revision
    rolled out in ECS (through the rollout simulator), its image in ECR, and its
    audit_log row."""
    from rovn_ops.audit import log as audit
    from rovn_sandbox.image_config import manifest as image_manifest
    import psycopg

    ecs_spec, region = w.world["ecs"], w.world["region"]
    ecs = w.client("ecs")
    current = ecs.describe_services(cluster=ecs_spec["cluster"], services=[ecs_spec["service"]])["services"][0]
    previous = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    tag = "prod-" + w.at(minute).strftime("%Y%m%d%H%M%S") + f"-{suffix}"
    w.client("ecr").put_image(repositoryName=w.world["ecr"]["repository"], imageTag=tag,
                              imageManifest=image_manifest(tag))
    spec = {k: previous[k] for k in ("family", "networkMode", "requiresCompatibilities", "cpu", "memory",
                                     "executionRoleArn", "taskRoleArn", "volumes", "containerDefinitions")}
    old_image = spec["containerDefinitions"][0]["image"]
    spec["containerDefinitions"][0]["image"] = old_image.rsplit(":", 1)[0] + ":" + tag
    new = ecs.register_task_definition(**spec)["taskDefinition"]
    events_before = len(_service(w).events)
    ecs.update_service(cluster=ecs_spec["cluster"], service=ecs_spec["service"],
                       taskDefinition=new["taskDefinitionArn"])
    from rovn_sandbox import clock, ecs_rollout

    with ecs_rollout._lock:  # history: the rollout ran to its end 20 minutes ago
        since = clock.now()
        ecs_rollout.run_to_end(_service(w))
    _backdate_service(w, minute, len(_service(w).events) - events_before, since)
    run_id = w.at(minute).strftime("%Y%m%dT%H%M%SZ") + "-deploy-scenario"
    details = {"at": w.at(minute).isoformat(), "previous_task_definition": previous["taskDefinitionArn"],
               "previous_image_tag": old_image.rsplit(":", 1)[-1], "new_task_definition": new["taskDefinitionArn"],
               "new_image_tag": tag, "migrations": _migrate(w, list(migrations), run_id) if migrations else [],
               "approvers": ["giles"], "sandbox_history": True}
    with psycopg.connect(w.sb.admin_db_url, autocommit=True) as conn:
        audit.append(conn, actor=f"arn:aws:iam::{ACCOUNT}:user/claude-deploy", action="deploy",
                     target=ecs_spec["service"], outcome="success", run_id=run_id, details=details)
    return details | {"new_image": spec["containerDefinitions"][0]["image"]}


def _live_tag(w: Writer) -> str:
    """The image tag of the revision the service runs now."""
    from moto.ecs.models import ecs_backends

    td = ecs_backends[ACCOUNT][w.world["region"]].describe_task_definition(_service(w).task_definition)
    return td.container_definitions[0]["image"].rsplit(":", 1)[-1]


def _service(w: Writer):
    from moto.ecs.models import ecs_backends

    spec = w.world["ecs"]
    return ecs_backends[ACCOUNT][w.world["region"]].services[f"{spec['cluster']}:{spec['service']}"]


def _backdate_service(w: Writer, minute: int, new_events: int, since: float) -> None:
    """The rollout ran at `minute`: its deployment, its events and the tasks it drained (on
    the sandbox clock, from `since` on) carry that time, so those tasks left the target
    group long ago rather than draining now."""
    from rovn_sandbox import ecs_rollout

    with ecs_rollout._lock:
        svc = _service(w)
        when = w.moto_at(minute)
        for dep in svc.deployments:
            dep["createdAt"] = dep["updatedAt"] = when
        for dep in list(svc.deployments) + getattr(svc, "_history", []):
            dep["_drained"] = [(t + 60 * minute, when, by) if t >= since else (t, at, by)
                               for t, at, by in dep.get("_drained", [])]
        for i, e in enumerate(reversed(svc.events[:new_events])):
            e["createdAt"] = when + timedelta(seconds=20 * i)


def _stop_tasks(w: Writer, minute: int, why: str = "Essential container in task exited "
                                                 "(exit code 137, OutOfMemoryError: container killed).") -> None:
    """Every task of the service stops, and (the image's fault) no replacement stays up."""
    from rovn_sandbox import ecs_rollout

    with ecs_rollout._lock:
        svc = _service(w)
        ecs_rollout.crash_running(svc, why, w.moto_at(minute))  # the scheduler's replacements follow
        for i, stopped in enumerate((3, 3, 3)):
            ecs_rollout._event(svc, f"has stopped {stopped} running tasks: {why}")
            svc.events[0]["createdAt"] = w.moto_at(minute + 2 * i)


def write_hostile_strings(sb) -> None:
    """tasks_crashing (a P0, so a post-mortem is drafted), every string from the world hostile:
    error log lines, Sentry titles, an alarm's reason and an ECS service event."""
    from rovn_sandbox import ecs_rollout, image_faults

    w = Writer(sb)
    image_faults.crash(_live_tag(w))  # the running revision crashes, so the service stays down
    shape = tasks_crashing()
    shape.error_logs = lambda m: list(HOSTILE) if -8 <= m < -6 else []
    w.telemetry(shape, seed=5)
    _stop_tasks(w, -6)
    with ecs_rollout._lock:
        ecs_rollout._event(_service(w), "has stopped 1 running tasks: " + HOSTILE[0])
    w.alarm("rovn-prod-ecs-running-below-desired", -5, HOSTILE[3])
    w.sentry([_issue(16 + i, f"{t} in app.views", "new", w.at(-30), w.at(-1), 40 + i) for i, t in enumerate(HOSTILE)])


WRITERS = {"quiet": write_quiet, "phi_logged": write_phi_logged, "canary_first_run": write_canary_first_run,
           "single_az": write_single_az, "tasks_one_az": write_tasks_one_az, "bad_deploy": write_bad_deploy, "db_saturation": write_db_saturation,
           "tasks_crashing": write_tasks_crashing, "hostile_strings": write_hostile_strings,
           "image_missing": write_image_missing, "canary_failing": write_canary_failing,
           "bad_deploy_migration": write_bad_deploy_migration, "slow_query_deploy": write_slow_query_deploy,
           "phi_deploy": write_phi_deploy, "secret_exposed": write_secret_exposed}


_LIVE: dict = {}  # the sandbox whose incidents' telemetry follows its service



def install(sandbox) -> None:
    """Switching an incident scenario on writes it into this sandbox's world."""
    from rovn_sandbox import ecs_rollout, scenarios

    _LIVE["sandbox"] = sandbox
    ecs_rollout.on_rollout_completed(__name__, rollout_completed)
    for name, write in WRITERS.items():
        scenarios.on_activate(name, lambda write=write: write(sandbox))


def rollout_completed(svc) -> None:
    """While an incident is on, the telemetry follows the service, as the agents publish it:
    when a rollout completes (a rollback, a hotfix) its tasks serve, so this minute's
    Container Insights counts and the ALB's requests are published, with the 5xx share of
    the revision now serving (the bad deploy's 4%, else none), or, with no task running,
    the load balancer's own 503 for every request. The bake and a later
    triage read them. Called by the ECS simulator, inside moto."""
    from moto.cloudwatch.models import cloudwatch_backends

    from rovn_sandbox import scenarios

    sb = _LIVE.get("sandbox")
    if sb is None or not set(scenarios.current()) & set(WRITERS):
        return
    from rovn_sandbox import clock, ecs_rollout

    # stamped at the step's own instant (one clock with the alarms' evaluations), not the catch-up's
    ids = Writer.ids(SimpleNamespace(sb=sb, world=sb.world))
    now = clock.wall_at(ecs_rollout._when()).replace(tzinfo=None)
    requests = REQUESTS_PER_MINUTE
    share = 0.04 if svc.task_definition in _BAD_REVISIONS else 0.0  # a healthy minute: none to speak of
    put = cloudwatch_backends[ACCOUNT][sb.world["region"]].put_metric_data
    ecs = [{"Name": "ClusterName", "Value": ids["cluster"]}, {"Name": "ServiceName", "Value": ids["service"]}]
    alb = [{"Name": "LoadBalancer", "Value": ids["load_balancer"]}]
    put("ECS/ContainerInsights", [{"MetricName": "RunningTaskCount", "Value": svc.running_count, "Timestamp": now,
                                   "Dimensions": ecs},
                                  {"MetricName": "DesiredTaskCount", "Value": svc.desired_count, "Timestamp": now,
                                   "Dimensions": ecs}])
    # No task up: the load balancer answers every request 503 itself (its own 5xx, the targets'
    # none); each 5xx count is reported only when nonzero, as ELB publishes them.
    counts = {"RequestCount": requests, "HTTPCode_Target_5XX_Count": round(requests * share) if svc.running_count else 0,
              "HTTPCode_ELB_5XX_Count": 0 if svc.running_count else requests}
    put("AWS/ApplicationELB", [{"MetricName": name, "Value": value, "Timestamp": now, "Dimensions": alb}
                               for name, value in counts.items() if value or name == "RequestCount"])
    _serving_log(sb, svc, now)


def _serving_log(sb, svc, now) -> None:
    """This minute's request line from the revision now serving, as its tasks write it:
    with PHI if its code logs PHI (phi_deploy's 289), scrubbed otherwise. A drill reads
    the lines after its remedy to see the exposure ended."""
    from moto.logs.models import logs_backends

    logs = logs_backends[ACCOUNT][sb.world["region"]]
    group = f"/ecs/{sb.world['ecs']['family']}"
    if group not in logs.groups:
        return
    stream = "api/api/serving-" + svc.task_definition.rsplit("/", 1)[-1].replace(":", "-")
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    body = phi_line() if svc.task_definition in _PHI_REVISIONS else {
        "level": "INFO", "message": "intake accepted", "status": 200}
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)  # moto's utcnow is naive UTC
    logs.put_log_events(group, stream, [{"timestamp": int(at.timestamp() * 1000), "message": json.dumps(body)}])


_BAD_REVISIONS: set[str] = set()  # task definitions whose code returns 5xx (bad_deploy's)
_PHI_REVISIONS: set[str] = set()  # task definitions whose code logs PHI (phi_deploy's)


def clear() -> None:
    from rovn_sandbox import synthetics_sim

    SENTRY_ISSUES.clear()
    synthetics_sim.RUNS.clear()
    _BAD_REVISIONS.clear()
    _PHI_REVISIONS.clear()
