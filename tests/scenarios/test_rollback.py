"""`rovn-ops run rollback`: the command the deploy prints works; the default target is
the newest revision verified healthy; §7's gate reads the schema's truth (every
migration since the target, by any path), proceeds over additive ones, refuses the
rest with the order to follow, and an override takes two approvers and is recorded."""
from __future__ import annotations

import json
import re
from pathlib import Path

import urllib3

from rovn_sandbox import control
from tests.conftest import commit_source, rovn_ops
from tests.scenarios.test_deploy import (SHIFT_NOTES, _deploy_rows, _manifest, _notebook, _service,
                                         preview_then_execute, previewed)

LIVE = "prod-202605270526-ai-competitive-fix"
DROP_PHONE = "ALTER TABLE facility_contacts DROP COLUMN IF EXISTS phone;\n"


def _printed_rollback(evidence: Path) -> list[str]:
    cmd = re.search(r"rovn-ops run rollback (--env sandbox -p to_revision=[\w:-]+)", _notebook(_manifest(evidence)))
    return cmd.group(1).replace("--env sandbox ", "").split()


def _health(fresh) -> str:
    return json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"]


def test_the_printed_rollback_command_rolls_back_a_deploy_whose_additive_migration_it_explains(
        fresh, aws, evidence_dir):
    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    assert preview_then_execute().returncode == 0
    args = _printed_rollback(evidence_dir)
    assert args == ["-p", "to_revision=rovn-passport-api:288"]
    run = preview_then_execute(*args, runbook="rollback")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _service(aws)["taskDefinition"].endswith(":288") and _health(fresh) == LIVE
    [row] = _deploy_rows(fresh["database_url"], action="rollback")
    assert row["outcome"] == "success" and row["details"]["to_task_definition"].endswith(":288")
    assert row["details"]["undoes_deploy_run"] == _deploy_rows(fresh["database_url"])[0]["run_id"]
    assert 0 < row["details"]["rto_s"] < row["details"]["rto_target_s"] == 180  # §7: ~3 minutes
    m = _manifest(evidence_dir, "rollback")
    assert m["facts"]["rto_s"] == row["details"]["rto_s"] and "RTO" in _notebook(m)
    # the additive migration in the deploy being undone does not block it, and the run says why
    assert "0013_shift_request_notes.sql" in _notebook(m) and "ADD COLUMN notes nullable" in _notebook(m)
    assert aws("ecs").describe_task_definition(taskDefinition="rovn-passport-api:289")["taskDefinition"]["status"] \
        == "ACTIVE"  # nothing deregistered


def test_the_gate_after_deploys_a_verified_b_failed_c(fresh, aws, evidence_dir):
    tags = []
    for release, fault in (("A", None), ("B", "ecs_new_tasks_fail"), ("C", None)):
        (Path(fresh["source_dir"]) / "app" / "release.txt").write_text(f"release {release}\n")
        commit_source(fresh, f"release {release}")
        if fault:
            control.scenario(fresh, fault)
        run = preview_then_execute()
        assert run.returncode == (1 if fault else 0), run.stdout + run.stderr
        tags.append(_manifest(evidence_dir)["facts"]["new_image_tag"])
        if fault:
            control.scenario(fresh, fault, on=False)
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"])] == ["success", "failed", "success"]
    assert _service(aws)["taskDefinition"].endswith(":291")

    # The default target is A (289, verified), not 290 (B, which failed).
    preview = rovn_ops("run", "rollback", "--quiet")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "`rovn-passport-api:291` → `rovn-passport-api:289`" in _notebook(_manifest(evidence_dir, "rollback"))

    # An additive migration since A, applied by hand, not by a deploy: it proceeds, and says why.
    mdir = Path(fresh["migrations_dir"])
    (mdir / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    assert rovn_ops("migrations", "apply").returncode == 0
    assert rovn_ops("run", "rollback", "--quiet").returncode == 0
    nb = _notebook(_manifest(evidence_dir, "rollback"))
    assert "| `0013_shift_request_notes.sql` | migrations apply | **additive** |" in nb
    assert "the older image's INSERTs leave it null" in nb

    # A DROP COLUMN since A, by `migrations apply`: refused, with the reversal first.
    (mdir / "0014_drop_contact_phone.sql").write_text(DROP_PHONE)
    assert rovn_ops("migrations", "apply").returncode == 0
    refused = rovn_ops("run", "rollback", "--quiet")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "0014_drop_contact_phone.sql (breaking, applied by migrations apply)" in refused.stdout
    assert "DROP COLUMN phone" in refused.stdout
    order = ("rovn-ops run migration_reversal --env sandbox -p migration=0014_drop_contact_phone.sql; "
             "then rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:289")
    assert order in refused.stdout
    assert _manifest(evidence_dir, "rollback")["outcome"] == "refused"
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"], action="rollback")] == ["refused"]

    # The override: two approvers, recorded as an override.
    args = previewed("-p", "override_schema_gate=true", runbook="rollback")
    one = rovn_ops("run", "rollback", "--quiet", *args)
    assert one.returncode == 3 and "needs 2 distinct approvers" in one.stdout
    two = rovn_ops("run", "rollback", "--quiet", *[a.replace("approved_by=giles", "approved_by=giles,christian")
                                                     for a in args])
    assert two.returncode == 0, two.stdout + two.stderr
    assert _service(aws)["taskDefinition"].endswith(":289") and _health(fresh) == tags[0]
    row = _deploy_rows(fresh["database_url"], action="rollback")[-1]
    assert row["outcome"] == "success" and row["details"]["approvers"] == ["giles", "christian"]
    assert [g["migration"] for g in row["details"]["override"]["schema_gate"]] == ["0014_drop_contact_phone.sql"]


def test_bad_revision_is_bad_input(fresh, evidence_dir):
    run = rovn_ops("run", "rollback", "-p", "to_revision=288")
    assert run.returncode == 2 and "parameter 'to_revision': expected a task definition revision" in run.stderr
