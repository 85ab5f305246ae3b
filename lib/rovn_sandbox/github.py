"""A small GitHub REST API on loopback, over the sandbox's "remote" of the service's
repository (a bare git repository beside the checkout, standing in for github.com).

It answers the calls a deploy's provenance check makes, as GitHub does:
- `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`: the check runs GitHub Actions
  wrote (one per CI job, paged with per_page/page and a Link header; see check_runs);
- `GET /repos/{owner}/{repo}/commits/{ref}/status`: the combined commit status: none
  (`pending`, total_count 0), as for every Actions-built commit; scenario
  `github_statuses_only` is a legacy CI that writes statuses and no check runs
  (`success`, or `failure` with `github_status_failing`); a commit the remote lacks gets 422 "No commit found for SHA";
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
- `GET /repos/{owner}/{repo}/pulls/{n}` and `/pulls/{n}/reviews` (paged, a JSON array in
  chronological order): the pull requests a test opened on the remote (open_pull,
  add_review), kept in the bare repository's `rovn-pulls.json`; `head.sha` is the head
  branch's tip now, so a push after a review leaves that review on an older commit_id
  (https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request,
  https://docs.github.com/en/rest/pulls/reviews#list-reviews-for-a-pull-request); the
  author's `user.type` (`User`, or `Bot` for an app's account), `base.ref` the branch it
  targets and `base.repo` the repository, whose `default_branch` is main;
- `GET /repos/{owner}/{repo}/pulls/{n}/commits` (paged, oldest first): the head branch's
  commits not on its base, each with `author`/`committer` accounts by email (_NOREPLY;
  null for an email no account has) (https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request);
- `GET /repos/{owner}/{repo}/branches/{branch}`: the branch's tip and `protected`, true
  for main only, as the world's remote protects its default branch; 404 "Branch not
  found" for no such branch (https://docs.github.com/en/rest/branches/branches#get-a-branch).
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

from rovn_sandbox import scenarios

REPOSITORY = "rovn/rovn-platform"
RUNBOOKS_REPOSITORY = "rovn/rovn-runbooks"
CI_CONTEXT = "GitHub Actions: build, lint, unit tests"
_STATUS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)/status$")
_COMMIT = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)$")
_CONTENTS = re.compile(r"^/repos/([^/]+/[^/]+)/contents/(.+)$")
_CHECK_RUNS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([^/?]+)/check-runs(?:\?(.*))?$")
# The CI workflow's jobs, as GitHub Actions reports them: one check run per job (§2, §9)
JOBS = ("build", "lint", "unit tests", "snyk scan")
ACTIONS_APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}
_BRANCH = re.compile(r"^/repos/([^/]+/[^/]+)/branches/([^/]+)$")
DEFAULT_BRANCH = "main"  # the remote's default branch, and its one protected branch
_PULL = re.compile(r"^/repos/([^/]+/[^/]+)/pulls/([0-9]+)(/reviews|/commits)?$")
# A commit's email names its GitHub account as GitHub's no-reply address does
# (ID+login@users.noreply.github.com); any other email is no account's (author null).
_NOREPLY = re.compile(r"^(?:[0-9]+\+)?([A-Za-z0-9-]+)@users\.noreply\.github\.com$")
PULLS_FILE = "rovn-pulls.json"
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
    from rovn_ops.core import paths

    try:
        url = git(paths.root(), "remote", "get-url", "origin")
    except (subprocess.CalledProcessError, OSError):
        return None
    path = Path(url.removeprefix("file://"))
    return path if path.is_absolute() and path.is_dir() else None
def _pulls(origin: Path) -> dict:
    path = origin / PULLS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def open_pull(origin: Path, branch: str, author: str, title: str = "", base: str = DEFAULT_BRANCH,
              author_type: str = "User") -> int:
    """A pull request of `branch` (already pushed to `origin`) into `base`, by `author`
    (a `User`, or a `Bot`: an app's account)."""
    pulls = _pulls(origin)
    number = max(map(int, pulls), default=0) + 1
    pulls[str(number)] = {"branch": branch, "author": author, "title": title or branch, "state": "open",
                          "merged_at": None, "reviews": [], "base": base, "author_type": author_type}
    (origin / PULLS_FILE).write_text(json.dumps(pulls))
    return number


def add_review(origin: Path, number: int, login: str, state: str = "APPROVED", commit_id: str | None = None,
               association: str = "MEMBER") -> None:
    """A submitted review, of `commit_id` (the head branch's tip when omitted), as GitHub records it."""
    pulls = _pulls(origin)
    pr = pulls[str(number)]
    pr["reviews"].append({"login": login, "state": state, "association": association,
                          "commit_id": commit_id or git(origin, "rev-parse", pr["branch"])})
    (origin / PULLS_FILE).write_text(json.dumps(pulls))


def _account(email: str) -> dict | None:
    """The GitHub account a commit's email belongs to, as the commits list gives it."""
    m = _NOREPLY.match(email)
    return {"login": m.group(1), "type": "User"} if m else None


def check_runs(sha: str) -> list[dict]:
    """The check runs GitHub Actions leaves on a pushed commit: one per job of the CI
    workflow (scenario github_check_failing fails `unit tests`, github_check_pending
    leaves `snyk scan` in progress, github_checks_paged adds a 120-job matrix first)."""
    import hashlib

    base = int(hashlib.sha256(sha.encode()).hexdigest()[:8], 16) * 1000
    jobs = ([f"e2e (shard {i})" for i in range(1, 121)] if scenarios.active("github_checks_paged") else []) + list(JOBS)
    runs = []
    for i, name in enumerate(jobs):
        status, conclusion = "completed", "success"
        if name == "unit tests" and scenarios.active("github_check_failing"):
            conclusion = "failure"
        if name == "snyk scan" and scenarios.active("github_check_pending"):
            status, conclusion = "in_progress", None
        runs.append({"id": base + i, "name": name, "head_sha": sha, "status": status, "conclusion": conclusion,
                     "started_at": "2026-05-27T05:20:00Z",
                     "completed_at": "2026-05-27T05:24:00Z" if status == "completed" else None,
                     "app": ACTIONS_APP, "check_suite": {"id": base}, "pull_requests": [],
                     "output": {"title": conclusion or status, "summary": "", "annotations_count": 0}})
    return runs


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
        if m := _CHECK_RUNS.match(self.path):
            return self._check_runs(m.group(1), m.group(2), m.group(3) or "")
        if m := _STATUS.match(self.path):
            return self._status(m.group(1), m.group(2))
        if m := _COMPARE.match(self.path):
            return self._compare(m.group(1), m.group(2), m.group(3))
        path, _, query = self.path.partition("?")
        if (m := _PULL.match(path)) and m.group(1) == REPOSITORY:
            return self._pull(m.group(1), int(m.group(2)), m.group(3) or "", query)
        if (m := _BRANCH.match(path)) and m.group(1) == REPOSITORY:
            return self._branch(unquote(m.group(2)))
        if m := _COMMIT.match(path):
            return self._get_commit(m.group(1), unquote(m.group(2)))
        if m := _CONTENTS.match(path):
            return self._contents(m.group(1), unquote(m.group(2)), parse_qs(query).get("ref", ["main"])[0])
        self._reply(404, {"message": "Not Found", "status": "404"})

    def _status(self, repo: str, ref: str):
        sha = self._commit(ref) if repo == REPOSITORY else None
        if sha is None:
            return self._reply(422, {"message": f"No commit found for SHA: {ref}", "status": "422"})
        if not scenarios.active("github_statuses_only"):  # GitHub Actions writes check runs, no status
            return self._reply(200, {"state": "pending", "sha": sha, "total_count": 0, "statuses": [],
                                     "repository": {"full_name": repo}})
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
    def _check_runs(self, repo: str, ref: str, query: str):
        """List check runs for a Git reference, paged as GitHub pages: per_page (default
        30, max 100), page, `total_count` of all pages, a Link header with rel="next"/"last".
        https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference
        https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api"""
        from urllib.parse import parse_qs

        sha = self._commit(ref) if repo == REPOSITORY else None
        if sha is None:
            return self._reply(422, {"message": f"No commit found for SHA: {ref}", "status": "422"})
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        per_page = min(100, max(1, int(q.get("per_page", "30") or 30)))
        page = max(1, int(q.get("page", "1") or 1))
        runs = [] if scenarios.active("github_statuses_only") else check_runs(sha)
        if q.get("check_name"):
            runs = [r for r in runs if r["name"] == q["check_name"]]
        body = {"total_count": len(runs), "check_runs": runs[(page - 1) * per_page: page * per_page]}
        self._paged(body, f"/repos/{repo}/commits/{ref}/check-runs", len(runs), per_page, page)

    def _paged(self, body, path: str, total: int, per_page: int, page: int) -> None:
        """A 200 with GitHub's Link header (rel next/last/first/prev) for page `page`."""
        last = max(1, -(-total // per_page))
        base = f"http://{self.headers.get('Host')}{path}?per_page={per_page}"
        links = ([f'<{base}&page={page + 1}>; rel="next"', f'<{base}&page={last}>; rel="last"'] if page < last
                 else []) + ([f'<{base}&page=1>; rel="first"', f'<{base}&page={page - 1}>; rel="prev"'] if page > 1
                             else [])
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if links:
            self.send_header("Link", ", ".join(links))
        self.end_headers()
        self.wfile.write(data)

    def _pull(self, repo: str, number: int, part: str, query: str):
        """A pull request, or its reviews or commits (per_page default 30, max 100), in GitHub's shape."""
        pr = _pulls(self.origin).get(str(number))
        if pr is None:
            return self._reply(404, {"message": "Not Found", "status": "404"})
        head = self._commit(pr["branch"]) or ""
        url = f"https://api.github.com/repos/{repo}/pulls/{number}"
        if not part:
            base = pr.get("base", DEFAULT_BRANCH)
            return self._reply(200, {"number": number, "state": pr["state"], "title": pr["title"], "url": url,
                                     "user": {"login": pr["author"], "type": pr.get("author_type", "User")},
                                     "head": {"ref": pr["branch"], "sha": head}, "merged_at": pr["merged_at"],
                                     "base": {"ref": base, "sha": self._commit(base),
                                              "repo": {"full_name": repo, "default_branch": DEFAULT_BRANCH}}})
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        per_page = min(100, max(1, int(q.get("per_page", "30") or 30)))
        page = max(1, int(q.get("page", "1") or 1))
        items = self._pull_commits(pr, repo) if part == "/commits" else self._pull_reviews(pr, repo, number, url)
        self._paged(items[(page - 1) * per_page: page * per_page], f"/repos/{repo}/pulls/{number}{part}",
                    len(items), per_page, page)

    @staticmethod
    def _pull_reviews(pr: dict, repo: str, number: int, url: str) -> list[dict]:
        return [{"id": 80 + i, "user": {"login": r["login"], "type": "User"}, "body": "", "state": r["state"],
                 "commit_id": r["commit_id"], "author_association": r["association"],
                 "submitted_at": f"2026-12-07T{10 + i // 60 % 10:02d}:{i % 60:02d}:00Z",
                 "pull_request_url": url, "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{80 + i}"}
                for i, r in enumerate(pr["reviews"])]

    def _pull_commits(self, pr: dict, repo: str) -> list[dict]:
        """The pull request's commits as GitHub lists them: `sha`, `commit` (git's author and
        committer), `author` and `committer` (the accounts, or null)."""
        out = []
        log = git(self.origin, "log", "--reverse", "--format=%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%s",
                  f"{pr.get('base', DEFAULT_BRANCH)}..{pr['branch']}")
        for line in filter(None, log.splitlines()):
            sha, an, ae, cn, ce, subject = line.split("\x1f")
            out.append({"sha": sha, "url": f"https://api.github.com/repos/{repo}/commits/{sha}",
                        "commit": {"author": {"name": an, "email": ae}, "committer": {"name": cn, "email": ce},
                                   "message": subject},
                        "author": _account(ae), "committer": _account(ce), "parents": []})
        return out

    def _branch(self, name: str):
        sha = self._commit(f"refs/heads/{name}")
        if sha is None:
            return self._reply(404, {"message": "Branch not found", "status": "404"})
        self._reply(200, {"name": name, "commit": {"sha": sha}, "protected": name == DEFAULT_BRANCH})

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
