"""The triage library's judgement, on made-up findings: business hours, sustained
thresholds, the rate computed client-side, the classification rules, what the
timeline points at, scrubbing, Sentry's new/regressed split, the sandbox's
CloudWatch percentile and alarm history."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pandas as pd
import pytest

from rovn_ops.safety import personal_data
from rovn_ops.safety.params import TriageParams
from rovn_ops.ecs.service import Health
from rovn_ops.triage import classify, correlate, metrics, sentry
from rovn_ops.triage.changes import Change
from rovn_ops.triage.gather import Findings
from rovn_ops.triage.window import BusinessHours, Window

END = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)  # a Friday, 09:00 in Chicago
WINDOW = Window.of(60, now=END)


def _params(**kw) -> TriageParams:
    return TriageParams(env="sandbox", **kw)


def _findings(*, error=None, cpu=None, running=3, health_ok=True, changes=(), alarms=()) -> Findings:
    raw = {"requests": ([], []), "target_5xx": ([], []), "rds_cpu_pct": ([], []), "ecs_running": ([], [])}
    for m in range(60):
        at = WINDOW.start + timedelta(minutes=m)
        raw["requests"][0].append(at)
        raw["requests"][1].append(1000)
        raw["target_5xx"][0].append(at)
        raw["target_5xx"][1].append(10 * (error(m - 60) if error else 0.1))  # error(minute) in percent
        raw["rds_cpu_pct"][0].append(at)
        raw["rds_cpu_pct"][1].append(cpu(m - 60) if cpu else 30)
        raw["ecs_running"][0].append(at)
        raw["ecs_running"][1].append(running)
    f = Findings(WINDOW, END)
    f.metrics = metrics.frame(raw, WINDOW)
    f.service = {"desiredCount": 3, "runningCount": running, "deployments": []}
    f.health, f.health_source = Health("http://h/health", health_ok, 200 if health_ok else 503, "t", ""), "/health"
    f.changes, f.alarms = list(changes), list(alarms)
    return f


def _deploy(minute: int, migrations=()) -> Change:
    return Change(7, END + timedelta(minutes=minute), "deploy", "rovn-passport-api", "success", "run-7", {
        "previous_task_definition": "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:288",
        "new_task_definition": "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:289",
        "new_image_tag": "prod-20261127144000-x", "previous_image_tag": "prod-old", "migrations": list(migrations)})


def test_business_hours_and_the_next_morning():
    hours = BusinessHours.of("09:00-18:00", ["Mon", "Tue", "Wed", "Thu", "Fri"], "America/Chicago")
    assert hours.is_open(END) and not hours.is_open(END - timedelta(minutes=1))
    saturday_night = datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc)  # Sat 22:00 Chicago
    assert hours.next_open(saturday_night) == datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
    assert BusinessHours.of("00:00-24:00", ["Sun"], "UTC").is_open(datetime(2026, 11, 29, 23, 59, tzinfo=timezone.utc))
    assert BusinessHours.of("09:00-18:00", [], "UTC").next_open(END) is None


def test_rate_is_computed_per_minute_and_sustained_runs_are_found():
    f = _findings(error=lambda m: 4.0 if m >= -17 else 0.1)
    assert f.metrics["error_rate_pct"].iloc[-1] == pytest.approx(4.0)
    [(start, _, length)] = metrics.sustained(f.metrics["error_rate_pct"] > 1, 5)
    assert start == END - timedelta(minutes=17) and length == 17
    assert metrics.sustained(pd.Series([True] * 4 + [False] + [True] * 4), 5) == []


def test_a_missing_minute_is_nan_not_zero():
    raw = {"requests": ([WINDOW.start], [5.0]), "target_5xx": ([WINDOW.start], [1.0])}
    df = metrics.frame(raw, WINDOW)
    assert len(df) == 60 and df["error_rate_pct"].iloc[0] == pytest.approx(20) and df["requests"].isna().sum() == 59


@pytest.mark.parametrize("kw, severity, words", [
    ({}, "none", "no signal"),
    ({"error": lambda m: 4.0 if m >= -17 else 0.1}, "P1", "5xx above 1%"),
    ({"error": lambda m: 4.0 if m >= -4 else 0.1}, "none", "no signal"),  # not yet sustained 5 minutes
    ({"error": lambda m: 60.0 if m >= -10 else 0.1}, "P0", "outage"),
    ({"cpu": lambda m: 95 if m >= -15 else 30}, "P1", "RDS CPU above 85%"),
    ({"running": 0}, "P0", "0 of 3 tasks"),
    ({"running": 2}, "P1", "2 of 3 tasks"),
    ({"health_ok": False}, "P0", "/health fails"),
])
def test_classification_rules(kw, severity, words):
    v = classify.classify(_params(), _findings(**kw))
    assert v.severity == severity and words in v.rule


@pytest.mark.parametrize("flag", ["suspected_phi_exposure", "suspected_security_incident", "data_integrity_concern"])
def test_a_human_flag_forces_p0(flag):
    v = classify.classify(_params(**{flag: True}), _findings())
    assert v.severity == "P0" and "a human reported" in v.rule


def test_an_alarm_in_alarm_alone_is_p1():
    alarm = {"AlarmName": "rovn-prod-x", "StateValue": "ALARM", "StateReason": "r", "Namespace": "Custom",
             "StateUpdatedTimestamp": END - timedelta(minutes=3)}
    v = classify.classify(_params(), _findings(alarms=[alarm]))
    assert v.severity == "P1" and "rovn-prod-x" in v.rule


def _story(f, **kw):
    p = _params(**kw)
    return correlate.correlate(SimpleNamespace(params=p), f, classify.classify(p, f))


def test_errors_after_a_deploy_name_it_and_print_its_rollback():
    story = _story(_findings(error=lambda m: 4.0 if m >= -17 else 0.1, changes=[_deploy(-20)]))
    assert story.suspect == "deploy" and story.rollback_suggested and "3 min after" in story.explanation
    assert story.commands == ["rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288"]


def test_a_deploy_that_ran_migrations_gets_the_section_7_path():
    story = _story(_findings(error=lambda m: 4.0 if m >= -17 else 0.1,
                             changes=[_deploy(-20, ["0013_a.sql", "0014_b.sql"])]))
    assert story.commands == [
        "rovn-ops run migration_reversal --env sandbox -p migration=0014_b.sql",
        "rovn-ops run migration_reversal --env sandbox -p migration=0013_a.sql",
        "rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288"]  # a parameter rollback has
    assert "never roll back the task first" in story.explanation


def _rolled_back(minute: int) -> Change:
    return Change(9, END + timedelta(minutes=minute), "rollback", "rovn-passport-api", "success", "run-9", {
        "from_task_definition": "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:289",
        "to_task_definition": "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:288"})


def test_a_rollback_that_already_ran_is_never_recommended_again():
    """Issue 21: 75 s after a successful rollback triage still printed `rollback … :288`."""
    f = _findings(error=lambda m: 4.0 if m >= -17 else 0.1, changes=[_deploy(-20), _rolled_back(-1)])
    f.service["taskDefinition"] = "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:288"
    story = _story(f)
    assert story.suspect == "deploy" and not story.rollback_suggested
    assert not any("rollback" in c for c in story.commands) and "Already undone" in story.explanation
    assert story.commands == ["rovn-ops run incident_triage --env sandbox"]  # recovered: confirm, then write up
    f.health = Health("http://h/health", False, 503, None, "")  # not recovered: no command to loop on either
    assert _story(f).commands == [] and "still unhealthy" in _story(f).explanation


@pytest.mark.parametrize("kw", [
    {"error": lambda m: 2.0 if m >= -12 else 0.1, "cpu": lambda m: 95 if m >= -15 else 30},  # database
    {"running": 0}, {"error": lambda m: 4.0 if m >= -17 else 0.1}, {"health_ok": False}])  # tasks, unknown
def test_triage_never_sends_on_call_to_service_status(kw):
    """service_status points at incident_triage whenever something is wrong: the two must not loop."""
    story = _story(_findings(**kw))
    assert story.suspect in ("database", "tasks", "unknown")
    assert not any("service_status" in c for c in story.commands) and story.next_step


def test_the_verdict_in_one_line():
    from rovn_ops.triage import report

    p = _params()
    f = _findings(running=0, changes=[_deploy(-62)])  # the tasks stopped from the window's start
    f.service["taskDefinition"] = "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:289"
    v = classify.classify(p, f)
    assert report.line(v, correlate.correlate(SimpleNamespace(params=p), f, v)) == (
        "P0 · 0 of 3 tasks running · next: rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288")
    quiet = classify.classify(p, _findings())
    assert report.line(quiet, correlate.correlate(SimpleNamespace(params=p), _findings(), quiet)) == \
        "No incident · next: nothing"


def test_a_deploy_long_before_the_errors_is_not_blamed():
    story = _story(_findings(error=lambda m: 4.0 if m >= -17 else 0.1, changes=[_deploy(-50)]))
    assert story.suspect == "unknown" and not story.rollback_suggested


def test_a_database_that_leads_is_named_and_nothing_rolls_back():
    story = _story(_findings(error=lambda m: 2.0 if m >= -12 else 0.1, cpu=lambda m: 95 if m >= -15 else 30,
                             changes=[_deploy(-50)]))
    assert story.suspect == "database" and not any("rollback" in c for c in story.commands)


def test_personal_data_and_credentials_are_redacted_but_ids_survive():
    line = ("user ana.ruiz@example.org called (512) 555-0142, ssn 123-45-6789, api_key=sk_abc123, "
            "Authorization: Bearer abcdefghijklmnopqrstuvwxyz, tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0 "
            "in INC-20261127-0749-rovn-passport-api run 20261127T074914Z-incident_triage-eafd49")
    out = personal_data.redact(line)
    for planted in ("ana.ruiz", "555-0142", "123-45-6789", "sk_abc123", "abcdefghijklmnop", "9f8e7d6c5b4a"):
        assert planted not in out
    assert "[REDACTED:email]" in out and "[REDACTED:phone]" in out and "[REDACTED:ssn]" in out
    assert "INC-20261127-0749-rovn-passport-api" in out and "20261127T074914Z-incident_triage-eafd49" in out


@pytest.mark.parametrize("planted, line", [
    ("987654321", "lookup failed for ssn=987654321"),
    ("123 45 6780", "ssn 123 45 6780 rejected"),
    ("7946 0958", "callback to +44 20 7946 0958 failed"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "auth AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("John Q Public", "patient John Q Public DOB 1980-02-03 not found"),
    ("1980-02-03", "patient John Q Public DOB 1980-02-03 not found"),
    ("Jane Doe", '{"name": "Jane Doe", "level": "error"}'),
    ("1 Main St", "address=1 Main St, zip 78701"),
])
def test_more_forms_of_personal_data_are_redacted(planted, line):
    assert planted not in personal_data.redact(line)


def test_plain_words_and_ids_stay_readable():
    line = "invalid name given for table workers; GET /v1/workers/123 took 250 ms at 2026-11-27T07:49:14Z"
    assert personal_data.redact(line) == line


def test_sentry_new_and_regressed_since_the_deploy():
    since = END - timedelta(minutes=20)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    raw = [{"id": "1", "shortId": "A-1", "title": "old", "substatus": "ongoing", "firstSeen": iso(END - timedelta(days=9)),
            "lastSeen": iso(END), "count": "5"},
           {"id": "2", "shortId": "A-2", "title": "new for bob@example.org", "substatus": "new",
            "firstSeen": iso(since + timedelta(minutes=3)), "lastSeen": iso(END), "count": "80"},
           {"id": "3", "shortId": "A-3", "title": "back", "substatus": "regressed",
            "firstSeen": iso(END - timedelta(days=30)), "lastSeen": iso(END), "count": "9"}]
    issues = sentry.classify(raw, since)
    assert [(i.short_id, i.kind) for i in issues] == [("A-3", "regressed"), ("A-2", "new")]
    assert "bob@" not in issues[1].title


def test_sandbox_percentile_and_alarm_history():
    from rovn_sandbox import cloudwatch_sim

    assert cloudwatch_sim.percentile([0.04] * 6 + [0.08] * 8 + [0.15] * 4 + [0.3, 0.9], 95) == 0.3
    assert cloudwatch_sim.percentile([], 95) is None
    t0, t1 = datetime(2026, 11, 27, 1), datetime(2026, 11, 27, 2)
    alarm = SimpleNamespace(name="a", history=[("StateUpdate", "seed", "{}", "OK", t0)],
                            state_value="ALARM", state_reason="crossed", state_updated_timestamp=t1)
    [item] = cloudwatch_sim.alarm_history(alarm)
    assert item["HistorySummary"] == "Alarm updated from OK to ALARM" and item["Timestamp"].hour == 2


def _notify_ctx(**kw):
    return SimpleNamespace(params=_params(**kw), env="sandbox", run_id="run-1", webhook=lambda name: f"http://{name}")


def _sent(monkeypatch) -> list:
    from rovn_ops.audit import notify as notifier

    calls = []
    monkeypatch.setattr(notifier, "slack", lambda url, text, **kw: calls.append(("slack", text)) or
                        notifier.Delivery("slack", True, 1))
    monkeypatch.setattr(notifier, "pagerduty", lambda url, summary, **kw: calls.append(("pagerduty", kw)) or
                        notifier.Delivery("pagerduty", True, 1))
    return calls


def _verdict(severity: str):
    return classify.Verdict(severity, "rule", (classify.Signal(severity, "errors", "rule", END),))


def test_one_page_per_incident_but_an_escalation_posts_again(monkeypatch):
    from rovn_ops.triage import notify
    from rovn_ops.triage.window import BusinessHours

    calls = _sent(monkeypatch)
    story = correlate.Story([], "deploy", "x")
    hours = BusinessHours.of("09:00-18:00", ["Fri"], "America/Chicago")
    p1_row = {"severity": "P1", "notifications": {"slack": {"status": "delivered", "at": "t"}}}
    inc = notify.Incident("INC-1", END, True, [p1_row])
    n = notify.send(_notify_ctx(), _verdict("P0"), story, inc, hours, now=END)
    assert [c[0] for c in calls] == ["pagerduty", "slack"]  # escalated: the P1 post does not stand for P0
    assert calls[0][1]["dedup_key"] == "rovn-INC-1"
    p0_row = {"severity": "P0", "notifications": n.channels}
    calls.clear()
    again = notify.send(_notify_ctx(), _verdict("P0"), story, notify.Incident("INC-1", END, True, [p1_row, p0_row]),
                        hours, now=END)
    assert calls == [] and {c["status"] for c in again.channels.values()} == {"already delivered"}


def test_p1_is_queued_outside_business_hours_and_posted_by_the_next_run_inside(monkeypatch):
    from rovn_ops.triage import notify
    from rovn_ops.triage.window import BusinessHours

    calls = _sent(monkeypatch)
    story = correlate.Story([], "database", "x")
    hours = BusinessHours.of("09:00-18:00", ["Fri"], "America/Chicago")
    night = END - timedelta(hours=10)  # Thursday 23:00 in Chicago
    queued = notify.send(_notify_ctx(), _verdict("P1"), story, notify.Incident("INC-2", night, False, []), hours,
                         now=night)
    assert calls == [] and queued.channels["slack"]["status"] == "queued"
    assert "2026-11-27 15:00 UTC" in queued.channels["slack"]["detail"]
    morning = notify.send(_notify_ctx(), _verdict("P1"), story, notify.Incident(
        "INC-2", night, True, [{"severity": "P1", "notifications": queued.channels}]), hours, now=END)
    assert morning.channels["slack"]["status"] == "delivered" and "queued overnight" in calls[0][1]
    assert "pagerduty" not in morning.channels  # P1 never pages


def test_a_secrets_drift_row_is_a_security_incident_until_that_secret_is_rotated_after_it():
    """§6 P0 suspected security incident: secrets_audit's secrets_drift row. Only a
    successful rotation of that secret after the row retires it; a rotation before it, a
    failed one, or one of another secret does not."""
    from datetime import datetime, timedelta, timezone

    from rovn_ops.triage import classify
    from rovn_ops.triage.changes import Change

    t = datetime(2026, 12, 7, 5, tzinfo=timezone.utc)
    drift = Change(1, t, "secrets_drift", "user/x", "deviation", "r1", {"secrets": ["a", "b"]})
    rotation = lambda at, name, outcome="success": Change(2, at, "secret_rotation", name, outcome, "r2")  # noqa: E731
    assert set(classify.exposed([drift])) == {"a", "b"}
    assert set(classify.exposed([rotation(t - timedelta(minutes=1), "a"), drift])) == {"a", "b"}
    assert set(classify.exposed([drift, rotation(t + timedelta(minutes=1), "a", "failed")])) == {"a", "b"}
    assert set(classify.exposed([drift, rotation(t + timedelta(minutes=1), "a")])) == {"b"}
    [signal] = classify._security([drift, rotation(t + timedelta(minutes=1), "a")])
    assert signal.severity == "P0" and signal.kind == "security" and "user/x can read b" in signal.rule
