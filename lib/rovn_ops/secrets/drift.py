"""Drift (§8): every IAM user, group and role whose attached, inline or group policies
grant `secretsmanager:GetSecretValue` on our secrets, compared with the allow-list in
parameters/<env>.yaml (`secret_readers`). moto has no policy simulator, and the real
one needs a call per principal and action: the documents are evaluated here, from one
paginated GetAccountAuthorizationDetails, with IAM's wildcards (`secretsmanager:*`,
`secretsmanager:Get*`, `*`, NotAction, NotResource) and explicit Deny winning."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from urllib.parse import unquote

ACTION = "secretsmanager:GetSecretValue"


@dataclass(frozen=True)
class Grant:
    principal: str        # user/NAME, role/NAME, group/NAME
    arn: str
    policy: str           # the policy's name (inline) or ARN (managed)
    via: str              # inline, attached, or group NAME (inline|attached)


def _list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _doc(document) -> dict:
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return document or {}


def _matches(patterns, value: str, *, case: bool) -> bool:
    v = value if case else value.lower()
    return any(fnmatchcase(v, p if case else p.lower()) for p in _list(patterns))


def _applies(stmt: dict, resources: list[str]) -> bool:
    """The statement names the action (Action or NotAction) for any of the resources."""
    if "Action" in stmt:
        acts = _matches(stmt["Action"], ACTION, case=False)
    else:
        acts = "NotAction" in stmt and not _matches(stmt["NotAction"], ACTION, case=False)
    if not acts:
        return False
    if "Resource" in stmt:
        return any(_matches(stmt["Resource"], r, case=True) for r in resources)
    return "NotResource" in stmt and any(not _matches(stmt["NotResource"], r, case=True) for r in resources)


def effects(document, resources: list[str]) -> set[str]:
    """{"Allow", "Deny"}: what the document's statements say about reading the secrets."""
    stmts = _list(_doc(document).get("Statement"))
    return {s.get("Effect") for s in stmts if isinstance(s, dict) and _applies(s, resources)}


def _managed(details: dict) -> dict[str, dict]:
    out = {}
    for p in details.get("Policies", []):
        default = next((v for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
        if default:
            out[p["Arn"]] = _doc(default["Document"])
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
    out = [(p["PolicyName"], "inline", _doc(p["PolicyDocument"])) for p in entity.get(inline_key, [])]
    for a in entity.get("AttachedManagedPolicies", []):
        doc = managed.get(a["PolicyArn"]) or _fetch(iam, a["PolicyArn"])
        out.append((a["PolicyArn"], "attached", doc))
    return out


def _fetch(iam, arn: str) -> dict:
    """An AWS-managed policy the details left out."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _doc(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def grants(iam, resources: list[str]) -> list[Grant]:
    details = account_details(iam)
    managed = _managed(details)
    groups = {g["GroupName"]: _policies_of(g, "group", managed, iam) for g in details["GroupDetailList"]}
    found = []
    for kind, key, name_key in (("user", "UserDetailList", "UserName"), ("role", "RoleDetailList", "RoleName")):
        for e in details[key]:
            policies = _policies_of(e, kind, managed, iam)
            for g in e.get("GroupList", []) if kind == "user" else []:
                policies += [(p, f"group {g} ({via})", d) for p, via, d in groups.get(g, [])]
            said = [(p, via, effects(d, resources)) for p, via, d in policies]
            if any("Deny" in eff for _, _, eff in said):
                continue  # an explicit Deny wins over every Allow
            found += [Grant(f"{kind}/{e[name_key]}", e["Arn"], p, via) for p, via, eff in said if "Allow" in eff]
    return found


@dataclass
class Report:
    grants: list[Grant]
    allowed: list[str]

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
        return [asdict(g) | {"allowed": self._on_list(g)} for g in self.grants]

    def verdict(self) -> str:
        if self.ok:
            return f"no drift: {len({g.principal for g in self.grants})} principals read secrets, all on the allow-list"
        return "drift: " + "; ".join(f"{g.principal} via {g.policy} ({g.via})" for g in self.deviations)

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {'yes' if self._on_list(g) else '**NO**'} | `{g.principal}` | `{g.policy}` | {g.via} |"
                         for g in self.grants)
        return (f"| allowed | principal | policy granting {ACTION} | via |\n|---|---|---|---|\n{rows}\n\n"
                f"**{self.verdict()}**\n")

    def __repr__(self) -> str:
        return "\n".join([f"{'ok ' if self._on_list(g) else 'NEW'} {g.principal:<32} {g.policy} ({g.via})"
                          for g in self.grants] + [self.verdict()])


def check(iam, resources: list[str], allowed: list[str]) -> Report:
    return Report(grants(iam, resources), list(allowed))
