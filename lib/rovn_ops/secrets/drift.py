"""Drift (§8): every principal that can call `secretsmanager:GetSecretValue` on any of
our secrets, by IAM's own evaluation (iam_policy.py: explicit Deny removes only what it
matches, NotAction/NotResource, wildcards, conditions reported as conditional), over
each user's and role's inline, attached and group policies and each secret's own
resource policy, compared with the allow-list in parameters/<env>.yaml
(`secrets.readers`). moto has no policy simulator, and the real one needs a call per
principal, action and secret: the documents come from one paginated
GetAccountAuthorizationDetails and one GetResourcePolicy per secret.

Beside who reads, the report names what the allow-list cannot show: a principal that
may grant itself any permission (iam:PutUserPolicy or iam:AttachUserPolicy on itself:
§10's claude-deploy with IAMFull), a resource policy that opens a secret to anyone or
another account, and the secrets no rotation policy classifies (nobody watches their
cadence). SCPs and permissions boundaries are not evaluated (§10's "trimmed at the SCP
level" is not visible to this account's IAM APIs), which the report states."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from rovn_ops.secrets import iam_policy
from rovn_ops.secrets.iam_policy import Statement

ACTION = "secretsmanager:GetSecretValue"
# Acting on one's own identity with these is granting oneself any policy at all.
SELF_GRANT = {"user": ("iam:PutUserPolicy", "iam:AttachUserPolicy"),
              "role": ("iam:PutRolePolicy", "iam:AttachRolePolicy")}


@dataclass(frozen=True)
class Grant:
    principal: str        # user/NAME, role/NAME, group/NAME, or a resource policy's outside principal
    arn: str
    policy: str           # the policy's name (inline) or ARN (managed), or "resource policy of NAME"
    via: str              # inline, attached, group NAME (inline|attached), resource policy
    secrets: tuple[str, ...] = ()
    condition: str = ""   # non-empty: the grant holds only under this condition

    @property
    def conditional(self) -> bool:
        return bool(self.condition)


@dataclass(frozen=True)
class Secret:
    name: str
    arn: str
    policy: list[Statement]   # its resource policy's statements
    classified: bool = True


def _list(value) -> list:
    return iam_policy.as_list(value)


def effects(document, resources: list[str]) -> set[str]:
    """{"Allow", "Deny"}: what the document's statements say about reading the secrets."""
    return {s.effect for s in iam_policy.statements(document, "", "inline")
            if any(s.names(ACTION, r) for r in resources)}


