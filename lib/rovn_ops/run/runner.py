"""`rovn-ops run`: validate, execute the notebook with papermill, archive the evidence.

Parameters are validated before any kernel starts, so bad input exits 2 with
nothing run and nothing archived. A failed runbook still leaves its executed
notebook, with outcome `failed` (exit 1); a run the protocol or a gate refused
before it changed anything is archived as `refused` (exit 3); SIGINT or SIGTERM
interrupts the kernel's cell (so a runbook logs what it had changed) and leaves what
ran, `interrupted` (exit 1).
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rovn_ops.safety import params as params_mod, scrub
from rovn_ops.core import paths, record
from rovn_ops.run import early, heartbeat
from rovn_ops.evidence import scrubbing, spool
from rovn_ops.core.environment import prepare_environment
from rovn_ops.core.identity import local_user, new_run_id
from rovn_ops.core.errors import BadInput, RovnError, StaleApproval

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_ATTENTION = 0, 1, 2, 3, 4
# A run whose notebook completed can still end non-zero: service_status's verdict
# "needs attention" is 4, so a script can tell it from a run that failed (1).
EXIT_CODES = {"success": EXIT_OK, "preview": EXIT_OK, "refused": EXIT_REFUSED, "attention": EXIT_ATTENTION}

# papermill → nbformat → jsonschema imports the optional IRI format checker
# rfc3987-syntax when it is installed (jupyterlab brings it), which compiles ~40
# lark grammars at import: 1.5 s here, on every run. Nothing a run does validates
# an IRI, so this process declines it (jsonschema then skips those two formats).
sys.modules.setdefault("rfc3987_syntax", None)


@dataclass
class RunResult:
    run_id: str
    outcome: str
    exit_code: int
    directory: Path
    notebook: Path
    error: str = ""
    manifest: dict = field(default_factory=dict)

    @property
    def report(self):
        from rovn_ops.evidence.report import Report

        return Report.of(self.manifest, self.exit_code, self.directory, self.notebook)


def notebook_path(runbook: str) -> Path:
    """The runbook's notebook; a name or path the filesystem cannot take (too long, a NUL)
    is bad input, one line, like any other."""
    try:
        return _notebook_path(runbook)
    except (OSError, ValueError) as e:
        raise BadInput(f"runbook {runbook[:60]!r}{'…' if len(runbook) > 60 else ''}: not a runbook name or "
                       f"notebook path ({getattr(e, 'strerror', None) or e})") from None


def _notebook_path(runbook: str) -> Path:
    if runbook.endswith(".ipynb"):  # a notebook by path, e.g. one under development
        path = Path(runbook)
        if not path.is_file():
            raise BadInput(f"runbook {runbook}: file not found")
        return path.resolve()
    path = paths.runbooks() / f"{runbook}.ipynb"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in paths.runbooks().glob("*.ipynb")))
        raise BadInput(f"runbook '{runbook}': no {path.name} in {paths.runbooks()}; expected one of: {known}")
    return path


@contextmanager
def _kernel_environment(**values):
    """The kernel inherits this process's environment: set the run's, then restore."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():  # None: not in the kernel's environment at all
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_SIGNALLED: list[str] = []


def _on_signal(signum, frame):
    """The first SIGINT/SIGTERM interrupts the kernel's cell and lets it finish: the
    runbook logs what it had changed (an `interrupted` audit row) and papermill
    saves the notebook. A second one stops waiting for the kernel."""
    name = signal.Signals(signum).name
    _SIGNALLED.append(name)
    if os.environ.get("ROVN_STOP_FILE"):  # between cells, no cell sees the interrupt: the next step does
        Path(os.environ["ROVN_STOP_FILE"]).touch()
    if not _interrupt_kernels() or len(_SIGNALLED) > 1:
        raise KeyboardInterrupt(name)


