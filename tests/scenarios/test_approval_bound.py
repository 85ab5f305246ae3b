"""Issue 20, class 1: an approval is bound to what executes, in every mode.

Each protocol runbook is driven cell by cell through a kernel (jupyter_client), as a
person in JupyterLab does, answering the confirm prompt on the stdin channel. After a
confirmed plan, the operator edits a parameter, re-runs the parameters, begin and prepare
cells, skips the confirm cell and runs the execute cell: the execute step re-derives the
plan and refuses (a `Refused` in the cell, a `refused` audit row), and nothing changes.
The issue's own example (a deploy that went live, then `set_env` changed and an
unapproved revision executed with no audit row) is the last test."""
from __future__ import annotations

import json

import psycopg
import pytest

from rovn_ops.evidence import ledger
from tests.conftest import ROOT, commit_reversal
from tests.scenarios.test_interactive_confirm import _run
from tests.scenarios.test_interactive_evidence import kernel  # noqa: F401 - the fixture, as a person's JupyterLab kernel
from tests.scenarios.test_migrations_baseline import _as_the_old_runner_left_it

# runbook → (a parameter edit that still prepares, the audit action)
RUNBOOKS = {
    "deploy": ({"set_env": ["FEATURE_UNAPPROVED=1"]}, "deploy"),
    "rollback": ({"deadline_s": 601}, "rollback"),
    "migration_reversal": ({"lock_wait": 11.0}, "migration_reversal"),
    "secret_rotation": ({"deadline_s": 901.0}, "secret_rotation"),
    "snapshot_retention": ({"slack_webhook_url": "SINK/slack-elsewhere"}, "snapshot retention"),
    "migrations_baseline": ({"lock_wait": 11.0}, "migrations baseline"),
}


def cells(runbook: str, **edits) -> list[str]:
    """The runbook's code cells, the parameters cell followed by the operator's edits."""
    nb = json.loads((ROOT / "runbooks" / f"{runbook}.ipynb").read_text())
    code = [("".join(c["source"]), c["metadata"].get("tags", [])) for c in nb["cells"] if c["cell_type"] == "code"]
    lines = "\n".join(f"{k} = {v!r}" for k, v in edits.items())
    return [src + ("\n" + lines if "parameters" in tags else "") for src, tags in code]


def run_cell(kc, code: str) -> tuple[str, str | None]:
    """One cell, answering the confirm prompt with the target it names, as a person would."""
    _, out, error = _run(kc, code, lambda prompt: prompt.split("(", 1)[1].split(")", 1)[0] if "(" in prompt else "")
    return out, error


def run_all(kc, sources: list[str], upto: str | None = None) -> None:
    """Cells in order, each without error; stop after the first one containing `upto`."""
    for src in sources:
        out, error = run_cell(kc, src)
        assert error is None, (src[:80], error, out[-2000:])
        if upto and upto in src:
            return


def previewed(kc, evidence_dir, runbook: str) -> str:
    run_all(kc, cells(runbook))
    m = json.loads((evidence_dir / ledger.read(evidence_dir)[-1]["path"] / "manifest.json").read_text())
    assert m["outcome"] == "preview" and m["runbook"] == runbook
    return m["plan_hash"]


def rows(fresh, action: str) -> list[tuple]:
    with psycopg.connect(fresh["database_url"]) as conn:
        return conn.execute("SELECT outcome, details FROM audit_log WHERE action = %s AND details ? 'plan_hash' "
                            "ORDER BY id",
                            [action]).fetchall()


def approved(plan_hash: str, **edits) -> dict:
    return {"confirm": True, "approved_by": ["giles"], "plan_hash": plan_hash, **edits}


def index_of(sources: list[str], needle: str) -> int:
    return next(i for i, s in enumerate(sources) if needle in s)


@pytest.mark.parametrize("runbook", list(RUNBOOKS))
def test_a_cell_rerun_after_the_confirmation_cannot_execute_another_plan(kernel, fresh, evidence_dir, runbook):
    edit, action = RUNBOOKS[runbook]
    edit = {k: v.replace("SINK", fresh["sink_url"]) if isinstance(v, str) else v for k, v in edit.items()}
    if runbook == "migrations_baseline":
        _as_the_old_runner_left_it(fresh)
    if runbook == "migration_reversal":
        commit_reversal(fresh)  # applied only once committed
    plan_hash = previewed(kernel, evidence_dir, runbook)
    good = cells(runbook, **approved(plan_hash))
    run_all(kernel, good, upto="change.confirm()")  # approved: the confirm cell passed
    # The operator edits the parameters cell and re-runs it, begin and prepare; skips confirm.
    edited = cells(runbook, **approved(plan_hash, **edit))
    confirm_at, execute_at = index_of(edited, "change.confirm()"), index_of(edited, "change.execute(")
    run_all(kernel, edited[:confirm_at])
    out, error = run_cell(kernel, edited[execute_at])
    assert error and error.startswith("StaleApproval: confirm: expected plan "), (error, out)
    assert "approv" in error and plan_hash not in error
    outcomes = [o for o, _ in rows(fresh, action)]
    assert outcomes and outcomes[-1] == "refused" and not {"success", "failed"} & set(outcomes), outcomes


