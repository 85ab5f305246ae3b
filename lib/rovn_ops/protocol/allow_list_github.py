"""The deployers/approvers file as GitHub's protected branch has it (issue 20, class 5).

In prod the allow-list is read through GitHub's REST API, not from a fetched checkout
(whose `origin` a local user controls): first the branch's head commit,
`GET /repos/{owner}/{repo}/commits/main` (https://docs.github.com/en/rest/commits/commits#get-a-commit),
then the file at exactly that commit,
`GET /repos/{owner}/{repo}/contents/{path}?ref={sha}`
(https://docs.github.com/en/rest/repos/contents#get-repository-content: a file is
`type: file`, `encoding: base64`, its `content` base64 wrapped in lines), so the content
and the commit the plan names agree. The environment file says where (`allow_list:`):

    allow_list:
      from: github                      # or `git` (origin/main as fetched; sandbox only)
      repository: rovn/rovn-runbooks
      api_url: https://api.github.com
      token_secret: secret:rovn/prod/github-status-token

Prod always reads from GitHub, with this block as origin/main has it; the sandbox takes
its working copy's block, so a test can choose either source.
"""
from __future__ import annotations

import base64
import os
from urllib.parse import quote

import yaml

from rovn_ops.core.errors import Refused


def settings(env: str, protected_text: bytes | None, working_text: bytes) -> dict:
    """The `allow_list:` block: prod's from the protected branch, the sandbox's as it is."""
    text = protected_text if env == "prod" else working_text
    block = (yaml.safe_load(text or b"") or {}).get("allow_list") or {}
    if not isinstance(block, dict):
        raise Refused(f"parameters/{env}.yaml: `allow_list` must be a mapping (from, repository, api_url, "
                      "token_secret)")
    if env == "prod" and block.get("from") != "github":
        raise Refused("parameters/prod.yaml: the allow-list is read only from GitHub in prod "
                      "(allow_list.from: github)")
    return block


def read(env: str, block: dict, path: str, branch: str = "main") -> tuple[bytes, dict]:
    """(the file's bytes at the branch's head, {file, ref, commit}); refuses with one line."""
    from rovn_ops.clients.github import GitHub, guard

    api_url = os.path.expandvars(str(block.get("api_url") or ""))
    repository, secret = str(block.get("repository") or ""), str(block.get("token_secret") or "")
    if not api_url or "/" not in repository or not secret.startswith("secret:"):
        raise Refused(f"parameters/{env}.yaml: allow_list needs api_url, repository (owner/name) and "
                      "token_secret (secret:NAME) to read the allow-list from GitHub")
    try:
        guard(env, api_url)  # loopback in the sandbox, GitHub's https API in prod
    except Exception as e:  # noqa: BLE001 - BadInput from the guard: here a refusal of the lists
        raise Refused(f"parameters/{env}.yaml: allow_list.{str(e).removeprefix('parameter ')}") from None
    gh = GitHub(api_url, repository, lambda: _token(env, secret.removeprefix("secret:")), secret)
    head = gh._get(f"/repos/{repository}/commits/{quote(branch)}")
    sha = str(head.body.get("sha") or "")
    if head.status != 200 or len(sha) != 40:
        raise Refused(f"could not read {repository}'s {branch} from GitHub ({head.message}): the deployers and "
                      "approvers come only from the protected branch")
    got = gh._get(f"/repos/{repository}/contents/{quote(path)}?ref={sha}")
    body = got.body
    if got.status != 200 or body.get("type") != "file" or body.get("encoding") != "base64":
        raise Refused(f"{path} is not a file on {repository}@{sha[:12]} ({got.message}): the deployers and "
                      "approvers come only from the protected branch")
    try:
        data = base64.b64decode("".join(str(body.get("content") or "").split()), validate=True)
    except ValueError:
        raise Refused(f"GitHub's {path} at {sha[:12]} is not valid base64") from None
    return data, {"file": path, "ref": f"GitHub {repository} {branch}", "commit": sha}


def _token(env: str, name: str):
    from rovn_ops.core import aws
    from rovn_ops.safety import secret_values

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-2"
    return secret_values.read(aws.client("secretsmanager", env=env, region=region), name)
