"""Who may change production, and who may approve a change (§10, §3).

Both lists come only from the committed environment file, `parameters/<env>.yaml`,
never from a parameter:

    deployers:                 # IAM principals that may run a writing runbook
      - user/claude-deploy
    approvers:                 # each approver's name → their IAM principal
      giles: user/giles

A principal is a full ARN or, account-relative, `user/NAME`, `role/NAME` or
`assumed-role/ROLE/SESSION` (the operator's own account). Identities are compared
as normalized ARNs, case-insensitively: an IAM user's path is dropped, and an STS
assumed-role session keeps its role and session name. An approver is a person the environment file names, never the operator: besides the
normalized ARNs, the operator's human names (the IAM user, or the assumed role's session
name, and the local user) are compared with the approver's (its name in the file and its
principal's user or session name), by whole name and by their first word (`giles`,
`Giles@rovn.to`, `giles-admin`): a match is the operator, a partial one is ambiguous, and
both are refused with one line. So a role session named after an approver cannot approve.

The lists are read from the protected branch (`origin/main` as fetched; prod fetches it
first), never from the working copy or a local commit: an unpushed commit that adds a
deployer counts for nothing. The plan and the manifest name the commit they came from.

"Committed" is checked for every write (`committed`): a working-copy edit of the file
(a local approver, a local deployer) is refused, and the manifest records the file's
sha256 and the commit it came from.
"""
from __future__ import annotations

import hashlib
import re
import subprocess

import yaml
from dataclasses import dataclass
from pathlib import Path

from rovn_ops.core.errors import Refused

_ARN = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>iam|sts)::(?P<account>\d*):(?P<resource>.+)$", re.ASCII)


def normalize(principal: str, account: str = "", partition: str = "aws") -> str:
    """One lower-case form per identity: arn:aws:iam::ACCT:user/NAME, …:role/NAME,
    arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, or arn:aws:iam::ACCT:root."""
    text = principal.strip()
    m = _ARN.match(text)
    if m:
        partition, account, resource = m["partition"], m["account"], m["resource"]
    else:
        resource = text
    kind, _, rest = resource.partition("/")
    kind = kind.lower()
    if kind == "user":
        return f"arn:{partition}:iam::{account}:user/{rest.rsplit('/', 1)[-1]}".lower()
    if kind == "role":
        return f"arn:{partition}:iam::{account}:role/{rest.rsplit('/', 1)[-1]}".lower()
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}".lower()
    if resource.lower() == "root":
        return f"arn:{partition}:iam::{account}:root".lower()
    return text.lower()


def account_of(arn: str) -> tuple[str, str]:
    """(partition, account) of an ARN, or ("aws", "")."""
    m = _ARN.match(arn.strip())
    return (m["partition"], m["account"]) if m else ("aws", "")


def same_identity(a: str, b: str) -> bool:
    """The same person, or the same role session: an assumed role is its role and session."""
    return a == b or (":assumed-role/" in b and a == role_of(b)) or (":assumed-role/" in a and b == role_of(a))


def role_of(session_arn: str) -> str:
    head, _, rest = session_arn.partition(":assumed-role/")
    return head.replace(":sts::", ":iam::") + ":role/" + rest.split("/", 1)[0]