@pytest.mark.parametrize("runbook", ["rollback", "snapshot_retention"])
def test_an_approval_executes_once_even_when_its_cells_are_run_again(kernel, fresh, evidence_dir, runbook):
    _, action = RUNBOOKS[runbook]
    plan_hash = previewed(kernel, evidence_dir, runbook)
    good = cells(runbook, **approved(plan_hash))
    run_all(kernel, good)  # executed and verified
    assert [o for o, _ in rows(fresh, action)][-1] == "success"
    out, error = run_cell(kernel, good[index_of(good, "change.execute(")])  # the execute cell again
    assert error and "already executed" in error and "executes once" in error, (error, out)
    # The cells again with the same approval: the spent hash is named as spent at begin, before
    # any preflight reads the world (issue 20 break 5).
    run_all(kernel, good[:index_of(good, "context.begin(")])
    out, error = run_cell(kernel, good[index_of(good, "context.begin(")])
    assert error and error.startswith("StaleApproval: plan_hash ") and "already executed (run " in error, (error, out)
    assert [o for o, _ in rows(fresh, action)].count("success") == 1


def _revision(aws) -> str:
    return aws("ecs").describe_services(cluster="rovn-prod", services=["rovn-passport-api"])[
        "services"][0]["taskDefinition"].rsplit(":", 1)[1]


def test_the_issues_example_set_env_changed_after_a_live_deploy(kernel, fresh, aws, evidence_dir):
    plan_hash = previewed(kernel, evidence_dir, "deploy")
    good = cells("deploy", **approved(plan_hash))
    run_all(kernel, good)
    assert _revision(aws) == "289" and [o for o, _ in rows(fresh, "deploy")][-1] == "success"
    edited = cells("deploy", **approved(plan_hash, set_env=["FEATURE_UNAPPROVED=1"]))
    begin = index_of(edited, "context.begin(")
    run_all(kernel, edited[:begin])  # the parameters, now with set_env changed
    out, error = run_cell(kernel, edited[begin])  # the spent hash is refused at once (issue 20 break 5)
    assert error and "already executed" in error, (error, out)
    for needle in ("steps.prepare(", "change.execute("):  # the good run's objects are still in the kernel
        run_cell(kernel, edited[index_of(edited, needle)])  # confirm skipped: neither changes anything
    assert _revision(aws) == "289"  # no unapproved revision went live
    # the newest revision (ListTaskDefinitions pages, 100 at most, as ECS does)
    families = aws("ecs").list_task_definitions(familyPrefix="rovn-passport-api", sort="DESC",
                                                maxResults=1)["taskDefinitionArns"]
    assert families[0].endswith(":289"), families
    outcomes = [o for o, _ in rows(fresh, "deploy")]
    assert outcomes.count("success") == 1 and outcomes[-1] == "refused"  # the attempt is on record


@pytest.mark.parametrize("runbook, extra", [("deploy", ()), ("rollback", ()), ("snapshot_retention", ())])
def test_the_same_command_after_success_is_refused_as_already_executed_exit_2(fresh, evidence_dir, runbook, extra):
    """Headless, as CI re-runs a job: a spent plan hash is bad input (exit 2) naming the run
    that executed it and when, never exit 3 "does not match today's plan" (issue 20 break 5)."""
    from tests.conftest import rovn_ops
    from tests.scenarios.test_deploy import _manifest, previewed as previewed_headless

    args = previewed_headless(*extra, runbook=runbook)
    first = rovn_ops("run", runbook, "--quiet", *args)
    assert first.returncode == 0, first.stdout + first.stderr
    done = _manifest(evidence_dir, runbook)
    again = rovn_ops("run", runbook, "--quiet", *args)
    assert again.returncode == 2, again.stdout + again.stderr
    assert f"already executed (run {done['run_id']}, success at " in again.stdout, again.stdout
    assert "does not match" not in again.stdout and "Traceback" not in again.stdout + again.stderr
    _, action = RUNBOOKS[runbook]
    assert [o for o, _ in rows(fresh, action)].count("success") == 1
