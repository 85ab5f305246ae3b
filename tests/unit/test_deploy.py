"""The deploy library's rules, without a rollout: §9 source hygiene, §8/§9 task
definition rules, the revision's diff, the rollout's judgement, the scan gate."""
from __future__ import annotations

import pytest

from rovn_ops.ecs import image, rollout, taskdef
from rovn_ops.deploy import source
from rovn_ops.safety.params import IMAGE_TAG
from tests.conftest import ROOT

SAMPLE = ROOT / "lib/rovn_sandbox/source"
DIGEST = "@sha256:" + "a" * 64


def _hygiene(tmp_path, dockerfile: str, lock: str | None = "fastapi==0.115.4\n") -> dict:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    if lock is not None:
        (tmp_path / "requirements.lock").write_text(lock)
    return source.Source.open(str(tmp_path)).hygiene()


def test_the_sample_source_passes():
    assert source.Source.open(str(SAMPLE)).hygiene() == {
        "base image pinned by digest": [], "non-root USER": [], "lockfile committed": []}


@pytest.mark.parametrize("dockerfile, check, expected", [
    ("FROM python:3.11-slim\nUSER 10001\n", "base image pinned by digest", "not pinned by digest"),
    (f"FROM python:3.11-slim{DIGEST} AS b\nFROM alpine:3\nUSER 1\n", "base image pinned by digest", "FROM alpine:3"),
    (f"FROM node:20{DIGEST}\nUSER 1\n", "base image pinned by digest", "expected python:3.11-slim"),
    (f"FROM python:3.11-slim{DIGEST}\nRUN true\n", "non-root USER", "sets no USER"),
    (f"FROM python:3.11-slim{DIGEST}\nUSER root\n", "non-root USER", "USER root"),
    (f"FROM python:3.11-slim{DIGEST}\nUSER 0:0\n", "non-root USER", "USER 0:0"),
    # a USER in the build stage does not cover the final one
    (f"FROM python:3.11-slim{DIGEST} AS build\nUSER 1\nFROM build\n", "non-root USER", "sets no USER"),
])
def test_dockerfile_rules(tmp_path, dockerfile, check, expected):
    found = _hygiene(tmp_path, dockerfile)[check]
    assert found and expected in found[0]


def test_from_an_earlier_stage_and_continuations_pass(tmp_path):
    df = f"FROM python:3.11-slim{DIGEST} \\\n    AS base\nFROM base\nUSER \\\n  10001\n"
    assert _hygiene(tmp_path, df) == {"base image pinned by digest": [], "non-root USER": [],
                                      "lockfile committed": []}


def test_lockfile_rules(tmp_path):
    df = f"FROM python:3.11-slim{DIGEST}\nUSER 1\n"
    assert "no dependency lockfile" in _hygiene(tmp_path, df, lock=None)["lockfile committed"][0]
    assert "fastapi" in _hygiene(tmp_path, df, lock="fastapi>=0.1\n")["lockfile committed"][0]


def test_the_source_zip_is_deterministic(tmp_path):
    a = source.Source.open(str(SAMPLE))
    b = source.Source(a.given)
    assert a.sha256 == b.sha256
    zipped = tmp_path / "src.zip"
    zipped.write_bytes(a.archive)
    z = source.Source.open(str(zipped))
    assert z.sha256 == a.sha256 and z.hygiene()["non-root USER"] == []


def _td(**container) -> taskdef.TaskDefinition:
    app = {"name": "api", "image": "r/rovn:prod-20260101000000", "essential": True, "user": "10001",
           "readonlyRootFilesystem": True, "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
           "environment": [{"name": "PORT", "value": "8000"}],
           "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:us-east-2:123456789012:secret:db-AbCdEf"}]}
    app.update(container)
    return taskdef.TaskDefinition("arn:aws:ecs:us-east-2:1:task-definition/rovn:288",
                                  {"family": "rovn", "cpu": "1024", "memory": "2048", "requiresCompatibilities": ["FARGATE"],
                                   "volumes": [{"name": "tmp"}], "containerDefinitions": [app]}, {})


def test_render_changes_only_the_image_unless_asked():
    current = _td()
    spec = taskdef.render(current, "r/rovn:prod-20260202000000")
    assert taskdef.diff(current.spec, spec) == {
        "containerDefinitions[api].image": ["r/rovn:prod-20260101000000", "r/rovn:prod-20260202000000"]}
    spec = taskdef.render(current, current.image, cpu="512", set_env={"LOG_LEVEL": "debug"})
    assert taskdef.diff(current.spec, spec) == {"cpu": ["1024", "512"],
                                                "containerDefinitions[api].environment[LOG_LEVEL]": [None, "debug"]}
    assert spec["containerDefinitions"][0]["secrets"] == current.spec["containerDefinitions"][0]["secrets"]


