"""The suite's own image (issue 26) obeys the §9 rules the suite enforces on the app:
the deploy's own gates run on its Dockerfile, its task definition and the files it
ships, and the image installs the runtime lock, without the sandbox extra."""
import fnmatch
import json
import subprocess
import sys

from rovn_ops.deploy import secrets_scan
from rovn_ops.deploy.source import Source
from rovn_ops.ecs import filesystem
from tests.conftest import ROOT
from tests.unit.test_lock import _pins

SANDBOX_ONLY = {"moto", "pgserver", "pytest", "selenium", "nbval", "awscli", "ecs-deploy"}


def _runtime_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-runtime.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.split("[")[0].lower().replace("_", "-")] = version.strip()
    return pins


def test_the_deploy_gates_pass_on_the_suites_dockerfile():
    problems = Source.open(str(ROOT)).hygiene()
    assert problems and not any(problems.values()), problems


def test_the_gates_would_refuse_it_if_it_ran_as_root(tmp_path):
    """The same gate, shown able to fail on this very Dockerfile."""
    (tmp_path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text().replace("USER 10001", "USER root"))
    (tmp_path / "requirements.lock").write_text("")
    assert Source.open(str(tmp_path)).hygiene()["non-root USER"]


def test_its_task_definition_is_read_only_but_for_tmp_and_non_root():
    text = (ROOT / "infra/rovn-ops-runner.taskdef.json").read_text()
    spec = json.loads(text.replace("${ACCOUNT}", "123456789012").replace("${REGION}", "us-east-2"))
    [container] = spec["containerDefinitions"]
    assert filesystem.problems(spec, container) == []
    assert container["user"] not in ("root", "0") and spec["requiresCompatibilities"] == ["FARGATE"]
    assert container["logConfiguration"]["logDriver"] == "awslogs"


def _shipped() -> list:
    """What `docker build` sends and the Dockerfile copies: its COPY sources, less .dockerignore."""
    ignored = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip()]
    copied = ["lib/", "runbooks/", "parameters/", "requirements-runtime.lock", "pyproject.toml", "README.md"]
    files = []
    for f in Source.open(str(ROOT)).files():
        rel = f.relative_to(ROOT).as_posix()
        if any(rel == c or rel.startswith(c) for c in copied) and not any(
                fnmatch.fnmatch(rel, p) or rel.startswith(p.rstrip("/") + "/") or fnmatch.fnmatch(rel, p + "/*")
                for p in ignored):
            files.append(f)
    return files


def test_the_files_it_ships_hold_no_secret_and_no_sandbox():
    files = _shipped()
    rels = {f.relative_to(ROOT).as_posix() for f in files}
    assert "runbooks/deploy.ipynb" in rels and "lib/rovn_ops/cli.py" in rels
    assert not any(r.startswith("lib/rovn_sandbox/") for r in rels)  # its test signing key stays out
    assert secrets_scan.problems(ROOT, files) == []


def test_the_runtime_lock_is_the_full_locks_pins_without_the_sandbox():
    full, runtime = _pins(), _runtime_pins()
    assert not SANDBOX_ONLY & set(runtime)
    assert {n: v for n, v in runtime.items() if full.get(n) != v} == {}
    assert "requirements-runtime.lock" in (ROOT / "Dockerfile").read_text()


def test_the_cli_works_without_the_sandbox_extra_installed():
    """As in the image: moto, pgserver and the sandbox package cannot be imported; the
    CLI still lists, and refuses bad input with its one line."""
    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('moto', 'pgserver') or name.startswith('rovn_sandbox'):\n"
               "            raise ImportError(f'{name} is not in the image')\n"
               "sys.meta_path.insert(0, Block())\n"
               "from rovn_ops.cli import main\n"
               "sys.exit(main(sys.argv[1:]))\n")
    listed = subprocess.run([sys.executable, "-c", blocker, "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "service_status" in listed.stdout, listed.stderr
    bad = subprocess.run([sys.executable, "-c", blocker, "remote", "run", "service_status", "--env", "prod",
                          "-p", "events=abc"], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert bad.returncode == 2 and "'events'" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_a_secret_reference_is_not_a_secret_but_a_token_behind_the_prefix_still_is(tmp_path):
    (tmp_path / "c.yaml").write_text("api_token: secret:rovn/prod/api-token\n"
                                     "db_password: hunter2-not-a-reference\n"
                                     "stripe_key: secret:sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "\n")
    found = secrets_scan.scan(tmp_path, [tmp_path / "c.yaml"])
    lines = {f.line: f.kind for f in found}
    assert 1 not in lines  # names a secret in Secrets Manager
    assert lines.get(2) == "Secret Keyword"
    assert lines.get(3) == "Stripe Access Key"  # its own detector still fires
