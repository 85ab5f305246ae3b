"""Issue 21, point 4: incident drills. For each sandbox scenario that breaks the service,
what on-call does, end to end, through the CLI (sandbox/drills.py): `incident_triage
--json` (severity, cause and the exact next command in its summary), each command it
names, previewed then executed as its preview printed, then /health answering 200 from
the good revision. The faults are causal (sandbox/image_faults.py: the running
revision's image crashes, is missing from ECR, or breaks /health), so the remedy is
what mends them. Each drill prints its time from injection to /health 200, against
§7's ~3-minute RTO (sandbox time: the sandbox's clock, 200x wall time)."""
from __future__ import annotations

import pytest

from rovn_sandbox import drills

# scenario -> (severity, cause, the runbooks the path takes): every §5 alarm and §6 outage class
PATHS = {
    "tasks_crashing": ("P0", "deploy", ["rollback"]),          # §5 ECS running tasks < desired
    "image_missing": ("P0", "image", ["rollback"]),            # tasks stop: CannotPullContainerError
    "canary_failing": ("P0", "deploy", ["rollback"]),          # §5 canary on /health, the ALB fine
    "bad_deploy": ("P1", "deploy", ["rollback"]),              # §5 5xx > 1% / 5 min
    "slow_query_deploy": ("P1", "deploy", ["rollback"]),       # §5 RDS CPU > 85% sustained, caused by a deploy
    "bad_deploy_migration": ("P1", "deploy", ["migration_reversal", "rollback"]),  # §7: reversal, then rollback
    "phi_deploy": ("P0", "deploy", ["rollback"]),              # §6 P0 suspected PHI exposure, caused by a deploy
    "secret_exposed": ("P0", "secret", ["secret_rotation"]),   # §6 P0 suspected security incident (§8 drift)
}


@pytest.mark.parametrize("scenario", drills.DRILLS)
def test_drill(scenario, fresh, evidence_dir):
    severity, cause, path = PATHS[scenario]
    before = BEFORE.get(scenario, lambda sandbox: None)(fresh)
    drill = drills.run(fresh, scenario)
    print(drill.line())  # the drill's time to healthy, in the test log
    summary = drill.triage["summary"]
    assert drill.triage["exit_code"] == 4 and drill.triage["outcome"] == "attention"  # P0/P1: attention
    assert summary["severity"] == severity and summary["cause"] == cause
    assert summary["headline"].startswith(f"{severity} · ") and summary["next_command"] in summary["headline"]
    assert drill.triage["next_step"] == summary["next_command"]
    executed = [s.command.split()[2] for s in drill.steps[1:] if "confirm=true" in s.command]
    assert executed == path, [s.command for s in drill.steps]
    assert all(s.exit_code == 0 for s in drill.steps[1:]), [(s.command, s.exit_code) for s in drill.steps]
    assert drill.health == (200, drills.GOOD) and drill.within_rto, drill.line()
    CHECKS.get(scenario, lambda *a: None)(fresh, drill, evidence_dir, before)


def _phi_ended(sandbox, drill, evidence_dir, before):
    """§6 P0 suspected PHI exposure (phi_deploy): revision 289's intake logging writes PHI
    at INFO. Triage says P0 and names the deploy (the lines began 2 minutes after it);
    the rollback is the remedy because the PHI comes from 289's code, so once 288 serves
    the app's new lines are scrubbed. Neither triage's output nor its evidence echoes a
    PHI value (§5: PHI is scrubbed before write; evidence is no exception)."""
    from rovn_sandbox.incidents import PHI

    summary = drill.triage["summary"]
    assert summary["headline"].startswith("P0 · suspected PHI exposure: ") and "(run " in summary["explanation"]
    lines, phi = drills.log_lines_since(sandbox, drill.remedy_ms)
    assert lines >= 1 and phi == 0, f"after the rollback: {lines} line(s), {phi} PHI-shaped"
    archived = [p.read_bytes() for p in evidence_dir.rglob("*") if p.is_file()]
    assert archived, "triage archived nothing"
    for value in PHI.values():
        assert value not in str(drill.triage) and not any(value.encode() in b for b in archived), "PHI echoed"


def _current_version(sandbox) -> str:
    from rovn_sandbox.incidents import EXPOSED_SECRET

    stages = drills.client(sandbox, "secretsmanager").describe_secret(SecretId=EXPOSED_SECRET)["VersionIdsToStages"]
    return next(v for v, s in stages.items() if "AWSCURRENT" in s)


def _secret_retired(sandbox, drill, evidence_dir, before):
    """§6 P0 suspected security incident (secret_exposed): §8's drift monitoring found a
    principal on no allow-list able to read the database master secret. Rotation is the
    remedy a runbook can carry out: whatever that principal read stops working once the
    exposed version is no longer AWSCURRENT (removing the grant is IAM's, afterwards).
    Triage names the secret and the exact rotation command; afterwards the exposed
    version is not AWSCURRENT, the service healthy, and a re-run of triage no longer
    names the secret (the rotation came after the drift row)."""
    summary = drill.triage["summary"]
    assert summary["headline"].startswith("P0 · suspected security incident: user/contractor-export can read "
                                          "rovn/prod/db-master")
    assert summary["next_command"] == "rovn-ops run secret_rotation --env sandbox -p secret=rovn/prod/db-master"
    assert _current_version(sandbox) != before
    again = drills._json(drills.cli("run", "incident_triage", "--json", "--quiet"))["summary"]
    assert "secret_rotation" not in (again["next_command"] or "") and again["severity"] == "none", again