@dataclass(frozen=True)
class Lists:
    """The environment file's deployers and approvers."""

    env: str
    deployers: tuple[str, ...]
    approvers: dict  # name (lower-case) → principal as written
    source: str = ""  # where they were read: "parameters/<env>.yaml at origin/main <commit>"
    approval_keys: tuple = ()  # (name, "ed25519:BASE64"): each approver's registered key (approval_signature.py)
    github_logins: tuple = ()  # (login lower-case, approver name): whose GitHub account is whose (§3 PHI review)

    @classmethod
    def of(cls, env: str) -> "Lists":
        text, facts = protected(env)
        data = yaml.safe_load(text) or {}
        deployers = data.get("deployers") or []
        approvers = data.get("approvers") or {}
        if not isinstance(deployers, list) or not isinstance(approvers, dict):
            raise Refused(f"parameters/{env}.yaml: expected `deployers` as a list and `approvers` as a mapping "
                          "of name to IAM principal")
        keys = data.get("approval_keys") or {}
        if not isinstance(keys, dict):
            raise Refused(f"parameters/{env}.yaml: expected `approval_keys` as a mapping of approver name to "
                          "ed25519:BASE64")
        where = f"{facts['file']} at {facts['ref']}" + (f" {facts['commit'][:12]}" if facts["commit"] else "")
        names = {str(k).lower(): str(v) for k, v in approvers.items()}
        return cls(env, tuple(str(d) for d in deployers), names, where,
                   tuple(sorted((str(k).lower(), str(v)) for k, v in keys.items())),
                   _github_logins(env, data.get("github_logins"), names))

    def github_people(self) -> dict[str, str]:
        """GitHub login (lower-case) → the approver whose account it is."""
        return dict(self.github_logins)

    def deployer_problem(self, operator_arn: str) -> str | None:
        """None if the operator is on the allow-list; else why not, in one line."""
        partition, account = account_of(operator_arn)
        me = normalize(operator_arn)
        if any(same_identity(normalize(d, account, partition), me) for d in self.deployers):
            return None
        return (f"{operator_arn} is not on the deployers allow-list of {self.source or f'parameters/{self.env}.yaml'} "
                f"({', '.join(self.deployers) or 'empty'}). Next: run it as one of them (CI: the pipeline's "
                f"identity), or add this identity to parameters/{self.env}.yaml in a reviewed commit")

    def _next(self, needed: int) -> str:
        """A refused approval: the plan (and its hash) is still good, so the next step is the
        same command with other approvers, not another preview."""
        names = ", ".join(sorted(self.approvers)) or "none (add them to the file, reviewed)"
        who = "<one of" if needed == 1 else f"<{needed} of"
        return (f"Next: the plan hash is still valid: re-run the same command with -p approved_by={who} "
                f"{names}> (not the operator)")

    def approvers_for(self, named: list[str], operator_arn: str, needed: int = 1, why: str = "",
                      local_user: str = "") -> list[str]:
        """The distinct approvers named, each on the list and none the operator; raises Refused."""
        partition, account = account_of(operator_arn)
        me = normalize(operator_arn)
        mine = human_names(operator_arn, local_user)
        seen: dict[str, str] = {}
        for raw in (a.strip() for a in named):
            if not raw:
                continue
            key = raw.lower()
            principal = self.approvers.get(key)
            if principal is None:
                if key == me.rsplit("/", 1)[-1] or key == me:
                    raise Refused(f"approved_by: {raw} is the operator ({operator_arn}); an approver must be "
                                  f"someone else. {self._next(needed)}")
                raise Refused(f"approved_by: {raw} is not on the approvers list of parameters/{self.env}.yaml "
                              f"(expected one of: {', '.join(sorted(self.approvers)) or 'none'}). {self._next(needed)}")
            if same_identity(normalize(principal, account, partition), me):
                raise Refused(f"approved_by: {raw} is the operator ({operator_arn}, compared by IAM identity); "
                              f"an approver must be someone else. {self._next(needed)}")
            clash = _clash(human_names(principal, key), mine)
            if clash:
                raise Refused(f"approved_by: {raw} {clash} the operator ({operator_arn}, local user "
                              f"{local_user or '?'}): an approver must be someone else (a role session is named "
                              "after the person who assumed it; use one that names you, not an approver). "
                              + self._next(needed))
            seen.setdefault(key, raw)
        if not seen:
            raise Refused("confirm=True needs approved_by: expected the name of at least one approver from "
                          f"parameters/{self.env}.yaml (not the operator). {self._next(needed)}")
        if len(seen) < needed:
            raise Refused(f"this change needs {needed} distinct approvers other than the operator"
                          + (f" ({why})" if why else "") + f"; got {len(seen)}: {', '.join(seen.values())}. "
                          + self._next(needed))
        return [k for k in seen]


def _github_logins(env: str, block, approvers: dict) -> tuple:
    """`github_logins: {approver: [login, …]}` as (login, approver) pairs; a login is one
    person's: two approvers claiming one login, or a name not on the approvers list, is refused."""
    if not block:
        return ()
    shape = (f"parameters/{env}.yaml: expected `github_logins` as a mapping of approver name to a list of "
             "GitHub logins")
    if not isinstance(block, dict) or not all(isinstance(v, list) for v in block.values()):
        raise Refused(shape)
    pairs: dict[str, str] = {}
    for name, logins in block.items():
        name = str(name).lower()
        if name not in approvers:
            raise Refused(f"{shape}: {name} is not on its approvers list")
        for login in (str(x).strip().lower() for x in logins):
            if pairs.setdefault(login, name) != name:
                raise Refused(f"{shape}: {login} is listed for both {pairs[login]} and {name}")
    return tuple(sorted(pairs.items()))


def human_names(principal: str, *others: str) -> set[str]:
    """The names a principal goes by as a person: an IAM user's name, an assumed role's
    session name (an SSO session is the person's e-mail), and any names given (a local
    user, an approver's name in the file), lower-case."""
    resource = principal.strip().rsplit(":", 1)[-1]
    kind, _, rest = resource.partition("/")
    names = set()
    if kind.lower() in ("user", "assumed-role"):
        names.add(rest.rsplit("/", 1)[-1])
    return {n.strip().lower() for n in (*names, *others) if n and n.strip()}


def _first_word(name: str) -> str:
    return re.split(r"[@._+\-\s]", name, maxsplit=1)[0]


