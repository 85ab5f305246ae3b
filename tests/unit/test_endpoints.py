"""A secret goes only to the endpoint it belongs to (endpoints.py): every pair the
committed environment files declare, in prod and in the sandbox."""
import pytest

from rovn_ops.core import endpoints
from rovn_ops.safety import params
from rovn_ops.core.errors import BadInput

SANDBOX_URLS = {"ROVN_SENTRY_URL": "http://127.0.0.1:9001", "ROVN_GITHUB_URL": "http://127.0.0.1:9002",
                "ROVN_SINK_URL": "http://127.0.0.1:9003/hooks", "ROVN_SANDBOX_FAKES_URL": "http://127.0.0.1:9004"}


@pytest.fixture(autouse=True)
def sandbox_urls(monkeypatch):
    for name, value in SANDBOX_URLS.items():
        monkeypatch.setenv(name, value)


def runbooks_with(name: str) -> list[str]:
    return [r for r, model in params.MODELS.items() if name in model.model_fields]


def pairs(env: str):
    """(runbook, URL parameter, secret parameter or None) for every declared endpoint."""
    declared = endpoints.declared(params.environment_file(env))
    assert declared, f"parameters/{env}.yaml declares no endpoints"
    for url, secrets in declared.items():
        for runbook in runbooks_with(url):
            for s in [x for x in secrets if x in params.MODELS[runbook].model_fields] or [None]:
                yield runbook, url, s


def test_every_secret_parameter_is_declared_with_its_endpoint():
    """A parameter naming a secret that is sent somewhere (…_secret, a routing key) is
    declared beside its URL in both environment files, with the same pairing."""
    secret_params = {n for m in params.MODELS.values() for n in m.model_fields
                     if n.endswith("_secret") or n.endswith("_routing_key")}
    for env in ("sandbox", "prod"):
        declared = endpoints.declared(params.environment_file(env))
        assert secret_params <= {s for ss in declared.values() for s in ss}, env
    assert endpoints.declared(params.environment_file("prod")) == endpoints.declared(params.environment_file("sandbox"))


@pytest.mark.parametrize("env", ["prod", "sandbox"])
def test_no_url_parameter_with_a_secret_can_be_repointed(env):
    for runbook, url, secret in pairs(env):
        for target in ("https://anywhere.example", "http://127.0.0.1:1/x", "https://sentry.io.attacker.example"):
            args = [f"{url}={target}"] + ([f"{secret}=secret:rovn/prod/db-master"] if secret else [])
            if env == "sandbox" and secret is None and target.startswith("http://127."):
                continue  # no secret travels with it: a loopback URL is the sandbox's to choose
            with pytest.raises(BadInput, match=f"parameter '({url}|{secret})'"):
                params.resolve(runbook, env, assignments=args)


@pytest.mark.parametrize("env", ["prod", "sandbox"])
def test_a_secret_parameter_cannot_name_another_secret(env):
    for runbook, url, secret in pairs(env):
        if secret:
            with pytest.raises(BadInput, match=f"parameter '{secret}': pinned to secret:"):
                params.resolve(runbook, env, assignments=[f"{secret}=secret:rovn/prod/db-master"])


def test_the_declared_values_and_empty_pass():
    for env in ("prod", "sandbox"):
        for runbook, url, secret in pairs(env):
            p = params.resolve(runbook, env)
            declared = params.environment_defaults(env)
            assert getattr(p, url) == (declared.get(url) or "")
            params.resolve(runbook, env, assignments=[f"{url}="])  # empty: nothing is sent


def test_sandbox_takes_loopback_only_for_a_url_without_a_secret():
    p = params.resolve("rollback", "sandbox", assignments=["slack_webhook_url=http://localhost:1/x"])
    assert p.slack_webhook_url == "http://localhost:1/x"
    for bad in ("http://127.attacker.invalid/x", "https://hooks.example/x", "secret:rovn/prod/db-master"):
        with pytest.raises(BadInput, match="parameter 'slack_webhook_url': expected a loopback URL"):
            params.resolve("rollback", "sandbox", assignments=[f"slack_webhook_url={bad}"])


def test_prod_pins_even_urls_without_a_secret():
    with pytest.raises(BadInput, match="parameter 'mcp_inbound_url': pinned to https://passport.rovn.to/mcp/admin"):
        params.resolve("secret_rotation", "prod", assignments=["mcp_inbound_url=https://passport.rovn.to.evil/x"])


def test_a_parameter_file_cannot_repoint_either(tmp_path):
    f = tmp_path / "preset.yaml"
    f.write_text("github_api_url: https://api.github.com.evil.example\n")
    with pytest.raises(BadInput, match="parameter 'github_api_url': pinned"):
        params.resolve("deploy", "prod", files=[str(f)])


def test_a_notebook_value_cannot_repoint(monkeypatch):
    """JupyterLab and bare papermill resolve through the same check."""
    with pytest.raises(BadInput, match="parameter 'sentry_url': pinned"):
        params.resolve_notebook("incident_triage", {"env": "prod", "sentry_url": "https://anywhere.example"})