@pytest.mark.parametrize("container, check", [
    ({"user": None}, "non-root user"),
    ({"user": "0"}, "non-root user"),
    ({"readonlyRootFilesystem": False}, taskdef.READ_ONLY_ROOT),
    ({"mountPoints": []}, taskdef.READ_ONLY_ROOT),
    ({"secrets": [{"name": "DB", "valueFrom": "postgres://x"}]}, "secrets only as Secrets Manager references"),
    ({"environment": [{"name": "STRIPE_API_KEY", "value": "x"}]}, "no secret-looking environment value"),
    ({"environment": [{"name": "URL", "value": "postgres://rovn:hunter22@db/rovn"}]},
     "no secret-looking environment value"),
])
def test_task_definition_rules(container, check):
    spec = _td(**container).spec
    if container.get("user", "") is None:
        spec["containerDefinitions"][0].pop("user")
    found = taskdef.problems(spec)
    assert found[check] and all(not v for k, v in found.items() if k != check)


def test_the_good_task_definition_passes():
    assert not any(taskdef.problems(_td().spec).values())


def _dep(id_, status, rollout_state, td="rovn:289", reason=""):
    return {"id": id_, "status": status, "rolloutState": rollout_state, "taskDefinition": f"x/{td}",
            "runningCount": 3, "desiredCount": 3, "pendingCount": 0, "rolloutStateReason": reason}


@pytest.mark.parametrize("deployments, expected", [
    ([_dep("ours", "PRIMARY", "IN_PROGRESS"), _dep("old", "ACTIVE", "COMPLETED", "rovn:288")], None),
    ([_dep("ours", "PRIMARY", "COMPLETED")], (True, "completed")),
    ([_dep("back", "PRIMARY", "IN_PROGRESS", "rovn:288", "circuit breaker: rolling back to deploymentId old"),
      _dep("ours", "ACTIVE", "FAILED")], (False, "rolled_back")),
    ([_dep("ours", "PRIMARY", "FAILED")], (False, "failed")),
    ([_dep("other", "PRIMARY", "IN_PROGRESS", "rovn:290"), _dep("ours", "ACTIVE", "IN_PROGRESS")],
     (False, "superseded")),
    ([_dep("other", "PRIMARY", "COMPLETED", "rovn:288")], (False, "superseded")),  # ours drained away
])
def test_judge_decides_by_our_deployment_id(deployments, expected):
    decided = rollout.judge(deployments, "ours")
    assert (decided[:2] if decided else None) == expected


def test_the_scan_gate_uses_the_threshold():
    scan = image.Scan("rovn", "prod-20260101000000", True, "COMPLETE", {"HIGH": 1, "LOW": 2})
    assert scan.problems("CRITICAL") == []
    assert "1 HIGH" in scan.problems("HIGH")[0] and "1 HIGH" in scan.problems("LOW")[0]
    assert "not in ECR" in image.Scan("rovn", "t", False).problems("CRITICAL")[0]
    assert "still in progress" in image.Scan("rovn", "t", True, "IN_PROGRESS").problems("CRITICAL")[0]


@pytest.mark.parametrize("status, clean, words", [
    ("COMPLETE", True, ""), ("ACTIVE", True, ""),  # basic done; enhanced, findings kept current
    ("SCAN_ELIGIBILITY_EXPIRED", True, "not updated since"),  # judged on its last findings, with a warning
    ("IN_PROGRESS", False, "still in progress"), ("PENDING", False, "PENDING"), ("FAILED", False, "rescan it"),
    ("UNSUPPORTED_IMAGE", False, "cannot scan it"), ("FINDINGS_UNAVAILABLE", False, "unavailable"),
    ("LIMIT_EXCEEDED", False, "quota"), ("IMAGE_ARCHIVED", False, "archived"),
    ("SOMETHING_NEW", False, "does not know"), ("", False, "never scanned")])
def test_every_ecr_scan_status_has_a_verdict(status, clean, words):
    """Each status DescribeImageScanFindings reports, basic and enhanced scanning:
    https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html,
    https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html"""
    scan = image.Scan("rovn", "t", True, status, {"LOW": 1})
    assert (scan.problems("CRITICAL") == []) is clean
    said = " ".join(scan.problems("CRITICAL") + scan.warnings())
    assert words in said and (bool(scan.warnings()) == (status == "SCAN_ELIGIBILITY_EXPIRED"))
    assert image.Scan("rovn", "t", True, status, {"CRITICAL": 1}).problems("CRITICAL")  # findings still refuse


def test_an_image_reference_names_its_registry_repository_and_tag_or_digest():
    assert image.reference("123456789012.dkr.ecr.us-east-2.amazonaws.com/rovn-passport-api:prod-1") == (
        "123456789012", "rovn-passport-api", "prod-1")
    assert image.reference("123456789012.dkr.ecr.us-east-2.amazonaws.com/team/api@sha256:ab") == (
        "123456789012", "team/api", "sha256:ab")
    assert image.reference("docker.io/library/python:3.11")[0] == ""