def _managed(details: dict) -> dict[str, dict]:
    out = {}
    for p in details.get("Policies", []):
        default = next((v for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
        if default:
            out[p["Arn"]] = iam_policy.document(default["Document"])
    return out


def account_details(iam) -> dict:
    merged: dict[str, list] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    for page in iam.get_paginator("get_account_authorization_details").paginate():
        for k in merged:
            merged[k] += page.get(k, [])
    return merged


def _policies_of(entity: dict, kind: str, managed: dict, iam) -> list[tuple[str, str, dict]]:
    """(policy, via, document) for an entity's inline and attached policies."""
    inline_key = {"user": "UserPolicyList", "group": "GroupPolicyList", "role": "RolePolicyList"}[kind]
    out = [(p["PolicyName"], "inline", iam_policy.document(p["PolicyDocument"])) for p in entity.get(inline_key, [])]
    for a in entity.get("AttachedManagedPolicies", []):
        doc = managed.get(a["PolicyArn"]) or _fetch(iam, a["PolicyArn"])
        out.append((a["PolicyArn"], "attached", doc))
    return out


def _fetch(iam, arn: str) -> dict:
    """An AWS-managed policy the details left out."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam_policy.document(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def secrets_of(sm, entries) -> list[Secret]:
    """Our secrets with their resource policies (GetResourcePolicy, one per secret)."""
    out = []
    for e in entries:
        doc = sm.get_resource_policy(SecretId=e.arn).get("ResourcePolicy")
        out.append(Secret(e.name, e.arn, iam_policy.statements(doc, f"resource policy of {e.name}", "resource policy")
                          if doc else [], bool(e.klass)))
    return out


@dataclass
class Principal:
    kind: str
    name: str
    arn: str
    statements: list[Statement]

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


def principals(iam) -> list[Principal]:
    details = account_details(iam)
    managed = _managed(details)
    groups = {g["GroupName"]: _policies_of(g, "group", managed, iam) for g in details["GroupDetailList"]}
    out = []
    for kind, key, name_key in (("user", "UserDetailList", "UserName"), ("role", "RoleDetailList", "RoleName")):
        for e in details[key]:
            policies = _policies_of(e, kind, managed, iam)
            for g in e.get("GroupList", []) if kind == "user" else []:
                policies += [(p, f"group {g} ({via})", d) for p, via, d in groups.get(g, [])]
            stmts = [st for p, via, d in policies for st in iam_policy.statements(d, p, via)]
            out.append(Principal(kind, e[name_key], e["Arn"], stmts))
    return out


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def grants(iam, secrets: list[Secret] | list[str], known: list[Principal] | None = None) -> list[Grant]:
    """Who may read which secret, one Grant per (principal, policy, condition)."""
    secrets = [s if isinstance(s, Secret) else Secret(s, s, []) for s in secrets]
    known = principals(iam) if known is None else known
    found: dict[tuple, list[str]] = {}
    for p in known:
        for sec in secrets:
            d = iam_policy.evaluate(p.statements, sec.policy, p.arn, _account(p.arn), ACTION, sec.arn)
            if not d.grants:
                continue
            cond = d.why_conditional() if d.result == iam_policy.CONDITIONAL else ""
            for st in d.allows:
                found.setdefault((p.label, p.arn, st.policy, st.via, cond), []).append(sec.name)
    out = [Grant(label, arn, policy, via, tuple(names), cond) for (label, arn, policy, via, cond), names in found.items()]
    return out + _outside(secrets, known)


def _outside(secrets: list[Secret], known: list[Principal]) -> list[Grant]:
    """Allows in resource policies for principals that are not this account's users or
    roles: anyone (`*`), or another account (which still needs its own IAM Allow)."""
    ours = {p.arn.lower() for p in known}
    out = []
    for sec in secrets:
        for st in sec.policy:
            if st.effect != "Allow" or not st.names(ACTION, sec.arn):
                continue
            principal = st.body.get("Principal")
            named = ["*"] if principal == "*" else _list(principal.get("AWS")) if isinstance(principal, dict) else []
            for who in named:
                if who.lower() in ours or (who != "*" and _account(who) == _account(sec.arn) and who.endswith(":root")):
                    continue  # ours (evaluated above), or the account root: a delegation to IAM
                cond = st.condition or ("" if who == "*" else "another account: its own IAM policies must allow it too")
                label = "anyone (Principal *)" if who == "*" else who
                out.append(Grant(label, who, st.policy, "resource policy", (sec.name,), cond))
    return out


@dataclass(frozen=True)
class Finding:
    subject: str
    text: str


def self_grants(known: list[Principal]) -> list[Finding]:
    """Principals that may attach or write any policy onto themselves: they can read
    every secret (and do anything) whatever the allow-list says."""
    out = []
    for p in known:
        for action in SELF_GRANT.get(p.kind, ()):
            d = iam_policy.evaluate(p.statements, [], p.arn, _account(p.arn), action, p.arn)
            if d.grants:
                via = ", ".join(sorted({s.policy.rsplit("/", 1)[-1] for s in d.allows}))
                out.append(Finding(p.label, f"{p.label} can grant itself anything: {action} on itself is allowed "
                                            f"by {via}" + (f" ({d.why_conditional()})" if d.why_conditional() else "")
                                   + ". Any permission it lacks today is one call away; SCPs are not visible here."))
                break
    return out


def _cell(value) -> str:
    """A table cell from the world's strings (policy and secret names, conditions)."""
    return str(value).replace("|", "\\|").replace("`", "'").replace("\n", " ")


@dataclass
class Report:
    grants: list[Grant]
    allowed: list[str]
    findings: list[Finding] = None
    unclassified: list[str] = None   # secrets no rotation policy classifies

    def __post_init__(self):
        self.findings = list(self.findings or [])
        self.unclassified = list(self.unclassified or [])

    def _on_list(self, g: Grant) -> bool:
        names = {a.lower() for a in self.allowed}
        return g.principal.lower() in names or g.arn.lower() in names

    @property
    def deviations(self) -> list[Grant]:
        return [g for g in self.grants if not self._on_list(g)]

    @property
    def ok(self) -> bool:
        return not self.deviations

    def as_dicts(self) -> list[dict]:
        return [asdict(g) | {"secrets": list(g.secrets), "allowed": self._on_list(g)} for g in self.grants]

    def facts(self) -> dict:
        return {"findings": [f.text for f in self.findings], "unclassified_secrets": self.unclassified,
                "not_evaluated": "SCPs, permissions boundaries, session policies"}

    def verdict(self) -> str:
        if self.ok:
            text = f"no drift: {len({g.principal for g in self.grants})} principals read secrets, all on the allow-list"
        else:
            text = "drift: " + "; ".join(f"{g.principal} via {g.policy} ({g.via})"
                                         + (f" if {g.condition}" if g.conditional else "") for g in self.deviations)
        if self.unclassified:
            text += f"; {len(self.unclassified)} secret(s) no rotation policy classifies: " + ", ".join(self.unclassified)
        return text

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {'yes' if self._on_list(g) else '**NO**'} | `{_cell(g.principal)}` | `{_cell(g.policy)}` | "
                         f"{_cell(g.via)} | {len(g.secrets)} | {_cell(g.condition) or 'always'} |" for g in self.grants)
        out = (f"| allowed | principal | policy granting {ACTION} | via | secrets | when |\n"
               f"|---|---|---|---|---|---|\n{rows}\n\n**{_cell(self.verdict())}**\n")
        if self.findings:
            out += "\nFindings:\n\n" + "\n".join(f"- {_cell(f.text)}" for f in self.findings) + "\n"
        return out + "\n(IAM's evaluation of this account's policies; SCPs and permissions boundaries not evaluated.)\n"

    def __repr__(self) -> str:
        return "\n".join([f"{'ok ' if self._on_list(g) else 'NEW'} {g.principal:<32} {g.policy} ({g.via})"
                          + (f" if {g.condition}" if g.conditional else "") for g in self.grants]
                         + [f"FINDING {f.text}" for f in self.findings] + [self.verdict()])


def check(iam, secrets: list[Secret] | list[str], allowed: list[str]) -> Report:
    known = principals(iam)
    secrets = [s if isinstance(s, Secret) else Secret(s, s, []) for s in secrets]
    return Report(grants(iam, secrets, known), list(allowed), self_grants(known),
                  [s.name for s in secrets if not s.classified])
