"""Where the deployed source comes from (§2): "Engineer pushes commit to main branch →
GitHub Actions: build, lint, unit tests → source zip uploaded to S3".

A deploy's source must be a clean git checkout whose HEAD is on main, and GitHub's
combined commit status for that SHA must be `success`. A zip carries its commit (the
zip comment `git archive` writes, or .rovn-source.json) or is refused in prod. The
lockfile is tracked by git and unchanged in the working tree (§9). The commit and
any `prod-*` tag on it go into the plan (so its hash), the audit row and the manifest.
"""
from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass, field

from rovn_ops.protocol.checks import Checks
from rovn_ops.clients.github import GitHub, checks_problems, on_main_problems, status_problems
from rovn_ops.deploy.source import LOCKFILES, Source

MAIN = "main"


@dataclass(frozen=True)
class Provenance:
    commit: str = ""
    tags: list[str] = field(default_factory=list)   # prod-* git tags on the commit
    repository: str = ""
    carried_by: str = ""                            # "git checkout", "zip comment or manifest", ""
    build: str = ""                                 # an image_tag's: the CodeBuild build that pushed it

    def as_dict(self) -> dict:
        return asdict(self)


def check(checks: Checks, source: Source, github: GitHub, env: str) -> Provenance:
    """Rows for the source's provenance; returns what was found (commit may be "")."""
    if source.in_git:
        checks.add("source: a clean git checkout", _dirty(source), f"commit {source.commit[:12]}", "§2")
        checks.add("source: lockfile tracked by git and unchanged", _lockfile(source), "", "§9")
        local = None if _on_local_main(source) else f"HEAD {source.commit[:12]} is not on the checkout's {MAIN}"
        carried = "git checkout"
    elif source.commit:
        carried, local = "zip comment or manifest", None
        checks.add("source: the zip carries its commit", None, f"commit {source.commit[:12]}", "§2")
    else:
        where = ("a zip without its commit (zip comment or .rovn-source.json)" if source.given.is_file()
                 else "not a git checkout")
        checks.add("source: a clean git checkout", f"{source.given} is {where}", rule="§2", warn=env != "prod")
        return Provenance(repository=github.repository)
    sha = source.commit
    on_main = [local] if local else on_main_problems(github.compare(MAIN, sha), sha)
    checks.add(f"source: commit on {MAIN}", on_main, f"{sha[:12]} is on {github.repository}'s {MAIN}", "§2")
    ci(checks, github, sha, env)
    return Provenance(sha, _prod_tags(source) if source.in_git else [], github.repository, carried)


DEFAULT_CHECKS = ["build", "lint", "unit tests", "snyk scan"]   # §2's workflow jobs, §9's Snyk scan
DEFAULT_APP = "github-actions"


def required(env: str) -> tuple[list[str], str]:
    """The check runs a deploy requires, from the committed parameters/<env>.yaml
    (`provenance.required_checks`, `provenance.checks_app`), never from a parameter."""
    from rovn_ops.safety.params import environment_section

    spec = environment_section(env, "provenance")
    names = spec.get("required_checks") or DEFAULT_CHECKS
    return [str(n) for n in names], str(spec.get("checks_app") or DEFAULT_APP)


def ci(checks: Checks, github: GitHub, sha: str, env: str) -> None:
    """§2's CI through the Checks API (GitHub Actions writes check runs, not statuses).
    The combined status is read only when the repository has no check runs at all (its
    main has none either): a commit of a check-run repository without runs has not been
    built, and a status anyone with push access can set never stands in for them."""
    names, app = required(env)
    runs, answer = github.check_runs(sha)
    if answer.status != 200:
        checks.add("source: required checks passed (GitHub check runs)",
                   f"no check runs for {sha[:12]}: {answer.message}", rule="§2")
        return
    if not runs:
        main_runs, main_answer = github.check_runs(MAIN, limit_pages=1)
        if main_answer.status == 200 and not main_runs:
            checks.add("source: CI passed (combined status: the repository has no check runs)",
                       status_problems(github.combined_status(sha), sha), f"{sha[:12]}: success", "§2")
            return
    checks.add("source: required checks passed (GitHub check runs)", checks_problems(runs, names, app, sha),
               f"{sha[:12]}: {', '.join(names)} succeeded ({app})", "§2")


def _dirty(source: Source) -> list[str]:
    changed = [line.split(None, 1)[-1] for line in
               source.git("status", "--porcelain", "--untracked-files=all", "--", ".").splitlines() if line.strip()]
    if not changed:
        return []
    more = f" (+{len(changed) - 5} more)" if len(changed) > 5 else ""
    return [f"uncommitted changes: {', '.join(changed[:5])}{more}; commit and push them to {MAIN}"]


def _on_local_main(source: Source) -> bool:
    for ref in (MAIN, f"origin/{MAIN}"):
        try:
            source.git("merge-base", "--is-ancestor", "HEAD", ref)
            return True
        except subprocess.CalledProcessError:
            continue
    return False


def _lockfile(source: Source) -> list[str]:
    present = [n for n in LOCKFILES if (source.root / n).is_file()]
    if not present:
        return []  # hygiene's "lockfile committed" row names the missing file
    problems = []
    for name in present:
        if not source.git("ls-files", "--", name):
            problems.append(f"{name} is not tracked by git")
        elif source.git("status", "--porcelain", "--", name):
            problems.append(f"{name} differs from the commit (lockfile drift)")
    return problems


def _prod_tags(source: Source) -> list[str]:
    return sorted(t for t in source.git("tag", "--points-at", "HEAD", "--list", "prod-*").splitlines() if t)
