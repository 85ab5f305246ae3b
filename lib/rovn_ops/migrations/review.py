"""The second review of a PHI reversal (§3, §7): a GitHub pull-request review, read
through GitHub's API, never attested by a parameter.

A reversal that touches a PHI column is applied only when its file is committed in
the migrations repository, in a pull request whose head carries exactly that file, and
someone other than the pull request's author approved that head:

- GET /repos/{owner}/{repo}/pulls/{n}: the author (`user.login`, `user.type`: `User` or
  `Bot`), `head.sha`, `state`, and the target branch (`base.ref`, and `base.repo`, the
  repository with its `default_branch`);
  https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
- GET /repos/{owner}/{repo}/branches/{branch}: `protected`, whether the target branch is
  protected; https://docs.github.com/en/rest/branches/branches#get-a-branch
- GET /repos/{owner}/{repo}/pulls/{n}/reviews, every page: reviews in chronological
  order, each with `user.login`, `state` (APPROVED, CHANGES_REQUESTED, COMMENTED,
  DISMISSED, PENDING), `commit_id` (the commit reviewed) and `author_association`;
  https://docs.github.com/en/rest/pulls/reviews#list-reviews-for-a-pull-request
- GET /repos/{owner}/{repo}/pulls/{n}/commits, every page: each commit's `author.login`
  and `committer.login`; whoever wrote or committed any of them is an author too (push
  to someone else's pull request, then approve it, approves one's own SQL);
  https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request
- GET /repos/{owner}/{repo}/contents/{path}?ref={head.sha}: the file's blob `sha`, which
  must be the blob of the file this run applies (git's object id of its bytes).
  https://docs.github.com/en/rest/repos/contents#get-repository-content

A reviewer's latest review wins, as GitHub's review decision counts it: a COMMENTED (or
PENDING) review after an approval leaves it standing, a DISMISSED or CHANGES_REQUESTED
one replaces it. An approval counts only on the head commit (an approval of an older
commit approved other SQL), only by someone other than the author, and only from an
OWNER, MEMBER or COLLABORATOR of the repository (anyone can review a public pull request).

GitHub logins are mapped to people by the environment file's committed `github_logins`
(approver name → their logins, authorization.Lists): an approval counts only from a
login of an approver, never from any GitHub user, and never from the author's own person
(two accounts of one person are one person). A pull request opened by a bot (`user.type`
`Bot`: no engineer wrote it), or one that targets a branch other than the repository's
default, protected branch (a review of a side branch's merge approves nothing that ships),
is refused.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rovn_ops.core import controls
from rovn_ops.core.errors import Refused

COUNTED = ("OWNER", "MEMBER", "COLLABORATOR")


@dataclass(frozen=True)
class Review:
    pull_request: int
    head_sha: str = ""
    author: str = ""
    approved_by: tuple[str, ...] = ()   # the approving GitHub logins
    problems: tuple[str, ...] = field(default=())
    people: tuple[str, ...] = ()        # the approvers they are (github_logins), for the engine's PHI rule

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.approved_by)

    def as_plan(self) -> dict:
        """What the plan (and so its hash) holds: a new commit on the pull request, or a
        review given or withdrawn, is another plan."""
        return {"pull_request": self.pull_request, "head": self.head_sha, "author": self.author,
                "approved_by": list(self.approved_by), "people": list(self.people), "problems": list(self.problems)}

    def refuse_unless_ok(self, file_name: str) -> None:
        if not self.ok:
            raise Refused(f"{file_name} touches PHI (§3): it is applied only after a second engineer approved "
                          f"it on GitHub; " + "; ".join(self.problems or ("no approving review",)))


@controls.enforces("§3 PHI review")
def decision(reviews: list[dict], author: str, head_sha: str, people: dict[str, str],
             contributors: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(logins whose approval counts, problems) from a pull request's reviews, oldest first;
    `people` maps a GitHub login (lower-case) to the approver it belongs to; `contributors`
    are the logins (lower-case) that authored or committed a commit of the pull request."""
    latest: dict[str, dict] = {}
    for r in reviews:
        login = str((r.get("user") or {}).get("login") or "")
        if login and r.get("state") not in ("COMMENTED", "PENDING"):
            latest[login.lower()] = r
    approved, problems = [], []
    for r in latest.values():
        login, state = r["user"]["login"], r.get("state")
        why = None if state != "APPROVED" else _not_counted(r, author, head_sha, people, contributors)
        if state == "CHANGES_REQUESTED":
            problems.append(f"{login} requested changes")
        elif state != "APPROVED":
            continue
        elif why:
            problems.append(why)
        else:
            approved.append(login)
    if not approved and not problems:
        problems.append("no review approves it")
    if approved:  # a stale or own approval beside a good one is no reason to refuse
        problems = [p for p in problems if "requested changes" in p]
    return tuple(sorted(approved)), tuple(problems)


