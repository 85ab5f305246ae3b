"""The sandbox process: `python -m rovn_sandbox.server DIR`.

One process runs moto (threaded HTTP server on loopback, with our ECS rollout
simulator installed), PostgreSQL, the app's /health stub and the webhook sink,
seeds the world, writes DIR/state.json, and serves until SIGTERM.
"""
from __future__ import annotations

import concurrent.futures
import gc
import json
import os
import secrets
import shutil
import signal
import socket
import string
import sys
import threading
import time
import traceback
from pathlib import Path

import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signing_key() -> str:
    """The sandbox's evidence signing key (Ed25519, PEM): committed beside this module,
    a test key for the sandbox only, so its id can be pinned in parameters/sandbox.yaml
    like prod's and every sandbox, restarted or reset, signs with the same key."""
    return (Path(__file__).parent / "evidence-signing-key.pem").read_text()


def _credentials(state_dir: Path) -> tuple[str, str]:
    """Stable per sandbox directory, so a reset keeps the exported environment valid."""
    path = state_dir / "credentials.json"
    if not path.exists():
        alphabet = string.ascii_uppercase + string.digits
        key = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        path.write_text(json.dumps([key, secrets.token_urlsafe(30)]))
        path.chmod(0o600)
    return tuple(json.loads(path.read_text()))


