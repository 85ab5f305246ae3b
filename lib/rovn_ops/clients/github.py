"""GitHub's REST API: the two calls a deploy's provenance makes (§2), with a token
named `secret:NAME` and read from Secrets Manager only when a call is made.

- the combined commit status of a SHA (`GET /repos/{repo}/commits/{sha}/status`):
  "GitHub Actions: build, lint, unit tests" passed when its state is `success`;
- whether the SHA is on main (`GET /repos/{repo}/compare/main...{sha}`): `identical`
  or `behind` means main contains it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    status: int | None        # HTTP status, None when GitHub was not reached
    body: dict
    error: str = ""
    link: str = ""            # the Link header: GitHub's paging (rel="next")

    @property
    def message(self) -> str:
        return self.error or str(self.body.get("message") or f"HTTP {self.status}")


@dataclass
class GitHub:
    api_url: str
    repository: str           # owner/name
    token: Callable[[], object]  # returns the token (a masked Secret, or its value)
    token_name: str = ""

    def _get(self, path: str) -> Answer:
        import urllib3

        if path.startswith("http"):  # a Link header's next page: only on this API's host
            if not path.startswith(self.api_url.rstrip("/") + "/"):
                return Answer(None, {}, f"GitHub's next page {path[:80]} is not on {self.api_url}")
            path = path[len(self.api_url.rstrip("/")):]

        token = self.token()
        value = token.reveal() if hasattr(token, "reveal") else str(token)
        try:
            resp = urllib3.request("GET", self.api_url.rstrip("/") + path, timeout=TIMEOUT,
                                   retries=urllib3.Retry(2, backoff_factor=0.3, status_forcelist=(502, 503, 504)),
                                   headers={"Authorization": f"Bearer {value}", "User-Agent": "rovn-ops",
                                            "Accept": "application/vnd.github+json",
                                            "X-GitHub-Api-Version": "2022-11-28"})
        except urllib3.exceptions.HTTPError as e:
            return Answer(None, {}, f"GitHub unreachable at {self.api_url} ({type(e).__name__})")
        try:
            body = json.loads(resp.data or b"{}")
        except ValueError:
            body = {}
        if resp.status == 401:
            return Answer(401, body, f"GitHub refused the token {self.token_name or ''} (401 "
                                     f"{body.get('message', 'Bad credentials')})".replace("  ", " "))
        if isinstance(body, list):  # list endpoints (reviews) answer a JSON array
            body = {"items": body}
        return Answer(resp.status, body if isinstance(body, dict) else {}, link=resp.headers.get("Link", ""))

    def combined_status(self, sha: str) -> Answer:
        return self._get(f"/repos/{self.repository}/commits/{quote(sha)}/status")

    def check_runs(self, ref: str, limit_pages: int = 20) -> tuple[list[dict], Answer]:
        """Every check run of a ref, all pages (`per_page=100`, following Link rel="next"):
        GET /repos/{owner}/{repo}/commits/{ref}/check-runs, filter=latest.
        https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference"""
        path = f"/repos/{self.repository}/commits/{quote(ref)}/check-runs?filter=latest&per_page=100"
        return self._pages(path, "check_runs", limit_pages, f"check runs for {ref[:12]}")

    def pull_request(self, number: int) -> Answer:
        """GET /repos/{owner}/{repo}/pulls/{n}: `head.sha`, `user.login`, `state`, `merged_at`.
        https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request"""
        return self._get(f"/repos/{self.repository}/pulls/{int(number)}")

    def pull_reviews(self, number: int, limit_pages: int = 20) -> tuple[list[dict], Answer]:
        """Every review of a pull request, all pages, in chronological order as GitHub lists
        them (`per_page=100`, Link rel="next"): GET /repos/{owner}/{repo}/pulls/{n}/reviews.
        The body is a JSON array. https://docs.github.com/en/rest/pulls/reviews#list-reviews-for-a-pull-request"""
        path = f"/repos/{self.repository}/pulls/{int(number)}/reviews?per_page=100"
        return self._pages(path, "items", limit_pages, f"reviews on pull request {number}")

    def pull_commits(self, number: int, limit_pages: int = 20) -> tuple[list[dict], Answer]:
        """Every commit of a pull request, all pages (`per_page=100`, Link rel="next"), each
        with `author` and `committer` (the GitHub accounts, null for an email no account
        has): GET /repos/{owner}/{repo}/pulls/{n}/commits.
        https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request"""
        path = f"/repos/{self.repository}/pulls/{int(number)}/commits?per_page=100"
        return self._pages(path, "items", limit_pages, f"commits on pull request {number}")

    def _pages(self, path: str, key: str, limit_pages: int, what: str) -> tuple[list[dict], Answer]:
        """The `key` items of every page from `path` on, following Link rel="next"; the
        last answer says why it stopped (a non-200, the end, or too many pages)."""
        items: list[dict] = []
        for _ in range(limit_pages):
            answer = self._get(path)
            if answer.status != 200:
                return items, answer
            items += [i for i in answer.body.get(key) or [] if isinstance(i, dict)]
            path = next_page(answer.link)
            if not path:
                return items, answer
        return items, Answer(None, {}, f"more than {limit_pages} pages of {what}")

    def contents(self, path: str, ref: str) -> Answer:
        """GET /repos/{owner}/{repo}/contents/{path}?ref=REF: a file's blob `sha` and content.
        https://docs.github.com/en/rest/repos/contents#get-repository-content"""
        return self._get(f"/repos/{self.repository}/contents/{quote(path)}?ref={quote(ref)}")

    def branch(self, name: str) -> Answer:
        """GET /repos/{owner}/{repo}/branches/{branch}: `protected` (boolean), `commit.sha`.
        https://docs.github.com/en/rest/branches/branches#get-a-branch"""
        return self._get(f"/repos/{self.repository}/branches/{quote(name, safe='')}")

    def compare(self, base: str, head: str) -> Answer:
        return self._get(f"/repos/{self.repository}/compare/{quote(base)}...{quote(head)}")


