"""The images in production today are tagged prod-YYYYMMDDhhmm[-suffix] (12 digits): they
deploy and they are rollback targets; new builds keep prod-YYYYMMDDhhmmss (14)."""
from __future__ import annotations

import json

import urllib3

from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _manifest, _service, preview_then_execute

OLDER = "prod-202605190947-facility-search"  # in ECR, HIGH finding (threshold CRITICAL)


def test_a_12_digit_tag_deploys_and_rolls_back(fresh, aws, evidence_dir):
    run = preview_then_execute("-p", f"image_tag={OLDER}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _manifest(evidence_dir)["facts"]["new_image_tag"] == OLDER
    assert json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"] == OLDER
    back = preview_then_execute("-p", "to_revision=rovn-passport-api:288", runbook="rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert _service(aws)["taskDefinition"].endswith(":288")


def test_the_live_12_digit_tag_is_accepted_and_only_force_new_refuses(fresh, evidence_dir):
    run = rovn_ops("run", "deploy", "--quiet", "-p", "image_tag=prod-202605270526-ai-competitive-fix")
    assert run.returncode == 3, run.stdout + run.stderr  # refused; a parameter error would be 2
    checks = _manifest(evidence_dir)["error"]
    assert "force-new-deployment alone is a no-op" in checks and "image_tag" not in checks
