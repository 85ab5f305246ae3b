"""`make demo` (rovn-ops demo) keeps working: it previews a reversal, ships a previewed deploy
from a committed, pushed release, runs service_status and builds the index, exit 0."""
from tests.conftest import rovn_ops


def test_demo_ships_a_deploy_and_its_evidence_verifies(fresh, evidence_dir):
    res = rovn_ops("demo")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "deploy run" in res.stdout and ": success, approved by giles" in res.stdout, res.stdout
    assert (evidence_dir / "index.html").exists()
    check = rovn_ops("evidence", "verify")
    assert check.returncode == 0, check.stdout + check.stderr
    # the showcase change is one an auditor can sample (session 6's auditor sample found it NOT
    # APPROVED, without ticket or reason): giles's own signed record, its ticket and reason
    import csv
    import io
    from datetime import datetime, timezone

    day = f"{datetime.now(timezone.utc):%Y-%m-%d}"
    export = rovn_ops("evidence", "export", "--from", day, "--to", day, "--format", "csv")
    rows = [r for r in csv.DictReader(io.StringIO(export.stdout.split("\r\n\r\n")[0])) if r["change"] == "True"]
    assert [(r["runbook"], r["approved"], r["approvers"], r["ticket"]) for r in rows] == \
        [("deploy", "True", "giles", "CHG-1")], rows


def test_make_demo_twice_on_one_sandbox_after_a_scenario(fresh, evidence_dir):
    """`make demo` is repeatable: the second, after a fault scenario was left on, resets the
    sandbox to its seeded world, says so, and succeeds as the first did."""
    import subprocess

    from rovn_sandbox import control
    from tests.conftest import ROOT

    for n in range(2):
        if n:
            control.scenario(fresh, "ecs_new_tasks_fail")  # what a session of scenarios leaves behind
        res = subprocess.run(["make", "--no-print-directory", "demo"], cwd=ROOT, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "reset the sandbox at " in res.stdout and "so the demo starts from a known world" in res.stdout
        assert ": success, approved by giles" in res.stdout and "RuntimeDirWarning" not in res.stderr
    assert control.scenarios(fresh)["active"] == []
