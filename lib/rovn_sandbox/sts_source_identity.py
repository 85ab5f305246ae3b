"""STS AssumeRole's SourceIdentity for moto (5.2.5), which drops it: the value is checked as
the API reference documents it (2-64 characters of [\\w+=,.@-]), answered in
AssumeRoleResult, and kept for the session's access key, so that the session's CloudTrail
events carry it in userIdentity.sessionContext.sourceIdentity (wire.Events, cloudtrail_api.py).
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html#STS-API-source-identity
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone

from moto.sts.exceptions import STSValidationError
from moto.sts.responses import TokenResponse

from rovn_sandbox.moto_guard import patches

SHAPE = re.compile(r"^[\w+=,.@-]{2,64}$")
_lock = threading.Lock()
_by_key: dict[str, tuple[str | None, datetime]] = {}  # session key id -> (source identity, when assumed)


def of(access_key_id: str) -> tuple[str | None, datetime | None]:
    with _lock:
        return _by_key.get(access_key_id, (None, None))


def clear() -> None:
    with _lock:
        _by_key.clear()


def _assume_role(original):
    def assume_role(self):
        source = self._get_param("SourceIdentity")
        if source is not None and not SHAPE.match(source):
            raise STSValidationError(f"1 validation error detected: Value '{source[:80]}' at 'sourceIdentity' failed "
                                     "to satisfy constraint: Member must satisfy regular expression pattern: "
                                     "[\\w+=,.@-]* and have length between 2 and 64")
        answer = original(self)
        with _lock:
            _by_key[answer.result["Credentials"].access_key_id] = (source, datetime.now(timezone.utc))
        if source is not None:
            answer.result["SourceIdentity"] = source
        return answer
    return assume_role


@patches
def install() -> None:
    TokenResponse.assume_role = _assume_role(TokenResponse.assume_role)


def user_identity(access_key_id: str | None, account: str) -> dict | None:
    """CloudTrail's userIdentity of a request signed with an assumed role's session key, as AWS
    writes it (type AssumedRole, the session's ARN, sessionContext with its issuer and source
    identity), or None for any other key."""
    if not access_key_id:
        return None
    from moto.sts.models import sts_backends

    role = None
    for acct in list(sts_backends.keys()):
        role = sts_backends[acct]["aws"].get_assumed_role_from_access_key(access_key_id) or role
    if role is None:
        return None
    role_name = role.role_arn.rsplit("/", 1)[-1]
    source, created = of(access_key_id)
    context = {"sessionIssuer": {"type": "Role", "principalId": role.user_id.split(":")[0], "arn": role.role_arn,
                                 "accountId": account, "userName": role_name},
               "attributes": {"creationDate": (created or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "mfaAuthenticated": "false"}}
    if source:
        context["sourceIdentity"] = source
    return {"type": "AssumedRole", "principalId": role.user_id, "arn": role.arn, "accountId": account,
            "accessKeyId": access_key_id, "sessionContext": context}
