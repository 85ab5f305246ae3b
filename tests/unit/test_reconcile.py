"""evidence/reconcile.py: revision gaps and matching (issue 27, build 5)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rovn_ops.evidence import reconcile

T = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def test_a_missing_revision_is_a_gap():
    arns = [f"arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:{n}" for n in (287, 288, 289, 291)]
    assert reconcile.gaps(reconcile.revision_numbers(arns)) == [(289, 291)]
    assert reconcile.gaps([1, 2, 3]) == []


def _run(run_id: str, text: str, start: datetime = T, minutes: int = 2) -> dict:
    return {"run_id": run_id, "from": start, "to": start + timedelta(minutes=minutes), "text": text, "draft": False}


def test_an_item_matches_only_a_run_that_names_it_while_it_ran():
    runs = [_run("R1", '"revision_to": "rovn-passport-api:291"')]
    inside = reconcile.item("task definition", "x", T + timedelta(minutes=1), "ecs", ("rovn-passport-api:291",))
    later = reconcile.item("task definition", "x", T + timedelta(minutes=9), "ecs", ("rovn-passport-api:291",))
    prefix = reconcile.item("task definition", "x", T + timedelta(minutes=1), "ecs", ("rovn-passport-api:29",))
    got = reconcile.match([inside, later, prefix], runs)
    assert [i["matched"] for i in got] == ["R1", "", ""]


def test_a_migration_matches_the_run_the_database_names_if_it_is_a_change():
    runs = [_run("R1", '"migrations": ["0090_x"]')]
    ok = reconcile.item("migration", "m", T, "schema_migrations", ("0090_x",), run_id="R1")
    forged = reconcile.item("migration", "m", T, "schema_migrations", ("0091_y",), run_id="R9")
    got = reconcile.match([ok, forged], runs)
    assert got[0]["matched"] == "R1" and got[1]["matched"] == "" and "R9" in got[1]["note"]


def test_a_recorded_run_id_is_a_claim_the_run_must_bear_out():
    """A migration applied by hand with an INSERT into schema_migrations naming any real change run
    (an earlier deploy's id) is not explained by it: that run must name the migration and have been
    running when it was applied (the h5 attack's finding)."""
    runs = [_run("R1", '"migrations": ["0090_x"]')]
    other = reconcile.item("migration", "m", T + timedelta(minutes=1), "schema_migrations", ("0099_evil",),
                           run_id="R1")
    later = reconcile.item("migration", "m", T + timedelta(hours=3), "schema_migrations", ("0090_x",), run_id="R1")
    got = reconcile.match([other, later], runs)
    assert [i["matched"] for i in got] == ["", ""] and all("claim" in i["note"] for i in got)


def test_the_section_escapes_world_strings():
    report = {"period": {"from": "a", "to": "b", "environment": "sandbox"}, "unexplained": 1, "gaps": [],
              "database": "schema_migrations and audit_log",
              "items": [{**reconcile.item("secret version", "<script>x</script>", T, "sm"), "matched": "", "note": ""}]}
    html = reconcile.html(report)
    assert "<script>" not in html and "&lt;script&gt;" in html and "UNEXPLAINED" in html


class _Ecs:
    """ListServiceDeployments and DescribeServiceRevisions as ECS answers them (aws-cli's examples,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html)."""

    def __init__(self, deployments: dict[str, tuple[datetime, str]]):
        self.deployments = deployments  # deployment id → (createdAt, the task definition it rolled out)

    def list_service_deployments(self, **_):
        base = "arn:aws:ecs:us-east-2:1"
        return {"serviceDeployments": [
            {"serviceDeploymentArn": f"{base}:service-deployment/rovn-prod/rovn-passport-api/{i}", "createdAt": at,
             "targetServiceRevisionArn": f"{base}:service-revision/rovn-prod/rovn-passport-api/{i}",
             "status": "SUCCESSFUL"} for i, (at, _td) in self.deployments.items()]}

    def describe_service_revisions(self, serviceRevisionArns):
        assert len(serviceRevisionArns) <= 20
        return {"serviceRevisions": [
            {"serviceRevisionArn": a, "taskDefinition": f"arn:aws:ecs:us-east-2:1:task-definition/{td}"}
            for a in serviceRevisionArns for i, (_at, td) in self.deployments.items() if a.endswith(f"/{i}")],
            "failures": []}


def test_a_deployment_is_explained_by_the_run_that_rolled_out_its_revision_not_by_any_run_then():
    """A deploy made outside the suite seconds after one of ours, inside our run's window, is
    unexplained: the run names the service but not the revision that deployment rolled out."""
    runs = [_run("R1", '"service": "rovn-passport-api", "revision_to": "rovn-passport-api:292"')]
    ecs = _Ecs({"1": (T + timedelta(seconds=30), "rovn-passport-api:292"),
                "2": (T + timedelta(seconds=70), "rovn-passport-api:293")})
    items = reconcile.deployments(ecs, "rovn-prod", "rovn-passport-api", T, T + timedelta(hours=1))
    assert [i["matched"] for i in reconcile.match(items, runs)] == ["R1", ""]
    assert "→ rovn-passport-api:293" in items[1]["what"]


def test_a_deployment_whose_revision_is_not_described_matches_no_run():
    runs = [_run("R1", '"service": "rovn-passport-api"')]
    item = reconcile.item("ECS deployment", "x", T, "ecs", ("rovn-passport-api", ""))
    assert reconcile.match([item], runs)[0]["matched"] == ""


def test_a_draft_never_explains_a_change():
    """A draft's record of what it did is its own claim, and no one reviewed its code: the change
    stays UNEXPLAINED, naming the draft run (session 6's attack review, MEDIUM 13: a modified copy
    of deploy.ipynb spent an approval and reconcile counted its change as explained, exit 0)."""
    draft = {**_run("D1", '"revision_to": "rovn-passport-api:291"'), "draft": True}
    by_time = reconcile.item("task definition", "x", T + timedelta(minutes=1), "ecs", ("rovn-passport-api:291",))
    by_id = reconcile.item("migration", "m", T, "schema_migrations", ("rovn-passport-api:291",), run_id="D1")
    got = reconcile.match([by_time, by_id], [draft])
    assert [i["matched"] for i in got] == ["", ""]
    assert all("made by draft run D1" in i["note"] for i in got)


def test_the_sandbox_seed_is_left_out_in_the_sandbox_only(tmp_path, monkeypatch):
    """The sandbox's seed (written before its world began: world_since in its state file) is no
    one's change; left in, it buried the real UNEXPLAINED lines (session 6's auditor sample:
    325 of 326). In any other environment every item stays."""
    import json

    monkeypatch.setenv("ROVN_SANDBOX_DIR", str(tmp_path))
    (tmp_path / "state.json").write_text(json.dumps({"pid": __import__("os").getpid(),
                                                     "world_since": (T + timedelta(minutes=5)).timestamp()}))
    seed = reconcile.item("task definition", "seed", T, "ecs", ("rovn-passport-api:1",))
    later = reconcile.item("task definition", "x", T + timedelta(minutes=9), "ecs", ("rovn-passport-api:291",))
    assert reconcile._without_the_seed("sandbox", [seed, later]) == ([later], 1)
    assert reconcile._without_the_seed("prod", [seed, later]) == ([seed, later], 0)
