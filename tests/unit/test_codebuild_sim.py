"""The sandbox's CodeBuild simulator: builds run on the sandbox's clock and push to ECR on success."""
import pytest

from rovn_sandbox import control
from rovn_sandbox.codebuild_sim import DONE_S, IN_BUILD_S


@pytest.fixture
def fresh(fresh):
    control.clock(fresh, paused=True)
    return fresh

TAG = "prod-202611270130-sim-test"


def _start(aws):
    return aws("codebuild").start_build(projectName="rovn-passport-api-build", environmentVariablesOverride=[
        {"name": "IMAGE_TAG", "value": TAG, "type": "PLAINTEXT"},
        {"name": "IMAGE_REPO_NAME", "value": "rovn-passport-api", "type": "PLAINTEXT"}])["build"]["id"]


def _poll(aws, build_id, at=None):
    if at is not None:  # sandbox seconds after the build started
        control.clock(control.require(), advance_s=at)
    return aws("codebuild").batch_get_builds(ids=[build_id])["builds"][0]


def _tags(aws):
    return {i.get("imageTag") for i in aws("ecr").list_images(repositoryName="rovn-passport-api")["imageIds"]}


def test_build_succeeds_over_time_and_pushes_the_tag(fresh, aws):
    build_id = _start(aws)
    assert all(_poll(aws, build_id)["buildStatus"] == "IN_PROGRESS" for _ in range(20))  # polls move nothing
    first = _poll(aws, build_id, at=IN_BUILD_S)
    assert first["buildStatus"] == "IN_PROGRESS" and first["currentPhase"] == "BUILD"
    assert TAG not in _tags(aws)
    done = _poll(aws, build_id, at=DONE_S - IN_BUILD_S)
    assert done["buildStatus"] == "SUCCEEDED" and done["currentPhase"] == "COMPLETED"
    assert TAG in _tags(aws)
    scan = aws("ecr").describe_image_scan_findings(repositoryName="rovn-passport-api", imageId={"imageTag": TAG})
    assert scan["imageScanStatus"]["status"] == "COMPLETE"
    assert _poll(aws, build_id)["buildStatus"] == "SUCCEEDED"  # finished builds stay finished


def test_failing_build_pushes_nothing(fresh, aws):
    control.scenario(fresh, "codebuild_fails")
    build_id = _start(aws)
    done = _poll(aws, build_id, at=DONE_S)  # one look after the build's time: the same outcome
    assert done["buildStatus"] == "FAILED"
    assert [p["phaseStatus"] for p in done["phases"] if p["phaseType"] == "BUILD"] == ["FAILED"]
    assert TAG not in _tags(aws)
