"""IAM's evaluation of policy documents for one request (principal, action, resource),
as the IAM User Guide states it for a principal and a resource in the same account:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

- A statement applies when its Action (or NotAction) matches the action, its Resource
  (or NotResource) the resource, and, in a resource-based policy, its Principal (or
  NotPrincipal) the caller. Wildcards: `*` any run, `?` one character; actions compare
  case-insensitively, ARNs case-sensitively.
- An explicit Deny that applies wins over every Allow, but only for what it matches: a
  Deny narrower than the Allow leaves the rest allowed.
- Otherwise an Allow in an identity-based policy or in the resource's own policy allows
  (same account: either is enough). No applicable Allow: implicitly denied.
- A statement with a Condition applies only when the request's context satisfies it. The
  context of a future request is unknown here, so such a statement is neither ignored nor
  taken as certain: an Allow under a condition makes the result "conditional", and so
  does a conditional Deny over an otherwise certain Allow.

Not modelled (the report says so): SCPs, permissions boundaries and session policies.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

ALLOW, CONDITIONAL, DENY, IMPLICIT = "allow", "conditional", "deny", "implicit deny"


def as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def document(doc) -> dict:
    """A policy document, whether given as a dict, JSON or URL-encoded JSON (IAM's APIs)."""
    if isinstance(doc, str):
        doc = json.loads(unquote(doc) if doc.lstrip().startswith("%") else doc)
    return doc or {}


@lru_cache(maxsize=4096)
def _pattern(glob: str, case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, 0 if case else re.IGNORECASE)


def matches(globs, value: str, *, case: bool) -> bool:
    return any(isinstance(g, str) and _pattern(g, case).fullmatch(value) for g in as_list(globs))


@dataclass(frozen=True)
class Statement:
    policy: str          # the policy's name or ARN
    via: str             # inline, attached, group NAME (…), resource policy
    body: dict

    @property
    def effect(self) -> str:
        return self.body.get("Effect", "")

    @property
    def condition(self) -> str:
        """The condition in words: operator key [values]; empty when there is none."""
        cond = self.body.get("Condition") or {}
        return "; ".join(f"{op} {key} {json.dumps(value)}" for op, kv in cond.items()
                         for key, value in (kv or {}).items())

    def names(self, action: str, resource: str) -> bool:
        b = self.body
        if "Action" in b:
            acts = matches(b["Action"], action, case=False)
        else:
            acts = "NotAction" in b and not matches(b["NotAction"], action, case=False)
        if not acts:
            return False
        if "Resource" in b:
            return matches(b["Resource"], resource, case=True)
        # a resource-based policy's statement may omit Resource: it is about its resource
        return not matches(b["NotResource"], resource, case=True) if "NotResource" in b else self.via == "resource policy"

    def about(self, principal_arn: str, account: str) -> bool:
        """Does a resource policy's statement name this caller (Principal / NotPrincipal)?"""
        b = self.body
        if "Principal" in b:
            return _names_principal(b["Principal"], principal_arn, account)
        if "NotPrincipal" in b:
            return not _names_principal(b["NotPrincipal"], principal_arn, account)
        return False


def _names_principal(principal, arn: str, account: str) -> bool:
    if principal == "*":
        return True
    aws = as_list(principal.get("AWS")) if isinstance(principal, dict) else []
    for p in aws:
        if p == "*" or p.lower() == arn.lower():
            return True
    return False


def root_named(principal) -> bool:
    """A same-account root principal ("123…" or arn:…:root) grants nothing by itself: it
    delegates to the account's IAM policies."""
    aws = as_list(principal.get("AWS")) if isinstance(principal, dict) else []
    return any(re.fullmatch(r"\d{12}|arn:aws[\w-]*:iam::\d{12}:root", p or "", re.ASCII) for p in aws)


@dataclass
class Decision:
    result: str                                   # allow, conditional, deny, implicit deny
    allows: list[Statement] = field(default_factory=list)
    denies: list[Statement] = field(default_factory=list)   # conditional ones, when result is conditional

    @property
    def grants(self) -> bool:
        return self.result in (ALLOW, CONDITIONAL)

    def why_conditional(self) -> str:
        parts = [f"{s.policy}: {s.condition}" for s in self.allows if s.condition]
        parts += [f"unless denied by {s.policy}: {s.condition}" for s in self.denies]
        return "; ".join(parts)


def evaluate(identity: list[Statement], resource_policy: list[Statement], principal_arn: str, account: str,
             action: str, resource: str) -> Decision:
    """IAM's decision for the request, over identity-based statements (already the
    principal's) and the resource policy's statements (filtered by Principal here)."""
    applicable = [s for s in identity if s.names(action, resource)]
    applicable += [s for s in resource_policy if s.about(principal_arn, account) and s.names(action, resource)]
    denies = [s for s in applicable if s.effect == "Deny"]
    if any(not s.condition for s in denies):
        return Decision(DENY, denies=[s for s in denies if not s.condition])
    allows = [s for s in applicable if s.effect == "Allow"]
    if not allows:
        return Decision(IMPLICIT)
    if denies or all(s.condition for s in allows):
        certain = [s for s in allows if not s.condition]
        return Decision(CONDITIONAL, allows=certain or allows, denies=denies)
    return Decision(ALLOW, allows=[s for s in allows if not s.condition])


def statements(doc, policy: str, via: str) -> list[Statement]:
    return [Statement(policy, via, s) for s in as_list(document(doc).get("Statement")) if isinstance(s, dict)]
