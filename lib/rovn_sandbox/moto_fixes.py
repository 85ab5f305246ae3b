"""Small fixes where moto (5.2.5) answers otherwise than AWS documents, each found by a
row of tests/conformance/ (the row cites the reference page):

- S3 GetObjectRetention: moto has no handler for `GET ?retention` (HTTP 500); here it
  answers the version's Mode and RetainUntilDate, or NoSuchObjectLockConfiguration;
- CodeBuild BatchGetBuilds: moto omits `buildsNotFound`;
- ECR PutImage of another image under an existing tag of an IMMUTABLE repository:
  moto answers ImageAlreadyExistsException (which AWS keeps for the same image pushed
  again), AWS ImageTagAlreadyExistsException;
- IAM: a user's UserId (GetUser, STS GetCallerIdentity) is AIDA + 17 characters in AWS,
  moto's is 20 lowercase ones;
- IAM SimulatePrincipalPolicy: missing in moto; here it evaluates the user's identity
  policies (inline, attached, and its groups'), as the drift check needs: an explicit
  Deny wins, then an Allow, else implicitDeny, with `*` and `?` wildcards in actions
  (case-insensitive) and resources. Permission boundaries, SCPs, resource policies
  and condition keys are not evaluated (docs/sandbox.md: remaining differences).

moto_guard stops the sandbox on another moto version until these are checked again.
"""
from __future__ import annotations

import fnmatch
import json
import secrets
import string
from datetime import datetime
from urllib.parse import unquote

from moto.codebuild.responses import CodeBuildResponse
from moto.core.exceptions import ServiceException
from moto.ecr.models import ECRBackend
from moto.core.responses import ActionResult
from moto.iam.models import User
from moto.iam.responses import IamResponse
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response

from rovn_sandbox import moto_guard


class _NoLock(S3ClientError):
    code = "NoSuchObjectLockConfiguration"
    message = "The specified object does not have a ObjectLock configuration"


def _s3_retention() -> None:
    orig = S3Response._key_response_get

    def _key_response_get(self, query, key_name):
        if "retention" not in query:
            return orig(self, query, key_name)
        self._set_action("KEY", "GET", query)
        self._authenticate_and_authorize_s3_action(bucket_name=self.bucket_name, key_name=key_name)
        key, _ = self._get_key()
        if not key.lock_mode:
            raise _NoLock()
        until = key.lock_until
        if isinstance(until, str):
            until = datetime.fromisoformat(until.replace("Z", "+00:00"))
        self.data["Action"] = "GetObjectRetention"
        return self.serialized(ActionResult({"Retention": {"Mode": key.lock_mode, "RetainUntilDate": until}}))

    S3Response._key_response_get = _key_response_get


class _TagExists(ServiceException):
    code = "ImageTagAlreadyExistsException"


def _ecr_immutable_tags() -> None:
    orig = ECRBackend.put_image

    def put_image(self, repository_name, image_manifest, image_tag=None, *args, **kwargs):
        repo = self.repositories.get(repository_name)
        if repo is not None and image_tag and repo.is_tag_immutable():
            if any(image_tag in i.image_tags and i.image_manifest != image_manifest for i in repo.images):
                raise _TagExists(f"The image tag '{image_tag}' already exists in the '{repository_name}' "
                                 "repository and cannot be overwritten because the repository is immutable.")
        return orig(self, repository_name, image_manifest, image_tag, *args, **kwargs)

    ECRBackend.put_image = put_image


def _codebuild_not_found() -> None:
    orig = CodeBuildResponse.batch_get_builds

    def batch_get_builds(self):
        result = orig(self)
        found = {b["id"] for b in result.result["builds"]}
        result.result["buildsNotFound"] = [i for i in self._get_param("ids") if i not in found]
        return result

    CodeBuildResponse.batch_get_builds = batch_get_builds


def _user_ids() -> None:
    orig = User.__init__
    alphabet = string.ascii_uppercase + string.digits

    def __init__(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        self.id = "AIDA" + "".join(secrets.choice(alphabet) for _ in range(17))

    User.__init__ = __init__


def _documents(user, backend) -> list[tuple[str, str, dict]]:
    """(policy id, type, document) of every identity policy that applies to the user."""
    def load(doc):
        return json.loads(unquote(doc)) if isinstance(doc, str) else doc

    def managed(holder):
        return [(p.arn, "aws-managed" if ":aws:policy/" in p.arn else "user-managed", load(next(v.document for v in p.versions if v.is_default_version)))
                for p in holder.managed_policies.values()]

    out = [(name, "user", load(doc)) for name, doc in user.policies.items()] + managed(user)
    for group in backend.groups.values():
        if user in group.users:
            out += [(name, "group", load(doc)) for name, doc in group.policies.items()] + managed(group)
    return out


def _listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns, value: str, fold: bool) -> bool:
    value = value.lower() if fold else value
    return any(fnmatch.fnmatchcase(value, p.lower() if fold else p) for p in _listed(patterns))


def _applies(statement: dict, action: str, resource: str) -> bool:
    if "Action" in statement and not _matches(statement["Action"], action, True):
        return False
    if "NotAction" in statement and _matches(statement["NotAction"], action, True):
        return False
    if "Resource" in statement and not _matches(statement["Resource"], resource, False):
        return False
    return not ("NotResource" in statement and _matches(statement["NotResource"], resource, False))


def evaluate(documents, action: str, resource: str) -> tuple[str, list[dict]]:
    allowed, denied = [], []
    for policy_id, kind, doc in documents:
        statements = doc.get("Statement") or []
        for statement in [statements] if isinstance(statements, dict) else statements:
            if _applies(statement, action, resource):
                (denied if statement.get("Effect") == "Deny" else allowed).append(
                    {"SourcePolicyId": policy_id, "SourcePolicyType": kind})
    if denied:
        return "explicitDeny", denied
    return ("allowed", allowed) if allowed else ("implicitDeny", [])


def _simulate() -> None:
    def simulate_principal_policy(self):
        source = self._get_param("PolicySourceArn")
        actions = self._get_param("ActionNames") or []
        resources = self._get_param("ResourceArns") or ["*"]
        user = self.backend.get_user(source.rsplit("/", 1)[-1])  # NoSuchEntity, as IAM
        docs = _documents(user, self.backend)
        results = []
        for action in actions:
            for resource in resources:
                decision, matched = evaluate(docs, action, resource)
                results.append({"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision,
                                "MatchedStatements": matched, "MissingContextValues": []})
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    IamResponse.simulate_principal_policy = simulate_principal_policy


@moto_guard.patches
def install() -> None:
    _s3_retention()
    _codebuild_not_found()
    _ecr_immutable_tags()
    _user_ids()
    _simulate()
