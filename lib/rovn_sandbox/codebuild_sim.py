"""CodeBuild builds for moto, which reports every build SUCCEEDED at once and
pushes nothing. Here a build runs on the sandbox's clock (clock.py: compressed wall
time, never per call): `IN_BUILD_S` sandbox seconds after StartBuild it is
IN_PROGRESS in BUILD, `DONE_S` after it finishes, whenever BatchGetBuilds looks. On
success the image is pushed to ECR
under the IMAGE_TAG environment override (IMAGE_REPO_NAME names the repository),
and scanned (a clean scan, or a CRITICAL finding with scenario
"image_critical_finding"); with scenario "codebuild_fails" the build FAILS and
nothing is pushed; with "codebuild_pushes_stale_image" it pushes the repository's newest
image again under the new tag (the image it pushes bakes its own IMAGE_TAG: image_config.py). As CodeBuild does, the build records its environment and source
location overrides, so a client can find an earlier build of the same source, and
the build that pushed a tag (its exported IMAGE_TAG, as buildspec.yml's `env:
exported-variables` leaves it). ListBuildsForProject answers as the API reference
says (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html):
sortOrder by build (DESCENDING, newest first, unless ASCENDING), at most 100 ids a page
with a nextToken for the rest; moto returns every id oldest first, unpaged. An S3
source has no resolvedSourceVersion ("For Amazon S3, this does not apply":
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html): its commit
is what the source zip carries.
"""
from __future__ import annotations

import threading

from moto.codebuild.models import CodeBuildBackend
from moto.codebuild.responses import CodeBuildResponse
from moto.core.responses import ActionResult
from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.ecr.models import ecr_backends

from rovn_sandbox import clock, ecr_scans, image_config, moto_guard, scenarios

_lock = threading.RLock()
_overrides = threading.local()
_builds: dict[str, dict] = {}  # build id -> {"env": {...}, "started": sandbox s, "fails": bool}
IN_BUILD_S, DONE_S = 20.0, 60.0  # provisioning and the earlier phases; then the Docker build
PAGE = 100  # ListBuildsForProject's ids per page


def _phase(kind: str, status: str | None = None) -> dict:
    now = iso_8601_datetime_with_milliseconds()
    phase = {"phaseType": kind, "startTime": now}
    if status:
        phase |= {"phaseStatus": status, "endTime": now, "durationInSeconds": 30}
    return phase


def _advance(backend, build: dict) -> None:
    sim = _builds[build["id"]]
    if build["buildStatus"] != "IN_PROGRESS":
        return
    elapsed = clock.now() - sim["started"]
    if elapsed < IN_BUILD_S:
        return
    if build.get("currentPhase") != "BUILD":
        build["phases"] = [p for p in build["phases"] if p["phaseType"] == "SUBMITTED"] + [
            _phase(k, "SUCCEEDED") for k in ("QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD")
        ] + [_phase("BUILD")]
        build["currentPhase"] = "BUILD"
    if elapsed < DONE_S:
        return
    finish(build, sim["env"], failed=sim["fails"])
    if not sim["fails"]:
        _push(backend, sim["env"])


def finish(build: dict, env: dict, failed: bool = False) -> None:
    """The build as CodeBuild leaves it: phases done, COMPLETED; a successful one has
    the variables buildspec.yml exports (IMAGE_TAG, what it pushed)."""
    build["phases"] = [p for p in build["phases"] if p["phaseType"] == "SUBMITTED"] + [
        _phase(k, "SUCCEEDED") for k in ("QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD")
    ] + [_phase("BUILD", "FAILED" if failed else "SUCCEEDED"), _phase("COMPLETED")]
    build["currentPhase"], build["endTime"] = "COMPLETED", iso_8601_datetime_with_milliseconds()
    build["buildStatus"] = "FAILED" if failed else "SUCCEEDED"
    build.pop("resolvedSourceVersion", None)  # an S3 source has none
    if not failed and env.get("IMAGE_TAG"):
        build["exportedEnvironmentVariables"] = [{"name": "IMAGE_TAG", "value": env["IMAGE_TAG"]}]


def _list_page(ids: list[str], order: str | None, token: str | None) -> dict:
    ordered = list(reversed(ids)) if (order or "DESCENDING") == "DESCENDING" else list(ids)
    start = int(token) if token and token.isdigit() else 0
    page = {"ids": ordered[start:start + PAGE]}
    if start + PAGE < len(ordered):
        page["nextToken"] = str(start + PAGE)
    return page


def _push(backend, env: dict) -> None:
    tag, repo = env.get("IMAGE_TAG"), env.get("IMAGE_REPO_NAME")
    if not tag or not repo:
        return
    ecr = ecr_backends[backend.account_id][backend.region_name]
    pushed = ecr.repositories[repo].images if repo in ecr.repositories else []
    if scenarios.active("codebuild_pushes_stale_image") and pushed:
        # The Docker step built nothing new: the newest image already pushed goes out again
        # under the new tag, as ECR's retag does (same manifest, same digest, its old IMAGE_TAG).
        ecr.put_image(repo, pushed[-1].image_manifest, tag)
    else:
        ecr.put_image(repo, image_config.manifest(tag), tag)
    counts = {"CRITICAL": 1, "HIGH": 2} if scenarios.active("image_critical_finding") else {"LOW": 2}
    ecr.scan_finding_results.append(ecr_scans.result(backend.account_id, repo, tag, counts))
    ecr.start_image_scan(None, repo, {"imageTag": tag})


@moto_guard.patches
def install() -> None:
    orig_start = CodeBuildBackend.start_build
    orig_response = CodeBuildResponse.start_build

    def start_build(self, project_name, source_version=None, artifact_override=None):
        with _lock:
            build = orig_start(self, project_name, source_version, artifact_override)
            given = getattr(_overrides, "env", None) or []
            env = {v["name"]: v["value"] for v in given}
            build["environment"]["environmentVariables"] = list(given)
            # The build's source is the project's with the overrides applied (moto's is a fixed CODECOMMIT one).
            source = dict(self.codebuild_projects[project_name].project_metadata.get("source") or {})
            for key, given in (("type", getattr(_overrides, "source_type", None)),
                               ("location", getattr(_overrides, "source", None))):
                if given:
                    source[key] = given
            build["source"] = source
            _builds[build["id"]] = {"env": env, "started": clock.now(), "fails": scenarios.active("codebuild_fails")}
            return build

    def batch_get_builds(self, ids):
        with _lock:
            found = [b for history in self.build_metadata_history.values() for b in history if b["id"] in ids]
            for build in found:
                if build["id"] in _builds:
                    _advance(self, build)
            return found

    def start_build_response(self):
        _overrides.env = self._get_param("environmentVariablesOverride")
        _overrides.source = self._get_param("sourceLocationOverride")
        _overrides.source_type = self._get_param("sourceTypeOverride")
        try:
            return orig_response(self)
        finally:
            _overrides.env = _overrides.source = _overrides.source_type = None

    def list_builds_for_project_response(self):
        ids = orig_list(self).result["ids"]  # moto's checks (the project exists), its ids oldest first
        return ActionResult(_list_page(ids, self._get_param("sortOrder"), self._get_param("nextToken")))

    orig_list = CodeBuildResponse.list_builds_for_project
    CodeBuildResponse.list_builds_for_project = list_builds_for_project_response
    CodeBuildBackend.start_build = start_build
    CodeBuildBackend.batch_get_builds = batch_get_builds
    CodeBuildResponse.start_build = start_build_response
