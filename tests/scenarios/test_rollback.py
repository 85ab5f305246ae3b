"""`rovn-ops run rollback` after a deploy: the command the deploy prints works, and
§7's rule holds (a deploy that ran migrations is not rolled back unreviewed)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import urllib3

from tests.conftest import commit_source, rovn_ops
from tests.scenarios.test_deploy import (SHIFT_NOTES, _deploy_rows, _manifest, _notebook, _service,
                                         preview_then_execute)

LIVE = "prod-202605270526-ai-competitive-fix"


def _printed_rollback(evidence: Path) -> list[str]:
    cmd = re.search(r"rovn-ops run rollback (--env sandbox -p to_revision=[\w:-]+)", _notebook(_manifest(evidence)))
    return cmd.group(1).replace("--env sandbox ", "").split()


def test_the_printed_rollback_command_rolls_the_deploy_back(fresh, aws, evidence_dir):
    assert preview_then_execute().returncode == 0
    args = _printed_rollback(evidence_dir)
    assert args == ["-p", "to_revision=rovn-passport-api:288"]
    run = preview_then_execute(*args, runbook="rollback")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _service(aws)["taskDefinition"].endswith(":288")
    assert json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"] == LIVE
    [row] = _deploy_rows(fresh["database_url"], action="rollback")
    assert row["outcome"] == "success" and row["details"]["to_task_definition"].endswith(":288")
    assert row["details"]["undoes_deploy_run"] == _deploy_rows(fresh["database_url"])[0]["run_id"]
    assert aws("ecs").describe_task_definition(taskDefinition="rovn-passport-api:289")["taskDefinition"]["status"] \
        == "ACTIVE"  # nothing deregistered


def test_a_deploy_that_ran_migrations_is_not_rolled_back_unreviewed(fresh, aws, evidence_dir):
    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    assert preview_then_execute().returncode == 0
    refused = rovn_ops("run", "rollback", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles")
    assert refused.returncode == 3 and "ran 0013_shift_request_notes.sql" in refused.stdout
    assert _service(aws)["taskDefinition"].endswith(":289")
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"], action="rollback")] == ["refused"]
    run = preview_then_execute("-p", "migrations_reviewed=true", runbook="rollback")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _service(aws)["taskDefinition"].endswith(":288")


def test_bad_revision_is_bad_input(fresh, evidence_dir):
    run = rovn_ops("run", "rollback", "-p", "to_revision=288")
    assert run.returncode == 2 and "parameter 'to_revision': expected a task definition revision" in run.stderr