BEFORE = {"secret_exposed": _current_version}
CHECKS = {"phi_deploy": _phi_ended, "secret_exposed": _secret_retired}


def test_after_the_drill_triage_does_not_recommend_the_rollback_again(fresh, evidence_dir):
    """75 s after a successful rollback, triage still printed `rollback … :288` (issue 21)."""
    drills.run(fresh, "tasks_crashing")
    again = drills._json(drills.cli("run", "incident_triage", "--json", "--quiet"))
    text = again["summary"]["explanation"]
    assert "Already undone: the rollback to rovn-passport-api:288" in text and "do not roll back again" in text
    assert not any("rollback" in c for c in [again["summary"]["next_command"] or "", *again["summary"]["then"]])
    assert "service_status" not in (again["summary"]["next_command"] or "")


def test_the_verdict_leaves_the_notebook(fresh, evidence_dir, tmp_path):
    """Issue 21, point 6: one line on stdout, the same fields in --json (its summary was {}),
    the GitHub step summary's heading, and exit 4 (attention) for a P0."""
    from rovn_sandbox import control
    from tests.conftest import rovn_ops

    control.scenario(fresh, "tasks_crashing")
    steps = tmp_path / "step-summary.md"
    run = rovn_ops("run", "incident_triage", "--quiet", env={"GITHUB_ACTIONS": "true",
                                                             "GITHUB_STEP_SUMMARY": str(steps)})
    line = ("P0 · 0 of 3 tasks running · next: rovn-ops run rollback --env sandbox "
            "-p to_revision=rovn-passport-api:288")
    assert run.returncode == 4 and run.stdout.splitlines()[0] == line, run.stdout  # first: the early verdict (run/early.py)
    from rovn_ops.core.escape import markdown  # the heading renders the line as written (its _ escaped)

    assert steps.read_text().startswith(f"### {markdown('incident_triage')}: {markdown(line)} (exit 4)")
    assert "::error title=incident_triage attention::" in run.stderr
    as_json = drills._json(rovn_ops("run", "incident_triage", "--quiet", "--json"))
    assert as_json["exit_code"] == 4 and as_json["summary"]["headline"] == line
    assert {k: as_json["summary"][k] for k in ("severity", "cause", "next_command")} == {
        "severity": "P0", "cause": "deploy",
        "next_command": "rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288"}


def test_after_a_hotfix_mends_image_missing_triage_judges_the_current_state(fresh, evidence_dir):
    """Issue 21: after a hotfix deploy mended `image_missing`, triage still said P0 and
    recommended a rollback, reading the ECS service events' old CannotPullContainerError.
    A successful change after the symptoms began, with the service healthy now, mended
    it: the verdict says so (mended_by, in the headline) and names no rollback."""
    hotfix_over_image_missing(fresh)
    assert drills.health(fresh)[0] == 200
    summary = drills._json(drills.cli("run", "incident_triage", "--json", "--quiet"))["summary"]
    assert summary["mended_by"] and summary["mended_by"].startswith("deploy of rovn-passport-api:"), summary
    assert "mended by the deploy of" in summary["headline"] and "do not roll back" in summary["explanation"]
    assert not any("rollback" in c for c in [summary["next_command"] or "", *summary["then"]]), summary


def test_a_hotfix_over_image_missing_prints_a_rollback_whose_image_exists(fresh, aws, evidence_dir):
    """Issue 21: the hotfix's printed rollback named the revision it replaced, whose image
    had expired from ECR (the very fault). The deploy now takes the rollback target as the
    rollback runbook does (ecs/rollback_target.py): the replaced revision if it can run,
    else the newest verified revision that can."""
    from tests.scenarios.test_deploy import _manifest

    hotfix_over_image_missing(fresh)
    m = _manifest(evidence_dir)
    command, replaced = m["summary"]["rollback_command"], m["summary"]["revision_from"]
    assert "to_revision=" in command and f"to_revision={replaced}" not in command, (command, replaced)
    named = command.split("to_revision=")[1].split()[0]
    image = aws("ecs").describe_task_definition(taskDefinition=named)["taskDefinition"]["containerDefinitions"][0]["image"]
    repo, tag = image.rsplit("/", 1)[1].split(":")
    assert aws("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"]


def hotfix_over_image_missing(fresh) -> None:
    """image_missing on, then a hotfix deploy from source (a rebuilt image), executed."""
    from pathlib import Path

    from rovn_sandbox import control
    from tests.conftest import commit_source
    from tests.scenarios.test_deploy import preview_then_execute

    control.scenario(fresh, "image_missing")
    (Path(fresh["source_dir"]) / "app" / "release.txt").write_text("hotfix: image rebuilt and pushed\n")
    commit_source(fresh, "hotfix: rebuild the expired image")
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
