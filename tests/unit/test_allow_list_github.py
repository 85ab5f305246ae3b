"""Issue 20, class 5: the deployers/approvers file read through GitHub's REST API from
the protected branch (prod always; the sandbox when parameters/sandbox.yaml's
`allow_list.from` is `github`), through the sandbox's GitHub stub served as GitHub
documents it: GET /repos/{owner}/{repo}/commits/main for the head commit
(https://docs.github.com/en/rest/commits/commits#get-a-commit), then
GET /repos/{owner}/{repo}/contents/{path}?ref={sha}, a `type: file` with base64
`content` in lines (https://docs.github.com/en/rest/repos/contents#get-repository-content).
A commit pushed to the stub's main that adds mallory counts; a local unpushed one does not,
with either source."""
import base64
import json
import shutil
import subprocess

import pytest
import urllib3

from rovn_ops.protocol import authorization
from rovn_ops.core.errors import Refused
from rovn_sandbox import github, httpd
from tests.conftest import ROOT

MALLORY = "arn:aws:iam::123456789012:user/mallory"


def _git(where, *args) -> str:
    return subprocess.run(["git", "-C", str(where), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path, monkeypatch, sandbox, aws):
    """A project checkout (ROVN_HOME) pushing to a bare origin that a GitHub stub serves
    as rovn/rovn-runbooks, its token the sandbox's secret."""
    home, origin = tmp_path / "home", tmp_path / "origin.git"
    shutil.copytree(ROOT / "parameters", home / "parameters")
    _git(tmp_path, "init", "-q", "--bare", str(origin))
    _git(tmp_path, "init", "-q", "-b", "main", str(home))
    _git(home, "add", "-A")
    _git(home, "commit", "-qm", "reviewed")
    _git(home, "remote", "add", "origin", str(origin))
    _git(home, "push", "-q", "origin", "main")
    token = aws("secretsmanager").get_secret_value(SecretId="rovn/prod/github-status-token")["SecretString"]
    server = httpd.serve(type("G", (github.Handler,), {"origin": origin, "runbooks_origin": origin,
                                                        "token": staticmethod(lambda: token)}))
    monkeypatch.setenv("ROVN_HOME", str(home))
    monkeypatch.setenv("ROVN_GITHUB_URL", f"http://127.0.0.1:{server.server_address[1]}")
    for k, v in {"AWS_ENDPOINT_URL": sandbox["endpoint"], "AWS_ACCESS_KEY_ID": sandbox["access_key_id"],
                 "AWS_SECRET_ACCESS_KEY": sandbox["secret_access_key"], "AWS_REGION": sandbox["region"]}.items():
        monkeypatch.setenv(k, v)
    yield home, token
    server.shutdown()


def _source(home, source: str) -> None:
    env_file = home / "parameters" / "sandbox.yaml"
    env_file.write_text(env_file.read_text().replace("  from: git\n", f"  from: {source}\n", 1))


def _add_mallory(home, push: bool) -> str:
    env_file = home / "parameters" / "sandbox.yaml"
    env_file.write_text(env_file.read_text().replace("deployers:", "deployers:\n  - user/mallory", 1))
    _git(home, "commit", "-qam", "add mallory")
    if push:
        _git(home, "push", "-q", "origin", "main")
    return _git(home, "rev-parse", "HEAD")


def test_the_stub_serves_contents_and_commits_as_github_does(project):
    home, token = project
    url = __import__("os").environ["ROVN_GITHUB_URL"]
    h = {"Authorization": f"Bearer {token}"}
    head = json.loads(urllib3.request("GET", f"{url}/repos/rovn/rovn-runbooks/commits/main", headers=h).data)
    assert head["sha"] == _git(home, "rev-parse", "HEAD") and head["commit"]["message"].startswith("reviewed")
    got = urllib3.request("GET", f"{url}/repos/rovn/rovn-runbooks/contents/parameters/sandbox.yaml?ref={head['sha']}",
                          headers=h)
    body = json.loads(got.data)
    assert got.status == 200 and body["type"] == "file" and body["encoding"] == "base64"
    assert all(len(line) <= 60 for line in body["content"].splitlines())
    assert base64.b64decode(body["content"]) == (home / "parameters" / "sandbox.yaml").read_bytes()
    assert urllib3.request("GET", f"{url}/repos/rovn/rovn-runbooks/contents/nope.yaml", headers=h).status == 404
    assert urllib3.request("GET", f"{url}/repos/rovn/rovn-runbooks/commits/main").status == 401


@pytest.mark.parametrize("source", ["git", "github"])
def test_a_pushed_commit_adding_mallory_counts_and_a_local_one_does_not(project, source):
    home, _ = project
    _source(home, source)  # the sandbox's working copy chooses the source
    _git(home, "commit", "-q", "--allow-empty", "-am", f"allow-list from {source}")
    _git(home, "push", "-q", "origin", "main")
    if source == "git":
        _git(home, "fetch", "-q", "origin")
    lists = authorization.Lists.of("sandbox")
    assert lists.deployer_problem(MALLORY)
    reviewed = _git(home, "rev-parse", "HEAD")
    where = "GitHub rovn/rovn-runbooks main" if source == "github" else "origin/main"
    assert lists.source == f"parameters/sandbox.yaml at {where} {reviewed[:12]}"
    _add_mallory(home, push=False)  # local only: counts for nothing
    assert "not on the deployers allow-list" in authorization.Lists.of("sandbox").deployer_problem(MALLORY)
    _git(home, "push", "-q", "origin", "main")  # reviewed and merged: now it counts
    if source == "git":
        _git(home, "fetch", "-q", "origin")
    lists = authorization.Lists.of("sandbox")
    assert lists.deployer_problem(MALLORY) is None
    assert lists.source.endswith(_git(home, "rev-parse", "HEAD")[:12])


def test_prod_reads_only_from_github(project, monkeypatch):
    home, _ = project
    env_file = home / "parameters" / "prod.yaml"
    env_file.write_text(env_file.read_text().replace("  from: github\n", "  from: git\n", 1))
    _git(home, "commit", "-qam", "prod from git")
    _git(home, "push", "-q", "origin", "main")
    with pytest.raises(Refused, match="read only from GitHub in prod"):
        authorization.Lists.of("prod")