def run(runbook: str, *, env: str = "sandbox", files=(), assignments=(), progress: bool = True,
        profile: str | None = None, on_verdict=None) -> RunResult:
    """progress: stream the steps and the library's lines to stderr (see progress.py).
    profile: the AWS CLI profile for --env prod (as AWS_PROFILE).
    on_verdict: called once, from another thread, with the verdict the kernel records as
    soon as it knows it (early.py), redacted, while the run goes on."""
    source = notebook_path(runbook)
    runbook = source.stem
    model = params_mod.MODELS.get(runbook) or params_mod.inferred_model(source)
    params_mod.resolve(runbook, env, list(files), list(assignments), model)  # bad input: exit before anything
    quiet_s = heartbeat.interval()
    prepare_environment(env, profile)
    scrub.register_operator()  # what the operator brings (AWS keys, PGPASSWORD, DATABASE_URL's password)
    spool.check_writable()  # a read-only or full evidence directory: refused before anything runs
    # Again, now that the environment file's ${VAR}s can see the sandbox's exports.
    p = params_mod.resolve(runbook, env, list(files), list(assignments), model)
    run_id = new_run_id(runbook)
    # No change may run that could not be signed: a confirmed run (and any prod run,
    # Archiver's own rule) has its key before anything starts. Any other run's archiver, and
    # its imports (psycopg, the signing code), wait until its kernel is booting.
    key_first = getattr(p, "confirm", False) or env == "prod"
    archiver = _archiver(env, runbook) if key_first else None
    if archiver is not None:
        archiver.ready()
    started = datetime.now(timezone.utc)
    parameters = p.model_dump(mode="json")
    # papermill writes as cells run, into the run's private spool: only the scrubbed
    # notebook ever reaches the evidence directory, and a killed run is recovered.
    # The kernel seals the secrets it reads with redact_key; the spool keeps it beside
    # the raw notebook (both private), so a recovery can still redact them.
    redact_key = scrub.new_key()
    sp = spool.Spool.create(run_id, runbook=runbook, source=str(source), notebook=source.name, env=env,
                            parameters=parameters, mode="headless", started=started.isoformat(),
                            local_user=local_user(), redact_key=redact_key)
    draft = "1" if scrubbing.is_draft(source) else None  # its audit rows say so (audit.append)
    with _kernel_environment(ROVN_RUN_ID=run_id, ROVN_MODE="headless", ROVN_LOCAL_USER=local_user(), ROVN_DRAFT=draft,
                             ROVN_RESULT_FILE=str(sp.result_file), ROVN_STOP_FILE=str(sp.dir / "stop"),
                             ROVN_RUN_FILE=str(sp.dir / "run.json"),  # what begin() checks the kernel holds
                             **{scrub.REDACT_KEY_ENV: redact_key}), _kernel(source) as km:
        try:
            archiver = archiver or _archiver(env, runbook)  # it loads the signing key while the kernel runs
        except BaseException:
            sp.release()  # nothing ran: no spooled run for a later command to archive
            raise
        from rovn_ops.run.progress import Progress  # imports papermill, while the kernel boots

        live = _live_redactor(sp.result_file, redact_key)
        preview = "confirm" in type(p).model_fields and not p.confirm
        streamed = Progress(runbook, redactor=live, preview=preview, heartbeat_s=quiet_s) if progress else None
        verdict = early.Watch(sp.result_file, live, on_verdict) if on_verdict else None
        with _watching(live, verdict):  # what the kernel seals is kept here, where the kernel cannot remove it
            outcome, error = _execute(source, sp.dir / source.name, parameters, streamed, archiver.start, km)
    bad = None if draft else _bad_input(outcome, error, sp)  # a draft's word is no reason to archive nothing
    if bad is not None:  # the kernel refused its input before it did anything: exit 2, nothing archived
        sp.release()
        raise bad
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the archive completes once begun
    try:
        m = archiver.finish(sp, outcome=outcome, error=error, sealed=live.seen)
    except _db_down_errors() as e:  # audit_log's database went away: the spool keeps the run for the next command
        raise RovnError(f"run {run_id} ended ({outcome}{': ' + error.splitlines()[0][:300] if error else ''}) but "
                        f"audit_log is unreachable ({type(e).__name__}), so its evidence cannot be anchored yet: "
                        "it is kept and archived by the next rovn-ops command once the database answers") from None
    except OSError as e:  # the disk filled (or went read-only) mid-archive: the spool keeps the run
        raise RovnError(f"run {run_id} ended ({outcome}) but its evidence could not be archived: "
                        f"{e.strerror or e}; it is kept in {sp.dir}: free space, then any rovn-ops command "
                        "archives it") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    directory = Path(m["path"])
    code = exit_code(m["outcome"], m.get("error") or "")
    return RunResult(run_id, m["outcome"], code, directory, directory / source.name, m["error"], m)


def _archiver(env: str, runbook: str):
    from rovn_ops.evidence import archive

    return archive.Archiver(env, runbook)  # the key rotation's run: the key it hands over


