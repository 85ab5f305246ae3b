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
        return Answer(resp.status, body if isinstance(body, dict) else {})

    def combined_status(self, sha: str) -> Answer:
        return self._get(f"/repos/{self.repository}/commits/{quote(sha)}/status")

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
        from .. import secret_values

        read = getattr(secret_values, "read", None)  # the masked Secret, where the library has it
        sm = ctx.client("secretsmanager")
        return read(sm, name) if read else secret_values.value(sm, name)

    return GitHub(p.github_api_url, p.github_repository, token, p.github_token_secret)


def guard(env: str, url: str) -> None:
    """As aws.guard does for AWS: a sandbox run talks to loopback only, prod never does."""
    from urllib.parse import urlsplit

    from ..errors import BadInput

    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if env == "sandbox" and not loopback:
        raise BadInput(f"parameter 'github_api_url': {url or '(empty)'} is not the sandbox's loopback GitHub stub; "
                       "expected ${ROVN_GITHUB_URL} (rovn-ops sandbox env)")
    if env == "prod" and (loopback or parts.scheme != "https"):
        raise BadInput(f"parameter 'github_api_url': expected GitHub's https API in prod, got {url or '(empty)'}")
