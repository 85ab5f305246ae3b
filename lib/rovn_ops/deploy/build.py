"""The image build (§2): the source zip to the CodeBuild source bucket, a build with
the image tag as an environment override, and the wait, with progress.

Idempotent: the zip's key is its sha256, and every build carries SOURCE_SHA256, so a
re-run finds the build of the same source (finished or still running) and takes its
tag instead of building again."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rovn_ops.core.errors import Refused
from rovn_ops.core.polling import Poller


@dataclass(frozen=True)
class Build:
    id: str
    tag: str
    status: str
    reused: bool = False

    def __str__(self) -> str:
        return f"build {self.id}: {self.status}, image tag {self.tag}" + (" (an earlier build of this source)"
                                                                          if self.reused else "")


def _env(build: dict) -> dict:
    return {v["name"]: v["value"] for v in (build.get("environment") or {}).get("environmentVariables", [])}


MAX_PAGES = 50  # 5,000 builds back: older images are not deployed by tag


def builds(cb, project: str):
    """The project's builds, newest first: ListBuildsForProject pages of up to 100 ids
    with nextToken, each page read with one BatchGetBuilds (at most 100 ids)
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html,
    https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BatchGetBuilds.html)."""
    kw = {"projectName": project, "sortOrder": "DESCENDING"}
    for _ in range(MAX_PAGES):
        page = cb.list_builds_for_project(**kw)
        if page.get("ids"):
            yield from cb.batch_get_builds(ids=page["ids"])["builds"]
        if not page.get("nextToken"):
            return
        kw["nextToken"] = page["nextToken"]


def pushed_tag(b: dict) -> str:
    """The tag a build pushed: the IMAGE_TAG buildspec.yml exports (what the build
    itself used), else the override it was started with."""
    exported = {v.get("name"): v.get("value") for v in b.get("exportedEnvironmentVariables") or []}
    return exported.get("IMAGE_TAG") or _env(b).get("IMAGE_TAG", "")


def producer(cb, project: str, tag: str, repository: str) -> dict | None:
    """The SUCCEEDED build of `project` that pushed `tag` into `repository`, or None."""
    for b in builds(cb, project):
        if b.get("buildStatus") == "SUCCEEDED" and pushed_tag(b) == tag \
                and _env(b).get("IMAGE_REPO_NAME") == repository:
            return b
    return None


def source_zip(s3, b: dict) -> tuple[bytes | None, str]:
    """The source zip the build read, checked against the SOURCE_SHA256 it was started
    with: (bytes, "") or (None, why not). An S3 source's location is "bucket/key" and
    it has no resolvedSourceVersion (API_Build.html: "For Amazon S3, this does not
    apply"), so the commit is what the zip carries."""
    source = b.get("source") or {}
    if source.get("type") not in (None, "S3") or "/" not in str(source.get("location", "")):
        return None, f"build {b['id']} has no S3 source zip (source {source.get('type')})"
    bucket, key = source["location"].split("/", 1)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.ClientError as e:
        return None, f"build {b['id']}'s source s3://{bucket}/{key} is gone ({e.response['Error']['Code']})"
    expected = _env(b).get("SOURCE_SHA256", "")
    found = hashlib.sha256(body).hexdigest()
    if expected != found:
        return None, (f"s3://{bucket}/{key} is not the source build {b['id']} read: its sha256 is {found[:12]}, the "
                      f"build's SOURCE_SHA256 {expected[:12] or 'is not set'}")
    return body, ""


def previous(cb, project: str, sha256: str, repository: str) -> Build | None:
    """The newest build of this source into this repository that succeeded or still runs."""
    ids = cb.list_builds_for_project(projectName=project, sortOrder="DESCENDING").get("ids", [])[:50]
    if not ids:
        return None
    for b in sorted(cb.batch_get_builds(ids=ids)["builds"], key=lambda b: str(b.get("startTime")), reverse=True):
        env = _env(b)
        if env.get("SOURCE_SHA256") == sha256 and env.get("IMAGE_REPO_NAME") == repository \
                and b["buildStatus"] in ("SUCCEEDED", "IN_PROGRESS"):
            return Build(b["id"], env["IMAGE_TAG"], b["buildStatus"], reused=True)
    return None


def upload(s3, bucket: str, repository: str, archive: bytes, sha256: str) -> str:
    key = f"{repository}/source-{sha256[:16]}.zip"
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if head.get("Metadata", {}).get("sha256") == sha256:
            return key
    except s3.exceptions.ClientError:
        pass
    s3.put_object(Bucket=bucket, Key=key, Body=archive, Metadata={"sha256": sha256})
    return key


def start(cb, project: str, bucket: str, key: str, repository: str, tag: str, sha256: str) -> Build:
    env = {"IMAGE_TAG": tag, "IMAGE_REPO_NAME": repository, "SOURCE_SHA256": sha256}
    b = cb.start_build(projectName=project, sourceTypeOverride="S3", sourceLocationOverride=f"{bucket}/{key}",
                       environmentVariablesOverride=[{"name": k, "value": v, "type": "PLAINTEXT"}
                                                     for k, v in env.items()])["build"]
    return Build(b["id"], tag, b["buildStatus"])


def wait(cb, build: Build, *, deadline_s: float, first: float, longest: float, say=print) -> Build:
    """Until the build finishes; a failed or timed-out build refuses the deploy."""
    poller, seen = Poller(deadline_s, first, longest), None
    for _ in poller:
        b = cb.batch_get_builds(ids=[build.id])["builds"][0]
        state = (b["buildStatus"], b.get("currentPhase"))
        if state != seen:
            say(f"  build {build.id.split(':')[-1][:8]}  {poller.elapsed:6.1f}s  {state[1] or '?':<16} {state[0]}")
            seen = state
            poller.moved()
        if b["buildStatus"] == "SUCCEEDED":
            return Build(build.id, build.tag, "SUCCEEDED", build.reused)
        if b["buildStatus"] != "IN_PROGRESS":
            failed = [p["phaseType"] for p in b.get("phases", []) if p.get("phaseStatus") not in (None, "SUCCEEDED")]
            raise Refused(f"CodeBuild build {build.id} {b['buildStatus']}"
                          + (f" in phase {failed[0]}" if failed else "") + ": nothing was deployed")
    raise Refused(f"CodeBuild build {build.id} still running after {deadline_s:g}s: nothing was deployed")