def _clash(theirs: set[str], mine: set[str]) -> str:
    """'is' (the same name), 'may be' (the same first word: ambiguous), or ''."""
    if theirs & mine:
        return "is"
    firsts = {_first_word(n) for n in mine} - {""}
    return "may be (ambiguous: the same first name as)" if {_first_word(n) for n in theirs} & firsts else ""


PROTECTED_REF = "origin/main"  # the reviewed branch; never the local HEAD


def protected(env: str) -> tuple[bytes, dict]:
    """parameters/<env>.yaml as the protected branch has it, and {file, ref, commit}:
    through GitHub's API when its `allow_list: {from: github}` says so (prod always:
    allow_list_github.py), else origin/main as fetched. Outside a git checkout (the sandbox only) the file as it is; a checkout without the
    remote branch (the sandbox only) its HEAD; prod fetches the branch first and refuses
    without it."""
    from rovn_ops.protocol import allow_list_github
    from rovn_ops.core import paths

    text, facts = _from_git(env)
    block = allow_list_github.settings(env, text if facts["commit"] else None,
                                       (paths.parameters() / f"{env}.yaml").read_bytes())
    if block.get("from") == "github":  # prod always: the API's protected branch, not a checkout's origin
        return allow_list_github.read(env, block, facts["file"])
    return text, facts


def _from_git(env: str) -> tuple[bytes, dict]:
    from rovn_ops.core import paths

    path = paths.parameters() / f"{env}.yaml"
    name = f"parameters/{env}.yaml"
    top = _git(path.parent, "rev-parse", "--show-toplevel")
    if not top:
        if env == "prod":
            raise Refused(f"{name} is not in a git checkout: a production write takes its deployers and approvers "
                          f"only from the protected branch ({PROTECTED_REF})")
        return path.read_bytes(), {"file": name, "ref": "the working copy", "commit": ""}
    if env == "prod" and _git(top.decode().strip(), "fetch", "-q", "origin", "main") is None:
        raise Refused(f"could not fetch {PROTECTED_REF}: the deployers and approvers come only from the protected "
                      "branch; check the checkout's remote and credentials")
    ref = PROTECTED_REF
    commit = (_git(path.parent, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}") or b"").decode().strip()
    if not commit:
        if env == "prod":
            raise Refused(f"no {PROTECTED_REF} in this checkout: the deployers and approvers come only from the "
                          "protected branch (`git fetch origin main`)")
        ref = "HEAD"  # a sandbox checkout without a remote (a test's own repository)
        commit = (_git(path.parent, "rev-parse", "HEAD") or b"").decode().strip()
    rel = path.resolve().relative_to(Path(top.decode().strip()).resolve()).as_posix()
    data = _git(path.parent, "show", f"{commit}:{rel}")
    if data is None:
        raise Refused(f"{name} is not on {ref} ({commit[:12]}): the deployers and approvers come only from the "
                      "protected branch")
    return data, {"file": name, "ref": ref, "commit": commit}


def committed(env: str) -> dict:
    """parameters/<env>.yaml as a write may use it: identical to the git HEAD version (when
    the project is a git checkout; prod must be one). Returns {file, sha256, commit};
    raises Refused naming the file otherwise."""
    from rovn_ops.core import paths

    return committed_file(paths.parameters() / f"{env}.yaml", env, "deployers and approvers")


def committed_file(path: Path, env: str, what: str, outside_git_ok: bool = False) -> dict:
    """A reviewed file as a write may use it: identical to its git HEAD version. Outside a
    checkout, prod refuses unless `outside_git_ok` (the suite's image, built from main)."""
    name = f"parameters/{path.name}"
    data = path.read_bytes()
    facts = {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "commit": ""}
    top = _git(path.parent, "rev-parse", "--show-toplevel")
    if top is not None:
        top = top.decode().strip()
    if not top:
        if env == "prod" and not outside_git_ok:
            raise Refused(f"{name} is not in a git checkout: a production write takes its {what} "
                          "only from a committed file")
        return facts
    facts["commit"] = (_git(top, "rev-parse", "HEAD") or b"").decode().strip()
    if at_head(path) != data:
        raise Refused(f"{name} differs from the committed version (HEAD {facts['commit'][:12] or 'none'}): {what} "
                      f"come only from the committed file; commit the change through review, or "
                      f"`git checkout {name}`")
    return facts


def at_head(path: Path) -> bytes | None:
    """The file's content in its git checkout's HEAD commit; None outside a checkout or if untracked."""
    path = Path(path).resolve()
    top = _git(path.parent, "rev-parse", "--show-toplevel")
    if not top:
        return None
    rel = path.relative_to(Path(top.decode().strip()).resolve())
    return _git(path.parent, "show", f"HEAD:{rel.as_posix()}")


def _git(where, *args) -> bytes | None:
    """git's stdout, or None when it fails (not a checkout, no such revision or path)."""
    try:
        out = subprocess.run(["git", "-C", str(where), *args], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None
