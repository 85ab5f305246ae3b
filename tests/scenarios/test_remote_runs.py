"""`rovn-ops remote run` (issue 26): the parameters are checked here, then the runbook
runs as a Fargate task of the suite's task definition inside the VPC; the client
follows its awslogs stream and exits with the runbook's code. In the sandbox the task's
container command runs as a subprocess under the task role (sandbox/remote_tasks.py).

References: RunTask https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html,
DescribeTasks (stopCode, containers[].exitCode) https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html,
the awslogs stream name PREFIX/CONTAINER/TASK_ID
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html,
GetLogEvents' nextForwardToken https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, rovn_ops

CLUSTER = "rovn-ops"


def _tasks(aws) -> list[str]:
    ecs = aws("ecs")
    return [a for status in ("RUNNING", "STOPPED")
            for a in ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]]


def _manifest(aws, run_id: str) -> dict:
    body = aws("s3").get_object(Bucket="rovn-evidence-archive", Key=f"runs/{run_id}/manifest.json")["Body"]
    return json.loads(body.read())


def test_a_remote_run_streams_its_logs_exits_with_the_runbooks_code_and_archives_to_the_bucket(fresh, aws,
                                                                                            evidence_dir):
    res = rovn_ops("remote", "run", "service_status", "--json", "-p", "events=3")
    assert res.returncode == 0, res.stderr
    told = json.loads(res.stdout)
    assert told["outcome"] == "success" and told["exit_code"] == 0 and told["runbook"] == "service_status"
    assert "[service_status" in res.stderr and "10. Verdict" in res.stderr  # the task's progress, streamed
    task = aws("ecs").describe_tasks(cluster=CLUSTER, tasks=[told["remote_run_id"]])["tasks"][0]
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "EssentialContainerExited"
    assert task["containers"][0]["exitCode"] == 0 and task["startedBy"] == "rovn-ops-remote"
    assert task["overrides"]["containerOverrides"][0]["command"][:5] == [
        "run", "service_status", "--env", "sandbox", "--json"]
    stream = aws("logs").get_log_events(logGroupName="/rovn/ops/runner", startFromHead=True,
                                        logStreamName=f"rovn-ops/rovn-ops/{told['remote_run_id']}")
    assert any("Verdict" in e["message"] for e in stream["events"])
    m = _manifest(aws, told["run_id"])  # in the bucket, archived by the task
    assert m["operator"]["arn"] == (f"arn:aws:sts::123456789012:assumed-role/rovn-ops-read/"
                                    f"{told['remote_run_id']}")  # the task role, least privilege
    assert m["parameters"]["events"] == 3
    assert not evidence_dir.exists()  # nothing on this machine: the task's storage held it
    verify = rovn_ops("evidence", "verify", "--bucket")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_failing_runbook_fails_the_client_with_its_exit_code(fresh, aws):
    res = rovn_ops("remote", "run", "service_status", "--quiet", "-p", "service=no-such-service")
    assert res.returncode == 1, res.stderr
    assert "failed, exit code 1" in res.stdout


@pytest.mark.parametrize("args, names", [
    (["service_status", "-p", "events=abc"], "'events'"),
    (["service_status", "-p", "nope=1"], "'nope'"),
    (["service_status", "-p", "env=prod"], "'env'"),
    (["service_status", "-f", "missing.yaml"], "missing.yaml"),
    (["no_such_runbook"], "no_such_runbook"),
    (["runbooks/service_status.ipynb"], "committed runbook by name"),
    (["service_status", "-f", "LIST_WITH_COMMA"], "'approved_by'"),
    (["deploy"], "§10"),
])
def test_bad_input_is_refused_before_any_task_starts(fresh, aws, tmp_path, args, names):
    if "LIST_WITH_COMMA" in args:  # a list item -p cannot carry (it splits at commas)
        f = tmp_path / "d.yaml"
        f.write_text("approved_by: ['giles,christian']\n")
        args = ["migration_reversal", "-f", str(f)]
    before = _tasks(aws)
    res = rovn_ops("remote", "run", *args)
    assert res.returncode == 2 and names in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert _tasks(aws) == before


def test_a_killed_client_leaves_the_task_running_and_attach_follows_it_to_its_end(fresh, aws):
    proc = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "remote", "run", "service_status"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=os.environ.copy())
    first = proc.stderr.readline()
    assert first.startswith("remote run "), first
    task_id = first.split()[2].rstrip(":")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    res = rovn_ops("remote", "attach", task_id, "--json")
    assert res.returncode == 0, res.stderr
    told = json.loads(res.stdout)
    assert told["remote_run_id"] == task_id and told["outcome"] == "success"
    assert "10. Verdict" in res.stderr


@pytest.mark.parametrize("ref", ["", "not-a-task", "0" * 32, "../../etc/passwd"])
def test_attach_to_junk_or_an_unknown_task_is_one_line_and_exit_2(fresh, ref):
    res = rovn_ops("remote", "attach", ref)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr


def test_a_remote_runs_files_are_pulled_and_the_export_is_complete(fresh, aws, evidence_dir):
    """Attack review: a remote run's ledger entry joins this machine's ledger when it next
    signs, but its files are only in the bucket; `evidence pull` fetched files only for
    entries it lacked, so the auditor's export could never be complete."""
    from datetime import date

    remote = json.loads(rovn_ops("remote", "run", "service_status", "--json", "--quiet").stdout)
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0  # this machine signs after it
    assert rovn_ops("evidence", "pull").returncode == 0
    assert list(evidence_dir.glob(f"*/{remote['run_id']}/manifest.json"))
    today = date.today().isoformat()
    export = rovn_ops("evidence", "export", "--from", today, "--to", today, "--bucket", "--format", "json")
    assert export.returncode == 0, export.stdout[-2000:] + export.stderr