def status_problems(answer: Answer, sha: str) -> list[str]:
    """The combined status must be `success`: pending, failure, error or none refuse."""
    if answer.status != 200:
        return [f"no commit status for {sha[:12]}: {answer.message}"]
    state = answer.body.get("state")
    if state == "success" and answer.body.get("total_count", 1):
        return []
    failing = [f"{s.get('context')}: {s.get('state')}" for s in answer.body.get("statuses", [])
               if s.get("state") != "success"]
    return [f"GitHub's combined status of {sha[:12]} is {state}" + (f" ({'; '.join(failing)})" if failing else "")]


def next_page(link: str) -> str:
    """The rel="next" URL of a Link header, or "" on the last page."""
    for part in link.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", ""):
            return url.strip().strip("<>")
    return ""


def checks_problems(runs: list[dict], required: list[str], app: str, sha: str) -> list[str]:
    """Each required check must have a run by `app` (GitHub Actions) with status completed
    and conclusion success; a missing, pending or failed one is named. Runs by another app
    with a required name count for nothing (any GitHub App may create a check run)."""
    problems = []
    for name in required:
        mine = [r for r in runs if r.get("name") == name and (r.get("app") or {}).get("slug") == app]
        if not mine:
            others = sorted({(r.get("app") or {}).get("slug", "?") for r in runs if r.get("name") == name})
            problems.append(f"check '{name}' has no run on {sha[:12]}" + (
                f" by {app} (only by {', '.join(others)}, which does not count)" if others else ""))
            continue
        run = max(mine, key=lambda r: (str(r.get("started_at") or ""), int(r.get("id") or 0)))  # a re-run: the latest
        if run.get("status") != "completed":
            problems.append(f"check '{name}' is {run.get('status')} (not completed) on {sha[:12]}")
        elif run.get("conclusion") != "success":
            problems.append(f"check '{name}' concluded {run.get('conclusion')} on {sha[:12]}")
    return problems


def on_main_problems(answer: Answer, sha: str) -> list[str]:
    if answer.status == 404:
        return [f"{sha[:12]} is not on GitHub's main (not pushed, or another repository)"]
    if answer.status != 200:
        return [f"could not compare {sha[:12]} with main: {answer.message}"]
    if answer.body.get("status") in ("identical", "behind"):
        return []
    return [f"{sha[:12]} is not on main: GitHub compares it as {answer.body.get('status')} "
            f"({answer.body.get('ahead_by', '?')} commit(s) main does not have)"]


def connect(ctx) -> GitHub:
    """The deploy's GitHub client: the token is read from Secrets Manager at each call
    (as a masked value, registered for the evidence scrubber), never held in a parameter."""
    p = ctx.params
    guard(p.env, p.github_api_url)
    name = p.github_token_secret.removeprefix("secret:")

    def token():
        from rovn_ops.safety import secret_values

        read = getattr(secret_values, "read", None)  # the masked Secret, where the library has it
        sm = ctx.client("secretsmanager")
        return read(sm, name) if read else secret_values.value(sm, name)

    return GitHub(p.github_api_url, p.github_repository, token, p.github_token_secret)


def guard(env: str, url: str) -> None:
    """As aws.guard does for AWS: a sandbox run talks to loopback only, prod never does."""
    from urllib.parse import urlsplit

    from rovn_ops.core.errors import BadInput

    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if env == "sandbox" and not loopback:
        raise BadInput(f"parameter 'github_api_url': {url or '(empty)'} is not the sandbox's loopback GitHub stub; "
                       "expected ${ROVN_GITHUB_URL} (rovn-ops sandbox env)")
    if env == "prod" and (loopback or parts.scheme != "https"):
        raise BadInput(f"parameter 'github_api_url': expected GitHub's https API in prod, got {url or '(empty)'}")
