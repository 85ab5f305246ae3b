"""§2 / issue 21 point 5: the sample service's image carries the tag it is pushed as, so
/health's version (the app reads IMAGE_TAG) is the image's own claim. buildspec.yml
passes the tag as a build argument and exports it (CodeBuild's exported-variables:
https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.env.exported-variables);
the Dockerfile's final stage turns it into ENV (Docker's ARG/ENV:
https://docs.docker.com/reference/dockerfile/#arg)."""
from __future__ import annotations

import io

import yaml
from dockerfile_parse import DockerfileParser

from rovn_ops.core import paths
from rovn_ops.deploy.source import Source

SOURCE = paths.project_path("lib/rovn_sandbox/source")


def test_the_build_bakes_the_tag_into_the_image_env():
    text = (SOURCE / "Dockerfile").read_text()
    built = DockerfileParser(fileobj=io.BytesIO(text.encode()), build_args={"IMAGE_TAG": "prod-20261201000000-x"})
    assert built.envs.get("IMAGE_TAG") == "prod-20261201000000-x"  # the final stage's environment
    assert built.labels.get("org.opencontainers.image.version") == "prod-20261201000000-x"


def test_the_buildspec_passes_and_exports_the_tag():
    spec = yaml.safe_load((SOURCE / "buildspec.yml").read_text())
    build = " ".join(spec["phases"]["build"]["commands"])
    assert "--build-arg IMAGE_TAG=$IMAGE_TAG" in build and 'test -n "$IMAGE_TAG"' in build
    assert "IMAGE_TAG" in spec["env"]["exported-variables"]


def test_the_sample_source_still_passes_the_dockerfile_gates():
    assert all(not problems for problems in Source.open(str(SOURCE)).hygiene().values())