def _not_counted(r: dict, author: str, head_sha: str, people: dict[str, str],
                 contributors: frozenset[str] = frozenset()) -> str | None:
    """Why an APPROVED review does not count, or None."""
    login = r["user"]["login"]
    person, authors = people.get(login.lower()), people.get(author.lower())
    if login.lower() == author.lower() or (person is not None and person == authors):
        also = "" if login.lower() == author.lower() else f" ({login} and {author} are both {person}'s)"
        return f"{login} approved their own pull request{also} (the second review must be someone else's)"
    wrote = sorted(c for c in contributors if c == login.lower() or (person is not None and people.get(c) == person))
    if wrote:
        also = "" if wrote == [login.lower()] else f" (as {', '.join(wrote)}, {person}'s)"
        return (f"{login} authored or committed commits of the pull request{also}: the second review must be "
                "by someone who wrote none of it")
    if person is None:
        return (f"{login} is not the GitHub login of an approver (github_logins of the environment file): "
                "the second review must be a known approver's")
    if r.get("commit_id") != head_sha:
        return (f"{login}'s approval is of commit {str(r.get('commit_id'))[:12]}, not the head "
                f"{head_sha[:12]} (stale: re-review the head)")
    if r.get("author_association") not in COUNTED:
        return f"{login} is {r.get('author_association')} of the repository, not a member or collaborator"
    return None


def contributors(commits: list[dict]) -> frozenset[str]:
    """The GitHub logins (lower-case) that authored or committed any of the commits."""
    return frozenset(str((c.get(k) or {}).get("login") or "").lower() for c in commits
                     for k in ("author", "committer")) - {""}


def unattributed(commits: list[dict], number: int) -> list[str]:
    """A commit GitHub links to no account (`author` or `committer` null: its email is no
    account's) has a writer no one can name, so "wrote none of it" cannot be checked: a
    reviewer could push under an unlinked email, then approve. Refused, naming the commit."""
    return [f"commit {str(c.get('sha'))[:12]} of pull request {number} has no GitHub account for its "
            f"{k} (an email no account verifies): who wrote it cannot be told, so its review cannot be counted"
            for c in commits for k in ("author", "committer") if not (c.get(k) or {}).get("login")]


def target_problems(gh, pr: dict, number: int) -> list[str]:
    """A PHI reversal's pull request must be a person's, into the default, protected branch."""
    out = []
    user = pr.get("user") or {}
    if user.get("type") != "User":
        out.append(f"pull request {number} was opened by {user.get('login') or '?'}, a {user.get('type') or 'non-user'} "
                   "account: a PHI reversal is written by an engineer and reviewed by another")
    base = pr.get("base") or {}
    ref, default = str(base.get("ref") or ""), str((base.get("repo") or {}).get("default_branch") or "")
    if not ref or ref != default:
        out.append(f"pull request {number} targets {ref or '?'}, not the default branch {default or '?'}")
        return out
    branch = gh.branch(ref)
    if branch.status != 200 or branch.body.get("protected") is not True:
        out.append(f"pull request {number} targets {ref}, which is not a protected branch"
                   + ("" if branch.status == 200 else f" ({branch.message})"))
    return out


def read(gh, number: int, repo_path: str, local_blob: str, people: dict[str, str]) -> Review:
    """The pull request's review of the file at `repo_path`, whose bytes have git blob id
    `local_blob`; `people` maps GitHub logins (lower-case) to approvers."""
    pr = gh.pull_request(number)
    if pr.status != 200:
        return Review(number, problems=(f"pull request {number} of {gh.repository}: {pr.message}",))
    head = str((pr.body.get("head") or {}).get("sha") or "")
    author = str((pr.body.get("user") or {}).get("login") or "")
    out = target_problems(gh, pr.body, number)
    if pr.body.get("state") == "closed" and not pr.body.get("merged_at"):
        out.append(f"pull request {number} was closed without merging")
    file = gh.contents(repo_path, head)
    if file.status != 200:
        out.append(f"{repo_path} is not in pull request {number}'s head {head[:12]} ({file.message})")
    elif file.body.get("sha") != local_blob:
        out.append(f"{repo_path} at pull request {number}'s head {head[:12]} is not the file this run applies "
                   "(commit the generated file unchanged, or preview again)")
    reviews, answer = gh.pull_reviews(number)
    if answer.status != 200:
        return Review(number, head, author, problems=(*out, f"reviews of pull request {number}: {answer.message}"))
    commits, listed = gh.pull_commits(number)
    if listed.status != 200:
        return Review(number, head, author, problems=(*out, f"commits of pull request {number}: {listed.message}"))
    approved, problems = decision(reviews, author, head, people, contributors(commits))
    out += unattributed(commits, number)
    return Review(number, head, author, approved, (*out, *problems),
                  tuple(sorted({people[a.lower()] for a in approved})))


def committed(path: Path) -> tuple[str, str]:
    """(path inside the repository, git blob id) of a file committed unchanged in its
    checkout; raises Refused when it is missing, untracked or modified."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(path.parent), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    why = (f"{path.name} is applied only once it is committed to the migrations repository "
           "(never straight from the preview): write the previewed file, commit it, open a pull request, "
           "and preview again")
    if not path.is_file():
        raise Refused(f"{path.name} is not in the migrations directory. {why}")
    try:
        prefix = git("rev-parse", "--show-prefix")
        head_blob = git("rev-parse", "--verify", "-q", f"HEAD:{prefix}{path.name}")
        local_blob = git("hash-object", "--", path.name)
    except (subprocess.CalledProcessError, OSError):
        raise Refused(f"{path.name} is not committed in the migrations checkout. {why}") from None
    if head_blob != local_blob:
        raise Refused(f"{path.name} differs from its committed version. {why}")
    return prefix + path.name, local_blob