@pytest.mark.parametrize("tag, ok", [("prod-20261127031500", True), ("prod-20261127031500-fix-login", True),
                                     ("prod-202611270315", True), ("prod-202605270526-ai-competitive-fix", True),
                                     ("prod-2026112703150", False), ("prod-2026112703", False), ("latest", False),
                                     ("prod-20261127031500-", False), ("prod-20261127031500-Fix", False)])
def test_tag_format(tag, ok):
    assert bool(IMAGE_TAG.match(tag)) is ok


def test_new_tags_match_the_format():
    assert IMAGE_TAG.match(image.new_tag()) and image.new_tag("hotfix").endswith("-hotfix")
    assert len(image.new_tag().removeprefix("prod-")) == 14  # new builds keep the 14-digit form


class _StuckECS:
    """A service whose rollout never moves: the watch must end on its deadline."""

    def __init__(self):
        self.calls = 0

    def describe_services(self, **_):
        self.calls += 1
        return {"services": [{"deployments": [_dep("ours", "PRIMARY", "IN_PROGRESS"),
                                               _dep("old", "ACTIVE", "COMPLETED", "rovn:288")]}]}


def test_the_watch_ends_on_its_deadline_with_a_verdict_not_max_attempts():
    ecs = _StuckECS()
    v = rollout.watch(ecs, "c", "s", "ours", deadline_s=0.3, first=0.02, longest=0.1, say=lambda _: None)
    assert not v.ok and v.state == "deadline" and "within the 0.3s deadline" in v.reason and "may still be running" in v.reason
    assert v.polls == ecs.calls and v.polls >= 3
    assert v.elapsed >= 0.3  # it looked once more at the deadline before deciding


def test_two_secrets_in_one_file_are_both_named_in_order(tmp_path):
    """Issue 20 class 7: two detect-secrets findings in one file raised TypeError (the
    findings were not orderable); every refusal sorts by file, line and kind."""
    from rovn_ops.deploy import secrets_scan

    key = "AKIA" + "QX7RT2ZK5MN4PLW8"  # split: this file holds no key-shaped literal
    (tmp_path / "settings.py").write_text(f'A = "{key}"\nPEM = "-----BEGIN RSA PRIVATE KEY-----"\nB = "{key}"\n')
    (tmp_path / "other.py").write_text(f'K = "{key}"\n')
    found = secrets_scan.scan(tmp_path, [tmp_path / "settings.py", tmp_path / "other.py"])
    assert [(f.path, f.line) for f in found][:2] == [("other.py", 1), ("settings.py", 1)]
    assert len([f for f in found if f.path == "settings.py"]) >= 2
    assert found == sorted(found)
    assert all(key not in p for p in secrets_scan.problems(tmp_path, [tmp_path / "settings.py"]))


def _svc(deployments, running=3, desired=3):
    return {"deployments": deployments, "runningCount": running, "desiredCount": desired,
            "taskDefinition": deployments[0]["taskDefinition"]}


@pytest.mark.parametrize("service, ours, force, fails, warns", [
    # steady: nothing to say
    (_svc([_dep("a", "PRIMARY", "COMPLETED")]), set(), False, [], []),
    # down (0 of 3, issue 21's refusal): a warning that says the change is the remedy, never a refusal
    (_svc([_dep("a", "PRIMARY", "COMPLETED")], running=0), set(), False, [], ["UNHEALTHY: running 0 of 3"]),
    # someone else's rollout in flight: refused, naming it and the force path
    (_svc([_dep("x", "PRIMARY", "IN_PROGRESS"), _dep("a", "ACTIVE", "COMPLETED")]), set(), False,
     ["(x)", "-p force=true"], []),
    # ... and with force, a warning that names what it goes over
    (_svc([_dep("x", "PRIMARY", "IN_PROGRESS"), _dep("a", "ACTIVE", "COMPLETED")]), set(), True, [], ["going over"]),
    # our own rollout (audit_log names its deployment), or the one replacing ours: never blocks
    (_svc([_dep("ours", "PRIMARY", "IN_PROGRESS"), _dep("x", "ACTIVE", "COMPLETED")]), {"ours"}, False, [], []),
])
def test_preflight_blocks_only_a_rollout_the_suite_did_not_start(service, ours, force, fails, warns):
    from rovn_ops.ecs import preflight
    from rovn_ops.protocol.checks import Checks

    checks = Checks()
    foreign = preflight.stable(checks, service, ours=ours, force=force)
    failed = " ".join(c.detail for c in checks.failures)
    warned = " ".join(c.detail for c in checks.items if c.verdict == "warn")
    assert all(w in failed for w in fails) and (bool(failed) == bool(fails)), failed
    assert all(w in warned for w in warns) and (bool(warned) == bool(warns)), warned
    assert bool(foreign) == (bool(fails) or force and bool(warns))
