"""Secrets Manager as AWS behaves, where moto 5 differs (the sandbox installs these):

- ListSecretVersionIds reports every version's CreatedDate as "now"; AWS reports when
  the version was created (the inventory's age of the current value).
- UpdateSecretVersionStage moving AWSCURRENT leaves moto's default version behind, so a
  GetSecretValue without a stage returns the old value; AWS returns the new one.
  It also leaves LastChangedDate, which AWS moves."""
from __future__ import annotations

import json
import time

from moto.secretsmanager.models import SecretsManagerBackend

from rovn_sandbox import moto_guard


@moto_guard.patches
def install() -> None:
    if getattr(SecretsManagerBackend, "_rovn_fixed", False):
        return
    SecretsManagerBackend._rovn_fixed = True
    orig_list = SecretsManagerBackend.list_secret_version_ids
    orig_update = SecretsManagerBackend.update_secret_version_stage

    def list_secret_version_ids(self, secret_id: str) -> str:
        data = json.loads(orig_list(self, secret_id))
        versions = self.secrets[secret_id].versions
        for v in data["Versions"]:
            v["CreatedDate"] = versions[v["VersionId"]]["createdate"]
        return json.dumps(data)

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        result = orig_update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        secret = self.secrets[secret_id]
        if version_stage == "AWSCURRENT" and move_to_version_id:
            secret.default_version_id = move_to_version_id
        secret.last_changed_date = int(time.time())
        return result

    SecretsManagerBackend.list_secret_version_ids = list_secret_version_ids
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage
