"""rovn-ops: the command line. Each subcommand is a thin call into the library.

Exit codes: 0 success; 1 the runbook (or check) failed; 2 bad input; 3 refused
before anything changed (the protocol, the allow-list, a gate); 4 the run completed but
its verdict needs attention.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from rovn_ops import __version__
from rovn_ops.core.escape import terminal
from rovn_ops.core.errors import BadInput, RovnError

EXIT_CODES_HELP = """exit codes:
  0  success, or a preview (nothing changed)
  1  the runbook failed mid-change (evidence archived, outcome failed)
  2  bad input: nothing ran, nothing archived
  3  refused before anything changed (the protocol, the allow-list, a gate)
  4  completed, but the verdict needs attention (outcome attention)"""


def _runbook_names() -> list[str]:
    from rovn_ops.core import paths

    return sorted(p.stem for p in paths.runbooks().glob("*.ipynb"))


class _Parser(argparse.ArgumentParser):
    """A usage error is bad input like any other: one line and exit 2 (argparse prints the
    usage first, two lines or more), and with `--json` one object too."""

    def error(self, message: str):
        raise BadInput(f"{self.prog.removeprefix('rovn-ops').strip() or 'rovn-ops'}: {message} "
                       f"(see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="rovn-ops", description="Rōvn runbooks: run, inspect, audit.")
    ap.add_argument("--version", action="version", version=f"rovn-ops {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="the runbooks, one a line (one runbook's parameters, when named)")
    lst.add_argument("runbook", nargs="?", help="this runbook's parameters: type enforced, default, each "
                                                "environment's value, help")
    lst.add_argument("--markdown", action="store_true",
                     help="every runbook's parameters as one Markdown page (docs/reference/parameters.md)")
    run = sub.add_parser("run", help="run a runbook headlessly and archive its evidence",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="runbooks: " + ", ".join(_runbook_names())
                                + "\n  (rovn-ops list RUNBOOK: its parameters)\n\n" + EXIT_CODES_HELP)
    run.add_argument("runbook", help="a runbook's name (see below), or a notebook's path (a draft)")
    run.add_argument("-f", dest="files", action="append", default=[], metavar="FILE",
                     help="a YAML file of parameters (repeatable; later wins)")
    run.add_argument("-p", "--parameters", dest="assignments", action="append", default=[],
                     metavar="NAME=VALUE", help="one parameter, NAME=VALUE or NAME VALUE (repeatable; wins over -f)")
    run.add_argument("--env", choices=["sandbox", "prod"], default="sandbox",
                     help="target environment (default: sandbox)")
    run.add_argument("--profile", help="AWS CLI profile for --env prod (sets AWS_PROFILE)")
    run.add_argument("--region", help="AWS region (the same as -p region=REGION)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object: run id, outcome, exit code, plan hash, evidence, summary")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    sb = sub.add_parser("sandbox", help="the local sandbox (moto, PostgreSQL, /health, webhook sink)")
    sbs = sb.add_subparsers(dest="action", required=True)
    for name, text in [("up", "start it (idempotent)"), ("down", "stop it"), ("status", "is it up, and where"),
                       ("env", "print the exports to reach it from a shell"),
                       ("reset", "back to the freshly seeded world")]:
        sbs.add_parser(name, help=text)
    sc = sbs.add_parser("scenario", help="switch a fault-injection scenario on or off (alone: list them)",
                        description="Switch a fault-injection scenario on (or off, with --off). Without a "
                                    "name: the scenarios, each with what it does and whether it is on.")
    sc.add_argument("name", nargs="?", help="the scenario, e.g. bad_deploy (omit it to list them all)")
    sc.add_argument("--off", action="store_true", help="switch the named scenario off instead of on")
    tk = sbs.add_parser("tick", help="fire the EventBridge schedules due now (the sandbox plays Scheduler)")
    tk.add_argument("--all", action="store_true", help="fire every enabled schedule, due or not")
    tk.add_argument("--at", type=_instant, help="as if it were this time (ISO 8601, e.g. 2026-12-08T13:00:00Z)")
    apr = sub.add_parser("approve", help="approve a previewed plan, as yourself (your own credentials)")
    apr.add_argument("plan_hash", metavar="PLAN_HASH", help="the full plan hash the preview printed")
    apr.add_argument("--ticket", default="", help="the change ticket this approval is for: the preview's when not given; "
                     "another than the plan's is refused (exit 2)")
    apr.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    apr.add_argument("--key", default=None, help="your approval signing key, PEM (default: $ROVN_APPROVAL_KEY)")
    audit = sub.add_parser("audit", help="the audit_log")
    aus = audit.add_subparsers(dest="action", required=True)
    aus.add_parser("verify", help="check the audit_log hash chain")
    tail = aus.add_parser("tail", help="the latest audit_log rows")
    tail.add_argument("-n", type=_count, default=20)
    mig = sub.add_parser("migrations", help="forward-only migrations: status, verify, apply")
    migs = mig.add_subparsers(dest="action", required=True)
    for name, text in [("status", "each file: applied or pending, then verify"),
                       ("verify", "the integrity check"), ("apply", "apply what is pending")]:
        m = migs.add_parser(name, help=text)
        m.add_argument("--dir", help="migrations directory (default: the environment's)")
        m.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
        if name == "apply":
            m.add_argument("-p", dest="assignments", action="append", default=[], metavar="approved_by=A,B",
                           help="the approvers, comma-separated (PHI: two); --approved-by A,B is taken as this")
            m.add_argument("--lock-wait", type=_seconds, default=10.0, help="seconds to wait for the lock")
    base = migs.add_parser("baseline", help="adopt a database another runner migrated (the migrations_baseline "
                                            "runbook: preview, confirm, evidence)")
    base.add_argument("-p", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                      help="a parameter of migrations_baseline, e.g. -p confirm=true -p plan_hash=H (repeatable)")
    base.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    base.add_argument("--quiet", action="store_true", help="no progress bar")
    ev = sub.add_parser("evidence", help="the evidence archive: list, show, verify, index")
    evs = ev.add_subparsers(dest="action", required=True)
    ls = evs.add_parser("list", help="archived runs, oldest first")
    ls.add_argument("--json", action="store_true")
    show = evs.add_parser("show", help="one run's manifest")
    show.add_argument("run_id", help="a run id, or any unique part of one (e.g. its random suffix)")
    ver = evs.add_parser("verify", help="chain, signatures, files, anchors in audit_log and the bucket")
    ver.add_argument("--env", choices=["sandbox", "prod"], default="sandbox",
                     help="whose pinned key, audit_log and archive bucket (default: sandbox)")
    ver.add_argument("--offline", action="store_true", help="the files and ledger only")
    ver.add_argument("--bucket", action="store_true",
                     help="verify the bucket itself (the archive of record), not an evidence directory")
    ver.add_argument("--public-key", help="the auditor's copy of the public key (PEM): trusted instead of the pin")
    ver.add_argument("--all-signatures", action="store_true",
                     help="check every entry's signature, not only the last (which vouches for the chain)")
    ver.add_argument("--last", type=_count, metavar="N",
                     help="only the newest N runs, anchored by the latest signed checkpoint")
    pull = evs.add_parser("pull", help="sync this evidence directory (a cache) from the bucket")
    pull.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    exp = evs.add_parser("export", help="the whole population of a period, with a completeness statement")
    exp.add_argument("--from", dest="start", required=True, type=_bound, metavar="WHEN",
                     help="a UTC date YYYY-MM-DD (from its midnight) or an ISO 8601 time")
    exp.add_argument("--to", dest="end", required=True, type=_bound, metavar="WHEN",
                     help="a UTC date YYYY-MM-DD (its day included) or an ISO 8601 time (up to it)")
    exp.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    exp.add_argument("--format", choices=["csv", "json"], default="csv")
    exp.add_argument("--bucket", action="store_true", help="pull first; statuses from the bucket and audit_log")
    exp.add_argument("--drata", action="store_true", help="also file it in Drata as custom evidence "
                     "(parameters/<env>.yaml drata:; not sent again when Drata holds it)")
    rec = evs.add_parser("reconcile", help="every ECS deployment, task-definition revision, migration and secret "
                         "version of a period, matched to a run or UNEXPLAINED (exit 1 if any)")
    rec.add_argument("--from", dest="start", type=_bound, metavar="WHEN", help="a UTC date YYYY-MM-DD or an ISO 8601 "
                     "time, as export takes it; default: 24 hours ago, or the archive's first run if later")
    rec.add_argument("--to", dest="end", type=_bound, metavar="WHEN", help="as export takes it; default: now")
    rec.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    rec.add_argument("--bucket", action="store_true", help="pull the archive from the bucket first")
    rec.add_argument("--json", action="store_true")
    idx = evs.add_parser("index", help="write index.html, the static auditor index")
    idx.add_argument("--bucket", action="store_true", help="pull from the bucket first (an auditor's machine)")
    idx.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    rot = evs.add_parser("rotate-key", help="replace the signing key (the evidence_key_rotation runbook: preview, "
                                            "approval, audit_log, security channel; then pin the new id)")
    rot.add_argument("-p", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                     help="a parameter of evidence_key_rotation, e.g. -p confirm=true -p plan_hash=H (repeatable)")
    rot.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    rot.add_argument("--quiet", action="store_true", help="no progress bar")
    kid = evs.add_parser("key-id", help="the id of the environment's signing key, to pin in parameters/<env>.yaml")
    kid.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    lab = sub.add_parser("lab", help="JupyterLab on runbooks/, pointed at the sandbox")
    lab.add_argument("-f", dest="files", action="append", default=[], metavar="FILE",
                     help="a YAML file of parameters for every notebook of the session, as `run -f`")
    sub.add_parser("demo", help="start the sandbox; preview and execute a deploy, then service_status")
    comp = sub.add_parser("completion", help="print the shell completion script (bash, zsh, fish)",
                          description='Completion of commands, runbooks, parameter names and values, scenarios. '
                                      'bash: eval "$(rovn-ops completion bash)"; zsh (after compinit): '
                                      'eval "$(rovn-ops completion zsh)"; fish: rovn-ops completion fish | source')
    comp.add_argument("shell", choices=["bash", "zsh", "fish"])
    _remote_parser(sub)
    sch = sub.add_parser("scheduled", help="run one entry of parameters/schedules.yaml, paging when it fails "
                                           "(what a scheduled task runs)")
    sch.add_argument("name", help="the schedule's name in parameters/schedules.yaml")
    sch.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
    return ap


def _remote_parser(sub) -> None:
    rem = sub.add_parser("remote", help="run a runbook inside the VPC as an ECS task (Fargate), following its logs")
    rems = rem.add_subparsers(dest="action", required=True)
    rrun = rems.add_parser("run", help="check the parameters here, then RunTask; exits with the runbook's code",
                           epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    rrun.add_argument("runbook", help="a committed runbook's name (the image holds those)")
    rrun.add_argument("-f", dest="files", action="append", default=[], metavar="FILE",
                      help="a YAML file of parameters (repeatable; later wins)")
    rrun.add_argument("-p", "--parameters", dest="assignments", action="append", default=[], metavar="NAME=VALUE")
    att = rems.add_parser("attach", help="follow a remote run again (after this terminal was closed or killed)")
    att.add_argument("run_id", help="the remote run id `remote run` printed (the ECS task id)")
    for p in (rrun, att):
        p.add_argument("--env", choices=["sandbox", "prod"], default="sandbox")
        p.add_argument("--region", help="AWS region (the same as -p region=REGION)")
        p.add_argument("--json", action="store_true", help="one JSON object: remote run id, task, the run's result")
        p.add_argument("--quiet", action="store_true", help="no log lines on stderr")


def _bound(text: str):
    """A period option of evidence export and reconcile: a UTC date or an ISO 8601 time (evidence/period.py)."""
    from rovn_ops.evidence import period

    try:
        return period.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _instant(text: str):
    from datetime import datetime, timezone

    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time such as 2026-12-08T13:00:00Z, got {text[:40]!r}")
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _count(text: str) -> int:
    """A count option (-n, --last): a whole number of 1 or more (`tail -n -5` is a mistake)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1 or n > 1_000_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 1000000, got {text[:40]!r}")
    return n


