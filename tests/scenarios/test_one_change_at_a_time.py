"""Issue 20, class 8: one change at a time. Two deploys of the same service started
1.3 s apart both succeeded, with two success rows. Now the execute step takes the
service's change lock (a PostgreSQL advisory lock, held to the verify step's log) and
re-derives its plan under it: the second run is refused (exit 3), naming who holds the
lock since when, and only one revision goes live."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.scenarios.test_deploy import _deploy_rows, _revisions, _service, previewed


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", "deploy", "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ))


def test_two_deploys_of_one_service_1_3_s_apart_one_is_refused(fresh, aws, evidence_dir):
    args = previewed("-p", "bake_s=3")  # both operators hold the same approved plan
    first = _start(*args)
    time.sleep(1.3)
    second = _start(*args)
    out = [p.communicate(timeout=600) for p in (first, second)]
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 3], out
    loser = out[[first.returncode, second.returncode].index(3)][0]
    assert "another change of ecs:rovn-prod/rovn-passport-api is under way" in loser, loser
    assert "has held its lock since" in loser and "-deploy-" in loser, loser  # who, since when
    rows = _deploy_rows(fresh["database_url"])
    assert [r["outcome"] for r in rows].count("success") == 1, [r["outcome"] for r in rows]
    assert [r["outcome"] for r in rows][-2:] in (["refused", "success"], ["success", "refused"])
    assert _revisions(aws)[-1] == 289 and _service(aws)["taskDefinition"].endswith(":289")


def test_a_deployment_the_suite_did_not_start_refuses_the_execute(fresh, aws, evidence_dir):
    """Someone runs update-service by hand between the preview and the execute."""
    from rovn_sandbox import control

    args = previewed()
    control.clock(fresh, paused=True)  # the hand-run rollout stays in flight (sandbox time is a clock)
    ecs = aws("ecs")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", taskDefinition="rovn-passport-api:287")
    from tests.conftest import rovn_ops

    run = rovn_ops("run", "deploy", "--quiet", *args)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "a deployment is in flight" in run.stdout
    assert _revisions(aws)[-1] == 288
