"""A deploy by `image_tag` passes the gates a deploy from source does (issue 21, point 1),
on the source the image was built from: the CodeBuild build that pushed the tag
(ListBuildsForProject newest first, 100 ids a page with nextToken; BatchGetBuilds), whose
S3 source zip carries the commit (an S3 source has no resolvedSourceVersion: "For Amazon
S3, this does not apply"), then check runs on that commit, §9's Dockerfile rules and §8's
secret scan. An image no build pushed is bad input.

References: https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BatchGetBuilds.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html (resolvedSourceVersion,
exportedEnvironmentVariables)."""
from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path

from rovn_sandbox import control, github
from rovn_sandbox.image_config import manifest as image_manifest
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _notebook, _revisions, preview_then_execute

OLDER = "prod-202605190947-facility-search"  # seeded: in ECR, pushed by a seeded build
PROJECT, BUCKET, REPO = "rovn-passport-api-build", "rovn-codebuild-source", "rovn-passport-api"


def _head(fresh) -> str:
    return github.git(Path(fresh["source_dir"]), "rev-parse", "HEAD")


def test_an_image_by_tag_is_traced_to_its_build_and_commit_and_deploys(fresh, aws, evidence_dir):
    run = preview_then_execute("-p", f"image_tag={OLDER}")
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    prov = m["facts"]["provenance"]
    assert prov["commit"] == _head(fresh) and prov["carried_by"] == "zip comment or manifest"
    assert prov["build"].startswith(PROJECT + ":")
    notebook = _notebook(m)
    for row in ("image: built by CodeBuild", "source: required checks passed", "base image pinned by digest",
                "non-root USER", "no secrets (detect-secrets)"):
        assert row in notebook, row
    [row] = _deploy_rows(fresh["database_url"])
    assert row["details"]["changes"]["image"]["built_by"] == {"build": prov["build"], "commit": prov["commit"]}


def test_an_image_no_build_pushed_is_bad_input(fresh, aws, evidence_dir):
    # pushed by hand (docker push with ECR credentials): in ECR, scanned, but built by no one we can name
    aws("ecr").put_image(repositoryName=REPO, imageTag="prod-20261201000000-handmade",
                         imageManifest=image_manifest("prod-20261201000000-handmade"))
    run = rovn_ops("run", "deploy", "--quiet", "-p", "image_tag=prod-20261201000000-handmade")
    assert run.returncode == 2, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert "parameter 'image_tag'" in out and "no successful build" in out
    assert "Traceback" not in run.stdout + run.stderr
    assert _revisions(aws)[-1] == 288 and _deploy_rows(fresh["database_url"]) == []


def test_a_failed_check_on_the_images_commit_refuses_naming_it(fresh, evidence_dir):
    control.scenario(fresh, "github_check_failing")
    run = rovn_ops("run", "deploy", "--quiet", "-p", f"image_tag={OLDER}")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "check 'unit tests' concluded failure" in run.stdout
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "refused"


def _zip(files: dict[str, str], comment: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.comment = comment.encode()
    return buf.getvalue()


def _built(aws, tag: str, body: bytes) -> None:
    """A build started by hand (the console, an insider) from a zip of one's own."""
    sha = hashlib.sha256(body).hexdigest()
    key = f"{REPO}/by-hand-{sha[:8]}.zip"
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    cb = aws("codebuild")
    b = cb.start_build(projectName=PROJECT, sourceTypeOverride="S3", sourceLocationOverride=f"{BUCKET}/{key}",
                       environmentVariablesOverride=[{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in
                                                     {"IMAGE_TAG": tag, "IMAGE_REPO_NAME": REPO,
                                                      "SOURCE_SHA256": sha}.items()])["build"]
    deadline = time.monotonic() + 120
    while cb.batch_get_builds(ids=[b["id"]])["builds"][0]["buildStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, "the sandbox build did not finish"
        time.sleep(0.5)


def test_an_image_built_from_a_hand_made_zip_meets_the_dockerfile_gate(fresh, aws, evidence_dir):
    # The zip claims main's HEAD as its commit (so check runs pass) but its Dockerfile is not the commit's.
    src = Path(fresh["source_dir"])
    files = {p.relative_to(src).as_posix(): p.read_text() for p in src.rglob("*")
             if p.is_file() and ".git" not in p.parts and "__pycache__" not in p.parts
             and "migrations" not in p.parts}
    files["Dockerfile"] = "FROM python:3.11-slim\nCOPY app/ app/\nCMD [\"python\", \"-m\", \"app\"]\n"
    _built(aws, "prod-20261201000001-byhand", _zip(files, _head(fresh)))
    run = rovn_ops("run", "deploy", "--quiet", "-p", "image_tag=prod-20261201000001-byhand")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "is not pinned by digest" in run.stdout and "sets no USER" in run.stdout
    assert _revisions(aws)[-1] == 288


def test_a_source_zip_replaced_after_its_build_is_named(fresh, aws, evidence_dir):
    cb = aws("codebuild")
    ids = cb.list_builds_for_project(projectName=PROJECT)["ids"]
    made = [b for b in cb.batch_get_builds(ids=ids)["builds"]
            if {"name": "IMAGE_TAG", "value": OLDER} in b["exportedEnvironmentVariables"]][0]
    bucket, key = made["source"]["location"].split("/", 1)
    aws("s3").put_object(Bucket=bucket, Key=key, Body=_zip({"Dockerfile": "FROM scratch\n"}, _head(fresh)))
    run = rovn_ops("run", "deploy", "--quiet", "-p", f"image_tag={OLDER}")
    # the sandbox environment warns (prod refuses): the row names the mismatch either way
    assert "is not the source build" in _notebook(_manifest(evidence_dir)), run.stdout


def test_list_builds_for_project_pages_newest_first(fresh, aws):
    cb = aws("codebuild")
    first = cb.list_builds_for_project(projectName=PROJECT)
    ascending = cb.list_builds_for_project(projectName=PROJECT, sortOrder="ASCENDING")
    assert first["ids"] == list(reversed(ascending["ids"])) and len(first["ids"]) == 8  # 3 legacy + 5 seeded
    builds = {b["id"]: b for b in cb.batch_get_builds(ids=first["ids"])["builds"]}
    assert all("resolvedSourceVersion" not in b for b in builds.values())  # an S3 source has none
    assert builds[first["ids"][0]]["exportedEnvironmentVariables"] == [{"name": "IMAGE_TAG",
                                                          "value": "prod-202605270526-ai-competitive-fix"}]