def exit_code(outcome: str, error: str) -> int:
    """The run's exit code from its archived outcome. A refusal at execute (a stale or spent
    approval, issue 20) is the `confirm` input being wrong: exit 2, as bad input is."""
    if outcome == "refused" and error.startswith(f"{StaleApproval.__name__}:"):
        return EXIT_BAD_INPUT
    return EXIT_CODES.get(outcome, EXIT_FAILED)


def _db_down_errors() -> tuple:
    import psycopg

    return (psycopg.OperationalError, psycopg.InterfaceError)


def _bad_input(outcome: str, error: str, sp) -> BadInput | None:
    """BadInput raised inside the kernel (a migration file the engine cannot name, a
    secret that does not exist) is bad input as on the command line, exit 2, provided the
    run recorded nothing it did: no audit_log row, nothing acted on. Otherwise it failed
    mid-change and is archived as a failure. Only a reviewed runbook's: a draft could raise
    it to leave no evidence of what it did."""
    if outcome != "failed" or not error.startswith("BadInput:"):
        return None
    done = record.read(sp.result_file)
    if done.get("audit_log") or done.get("acted_on") or done.get("approvals"):
        return None
    return BadInput(error.removeprefix("BadInput:").strip().splitlines()[0] if error.strip() != "BadInput:" else
                    "the runbook refused its input")


_KERNELS: list = []  # the kernel managers of this process (kernels.manager_class appends them)


def _interrupt_kernels() -> int:
    """SIGINT to the running kernels, so the cell in flight stops now rather than
    papermill waiting for it to finish before shutting the kernel down."""
    sent = 0
    for km in _KERNELS:
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGINT)
            sent += 1
    return sent


@contextmanager
def _watching(live, verdict=None, every: float = 0.05):
    """Read the kernel's sealed secrets while it runs (and once after), so a notebook that
    later drops them from its result file is caught and still redacted. A file the kernel
    can rewrite is only watched, not trusted: a drop within one interval is not seen.
    verdict: an early.Watch, polled as often (after the secrets, so it redacts with them)."""
    def poll():
        live()
        if verdict is not None:
            verdict()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [poll() for _ in iter(lambda: stop.wait(every), True)], daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        poll()


def _live_redactor(result_file: Path, key: str):
    """A Redactor for the secrets the kernel has sealed into the result file so far
    (rebuilt only when another one arrives)."""
    cache: dict = {}
    seen: list[str] = []  # every sealed value ever read here: a kernel that drops some later is caught

    def current() -> scrub.Redactor:
        sealed = record.read(result_file).get("redact_sealed", [])
        seen.extend(v for v in sealed if v not in seen)
        if cache.get("n") != len(seen):
            cache.update(n=len(seen), redactor=scrub.Redactor(scrub.unseal(seen, key)))
        return cache["redactor"]
    current.seen = seen
    return current


@contextmanager
def _kernel(source: Path):
    """The run's kernel, launched before papermill is imported (kernels.launch), and shut
    down however the run ends. Its sockets live in a private directory."""
    from rovn_ops.run import kernels

    sockets = tempfile.TemporaryDirectory(prefix="rovn-kernel-")
    km = None
    try:
        km = kernels.launch(sockets.name, _KERNELS, str(source), str(source.parent))
        yield km
    finally:
        if km is not None:
            km.finish()
        sockets.cleanup()


def _execute(source: Path, output: Path, parameters: dict, streamed, on_start, km) -> tuple[str, str]:
    """streamed: a progress.Progress when the run's progress goes to stderr, else None.
    km: the run's kernel (_kernel), already booting."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from rovn_ops.run.progress import ENGINE

    on_start()
    _SIGNALLED.clear()
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        pm.execute_notebook(str(source), str(output), parameters=parameters, cwd=str(source.parent),
                            kernel_name="python3", progress_bar=False, log_output=False,
                            request_save_on_cell_execute=True, engine_name=ENGINE,
                            progress=streamed, km=km)
        return "success", ""
    except PapermillExecutionError as e:
        if _SIGNALLED or e.ename == "KeyboardInterrupt":
            return "interrupted", f"interrupted by {_SIGNALLED[0] if _SIGNALLED else 'SIGINT'}"
        return "failed", f"{e.ename}: {e.evalue}".strip()
    except KeyboardInterrupt as e:
        return "interrupted", f"interrupted by {e.args[0] if e.args else 'SIGINT'}"
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
