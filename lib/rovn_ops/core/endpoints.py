"""Secret-bearing endpoints: a secret goes only to the endpoint it belongs to.

Each environment file declares, under `endpoints:`, every URL parameter a secret is
sent to, with the parameters that name the secrets travelling to it:

    endpoints:
      sentry_url: [sentry_token_secret]      # the token goes to this URL, and only there
      slack_webhook_url: []                  # the URL is the secret (or names it)

The rule, checked once for every run (headless, JupyterLab, a draft) after the
parameters are validated and before anything is read or sent:

- an endpoint with secret parameters is pinned in every environment: the URL and each
  secret parameter are the environment file's values (empty is allowed: nothing is sent);
- any other declared endpoint is pinned in prod; in the sandbox it may point elsewhere
  on loopback only.

So `-p sentry_url=https://anywhere -p sentry_token_secret=secret:rovn/prod/db-master`
is refused (exit 2) before a value is read, and no -p/-f/notebook value can pair a
secret with another host. The refusal names the parameter and the declared value,
never a secret's value.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from rovn_ops.core.errors import BadInput


def declared(environment: dict) -> dict[str, list[str]]:
    """{URL parameter: [secret parameters]} from an environment file's `endpoints:`."""
    section = environment.get("endpoints") or {}
    if not isinstance(section, dict):
        raise BadInput("environment file: 'endpoints' must map each URL parameter to its secret parameters")
    return {str(url): [str(s) for s in (secrets or [])] for url, secrets in section.items()}


def check(values: dict, env: str, endpoints: dict[str, list[str]], defaults: dict) -> None:
    """values: the run's validated parameters; defaults: the environment file's
    (interpolated) parameters, the declared URL and secret names."""
    for url_name, secret_names in endpoints.items():
        if url_name not in values:
            continue  # a runbook without this endpoint
        url = values[url_name] or ""
        secret_names = [s for s in secret_names if s in values]
        pinned = {url_name: defaults.get(url_name) or ""}
        pinned.update({s: defaults.get(s) or "" for s in secret_names})
        if secret_names or env == "prod":
            for name, expected in pinned.items():
                got = values.get(name) or ""
                if got and got != expected:
                    raise BadInput(_refusal(name, expected, url_name, env, secret_names))
        elif url and not _loopback(url) and url != pinned[url_name]:
            raise BadInput(f"parameter '{url_name}': expected a loopback URL in the sandbox (or "
                           f"{pinned[url_name] or 'empty'}), got a URL for host {_host(url)!r}")


def _refusal(name: str, expected: str, url_name: str, env: str, secret_names: list[str]) -> str:
    where = f"parameters/{env}.yaml's endpoints"
    if name == url_name:
        travels = f" ({', '.join(secret_names)} goes there)" if secret_names else ""
        return (f"parameter '{name}': pinned to {expected or '(empty)'} by {where}{travels}; "
                "a run cannot send a secret to another host")
    return (f"parameter '{name}': pinned to {expected or '(empty)'} by {where}: it is sent only to "
            f"{url_name}, and no other secret may be")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _loopback(url: str) -> bool:
    from rovn_ops.core.aws import is_sandbox_endpoint

    return url.startswith(("http://", "https://")) and is_sandbox_endpoint(url)
