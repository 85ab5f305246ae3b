"""§3/§7 PHI reversals (issue 29): the second review is a GitHub pull-request review by
someone other than the pull request's author, of its head commit, read through
GitHub's API, and a generated reversal is applied only once it is committed, never
straight from the preview.

The sandbox's GitHub stub answers as GitHub documents:
https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request (author `user.login`,
`head.sha`) and https://docs.github.com/en/rest/pulls/reviews#list-reviews-for-a-pull-request
(a JSON array, chronological, paged with a Link header; each review's `state`,
`commit_id`, `author_association`). The pull request's author is a person (`user.type`
`User`, not `Bot`), it targets the default, protected branch (`base.ref` ==
`base.repo.default_branch`; https://docs.github.com/en/rest/branches/branches#get-a-branch
`protected`), and its reviewer is an approver by the environment file's `github_logins`,
not the author's own person under another account."""
from __future__ import annotations

import re
from pathlib import Path

import psycopg

from rovn_ops.migrations import reversal
from rovn_sandbox import github as stub
from tests.conftest import rovn_ops
from tests.scenarios.test_approval_records import as_person
from tests.scenarios.test_migration_reversal import _manifest

PHI = "0012_workers_dob_index.sql"
FILE = "0013_reverse_workers_dob_index.sql"


def _git(cwd, *args) -> str:
    return stub.git(Path(cwd), *args)


def _index_exists(url) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass('workers_date_of_birth_idx')").fetchone()[0] is not None


def _pull_request(fresh, author: str, committer: str = "", **pull) -> tuple[Path, int]:
    """The generated reversal written, committed on a branch (by GitHub account `committer`
    when given: its no-reply email), pushed, and a pull request opened."""
    source, mdir = Path(fresh["source_dir"]), Path(fresh["migrations_dir"])
    generated = reversal.generate(mdir, PHI)
    (mdir / generated.file_name).write_text(generated.sql)
    _git(source, "checkout", "-q", "-b", "reverse-dob-index")
    _git(source, "add", "migrations/" + generated.file_name)
    committer = committer or author  # as on GitHub: the opener pushed the branch under their account
    email = committer if "@" in committer else f"7{len(committer)}+{committer}@users.noreply.github.com"
    who = ["-c", f"user.name={committer}", "-c", f"user.email={email}"]
    _git(source, *who, "commit", "-q", "-m", "Reverse 0012 (PHI column workers.date_of_birth)")
    _git(source, "push", "-q", "origin", "reverse-dob-index")
    origin = Path(_git(source, "remote", "get-url", "origin"))
    return origin, stub.open_pull(origin, "reverse-dob-index", author, **pull)


def _preview_then_execute(evidence_dir: Path, number: int, approver: str = "giles", sign: bool = True):
    """Preview, the approver's signed record of the plan (`rovn-ops approve`, their own
    credentials and key: PHI is never approved by a name alone, §3), then execute."""
    preview = rovn_ops("run", "migration_reversal", "--quiet", "-p", f"migration={PHI}", "-p", f"pull_request={number}")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    nb = Path(_manifest(evidence_dir)["notebook"]["path"]).read_text()
    plan_hash = re.search(r"plan_hash=([0-9a-f]{64})", nb).group(1)
    if sign:
        signed = rovn_ops("approve", plan_hash, env=as_person(approver))
        assert signed.returncode == 0, signed.stdout + signed.stderr
    return nb, rovn_ops("run", "migration_reversal", "--quiet", "-p", f"migration={PHI}", "-p",
                        f"pull_request={number}", "-p", "confirm=true", "-p", f"approved_by={approver}",
                        "-p", f"plan_hash={plan_hash}")


def test_a_phi_reversal_approved_by_its_author_is_refused(fresh, evidence_dir):
    origin, number = _pull_request(fresh, "giles-rovn")
    stub.add_review(origin, number, "giles-rovn", "APPROVED")
    nb, run = _preview_then_execute(evidence_dir, number)
    assert "approved their own pull request" in nb
    assert run.returncode == 3 and "approved their own pull request" in run.stdout, run.stdout
    assert _manifest(evidence_dir)["outcome"] == "refused"
    assert _index_exists(fresh["database_url"])


def test_a_phi_reversal_approved_by_another_on_the_head_proceeds(fresh, evidence_dir):
    origin, number = _pull_request(fresh, "giles-rovn", committer="giles-rovn")  # the author's own commit
    for i in range(100):  # a long discussion first: the approval is on the reviews' second page
        stub.add_review(origin, number, f"watcher{i}", "COMMENTED", association="CONTRIBUTOR")
    stub.add_review(origin, number, "christian-rovn", "APPROVED")
    stub.add_review(origin, number, "christian-rovn", "COMMENTED")  # a later comment leaves the approval
    nb, run = _preview_then_execute(evidence_dir, number)
    assert "approved by christian-rovn on head" in nb
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    assert m["outcome"] == "success" and m["acted_on"][0]["file"] == FILE
    assert not _index_exists(fresh["database_url"])


