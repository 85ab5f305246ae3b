"""Issue 21, point 5: the /health version contract is the image's, end to end. The build
bakes IMAGE_TAG into the image (buildspec.yml's --build-arg; the Dockerfile's ENV and OCI
label), the app reports it, and the sandbox's /health answers the IMAGE_TAG baked into the
image digest the running tasks use (sandbox/image_config.py), never the tag the task
definition names. So an old image pushed again under a new tag (ECR's retag: the same
manifest under another tag, https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html)
serves its old version, and a deploy of it fails verify naming expected and served.
ECS runs the digest the tag named when the deployment started
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerImage.html), and
DescribeTasks reports it per container (imageDigest,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Container.html)."""
from __future__ import annotations

import json
import time

import urllib3

from rovn_sandbox import control
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import FAMILY, _deploy_rows, _manifest, _service, preview_then_execute

LIVE = "prod-202605270526-ai-competitive-fix"  # rovn-passport-api:288's image, baked with its own tag
REPO, CLUSTER = "rovn-passport-api", "rovn-prod"


def _health(sandbox) -> dict:
    return json.loads(urllib3.request("GET", sandbox["health_url"], timeout=5).data)


def _retag(aws, old: str, new: str) -> str:
    """ECR's documented retag: BatchGetImage's manifest, PutImage under the new tag. Returns the digest."""
    ecr = aws("ecr")
    [image] = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": old}])["images"]
    ecr.put_image(repositoryName=REPO, imageTag=new, imageManifest=image["imageManifest"])
    return image["imageId"]["imageDigest"]


def _roll_out(aws, tag: str) -> str:
    """A revision naming `tag`, rolled out with UpdateService (as any ECS client would); its ARN."""
    ecs = aws("ecs")
    td = ecs.describe_task_definition(taskDefinition=_service(aws)["taskDefinition"])["taskDefinition"]
    spec = {k: td[k] for k in ("family", "networkMode", "requiresCompatibilities", "cpu", "memory",
                               "executionRoleArn", "taskRoleArn", "volumes", "containerDefinitions") if k in td}
    spec["containerDefinitions"][0]["image"] = td["containerDefinitions"][0]["image"].rsplit(":", 1)[0] + ":" + tag
    arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=FAMILY, taskDefinition=arn)
    deadline = time.monotonic() + 60
    while not (len((svc := _service(aws))["deployments"]) == 1 and svc["runningCount"] == svc["desiredCount"]
               and svc["taskDefinition"] == arn):
        assert time.monotonic() < deadline, svc["deployments"]
        time.sleep(0.1)
    return arn


def test_health_reports_the_version_baked_into_the_running_image_not_the_task_definitions_tag(fresh, aws):
    assert _health(fresh)["version"] == LIVE  # seeded: the tag is what the image bakes
    retagged = "prod-20261207120000-retagged"
    digest = _retag(aws, LIVE, retagged)
    arn = _roll_out(aws, retagged)
    assert _health(fresh)["version"] == LIVE  # the new tag names the old image: its old version
    ecs = aws("ecs")
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=ecs.list_tasks(cluster=CLUSTER, serviceName=FAMILY)
                               ["taskArns"])["tasks"]
    running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
    assert running and all(t["taskDefinitionArn"] == arn and t["containers"][0]["imageDigest"] == digest
                           for t in running)
    # service_status compares what /health serves with the PRIMARY image, and says it differs
    status = rovn_ops("run", "service_status", "--quiet")
    assert status.returncode == 4, status.stdout + status.stderr
    assert f"/health reports {LIVE}, the PRIMARY image is {retagged}" in status.stdout


def test_ecs_keeps_running_the_digest_it_resolved_when_the_deployment_started(fresh, aws):
    """A tag moved after the deployment started does not change what its tasks run (ECR's
    tags are immutable here, so the move is a delete and a push of another image)."""
    moving = "prod-20261207120500-moving"
    _retag(aws, LIVE, moving)
    _roll_out(aws, moving)
    ecr = aws("ecr")
    ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": moving}])
    _retag(aws, "prod-202605190947-facility-search", moving)
    assert _health(fresh)["version"] == LIVE


def test_a_deploy_whose_build_pushed_an_old_image_fails_verify_naming_expected_and_served(fresh, aws,
                                                                                           evidence_dir):
    control.scenario(fresh, "codebuild_pushes_stale_image")
    run = preview_then_execute()
    assert run.returncode == 1, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    new_tag = m["facts"]["new_image_tag"]
    assert m["outcome"] == "failed" and new_tag != LIVE
    assert f"answered 200 with version '{LIVE}', expected '{new_tag}'" in m["error"], m["error"]
    assert "Traceback" not in run.stdout + run.stderr
    # the automatic rollback's own check passes: 288's image reports 288's version
    assert m["facts"]["rollback"]["ok"] is True and _service(aws)["taskDefinition"].endswith(":288")
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"])] == ["failed"]