def _seconds(text: str) -> float:
    import math

    try:
        s = float(text)
    except ValueError:
        s = math.nan
    from rovn_ops.safety.params import MAX_WAIT_S

    if not math.isfinite(s) or s <= 0 or s > MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0 and at most {MAX_WAIT_S}, "
                                         f"got {text[:40]!r}")
    return s


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    as_json = _json_mode(argv)
    try:
        os.getcwd()
    except OSError:  # a deleted working directory: one line, not a traceback from deep inside
        return _fail(as_json, BadInput("the current directory no longer exists; cd to one that does"))
    if argv[:1] == ["__complete"]:  # the completion scripts' question (completion.py)
        from rovn_ops import completion

        print("\n".join(completion.answer(_parser(), argv[1:])))
        return 0
    try:
        args = _parser().parse_args(hinted(pair_parameters(argv)))
        if args.command in RECOVERING:
            from rovn_ops.evidence import recovery

            recovery.recover()  # a run killed before archiving: its evidence first
        return COMMANDS[args.command](args)
    except RovnError as e:
        return _fail(as_json, e)
    except KeyboardInterrupt:
        print("rovn-ops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rovn-ops list | head`: the reader left, as Unix tools take it (no traceback)
        _quiet_stdout()
        return 128 + 13


def _json_mode(argv: list[str]) -> bool:
    """`run … --json` (and `migrations baseline`, a run): every exit prints one object."""
    return "--json" in argv and bool(set(argv) & {"run", "migrations"})


def _fail(as_json: bool, e: RovnError, out=None) -> int:
    """One line on stderr (and with --json, the same line in one object on stdout; `out`,
    an early.Output, when a run's object has begun with its verdict)."""
    # (a value from the world in the message: shown, never obeyed by the terminal)
    text = terminal(str(e))
    print(f"rovn-ops: error: {text}" if isinstance(e, BadInput) else f"rovn-ops: {text}", file=sys.stderr)
    if as_json:
        outcome = {2: "bad_input", 3: "refused"}.get(e.exit_code, "failed")
        told = {"exit_code": e.exit_code, "outcome": outcome, "error": text.split("\n")[0], "next": _next_for(e)}
        out.close(told) if out is not None else print(json.dumps(told, indent=2))
    return e.exit_code


def _next_for(e: RovnError) -> str:
    """The one thing to do after an error that came before any run (nothing was archived)."""
    if getattr(e, "next_step", ""):
        return e.next_step
    if isinstance(e, BadInput):
        return "fix the input the error names and run the same command again (rovn-ops list RUNBOOK: " \
               "the parameters, their types and values)"
    return "fix what the error names, then run the same command again"


def _quiet_stdout() -> None:
    """stdout onto /dev/null, so the interpreter's last flush finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def pair_parameters(argv: list[str]) -> list[str]:
    """papermill's `-p NAME VALUE` as well as `-p NAME=VALUE`: a -p whose next word has
    no `=` takes the word after it as the value, unless that word is one of our flags
    (`-p image_tag --quiet` is a forgotten value, not the tag '--quiet')."""
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word in ("-p", "--parameters") and i + 1 < len(argv) and "=" not in argv[i + 1]:
            if i + 2 >= len(argv) or argv[i + 1].startswith("-"):
                raise BadInput(f"-p {argv[i + 1]}: expected NAME VALUE or NAME=VALUE")
            if argv[i + 2].split("=")[0] in FLAGS:
                raise BadInput(f"-p {argv[i + 1]} {argv[i + 2]}: {argv[i + 2]} is a flag of rovn-ops, not a "
                               f"value; expected -p {argv[i + 1]} VALUE")
            out += [word, f"{argv[i + 1]}={argv[i + 2]}"]
            i += 3
            continue
        out.append(word)
        i += 1
    return out


# Every option of every subcommand: a -p value equal to one is refused (pair_parameters).
FLAGS = frozenset({"-h", "--help", "--version", "-f", "-p", "--parameters", "--env", "--profile", "--region",
                   "--json", "--quiet", "--off", "--dir", "--approved-by", "--lock-wait", "--offline", "--bucket",
                   "--public-key", "--all-signatures", "--last", "-n"})


def hinted(argv: list[str]) -> list[str]:
    """One convention for approvers everywhere, `-p approved_by=a,b`; the AWS-CLI-style
    `--approved-by a,b` is taken as that, with a hint."""
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--approved-by" or word.startswith("--approved-by="):
            value = word.partition("=")[2] if "=" in word else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 1 if "=" in word else 2
            print(f"rovn-ops: hint: --approved-by {value} is taken as -p approved_by={value}, the form every "
                  "command takes", file=sys.stderr)
            out += ["-p", f"approved_by={value}"]
            continue
        out.append(word)
        i += 1
    return out


def cmd_list(args) -> int:
    from rovn_ops.run import catalog

    if args.markdown:
        if args.runbook:
            raise BadInput("list --markdown: takes no RUNBOOK (the page holds every runbook's parameters)")
        print(catalog.markdown(), end="")
        return 0
    if args.runbook:
        print(catalog.describe(args.runbook))
        return 0
    entries = catalog.runbooks()
    width = max(len(e.name) for e in entries)
    for entry in entries:
        print(f"{entry.name:<{width}}  {entry.title}")
    print("\nrovn-ops list RUNBOOK: its parameters (type, default, each environment's value, help)")
    return 0


def cmd_run(args) -> int:
    from rovn_ops.evidence import report
    from rovn_ops.run import early, runner

    assignments = args.assignments + ([f"region={args.region}"] if args.region else [])
    out = early.Output(args.json)  # a verdict the kernel knows early is printed at once
    try:
        result = runner.run(args.runbook, env=args.env, files=args.files, assignments=assignments,
                            progress=not args.quiet, profile=args.profile, on_verdict=out.announce)
    except RovnError as e:
        if out.opened:  # the object begun with the verdict ends with the error
            return _fail(True, e, out)
        raise
    except KeyboardInterrupt:
        if out.opened:
            out.close({"exit_code": 130, "outcome": "interrupted", "error": "interrupted",
                       "next": report.NEXT_BY_OUTCOME["interrupted"]})
        raise
    told = result.report
    if args.json:
        out.close(told.as_dict())
    else:
        print(f"run {result.run_id}: {result.outcome}")
        print("\n".join(out.lines(told.lines())))
        print(f"evidence: {result.notebook}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        report.github(told)
    return result.exit_code


def cmd_remote(args) -> int:
    from rovn_ops.remote import run as remote

    if args.action == "run":
        t = remote.start(args.runbook, env=args.env, files=args.files, assignments=args.assignments,
                         region=args.region)
    else:
        t = remote.attach(args.run_id, env=args.env, region=args.region)
    outcome = remote.follow(t, quiet=args.quiet)
    told = outcome.as_dict()
    if args.json:
        print(json.dumps(told, indent=2, default=str))
    else:
        from rovn_ops.core.escape import terminal  # the result was read back from a log stream

        print(terminal(f"remote run {t.id}: run {told.get('run_id', '?')}: {told.get('outcome', t.why_stopped())}, "
                       f"exit code {outcome.exit_code}"))
        for line in filter(None, [(told.get("summary") or {}).get("headline"), told.get("error"), told.get("next")]):
            print(f"  {terminal(line)}")
        if told.get("evidence"):
            print(terminal(f"evidence: archived by the task to the bucket ({told['evidence']} in the task); "
                           "`rovn-ops evidence verify --bucket` checks it"))
    return outcome.exit_code


def cmd_scheduled(args) -> int:
    from rovn_ops.run import scheduled

    return scheduled.run(args.name, args.env)


def cmd_sandbox(args) -> int:
    from rovn_sandbox import control

    if args.action == "up":
        state, started = control.up()
        print(("sandbox started" if started else "sandbox already running") + f": {state['endpoint']}")
        print('to use it from a shell: eval "$(rovn-ops sandbox env)"')
        return 0
    if args.action == "down":
        print("sandbox stopped" if control.down() else "sandbox was not running")
        return 0
    if args.action == "status":
        state = control.state()
        if state is None:
            print("sandbox: not running (start it with `rovn-ops sandbox up`)")
            return 1
        shown = {k: _iso(v) if k.endswith(("_at", "_since")) else v for k, v in state.items()
                 if k not in ("secret_access_key", "admin_database_url")}
        print("\n".join(f"{k:>20}: {v}" for k, v in shown.items()))
        return 0
    if args.action == "scenario" and args.name:
        _known_scenario(args.name)  # before reaching the sandbox: a typo is bad input, whatever runs
    state = control.require()
    if args.action == "env":
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in control.exports(state).items()))
        print("unset AWS_PROFILE AWS_SESSION_TOKEN")
    elif args.action == "reset":
        control.reset(state)
        print("sandbox reset to the seeded world")
    elif args.action == "tick":
        from rovn_ops.core import paths
        from rovn_sandbox import scheduler_tick

        fired = scheduler_tick.tick(state, paths.sandbox_state(), now=args.at, fire_all=args.all)
        for f in fired:
            print(f"fired {f['schedule']}: remote run {f['task']} (`rovn-ops remote attach {f['task']}`)")
        if not fired:
            print("no schedule is due")
    elif args.action == "scenario":
        if not args.name:
            print(_scenario_table(control.scenarios(state)))
        else:
            print("active scenarios:", ", ".join(control.scenario(state, args.name, not args.off)) or "none")
    return 0


def _iso(value) -> str:
    """An epoch time as ISO 8601 UTC, as every other time the suite prints."""
    from datetime import datetime, timezone

    if not isinstance(value, (int, float)):
        return value
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _known_scenario(name: str) -> None:
    from rovn_sandbox import scenarios

    if name not in scenarios.KNOWN:
        raise BadInput(f"scenario '{name}': unknown; expected one of: {', '.join(sorted(scenarios.KNOWN))}")


def _scenario_table(listing: dict) -> str:
    """Each scenario a line: on or off, its name, what it does."""
    active, known = set(listing.get("active", [])), listing.get("known", {})
    width = max(map(len, known), default=0)
    rows = [f"{'on ' if name in active else 'off'}  {name:<{width}}  {text}" for name, text in known.items()]
    return "\n".join(rows + ["", "switch one on: rovn-ops sandbox scenario NAME; off: "
                                  "rovn-ops sandbox scenario NAME --off"])


def cmd_audit(args) -> int:
    from rovn_ops.audit import log as audit
    from rovn_ops.clients import db
    from rovn_ops.core.environment import prepare_environment

    if "DATABASE_URL" not in os.environ:
        prepare_environment("sandbox")
    with db.connect() as conn:
        if args.action == "verify":
            report = audit.verify(conn)
            print(report)
            return 0 if report.ok else 1
        for row in reversed(audit.rows(conn, limit=args.n)):
            print(f"{row['id']:>6} {row['occurred_at']:%Y-%m-%d %H:%M:%S} {row['outcome']:<10} "
                  f"{row['action']:<16} {row['target']:<28} {row['actor']}")
    return 0


def cmd_approve(args) -> int:
    """The approver's act: STS names them, their own key signs the record (run/approval.py)."""
    from rovn_ops.run import approval

    print(approval.approve(args.plan_hash, ticket=args.ticket, env=args.env, key=args.key))
    return 0


def cmd_migrations(args) -> int:
    from rovn_ops.migrations import commands
    from rovn_ops.core.environment import prepare_environment

    if args.action == "baseline":  # a write: the protocol and the evidence of a runbook run
        argv = ["run", "migrations_baseline", "--env", args.env, *[x for a in args.assignments for x in ("-p", a)]]
        return cmd_run(_parser().parse_args(argv + (["--quiet"] if args.quiet else [])))

    if args.action == "apply":
        commands.refuse_outside_sandbox(args.env)  # before anything reaches out
    prepare_environment(args.env)
    if args.action == "apply":
        approvers = _approvers(args.assignments)
        return commands.apply(args.env, args.dir, approvers, args.lock_wait)
    return getattr(commands, args.action)(args.env, args.dir)


def _approvers(assignments: list[str]) -> list[str]:
    values = []
    for text in assignments:
        name, sep, value = text.partition("=")
        if name.strip() != "approved_by" or not sep:
            raise BadInput(f"-p {text}: migrations apply takes only -p approved_by=A,B")
        named = [a.strip() for a in value.split(",") if a.strip()]
        if not named:  # an empty list approves nothing: say so rather than go on
            raise BadInput(f"-p {text}: approved_by expects one or more approvers, A,B (none given)")
        values += named
    return values


def cmd_evidence(args) -> int:
    from rovn_ops.core import paths
    from rovn_ops.evidence import manifest

    root = paths.evidence()
    if args.action == "list":
        runs = manifest.runs(root)
        if args.json:
            print(json.dumps([manifest.listing(m) for m in runs], indent=2))
        for m in [] if args.json else runs:
            print(f"{m.get('started_at', '')[:19]}  {m.get('outcome', '?'):<11} {manifest.mode(m):<11} "
                  f"{m.get('runbook', '?'):<20} {m['run_id']}")
        return 0
    if args.action == "show":
        print(json.dumps(manifest.find(args.run_id, root), indent=2))
        return 0
    if args.action == "pull":
        return _pull(root, args.env)
    if args.action == "export":
        return _export(root, args)
    if args.action == "reconcile":
        return _reconcile(root, args)
    if args.action == "index":
        from rovn_ops.evidence import index

        if not args.bucket:
            print(f"index: {index.build(root, args.env)}  (statuses from this directory only: an auditor builds "
                  "it with --bucket, from the archive of record)")
            return 0
        from rovn_ops.evidence import archive, verify

        _pull(root, args.env)
        s3, name = _evidence_bucket(args.env)
        with archive.connect(args.env) as conn:
            report = _reconciliation(root, args.env, conn)
            page = index.build(root, args.env, verify.Bucket(s3, name), conn, report, _trail(args.env))
            print(f"index: {page}  (statuses from s3://{name}; {report['unexplained']} unexplained change(s) "
                  "in the reconciliation)")
        return 0
    if args.action == "key-id":
        return _key_id(args.env)
    if args.action == "rotate-key":  # a production write: the protocol and the evidence of a runbook run
        argv = ["run", "evidence_key_rotation", "--env", args.env, *[x for a in args.assignments for x in ("-p", a)]]
        return cmd_run(_parser().parse_args(argv + (["--quiet"] if args.quiet else [])))
    return _verify_evidence(root, args)


def _export(root, args) -> int:
    from rovn_ops.evidence import export
    from rovn_ops.evidence.period import Period

    period = _period(Period.of(args.start, args.end))
    if args.drata:  # bad configuration first: one line, before anything is read or printed
        from rovn_ops.evidence import drata

        drata.settings(args.env)
    from rovn_ops.evidence import archive, verify

    if args.bucket:
        _pull(root, args.env, quiet=True)
    s3, name = _evidence_bucket(args.env)
    bucket = verify.Bucket(s3, name)
    with archive.connect(args.env) as conn:
        data = (export.population(root, args.env, period, bucket, conn, _trail(args.env)) if args.bucket
                else export.population(root, args.env, period))
        # what `evidence verify` (with --bucket, or of this directory) says of the same store
        report = verify.verify(bucket if args.bucket else verify.Local(root), env=args.env, conn=conn, bucket=bucket)
    export.attest(data, report)
    sys.stdout.write(export.render(data, args.format))
    if args.drata:
        sys.stdout.flush()
        print(drata.send(data, args.env), file=sys.stderr)
    return 0 if data["completeness"]["complete"] else 1


def _period(period):
    """Bad input unless the period runs forwards: one line naming both options."""
    if period.start >= period.end:
        raise BadInput(f"--from {period.given_from} is not before --to {period.given_to}: expected a period, "
                       "earliest first")
    return period


def _reconcile(root, args) -> int:
    """`evidence reconcile`: the period's changes from AWS and the database (evidence/reconcile.py)."""
    from datetime import datetime, timedelta, timezone

    from rovn_ops.core import escape
    from rovn_ops.core.environment import prepare_environment
    from rovn_ops.evidence import archive, reconcile
    from rovn_ops.evidence.period import Period, end_of, label, start_of

    now = datetime.now(timezone.utc)
    # default: the last 24 h, from the archive's first run at the earliest (nothing before it can match)
    start = args.start if args.start else max(now - timedelta(days=1), reconcile.default_period(root, now)[0])
    end = min(now, end_of(args.end)) if args.end else now
    period = _period(Period(start_of(start), end, label(start), label(args.end) if args.end else label(now)))
    start, end = period.start, period.end
    if args.bucket:
        _pull(root, args.env, quiet=True)
    prepare_environment(args.env)
    with archive.connect(args.env) as conn:
        report = reconcile.reconcile(root, args.env, start, end, conn)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print("\n".join(escape.terminal(line) for line in reconcile.lines(report)))
    return 1 if report["unexplained"] or report["new_gaps"] else 0


def _reconciliation(root, env: str, conn) -> dict:
    """The index's reconciliation over the archive's span; a failure to reach AWS is shown, not raised."""
    from botocore.exceptions import BotoCoreError, ClientError

    from rovn_ops.evidence import reconcile

    start, end = reconcile.default_period(root)
    try:
        return reconcile.reconcile(root, env, start, end, conn)
    except (BotoCoreError, ClientError) as e:
        return reconcile.failed(env, start, end, f"{type(e).__name__}: {e}")


def _trail(env: str):
    """CloudTrail of the environment's region: where a role session's source identity is read."""
    from rovn_ops.core import aws
    from rovn_ops.evidence import signing

    return aws.client("cloudtrail", env=env, region=signing.key_region(env))


def _evidence_bucket(env: str):
    """(s3 client, bucket name) of the environment's archive bucket."""
    from rovn_ops.core import aws
    from rovn_ops.evidence import archive
    from rovn_ops.core.environment import prepare_environment

    prepare_environment(env)
    settings = archive.Settings.of(env)
    if not settings.bucket:
        raise BadInput(f"parameters/{env}.yaml names no evidence.bucket: expected the archive bucket")
    return aws.client("s3", env=env, region=settings.region), settings.bucket


def _pull(root, env: str, quiet: bool = False) -> int:
    from rovn_ops.evidence import pull

    s3, name = _evidence_bucket(env)
    entries, files = pull.pull(s3, name, root)
    print(f"pulled s3://{name}: {entries} ledger entries, {files} files into {root}",
          file=sys.stderr if quiet else sys.stdout)
    return 0


def _key_id(env: str) -> int:
    from rovn_ops.core import aws
    from rovn_ops.safety import secret_values
    from rovn_ops.evidence import archive, signing
    from rovn_ops.core.environment import prepare_environment

    prepare_environment(env)
    settings = archive.Settings.of(env)
    sm = aws.client("secretsmanager", env=env, region=settings.region)
    pem = secret_values.read(sm, settings.signing_key_secret)  # masked; revealed only to load it
    kid = signing.key_id(signing.load_private(pem.reveal().encode()).public_key())
    print(f"{settings.signing_key_secret}: key id {kid}")
    print(f"pin it in parameters/{env}.yaml:  evidence: {{signing_key_id: {kid}}}")
    return 0


def _verify_evidence(root, args) -> int:
    from rovn_ops.evidence import signing, verify

    if args.offline and args.bucket:
        raise BadInput("--offline and --bucket: expected one of them (--bucket reads the bucket, online)")
    if args.public_key:  # a wrong file is the auditor's mistake (exit 2), not a finding about the archive
        signing.load_public(Path(args.public_key))
    conn = bucket = None
    if not args.offline:
        from rovn_ops.evidence import archive

        s3, name = _evidence_bucket(args.env)
        bucket = verify.Bucket(s3, name)
        conn = archive.connect(args.env)
    store = bucket if args.bucket else verify.Local(root)
    report = verify.verify(store, env=args.env, auditor_key=Path(args.public_key) if args.public_key else None,
                           conn=conn, bucket=bucket, all_signatures=args.all_signatures, last=args.last)
    print(report)
    return 0 if report.ok else 1


def cmd_lab(args) -> int:
    from rovn_ops.core import paths
    from rovn_sandbox import control

    from rovn_ops.safety.params import read_parameter_file

    for f in args.files:  # parameter files only, checked before JupyterLab starts
        read_parameter_file(f)
    state, _ = control.up()
    control.apply_env(state)
    if args.files:  # the kernels resolve parameters with them, as `rovn-ops run -f` does
        from rovn_ops.safety.params import PARAMETER_FILES

        os.environ[PARAMETER_FILES] = os.pathsep.join(str(Path(f).resolve()) for f in args.files)
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={paths.runbooks()}"]
    if os.geteuid() == 0:  # containers and CI machines run as root; Jupyter refuses without this
        cmd.append("--allow-root")
    return _forwarding(cmd)


def _forwarding(cmd: list[str]) -> int:
    """Run cmd and pass on the signals that end us (SIGTERM, SIGHUP; SIGINT too when no
    terminal delivers it to the whole job), then wait for it: killing `rovn-ops lab`
    stops JupyterLab (and its kernels) rather than leaving it serving, orphaned."""
    import signal

    proc = subprocess.Popen(cmd, preexec_fn=_die_with_parent)
    forwarded = [signal.SIGTERM, signal.SIGHUP] + ([] if _on_terminal() else [signal.SIGINT])
    previous = {s: signal.signal(s, lambda signum, _frame: proc.send_signal(signum)) for s in forwarded}
    if _on_terminal():  # Ctrl-C reaches JupyterLab itself, which asks before it stops: wait for it
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code  # a signal's death as the shell reports it


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when its parent dies, even by SIGKILL (Linux's
    PR_SET_PDEATHSIG), which no handler of ours could pass on."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the forwarding above still holds
        pass


def _on_terminal() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def cmd_demo(args) -> int:
    from rovn_ops.core import paths
    from rovn_ops.run import runner
    from rovn_ops.evidence import index
    from rovn_sandbox import control

    state, started = control.up()
    if started:
        print(f"started the sandbox at {state['endpoint']}")
    else:  # scenarios or earlier runs would decide the outcome: the demo starts from a known world
        control.reset(state)
        print(f"reset the sandbox at {state['endpoint']} to its seeded world (scenarios off, the seeded "
              "database and checkout), so the demo starts from a known world")
    preview = runner.run("migration_reversal", env="sandbox", progress=False)
    print(f"migration_reversal run {preview.run_id}: {preview.outcome} (nothing changed; its notebook shows "
          f"the plan, its hash and the command that would execute it)\n  {preview.notebook}")
    _why(preview)
    deployed = _demo_deploy(runner, Path(state["source_dir"]))
    _why(deployed)
    result = runner.run("service_status", env="sandbox", progress=False)
    print(f"service_status run {result.run_id}: {result.outcome}")
    _why(result)
    print(f"auditor index: {index.build(paths.evidence())}  (check it all: rovn-ops evidence verify)")
    print("the sandbox keeps running: `rovn-ops sandbox down` stops it")
    print(f"evidence: {result.notebook}")
    return max(result.exit_code, preview.exit_code, deployed.exit_code)


def _why(result) -> None:
    """A demo step that did not succeed: its reason and next step, one line each."""
    if result.exit_code:
        told = result.report
        print(f"  why: {told.reason or result.outcome}\n  next: {told.next_step}")


def _demo_deploy(runner, source: Path):
    """A deploy as CI runs one: preview, then execute exactly the previewed plan."""
    import json
    from datetime import datetime, timezone

    from rovn_sandbox import github

    # A new commit on main in the sandbox's checkout, pushed as an engineer does (§2: a deploy
    # ships committed source only), so each demo builds and ships a new image.
    (source / "app" / "release.txt").write_text(f"demo release {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n")
    for step in (("add", "-A"), ("commit", "-q", "-m", "demo release"), ("push", "-q", "origin", "main")):
        github.git(source, *step)
    why = ["ticket=CHG-1", "reason=demo release"]  # a change an auditor can sample: its ticket and reason
    plan = runner.run("deploy", env="sandbox", progress=False, assignments=why)
    print(f"deploy run {plan.run_id}: {plan.outcome} (the plan: a new revision, only the image changes)")
    if plan.exit_code:
        return plan
    plan_hash = json.loads((plan.directory / "manifest.json").read_text())["plan_hash"]
    approved = _demo_approve(plan_hash)
    print(approved.stdout.strip() or approved.stderr.strip())
    done = runner.run("deploy", env="sandbox", progress=False, assignments=[
        *why, "confirm=true", f"plan_hash={plan_hash}"])
    print(f"deploy run {done.run_id}: {done.outcome}, approved by giles (his signed record), plan {plan_hash[:12]}"
          f"\n  {done.notebook}")
    return done


def _demo_approve(plan_hash: str):
    """giles approves as the approver does: `rovn-ops approve` in his own process, under his own
    sandbox credentials and signing key, never the operator's."""
    from rovn_sandbox.world import person_approval_key, person_credentials

    key, secret = person_credentials("giles")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
           "ROVN_APPROVAL_KEY": str(person_approval_key("giles"))}
    env.pop("AWS_SESSION_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "rovn_ops.cli", "approve", plan_hash], env=env,
                          capture_output=True, text=True)


RECOVERING = ("run", "evidence", "audit", "demo", "lab")
def cmd_completion(args) -> int:
    from rovn_ops import completion

    print(completion.script(args.shell), end="")
    return 0


COMMANDS = {"approve": cmd_approve, "list": cmd_list, "run": cmd_run, "sandbox": cmd_sandbox, "audit": cmd_audit,
            "migrations": cmd_migrations, "evidence": cmd_evidence,
            "lab": cmd_lab, "demo": cmd_demo, "completion": cmd_completion, "remote": cmd_remote, "scheduled": cmd_scheduled}

if __name__ == "__main__":
    sys.exit(main())