def test_a_named_approver_without_a_signed_record_is_refused_in_the_sandbox_too(fresh, evidence_dir):
    """§3 (issue 29): a PHI reversal's approver is a signed approval record in every
    environment; `approved_by=giles` alone is a claim, refused as in prod."""
    origin, number = _pull_request(fresh, "giles-rovn")
    stub.add_review(origin, number, "christian-rovn", "APPROVED")
    nb, run = _preview_then_execute(evidence_dir, number, sign=False)
    assert run.returncode == 3 and "needs 1 approval record" in run.stdout, run.stdout
    assert _manifest(evidence_dir)["outcome"] == "refused"
    assert _index_exists(fresh["database_url"])


def test_a_stale_approval_of_an_older_commit_is_refused(fresh, evidence_dir):
    origin, number = _pull_request(fresh, "giles-rovn")
    stub.add_review(origin, number, "christian-rovn", "APPROVED")
    source = Path(fresh["source_dir"])  # a commit pushed after the review: the head moves on
    (source / "NOTES.md").write_text("reversal notes\n")
    _git(source, "add", "NOTES.md")
    _git(source, "commit", "-q", "-m", "notes")
    _git(source, "push", "-q", "origin", "reverse-dob-index")
    nb, run = _preview_then_execute(evidence_dir, number)
    assert run.returncode == 3 and "stale" in run.stdout, run.stdout
    assert _index_exists(fresh["database_url"])


def test_a_phi_reversal_without_a_pull_request_or_uncommitted_is_refused(fresh, evidence_dir):
    nb, run = _preview_then_execute(evidence_dir, 0)
    assert "second review on GitHub" in nb
    assert run.returncode == 3 and "is not in the migrations directory" in run.stdout, run.stdout
    assert not (Path(fresh["migrations_dir"]) / FILE).exists()  # the preview wrote nothing
    assert _index_exists(fresh["database_url"])


def _refused(fresh, evidence_dir, reviewer: str, why: str, author: str = "giles-rovn", approver: str = "giles",
             **pull) -> None:
    """`author`'s pull request approved by `reviewer` on its head, the plan approved (signed)
    by `approver`: refused (exit 3) naming `why`, and the PHI index is still there."""
    origin, number = _pull_request(fresh, author, **pull)
    stub.add_review(origin, number, reviewer, "APPROVED")
    nb, run = _preview_then_execute(evidence_dir, number, approver=approver)
    assert run.returncode == 3 and why in run.stdout, run.stdout
    assert _index_exists(fresh["database_url"])


def test_the_authors_second_github_account_is_the_author(fresh, evidence_dir):
    """giles-oncall is giles's (github_logins): his approval of giles-rovn's pull request
    is his own, however the logins differ."""
    _refused(fresh, evidence_dir, "giles-oncall", "giles-oncall and giles-rovn are both giles's", approver="christian")


def test_a_reviewer_who_is_no_known_approver_does_not_count(fresh, evidence_dir):
    """octo-rando is a member of the repository, but no approver's login."""
    _refused(fresh, evidence_dir, "octo-rando", "octo-rando is not the GitHub login of an approver")


def test_the_reviewer_cannot_also_be_the_protocols_approver(fresh, evidence_dir):
    """Two engineers (§3): christian's GitHub review and christian's approval are one."""
    _refused(fresh, evidence_dir, "christian-rovn", "christian already reviewed this change on GitHub",
             approver="christian")


def test_a_bot_authored_pull_request_is_refused(fresh, evidence_dir):
    _refused(fresh, evidence_dir, "christian-rovn", "a Bot account", author="rovn-migrations[bot]", author_type="Bot")


def test_a_pull_request_into_another_branch_is_refused(fresh, evidence_dir):
    _git(Path(fresh["source_dir"]), "push", "-q", "origin", "HEAD:release-candidate")  # a side branch, unprotected
    _refused(fresh, evidence_dir, "christian-rovn", "targets release-candidate, not the default branch main",
             base="release-candidate")


def test_the_reviewer_who_pushed_a_commit_to_the_pull_request_is_refused(fresh, evidence_dir):
    """Attack review MEDIUM 9: christian opens the pull request, giles pushes the PHI SQL to
    it and approves it. The approval must come from someone who authored or committed none
    of its commits: GET /repos/{owner}/{repo}/pulls/{pull_number}/commits, each commit's
    `author.login` and `committer.login`, every page ("List commits on a pull request",
    https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request)."""
    _refused(fresh, evidence_dir, "giles-rovn", "giles-rovn authored or committed commits of the pull request",
             author="christian-rovn", committer="giles-rovn", approver="christian")


def test_a_commit_under_the_reviewers_other_account_is_theirs(fresh, evidence_dir):
    """giles-oncall (giles's, github_logins) committed the SQL: giles-rovn's approval is giles's own."""
    _refused(fresh, evidence_dir, "giles-rovn", "(as giles-oncall, giles's)",
             author="christian-rovn", committer="giles-oncall", approver="christian")


def test_a_commit_github_links_to_no_account_is_refused(fresh, evidence_dir):
    """A commit whose email no GitHub account verifies has `author` and `committer` null in
    "List commits on a pull request" (https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request,
    "author"/"committer": null): who wrote it cannot be told, so a reviewer could push the SQL
    under an unlinked email and approve it. The review is refused, naming the commit."""
    _refused(fresh, evidence_dir, "giles-rovn", "has no GitHub account for its author",
             author="christian-rovn", committer="giles@laptop.invalid", approver="christian")
