"""The standby (issue 25): declared in each environment file, reachable by the DR runbooks only."""
from __future__ import annotations

import pytest

from rovn_ops.core.errors import BadInput
from rovn_ops.safety import params


@pytest.mark.parametrize("env", ["sandbox", "prod"])
def test_each_environment_declares_its_standby(env):
    p = params.DrReadinessParams(env=env)
    sb = params.standby(p)
    assert sb["region"] == "us-west-2" and sb["region"] not in params.allowed_regions(env)
    for key in ("cluster", "service", "family", "repository", "kms_key_alias", "db_subnet_group", "dns"):
        assert sb[key], key
    assert sb["dns"]["token_secret"].startswith("secret:")  # named, never carried
    assert set(sb["dns"]["records"]) == {"api.rovn.to", "passport.rovn.to"}


@pytest.mark.parametrize("model", [m for n, m in params.MODELS.items() if not n.startswith("dr_")])
def test_no_other_runbook_reaches_the_standby(model):
    with pytest.raises(BadInput, match="parameter 'region'.*DR runbooks"):
        params.standby(model())
