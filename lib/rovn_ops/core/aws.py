"""AWS clients: one region, botocore's standard retry mode, the endpoint from the
environment, and a guard so the sandbox and production are never confused."""
from __future__ import annotations

import ipaddress
import os
import socket
import threading
from functools import lru_cache
from urllib.parse import urlsplit

from rovn_ops.core.errors import BadInput, EnvironmentGuard

DATABASE_VARS = ("DATABASE_URL", "ROVN_MIGRATION_DATABASE_URL")


def endpoints() -> dict[str, str]:
    """AWS_ENDPOINT_URL and its per-service forms (AWS_ENDPOINT_URL_ECS …)."""
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL") and v}


def is_loopback(host: str) -> bool:
    """Exactly `localhost`, or an address that parses as loopback (127.0.0.0/8, ::1,
    also IPv4-mapped) or unspecified (0.0.0.0 reaches this machine). A name that
    merely starts with 127. (127.attacker.invalid) is not. Written as the resolver reads it:
    any case, a trailing dot, and inet_aton's shorthand (127.1, 2130706433, 0x7f000001), which
    getaddrinfo connects to 127.0.0.1 and a prod run must refuse as loopback."""
    host = host.lower().removesuffix(".") if host != "." else host
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            ip = ipaddress.ip_address(socket.inet_aton(host))  # glibc's numeric forms; no DNS is asked
        except OSError:
            return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or ip.is_unspecified


def is_sandbox_endpoint(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return is_loopback(host)


def database_hosts(url: str) -> list[str]:
    """The hosts a PostgreSQL URL or key=value DSN connects to (host and hostaddr,
    else libpq's PGHOST/PGHOSTADDR); a Unix socket directory, or no host at all (the
    default socket), is this machine."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - psycopg.ProgrammingError: not a connection string
        raise EnvironmentGuard("the database URL is not a PostgreSQL connection string") from None
    hosts = []
    for key, var in (("host", "PGHOST"), ("hostaddr", "PGHOSTADDR")):
        value = str(info.get(key) or os.environ.get(var) or "")
        hosts += [h.strip() for h in value.split(",") if h.strip()]
    return hosts or [""]


def database_port_problem(url: str) -> str | None:
    """Why a database URL's port cannot be right, or None. libpq reads `host:` with no
    port as 5432 (a typo that reaches some other database, or none) and a port that is
    no number fails only when it connects, mid-run: both are refused before a run."""
    from urllib.parse import urlsplit

    from psycopg.conninfo import conninfo_to_dict

    if "://" in url:
        netloc = urlsplit(url.strip()).netloc.rpartition("@")[2]
        for part in netloc.split(","):
            host, colon, port = part.rpartition(":") if not part.endswith("]") else (part, "", "")
            if colon and not port:
                return (f"host {host.strip('[]') or '(none)'} has a ':' but no port: expected host:PORT "
                        "(a number from 1 to 65535), or the host alone for the default 5432")
    try:
        ports = str(conninfo_to_dict(url).get("port") or "")
    except Exception:  # noqa: BLE001 - not a connection string: database_hosts says so
        return None
    for port in (p.strip() for p in ports.split(",")):
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            return f"port '{port[:20]}' is not a number from 1 to 65535"
    return None


def is_local_database(url: str) -> bool:
    return all(h == "" or h.startswith("/") or is_loopback(h) for h in database_hosts(url))


def guard(env: str) -> None:
    """Sandbox runs need loopback endpoints and a loopback database; prod runs refuse
    any loopback endpoint or database. A refusal names the variable and its host,
    never the URL (a database URL carries its password)."""
    found = endpoints()
    if env == "sandbox" and "AWS_ENDPOINT_URL" not in found:
        raise EnvironmentGuard("--env sandbox: AWS_ENDPOINT_URL is not set; start the sandbox "
                               "(rovn-ops sandbox up) and eval \"$(rovn-ops sandbox env)\"")
    for var in DATABASE_VARS:
        problem = os.environ.get(var) and database_port_problem(os.environ[var])
        if problem:  # names the variable, never its value (the URL carries the password)
            raise EnvironmentGuard(f"{var}: {problem}")
    local = {k: is_sandbox_endpoint(v) for k, v in found.items()}
    local |= {k: is_local_database(os.environ[k]) for k in DATABASE_VARS if os.environ.get(k)}
    if env == "prod":
        bad = [k for k, is_local in local.items() if is_local]
        if bad:
            raise EnvironmentGuard(f"--env prod refused: {bad[0]} ({_host(bad[0])}) points at this machine "
                                   "(the sandbox); open a shell without the sandbox's exports")
        return
    bad = [k for k, is_local in local.items() if not is_local]
    if bad:
        raise EnvironmentGuard(f"--env sandbox refused: {bad[0]} ({_host(bad[0])}) is not a sandbox "
                               "(loopback) address")


def _host(var: str) -> str:
    value = os.environ.get(var, "")
    if var in DATABASE_VARS:
        return "host " + ",".join(h or "local socket" for h in database_hosts(value))
    try:
        return "host " + (urlsplit(value).hostname or "?")
    except ValueError:
        return "not a URL"


_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _session(identity: tuple):
    """One per set of credentials in the environment (a session caches the ones it found)."""
    import boto3

    return boto3.session.Session()


@lru_cache(maxsize=64)
def _cached(service: str, region: str, endpoint: str | None):
    from botocore.config import Config

    config = Config(region_name=region, retries={"mode": "standard", "max_attempts": 5},
                    connect_timeout=5, read_timeout=30)
    # One session loads the endpoint and model data once for every client (a session
    # per client re-reads them: ~0.2 s each); sessions are not thread-safe, so one at a time.
    with _LOCK:
        identity = tuple(os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_SESSION_TOKEN"))
        return _session(identity).client(service, config=config, endpoint_url=endpoint)


def client(service: str, *, env: str, region: str):
    """A boto3 client, after the guard. Clients are cached per service and region."""
    guard(env)
    return _cached(service, region, os.environ.get("AWS_ENDPOINT_URL"))


def no_credentials(env: str, why: str = "no AWS credentials found") -> BadInput:
    return BadInput(f"--env {env}: {why}: log in (aws sso login --profile NAME) or set AWS_PROFILE "
                    "(or pass --profile NAME), then run it again")


def require_credentials(env: str) -> None:
    """Before anything runs: credentials exist (an expired SSO token shows at the first call)."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        found = boto3.session.Session().get_credentials()
    except ProfileNotFound as e:
        raise no_credentials(env, str(e)) from None
    if found is None:
        raise no_credentials(env)


def caller_arn(env: str, region: str) -> str:
    import botocore.exceptions as bx

    missing = tuple(getattr(bx, n) for n in ("NoCredentialsError", "PartialCredentialsError", "ProfileNotFound",
                                             "SSOTokenLoadError", "UnauthorizedSSOTokenError",
                                             "TokenRetrievalError") if hasattr(bx, n))
    try:
        return client("sts", env=env, region=region).get_caller_identity()["Arn"]
    except missing as e:
        raise no_credentials(env, str(e).rstrip(".")) from None