class Sandbox:
    def __init__(self, state_dir: Path, world_file: Path):
        spec = yaml.safe_load(world_file.read_text())
        self.world, self.defaults, self.evidence = spec["world"], spec["parameters"], spec["evidence"]
        self.standby = spec.get("standby") or {}  # §11 DR: the cross-region cold standby (standby.py)
        self.remote = spec.get("remote")  # remote runs' cluster, task definition, logs (remote_world.py)
        self.drata_spec = spec.get("drata") or {}  # the compliance platform's API (drata_stub.py)
        self.dir = state_dir
        self.source_dir = state_dir / "source"  # the service's checkout; migrations/ inside
        self.migrations_dir = self.source_dir / "migrations"
        self.origin_dir = state_dir / "github" / "rovn-platform.git"  # the checkout's remote (GitHub)
        self.credentials = _credentials(state_dir)
        self.pg = None
        self.admin_url = os.environ.get("DATABASE_URL")
        self.reset_lock = threading.Lock()
        self.background = concurrent.futures.ThreadPoolExecutor(1)  # the next reset's database
        self.spare: concurrent.futures.Future | None = None

    def start(self) -> dict:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise
        # Nothing here uses EC2 images; moto's ~900 kB of default AMIs (EC2 comes up for RDS's
        # default VPC) would be most of what each reset restores (world_snapshot).
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

        from rovn_sandbox import (
            alarm_eval,
            audit_tamper,
            bake_incidents,
            cloudtrail_api,
            sts_source_identity,
            cloudwatch_sim,
            codebuild_sim,
            ecs_api,
            ecs_fargate,
            ecs_rollout,
            elbv2_world,
            fakes,
            remote_tasks,
            github,
            httpd,
            incidents,
            moto_fixes,
            rds_faults,
            rds_paging,
            secretsmanager_fixes,
            standby,
            synthetics_sim,
            task_credentials,
            wire,
            world_snapshot,
            xray_fixes,
            xray_world,
        )

        ecs_rollout.install()
        ecs_api.install()
        cloudtrail_api.install()
        sts_source_identity.install()
        moto_fixes.install()
        bake_incidents.install(self.world["region"])
        ecs_fargate.install()
        elbv2_world.install()
        cloudwatch_sim.install()
        alarm_eval.install(self.world["region"])
        rds_faults.install()
        rds_paging.install()
        codebuild_sim.install()
        secretsmanager_fixes.install()
        xray_fixes.install()
        xray_world.install(self.world["region"])
        synthetics_sim.install()
        if self.remote:
            remote_tasks.install(self.dir, self.remote["task_definition"])
        ecs = self.world["ecs"]
        self.captures = task_credentials.Captures(self.world["region"], ecs["cluster"], ecs["service"],
                                                  ecs["secrets"]["DATABASE_URL"])
        task_credentials.install(self.captures)
        self.fakes = fakes.serve()
        standby.install(self)
        port = _free_port()
        # moto behind the wire layer: names, 400s for malformed input, recordings, CloudTrail's events
        self.moto = wire.Server(port, wire.recorder_from_env(), cloudtrail_api.events)
        self.moto.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        db = threading.Thread(target=self._start_db)
        db.start()  # PostgreSQL boots while moto is seeded
        facts = self._seed()
        handler = type("H", (httpd.Handler,), {
            "serving_version": staticmethod(self.serving_version),
            "db_status": staticmethod(self.captures.db_status),
            "sink": httpd.Sink(self.dir / "sink.jsonl"), "reset": staticmethod(self.reset)})
        self.sink = handler.sink
        self.app, self.control = httpd.serve(handler), httpd.serve(handler)
        self.sentry = httpd.serve(self._sentry_handler())
        self.drata = httpd.serve(self._drata_handler())
        self._serve_standby(handler)
        incidents.install(self)
        audit_tamper.install(self)
        self.github = httpd.serve(type("G", (github.Handler,), {
            "origin": self.origin_dir, "token": staticmethod(self.github_token),
            "runbooks_origin": github.project_origin()}))
        db.join()
        self._seed_builds()  # from the checkout just made
        self._seed_secret_values()
        self.moto_state = world_snapshot.MotoState()
        threading.Thread(target=self._tick, daemon=True).start()
        return self._state(facts)

    def _tick(self) -> None:
        """Rollouts move on the clock (clock.py) even while no one looks: a bake's alarm
        that a completed rollout moves, moves when the rollout completes."""
        from rovn_sandbox import alarm_eval, ecs_rollout

        while True:
            time.sleep(0.05)
            with self.reset_lock:
                try:
                    for region in {self.world["region"], self.standby.get("region") or self.world["region"]}:
                        ecs_rollout.advance_all(region)
                    alarm_eval.tick(self.world["region"])  # CloudWatch evaluates on the same clock
                except Exception:  # noqa: BLE001 - logged; the next read catches up anyway
                    traceback.print_exc()

    def _serve_standby(self, primary_handler) -> None:
        """The standby's /health (its service's tasks, its database), Cloudflare's API and
        the public name, which answers from wherever the DNS record points (standby.py)."""
        from rovn_sandbox import cloudflare_stub, httpd, standby, world

        sb, w = self.standby, self.world
        self.standby_app = httpd.serve(type("SH", (primary_handler,), {
            "primary": False, "serving_version": staticmethod(lambda: standby.serving_version(sb)),
            "db_status": staticmethod(lambda: standby.db_status(w, sb))}))
        name = sb["dns"]["token_secret"].removeprefix("secret:")
        sm = world._client(self.endpoint, w["region"], "secretsmanager")
        token = lambda: sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]  # noqa: E731
        self.cloudflare = httpd.serve(type("CF", (cloudflare_stub.Handler,), {"token": staticmethod(token)}))
        host = "http://127.0.0.1"
        routes = {sb["primary_load_balancer_dns"]: f"{host}:{self.app.server_port}/health",
                  sb["load_balancer_dns"]: f"{host}:{self.standby_app.server_port}/health"}
        self.public = httpd.serve(type("P", (cloudflare_stub.Public,), {"backends": staticmethod(lambda: routes)}))

    def _drata_handler(self):
        """Drata's Evidence API (drata_stub.py), its API key the secret parameters/sandbox.yaml names."""
        from rovn_sandbox import drata_stub, world

        name = self.drata_spec["token_secret"].removeprefix("secret:")
        sm = world._client(self.endpoint, self.world["region"], "secretsmanager")
        token = lambda: sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]  # noqa: E731
        return type("DrataH", (drata_stub.Handler,), {"token": staticmethod(token)})

    def _sentry_handler(self):
        from rovn_sandbox import sentry_stub, world

        name = self.defaults["sentry_token_secret"].removeprefix("secret:")
        sm = world._client(self.endpoint, self.world["region"], "secretsmanager")
        token = lambda: sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]  # noqa: E731
        return type("SentryH", (sentry_stub.Handler,), {"token": staticmethod(token)})

    def _start_db(self) -> None:
        from rovn_sandbox import database

        if not self.admin_url:
            self.pg = database.start_embedded(self.dir / "pgdata")
            self.admin_url = self.pg.get_uri()
        self._recreate_db()

    def _inputs(self) -> list[Path]:
        """What the checkout and the database are built from (besides sandbox.yaml)."""
        from rovn_ops.core import paths

        return [paths.project_path(p) for p in (self.world["sample_source"], self.world["sample_migrations"],
                                                self.defaults["phi_registry"])]

    def _recreate_db(self) -> None:
        """Build the checkout and the database from the samples, and keep both for resets."""
        self._build_db()
        self._keep_db()

    def _build_db(self) -> None:
        from rovn_sandbox import database, github, world_snapshot

        source, migrations, registry = self._inputs()
        self.inputs_stamp = world_snapshot.inputs_stamp(source, migrations, registry)
        # A working copy of the service's source, its migrations inside, as a checkout of
        # the platform repository: what a runbook writes (a reversal) never touches the samples.
        shutil.rmtree(self.source_dir, ignore_errors=True)
        shutil.copytree(source, self.source_dir)
        shutil.copytree(migrations, self.migrations_dir)
        github.init_repository(self.source_dir, self.origin_dir, self.world["github"]["tag"])
        self.admin_db_url, self.database_url = database.recreate(self.admin_url)
        database.seed_history(self.admin_db_url, self.world["database"], self.migrations_dir, registry)

    def _keep_db(self) -> None:
        from rovn_sandbox import database, world_snapshot

        self.kept_checkout = world_snapshot.Directories(self.source_dir, self.origin_dir)
        self._spare_ready()  # it copies the template being replaced
        database.keep_seeded(self.admin_url)
        self.spare = self.background.submit(database.prepare_spare, self.admin_url)

    def _spare_ready(self) -> None:
        """Wait for the next reset's database; make it now if making it failed."""
        from rovn_sandbox import database

        if self.spare is None:
            return
        try:
            self.spare.result()
        except Exception:  # noqa: BLE001 - logged; the reset makes it in the foreground
            traceback.print_exc()
            database.prepare_spare(self.admin_url)
        self.spare = None

    def _restore_db(self) -> None:
        """The checkout and the database as seeded; rebuilt if a sample changed since.
        The database is the spare made while the last test ran; the next one starts now."""
        from rovn_sandbox import database, world_snapshot

        if world_snapshot.inputs_stamp(*self._inputs()) != self.inputs_stamp:
            return self._recreate_db()
        self.kept_checkout.restore()
        self._spare_ready()
        self.admin_db_url, self.database_url = database.restore_seeded(self.admin_url)
        self.spare = self.background.submit(database.prepare_spare, self.admin_url)

    def _seed(self) -> dict:
        from rovn_sandbox import secrets_world, world

        t = time.perf_counter()
        facts = world.seed(self.world, self.endpoint, self.credentials, self.remote)
        if self.standby:
            from rovn_sandbox import standby

            facts |= standby.seed(self.world, self.standby, self.endpoint)
        world.seed_signing_key(self.endpoint, self.world["region"], self.evidence["signing_key_secret"],
                               _signing_key())
        self.world_since = time.time()
        secrets_world.seed_iam(self.endpoint, self.world["region"], self.world["secret_readers"])
        print(f"seeded the world in {time.perf_counter() - t:.2f}s", flush=True)
        return facts

    def _seed_builds(self) -> None:
        from rovn_sandbox import world

        world.seed_builds(self.world, self.endpoint, self.source_dir)

    def _seed_secret_values(self) -> None:
        """Secret values that work where they are used (the database, the fakes); tasks
        of the running service then take the database secret as they start."""
        from rovn_sandbox import secrets_world

        secrets_world.seed(self.world, self.admin_db_url, embedded=self.pg is not None)
        self.captures.clear()
        self.captures.observe_now()

    def github_token(self) -> str:
        """The GitHub stub accepts the token's current value in Secrets Manager."""
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends["123456789012"][self.world["region"]]
        return backend.get_secret_value(self.world["github"]["token_secret"], None, "AWSCURRENT")["SecretString"]

    def serving_version(self) -> str | None:
        """What the tasks that answer requests report as their version: the IMAGE_TAG baked
        into the image they run (ecs_rollout.serving_version; None: no task runs)."""
        from rovn_sandbox import ecs_rollout

        ecs = self.world["ecs"]
        return ecs_rollout.serving_version(ecs["cluster"], ecs["service"], self.world["region"], "123456789012")

    def reset(self, full: bool = False) -> dict[str, float]:
        """Back to the seeded world: moto state, scenarios, sink, database and checkout,
        restored from what the seed kept (world_snapshot); `full` seeds it all anew
        instead, and keeps that. Secret values are drawn anew either way. Returns the
        seconds each step took (sandbox.log has them too)."""
        from rovn_sandbox import (alarm_eval, clock, cloudflare_stub, cloudtrail_api, drata_stub, image_faults,
                                  incidents, scenarios, sts_source_identity, world_snapshot)

        steps: dict[str, float] = {}

        def step(name: str, fn) -> None:
            t = time.perf_counter()
            fn()
            steps[name] = round(time.perf_counter() - t, 4)

        with self.reset_lock:
            clock.reset()
            alarm_eval.reset()
            cloudtrail_api.events.clear()
            sts_source_identity.clear()
            scenarios.clear()
            incidents.clear()
            image_faults.clear()
            cloudflare_stub.reset()
            drata_stub.store.clear()
            self.sink.clear()
            if full:
                step("seed moto", self._reseed_moto)
                step("seed checkout and database", self._build_db)
                step("seed builds", self._seed_builds)
            else:
                step("restore moto", lambda: self.moto_state.restore())
                step("restore checkout and database", self._restore_db)
            step("secret values", self._seed_secret_values)
            self.world_since = time.time()  # after the seed's last write: reconcile leaves the seed out
            if full:
                step("keep", lambda: (self._keep_db(), setattr(self, "moto_state", world_snapshot.MotoState())))
            # Runs archived before now lost their world (database, bucket): say since when.
            write_state(self.dir, json.loads((self.dir / "state.json").read_text()) | {"world_since": self.world_since})
        print(f"reset{' (seeded anew)' if full else ''}: "
              + ", ".join(f"{name} {secs:.3f}s" for name, secs in steps.items()), flush=True)
        return steps

    def _reseed_moto(self) -> None:
        import urllib3

        # Resetting every moto backend can take a minute on a loaded machine (parallel tests).
        urllib3.request("POST", f"{self.endpoint}/moto-api/reset", retries=False,
                        timeout=urllib3.Timeout(connect=10, read=300))
        self._seed()

    def _state(self, facts: dict) -> dict:
        host = "http://127.0.0.1"
        return {
            "pid": os.getpid(), "region": self.world["region"], "endpoint": self.endpoint,
            "access_key_id": self.credentials[0], "secret_access_key": self.credentials[1],
            "database_url": self.database_url, "admin_database_url": self.admin_db_url,
            "embedded_postgres": self.pg is not None,
            "health_url": f"{host}:{self.app.server_port}/health",
            "sink_url": f"{host}:{self.control.server_port}/hooks",
            "github_url": f"{host}:{self.github.server_port}",
            "control_url": f"{host}:{self.control.server_port}/_sandbox",
            "fakes_url": f"{host}:{self.fakes.server_port}",
            "sentry_url": f"{host}:{self.sentry.server_port}",
            "drata_url": f"{host}:{self.drata.server_port}/public/v2",
            "standby_health_url": f"{host}:{self.standby_app.server_port}/health",
            "cloudflare_url": f"{host}:{self.cloudflare.server_port}/client/v4",
            "public_url": f"{host}:{self.public.server_port}",
            "evidence_bucket": self.world["evidence_bucket"]["name"],
            "migrations_dir": str(self.migrations_dir), "source_dir": str(self.source_dir),
            "repository_uri": facts["repository_uri"], "started_at": time.time(),
            "world_since": self.world_since,
        }

    def stop(self) -> None:
        self.background.shutdown(wait=True)
        self.moto.stop()
        if self.pg is not None:
            self.pg.cleanup()


def write_state(state_dir: Path, state: dict) -> None:
    tmp = state_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.chmod(0o600)  # it holds the sandbox's credentials
    tmp.rename(state_dir / "state.json")  # atomic: readers never see half a file


def main(argv: list[str]) -> int:
    state_dir, world_file = Path(argv[0]), Path(argv[1])
    state_dir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(state_dir, world_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    state = sandbox.start()
    gc.freeze()  # start-up's objects (moto, botocore's models) live as long as the process: no collection scans them
    write_state(state_dir, state)
    print(f"sandbox ready: {state['endpoint']}", flush=True)
    stop.wait()
    (state_dir / "state.json").unlink(missing_ok=True)
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
