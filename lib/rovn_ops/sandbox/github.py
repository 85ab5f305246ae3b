"""A small GitHub REST API on loopback, over the sandbox's "remote" of the service's
repository (a bare git repository beside the checkout, standing in for github.com).

It answers the two calls a deploy's provenance check makes, as GitHub does:
- `GET /repos/{owner}/{repo}/commits/{ref}/status`: the combined commit status
  (`success` for every commit on the remote; scenario `github_status_failing` makes
  the CI context fail); a commit the remote lacks gets 422 "No commit found for SHA";
- `GET /repos/{owner}/{repo}/compare/{base}...{head}`: identical, ahead, behind or
  diverged (404 for a commit the remote lacks);
- `GET /repos/{owner}/{repo}/commits/{ref}`: the commit (`sha`, `commit.message`), 422
  for an unknown ref (https://docs.github.com/en/rest/commits/commits#get-a-commit);
- `GET /repos/{owner}/{repo}/contents/{path}?ref=REF`: a file as GitHub serves it, `type:
  file`, `encoding: base64`, its content base64 in lines of 60 characters, the blob `sha`;
  404 "Not Found" for no such file (https://docs.github.com/en/rest/repos/contents).
  These also serve RUNBOOKS_REPOSITORY, this project's own repository, from
  `runbooks_origin` (the bare repository its checkout pushes to): the deployers
  allow-list as the protected branch has it (allow_list_github.py).
Every call needs `Authorization: Bearer <token>` (or `token <token>`) with the value
of the token's Secrets Manager secret; otherwise 401 "Bad credentials"."""
from __future__ import annotations

import json
import re
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote

from . import scenarios

REPOSITORY = "rovn/rovn-platform"
RUNBOOKS_REPOSITORY = "rovn/rovn-runbooks"
CI_CONTEXT = "GitHub Actions: build, lint, unit tests"
_STATUS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)/status$")
_COMMIT = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)$")
_CONTENTS = re.compile(r"^/repos/([^/]+/[^/]+)/contents/(.+)$")
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


def project_origin() -> Path | None:
    """The repository this project's checkout pushes to, when it is a local one (the
    sandbox's stand-in for github.com's rovn/rovn-runbooks); None otherwise."""
    from .. import paths

    try:
        url = git(paths.root(), "remote", "get-url", "origin")
    except (subprocess.CalledProcessError, OSError):
        return None
    path = Path(url.removeprefix("file://"))
    return path if path.is_absolute() and path.is_dir() else None


class Handler(BaseHTTPRequestHandler):
    origin: Path
    token: Callable[[], str]
    runbooks_origin: Path | None = None

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

    def _commit(self, ref: str, origin: Path | None = None) -> str | None:
        try:
            return git(origin or self.origin, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        except subprocess.CalledProcessError:
            return None

    def _repo(self, repo: str) -> Path | None:
        return {REPOSITORY: self.origin, RUNBOOKS_REPOSITORY: self.runbooks_origin}.get(repo)

    def do_GET(self):
        if not self._authorized():
            return self._reply(401, {"message": "Bad credentials", "status": "401"})
        if m := _STATUS.match(self.path):
            return self._status(m.group(1), m.group(2))
        if m := _COMPARE.match(self.path):
            return self._compare(m.group(1), m.group(2), m.group(3))
        path, _, query = self.path.partition("?")
        if m := _COMMIT.match(path):
            return self._get_commit(m.group(1), unquote(m.group(2)))
        if m := _CONTENTS.match(path):
            return self._contents(m.group(1), unquote(m.group(2)), parse_qs(query).get("ref", ["main"])[0])
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

    def _get_commit(self, repo: str, ref: str):
        origin = self._repo(repo)
        sha = self._commit(ref, origin) if origin else None
        if sha is None:
            return self._reply(422, {"message": f"No commit found for SHA: {ref}", "status": "422"})
        message = git(origin, "log", "-1", "--format=%B", sha)
        self._reply(200, {"sha": sha, "commit": {"message": message, "tree": {"sha": git(origin, "rev-parse",
                                                                                      f"{sha}^{{tree}}")}}})

    def _contents(self, repo: str, path: str, ref: str):
        import base64

        origin = self._repo(repo)
        sha = self._commit(ref, origin) if origin else None
        try:
            blob = git(origin, "rev-parse", "--verify", "-q", f"{sha}:{path}") if sha else ""
            kind = git(origin, "cat-file", "-t", blob) if blob else ""
        except subprocess.CalledProcessError:
            kind = ""
        if kind != "blob":
            return self._reply(404, {"message": "Not Found", "status": "404"})
        data = subprocess.run(["git", "cat-file", "blob", blob], cwd=origin, check=True, capture_output=True).stdout
        text = base64.b64encode(data).decode()
        self._reply(200, {"type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1],
                          "path": path, "sha": blob,
                          "content": "".join(text[i:i + 60] + "\n" for i in range(0, len(text), 60))})

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
