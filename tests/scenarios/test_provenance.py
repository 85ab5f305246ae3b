"""§2 provenance and §8 "no secrets in source", end to end: a deploy's source is a
clean git checkout whose HEAD is on main with GitHub's combined status `success`
(the sandbox's GitHub stub), carries no secret, and its commit is recorded."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rovn_sandbox import control, github
from tests.conftest import commit_source, rovn_ops
from tests.scenarios.test_deploy import SEEDED_BUILDS, _deploy_rows, _manifest, _notebook, _revisions, preview_then_execute

TAG = "prod-ai-competitive-fix-2026-05-27"
PLANTED = "AKIA" + "QX7RT2ZK5MN4PLW8"  # split so this file itself holds no key-shaped literal


def _src(fresh) -> Path:
    return Path(fresh["source_dir"])


def _refused(fresh, *named: str, extra: tuple = ()) -> str:
    run = rovn_ops("run", "deploy", "--quiet", *extra)
    assert run.returncode == 3, run.stdout + run.stderr  # refused
    for n in named:
        assert n in run.stdout, (n, run.stdout)
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "refused"
    return run.stdout


def test_a_clean_checkout_on_main_with_ci_success_deploys_and_records_its_commit(fresh, aws, evidence_dir):
    sha = github.git(_src(fresh), "rev-parse", "HEAD")
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    assert m["facts"]["provenance"] == {"commit": sha, "tags": [TAG], "repository": "rovn/rovn-platform",
                                        "carried_by": "git checkout", "build": ""}
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "success" and row["details"]["provenance"]["commit"] == sha
    assert row["details"]["changes"]["image"]["build"]["commit"] == sha  # in the plan, so in its hash
    assert row["details"]["changes"]["image"]["build"]["tags"] == [TAG]


def test_a_dirty_tree_is_refused(fresh, aws, evidence_dir):
    (_src(fresh) / "app" / "main.py").write_text("# work in progress\n")
    _refused(fresh, "uncommitted changes: app/main.py")
    assert _revisions(aws)[-1] == 288


def test_a_head_not_on_main_is_refused(fresh, evidence_dir):
    src = _src(fresh)
    github.git(src, "checkout", "-q", "-b", "experiment")
    (src / "app" / "extra.py").write_text("X = 1\n")
    github.git(src, "add", "-A")
    github.git(src, "commit", "-q", "-m", "an experiment")
    _refused(fresh, "is not on the checkout's main")


def test_a_commit_not_pushed_to_main_is_refused(fresh, evidence_dir):
    src = _src(fresh)
    (src / "app" / "extra.py").write_text("X = 1\n")
    github.git(src, "add", "-A")
    github.git(src, "commit", "-q", "-m", "local only")  # on local main, never pushed
    _refused(fresh, "is not on GitHub's main", "no check runs for")


# Check runs as GitHub documents them:
# https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference
def test_a_github_actions_built_commit_with_check_runs_only_deploys(fresh, aws, evidence_dir):
    from rovn_ops.clients.github import GitHub

    sha = github.git(_src(fresh), "rev-parse", "HEAD")
    token = aws("secretsmanager").get_secret_value(SecretId="rovn/prod/github-status-token")["SecretString"]
    gh = GitHub(fresh["github_url"], "rovn/rovn-platform", lambda: token)
    assert gh.combined_status(sha).body["total_count"] == 0  # no statuses at all, as Actions leaves it
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "build, lint, unit tests, snyk scan succeeded (github-actions)" in _notebook(_manifest(evidence_dir))


def test_a_failed_required_check_refuses_naming_it(fresh, evidence_dir):
    control.scenario(fresh, "github_check_failing")
    _refused(fresh, "check 'unit tests' concluded failure")


def test_a_pending_required_check_refuses_naming_it(fresh, evidence_dir):
    control.scenario(fresh, "github_check_pending")
    _refused(fresh, "check 'snyk scan' is in_progress (not completed)")


def test_required_checks_on_a_later_page_are_found(fresh, aws, evidence_dir):
    control.scenario(fresh, "github_checks_paged")  # 124 runs: the required ones are on page 2 of 100
    assert preview_then_execute().returncode == 0


def test_a_repository_without_check_runs_falls_back_to_the_combined_status(fresh, evidence_dir):
    control.scenario(fresh, "github_statuses_only")
    control.scenario(fresh, "github_status_failing")
    _refused(fresh, "combined status of", "is failure", "GitHub Actions: build, lint, unit tests: failure")


def test_a_token_github_refuses_is_named_not_shown(fresh, evidence_dir):
    # (no other secret can be named as the token: endpoints.py)
    control.scenario(fresh, "github_token_revoked")
    out = _refused(fresh, "GitHub refused the token secret:rovn/prod/github-status-token (401 Bad credentials)")
    assert "Bearer" not in out


def test_a_planted_aws_key_refuses_without_showing_it(fresh, aws, evidence_dir):
    (_src(fresh) / "app" / "settings.py").write_text(f'REGION = "us-east-2"\nAWS_ACCESS_KEY_ID = "{PLANTED}"\n')
    commit_source(fresh, "settings")
    out = _refused(fresh, "app/settings.py:2: AWS Access Key")
    assert PLANTED not in out
    m = _manifest(evidence_dir)
    assert PLANTED not in _notebook(m) and PLANTED not in json.dumps(m)
    [row] = _deploy_rows(fresh["database_url"])
    assert PLANTED not in json.dumps(row["details"])
    assert _revisions(aws)[-1] == 288 and len(aws("codebuild").list_builds()["ids"]) == SEEDED_BUILDS


def test_a_changed_lockfile_is_refused(fresh, evidence_dir):
    lock = _src(fresh) / "requirements.lock"
    lock.write_text(lock.read_text() + "httpx==0.27.2\n")
    _refused(fresh, "requirements.lock differs from the commit (lockfile drift)")


def test_a_git_archive_zip_carries_its_commit(fresh, tmp_path, evidence_dir):
    src, zipped = _src(fresh), tmp_path / "source.zip"
    subprocess.run(["git", "-C", str(src), "archive", "--format=zip", "-o", str(zipped), "HEAD"], check=True)
    run = rovn_ops("run", "deploy", "--quiet", "-p", f"source={zipped}")
    assert run.returncode == 0, run.stdout + run.stderr
    prov = _manifest(evidence_dir)["facts"]["provenance"]
    assert prov["commit"] == github.git(src, "rev-parse", "HEAD") and prov["carried_by"] == "zip comment or manifest"
