"""A small GitHub REST API on loopback, over the sandbox's "remote" of the service's
repository (a bare git repository beside the checkout, standing in for github.com).

It answers the two calls a deploy's provenance check makes, as GitHub does:
- `GET /repos/{owner}/{repo}/commits/{ref}/status`: the combined commit status
  (`success` for every commit on the remote; scenario `github_status_failing` makes
  the CI context fail); a commit the remote lacks gets 422 "No commit found for SHA";
- `GET /repos/{owner}/{repo}/compare/{base}...{head}`: identical, ahead, behind or
  diverged (404 for a commit the remote lacks).
Every call needs `Authorization: Bearer <token>` (or `token <token>`) with the value
of the token's Secrets Manager secret; otherwise 401 "Bad credentials"."""
from __future__ import annotations

import json
import re
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable

from . import scenarios

REPOSITORY = "rovn/rovn-platform"
CI_CONTEXT = "GitHub Actions: build, lint, unit tests"
_STATUS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)/status$")
_COMPARE = re.compile(r"^/repos/([^/]+/[^/]+)/compare/([^/.]+)\.\.\.([^/.]+)$")
_GIT = ["git", "-c", "user.name=Rovn Engineer", "-c", "user.email=eng@rovn.to", "-c", "init.defaultBranch=main"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*_GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def init_repository(source: Path, origin: Path, tag: str = "") -> str:
    """Make `source` a checkout of `origin` (bare) on main, everything committed and
    pushed; returns HEAD's SHA."""
    origin.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["rm", "-rf", str(origin)], check=True)
    # No sample hooks, and objects in one pack (below), as a clone has them: a reset
    # copies both repositories back file by file (world_snapshot).
    git(origin.parent, "init", "-q", "--bare", "--template=", origin.name)
    git(source, "init", "-q", "--template=")
    git(source, "checkout", "-q", "-B", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "rovn-platform: the service as deployed in revision 288")
    if tag:
        git(source, "tag", tag)
    git(source, "remote", "add", "origin", str(origin))
    git(source, "push", "-q", "origin", "main", "--tags")
    git(source, "branch", "-q", "--set-upstream-to=origin/main", "main")
    for repo in (source, origin):
        git(repo, "gc", "-q", "--prune=now")
    return git(source, "rev-parse", "HEAD")


class Handler(BaseHTTPRequestHandler):
    origin: Path
    token: Callable[[], str]

    def log_message(self, *args):
        pass

    def _reply(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scenarios.active("github_token_revoked"):  # revoked on GitHub's side: every value is refused
            return False
        return scheme.lower() in ("bearer", "token") and given and given == self.token()

    def _commit(self, ref: str) -> str | None:
        try:
            return git(self.origin, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        except subprocess.CalledProcessError:
            return None

    def do_GET(self):
        if not self._authorized():
            return self._reply(401, {"message": "Bad credentials", "status": "401"})
        if m := _STATUS.match(self.path):
            return self._status(m.group(1), m.group(2))
        if m := _COMPARE.match(self.path):
            return self._compare(m.group(1), m.group(2), m.group(3))
        self._reply(404, {"message": "Not Found", "status": "404"})

    def _status(self, repo: str, ref: str):
        sha = self._commit(ref) if repo == REPOSITORY else None
        if sha is None:
            return self._reply(422, {"message": f"No commit found for SHA: {ref}", "status": "422"})
        state = "failure" if scenarios.active("github_status_failing") else "success"
        status = {"context": CI_CONTEXT, "state": state,
                  "description": "3 jobs failed" if state == "failure" else "All checks have passed"}
        self._reply(200, {"state": state, "sha": sha, "total_count": 1, "statuses": [status],
                          "repository": {"full_name": repo}})

    def _compare(self, repo: str, base: str, head: str):
        b, h = (self._commit(base), self._commit(head)) if repo == REPOSITORY else (None, None)
        if not b or not h:
            return self._reply(404, {"message": "Not Found", "status": "404"})
        behind = int(git(self.origin, "rev-list", "--count", f"{h}..{b}"))
        ahead = int(git(self.origin, "rev-list", "--count", f"{b}..{h}"))
        state = ("identical" if not ahead and not behind else "ahead" if not behind else
                 "behind" if not ahead else "diverged")
        self._reply(200, {"status": state, "ahead_by": ahead, "behind_by": behind,
                          "base_commit": {"sha": b}, "merge_base_commit": {"sha": git(self.origin, "merge-base", b, h)}})
