"""parameters/prod.yaml names what exists: the same cluster, service, alarms, secrets,
buckets, repository and CodeBuild project as the sandbox's world (which mirrors the
deployment overview), so nothing is only ever tested under a sandbox-only name."""
from __future__ import annotations

import yaml

from tests.conftest import ROOT

PROD = yaml.safe_load((ROOT / "parameters/prod.yaml").read_text())
SANDBOX = yaml.safe_load((ROOT / "parameters/sandbox.yaml").read_text())
WORLD = SANDBOX["world"]
OVERVIEW = (ROOT.parent / "shared/company/deployment-overview.txt")


def _secret_refs(section: dict) -> set[str]:
    values = [v for v in section.values() if isinstance(v, str)]
    return {v.removeprefix("secret:") for v in values if v.startswith("secret:")}


def test_prod_names_the_world_resources():
    p = PROD["parameters"]
    assert p["cluster"] == WORLD["ecs"]["cluster"]
    assert p["service"] == WORLD["ecs"]["service"] == WORLD["ecs"]["family"]
    assert p["repository"] == WORLD["ecr"]["repository"]
    assert p["codebuild_project"] == WORLD["codebuild"]["project"]
    assert p["source_bucket"] == WORLD["codebuild"]["source_bucket"]
    assert p["rds_instance"] == WORLD["rds"]["instance"]
    assert p["region"] == WORLD["region"]
    assert set(p["bake_alarms"]) <= {a["name"] for a in WORLD["alarms"]}
    assert PROD["evidence"]["bucket"] == WORLD["evidence_bucket"]["name"]
    assert PROD["evidence"]["retention_days"] == WORLD["evidence_bucket"]["retention_days"]


def test_every_secret_prod_names_exists_in_the_world():
    world_secrets = {s["name"] for s in WORLD["secrets"]} | set(WORLD["integration_secrets"])
    # The one deliberate exception: the sandbox signs evidence with a committed test key, which
    # must never pass for prod's (rovn/prod/evidence-signing-key, pinned by its key id).
    named = _secret_refs(PROD["parameters"])
    assert named and named <= world_secrets, named - world_secrets


def test_the_sandbox_uses_prods_names_wherever_they_are_not_addresses():
    same = {k: v for k, v in PROD["parameters"].items() if k in SANDBOX["parameters"]
            and not isinstance(v, (int, float))
            and not str(SANDBOX["parameters"][k]).startswith("${") and "url" not in k}
    assert same and all(SANDBOX["parameters"][k] == v for k, v in same.items()), \
        {k: (v, SANDBOX["parameters"][k]) for k, v in same.items() if SANDBOX["parameters"][k] != v}
    assert set(PROD["parameters"]) <= set(SANDBOX["parameters"]), set(PROD["parameters"]) - set(SANDBOX["parameters"])
    assert SANDBOX["evidence"]["signing_key_secret"] == PROD["evidence"]["signing_key_secret"].replace("/prod/",
                                                                                                   "/sandbox/")


def test_the_world_has_the_overviews_names():
    text = OVERVIEW.read_text() if OVERVIEW.exists() else ""
    if text:  # §2: the service and its live revision; §3: the hotfix
        assert f"{WORLD['ecs']['family']}:{WORLD['ecs']['revision']}" in text
        assert WORLD["ecr"]["tags"][-1]["tag"] in text
    # §8: every rotated key has a secret; §5: the three alarms
    kinds = " ".join(s["name"] for s in WORLD["secrets"])
    for key in ("db-master", "anthropic", "persona", "checkr", "workos", "stripe", "jwt", "mcp-outbound",
                "mcp-inbound"):
        assert key in kinds, key
    names = " ".join(a["name"] for a in WORLD["alarms"])
    assert all(k in names for k in ("5xx", "rds-cpu", "running-below-desired"))
