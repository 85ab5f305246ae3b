"""What an image carries, in the sandbox: the version its build baked in, read from the
image itself, never from the tag it is pushed or deployed under.

The sample source's Dockerfile bakes the tag the build was given into the image's
config (buildspec.yml's `--build-arg IMAGE_TAG`: `ENV IMAGE_TAG` and the OCI label
`org.opencontainers.image.version`), and the app's /health reports that env var. An
image's config is content-addressed: its manifest names it by digest
(https://github.com/opencontainers/image-spec/blob/main/manifest.md, `config`), so
pushing an old image under a new tag (ECR's documented retag: BatchGetImage, then
PutImage of the same manifest under the new tag,
https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html) gives the
same digest, the same config, and the old baked version.

ECS resolves a task definition's image tag to a digest when a deployment starts, and
every task of that deployment runs that digest (software version consistency:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerImage.html), so
/health answers the version baked into the digest the running tasks use.

Every image the sandbox pushes is `manifest(tag)`: built with IMAGE_TAG=tag. The
sandbox keeps no blob store (a registry serves the config at /v2/<name>/blobs/<digest>);
instead an image's config is found among the configs the repository's tags would
have, by its digest: content addressing makes a match the config itself."""
from __future__ import annotations

import hashlib
import json

ACCOUNT = "123456789012"
UNKNOWN = "unknown"  # what the app reports without a baked IMAGE_TAG (source/app/main.py)


def config(tag: str) -> bytes:
    """The image config the sample Dockerfile's final stage produces with IMAGE_TAG=tag
    (the OCI image config's fields: https://github.com/opencontainers/image-spec/blob/main/config.md)."""
    return json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "10001", "WorkingDir": "/srv", "ExposedPorts": {"8000/tcp": {}},
                   "Env": ["PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                           f"IMAGE_TAG={tag}"],
                   "Labels": {"org.opencontainers.image.version": tag},
                   "Cmd": ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]},
        "rootfs": {"type": "layers", "diff_ids": [_digest("layer:" + tag)]},
    }, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: str | bytes) -> str:
    return "sha256:" + hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def manifest(tag: str) -> str:
    """A Docker v2 manifest of the image built with IMAGE_TAG=tag: its config named by
    the config's digest, its layer digest derived from the tag."""
    blob = config(tag)
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(blob), "digest": _digest(blob)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 4096, "digest": _digest("layer:" + tag)}],
    })


def _repository(region: str, image: str):
    """(moto's ECR repository, the reference after the name: ":tag" or "@digest"), or
    (None, "") for an image outside the sandbox's ECR."""
    from moto.ecr.models import ecr_backends

    host, _, path = image.partition("/")
    if ".dkr.ecr." not in host:
        return None, ""
    if "@" in path:
        name, ref = path.split("@", 1)
        ref = "@" + ref
    else:
        name, _, tag = path.rpartition(":")
        ref = ":" + tag
    return ecr_backends[host.split(".", 1)[0]][region].repositories.get(name), ref


def resolve(region: str, image: str) -> str | None:
    """The digest an image reference names now (ECS does this as a deployment starts), or
    None when ECR has no such image."""
    repo, ref = _repository(region, image)
    if repo is None:
        return None
    for i in repo.images:
        if ref == "@" + i.image_digest or ref[1:] in (i.image_tags or [i.image_tag]):
            return i.image_digest
    return None


def baked(region: str, image: str, digest: str | None) -> str:
    """The IMAGE_TAG baked into the image `digest` of `image`'s repository: what its /health
    reports. UNKNOWN when the image's config is not one the sandbox's builds make."""
    repo, _ = _repository(region, image)
    found = next((i for i in (repo.images if repo else []) if i.image_digest == digest), None)
    if found is None:
        return UNKNOWN
    try:
        want = json.loads(found.image_manifest)["config"]["digest"]
    except (ValueError, KeyError, TypeError):
        return UNKNOWN
    tags = {t for i in repo.images for t in (i.image_tags or [i.image_tag]) if t}
    return next((t for t in sorted(tags) if _digest(config(t)) == want), UNKNOWN)
