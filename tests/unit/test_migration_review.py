"""The PHI reversal's second review as GitHub's reviews state it (migrations/review.py).
Shapes: https://docs.github.com/en/rest/pulls/reviews#list-reviews-for-a-pull-request
(chronological; `state` APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING;
`commit_id`; `author_association`)."""
from rovn_ops.migrations import review

HEAD, OLD = "a" * 40, "b" * 40
# github_logins as the environment file maps them: login → approver
PEOPLE = {"giles": "giles", "giles-alt": "giles", "christian": "christian", "dana": "dana", "stranger": "stranger"}


def decision(reviews, author, head, people=PEOPLE):
    return review.decision(reviews, author, head, people)


def r(login, state="APPROVED", commit=HEAD, association="MEMBER"):
    return {"user": {"login": login}, "state": state, "commit_id": commit, "author_association": association}


def test_an_approval_by_another_member_on_the_head_counts():
    assert decision([r("christian")], "giles", HEAD) == (("christian",), ())


def test_the_authors_own_approval_counts_for_nothing_case_insensitively():
    approved, problems = decision([r("Giles")], "giles", HEAD)
    assert approved == () and "approved their own pull request" in problems[0]


def test_an_approval_of_an_older_commit_is_stale():
    approved, problems = decision([r("christian", commit=OLD)], "giles", HEAD)
    assert approved == () and "stale" in problems[0]


def test_the_latest_review_per_user_wins_but_a_comment_leaves_an_approval():
    assert decision([r("christian"), r("christian", "COMMENTED")], "giles", HEAD)[0] == ("christian",)
    assert decision([r("christian"), r("christian", "DISMISSED")], "giles", HEAD) == ((), ("no review approves it",))
    approved, problems = decision([r("christian"), r("christian", "CHANGES_REQUESTED")], "giles", HEAD)
    assert approved == () and problems == ("christian requested changes",)


def test_changes_requested_by_anyone_refuses_even_beside_an_approval():
    approved, problems = decision([r("christian"), r("dana", "CHANGES_REQUESTED")], "giles", HEAD)
    assert problems == ("dana requested changes",)


def test_a_reviewer_outside_the_repository_does_not_count():
    approved, problems = decision([r("stranger", association="NONE")], "giles", HEAD)
    assert approved == () and "not a member or collaborator" in problems[0]


def test_junk_reviews_are_ignored():
    assert decision([{}, {"user": None}, {"user": {"login": ""}, "state": "APPROVED"}], "giles", HEAD) == (
        (), ("no review approves it",))


def test_a_reviewer_who_is_no_approver_does_not_count():
    """Any GitHub user can review; only a login github_logins maps to an approver counts."""
    approved, problems = decision([r("octo-rando")], "giles", HEAD)
    assert approved == () and "not the GitHub login of an approver" in problems[0]


def test_two_accounts_of_the_author_are_one_person():
    approved, problems = decision([r("Giles-Alt")], "giles", HEAD)
    assert approved == () and "approved their own pull request (Giles-Alt and giles are both giles's)" in problems[0]
    # an author with no mapped login is still compared by login, case-insensitively
    approved, problems = decision([r("GILES")], "giles", HEAD, {"giles": "giles"})
    assert approved == () and "approved their own pull request" in problems[0]
