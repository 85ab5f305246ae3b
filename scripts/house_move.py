"""Issue 23, build 1: move the flat modules of rovn_ops into packages that show the
layers. Run from the repository root: `python scripts/house_move.py`. It
1. turns every relative import under lib/rovn_ops into an absolute one (so a moved
   file's imports need no depth arithmetic),
2. rewrites every `rovn_ops.<old>` name, in imports, strings (patch targets,
   `-m rovn_ops.x`, fork-server roles), notebooks, pyproject and the Makefile,
   splitting `from rovn_ops import a, b` where a and b now live apart,
3. `git mv`s the files and gives each new package an __init__.py.
Idempotent only in the sense that a second run finds nothing to move."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path.cwd()
LIB = ROOT / "lib" / "rovn_ops"

# old dotted module (under rovn_ops) -> new dotted module
MOVES = {
    # core: no knowledge of runbooks, AWS/DB clients and plain helpers
    "errors": "core.errors", "paths": "core.paths", "polling": "core.polling", "plaintext": "core.plaintext",
    "aws": "core.aws", "db": "clients.db", "escape": "core.escape", "commands": "protocol.commands",
    "record": "core.record", "identity": "core.identity", "endpoints": "core.endpoints",
    "availability": "core.availability", "deploy.github": "clients.github", "jwk_document": "core.jwk_document", "environment": "core.environment",
    # safety: what may enter, what must never leave, who may change what
    "params": "safety.params", "scrub": "safety.scrub", "secret_values": "safety.secret_values",
    "personal_data": "safety.personal_data", "fargate_sizes": "core.fargate_sizes",
    # clients: the database and GitHub, which need the masked secret type
    # protocol: who may approve (authorization) is the confirm step's rule
    "authorization": "protocol.authorization", "allow_list_github": "protocol.allow_list_github",
    # audit: the append-only log and notifications
    "audit": "audit.log", "audit_pending": "audit.pending", "notify": "audit.notify",
    # protocol: plan, approval, change, lock, the checklist every runbook shows
    "protocol": "protocol.change", "approval_records": "protocol.approval_records", "change_lock": "protocol.lock", "deploy.checks": "protocol.checks",
    # ecs: the capability deploy, rollback, status and triage share
    "ecs_names": "ecs.names", "cloudwatch_alarms": "ecs.cloudwatch_alarms",
    "deploy.rollout": "ecs.rollout", "deploy.taskdef": "ecs.taskdef", "deploy.image": "ecs.image",
    "deploy.filesystem": "ecs.filesystem", "status": "ecs.service", "deploy.verify": "ecs.verify",
    "deploy.bake": "ecs.bake", "deploy.preflight": "ecs.preflight",
    # evidence gets its recorder
    "recorder": "evidence.recorder",
    # run: executing a runbook
    "runner": "run.runner", "context": "run.context", "progress": "run.progress", "catalog": "run.catalog",
    "report": "evidence.report", "forkserver": "run.forkserver", "warm_kernels": "run.warm_kernels",
    # rollback: one package per runbook subject
    "rollback": "rollback.steps", "rollback_target": "rollback.target",
}
PACKAGES = {"core": "The ground floor: errors, paths, polling, plain text, identity, the AWS client and its guard.",
            "clients": "The database and GitHub, reached with credentials held as masked secret values.",
            "safety": "What may enter (parameters), what must never leave (secrets, personal data), who may change what.",
            "audit": "audit_log, append-only and chained, and the notifications that go with it.",
            "protocol": "preview -> confirm -> execute -> verify -> log: plan, approval, change, lock.",
            "ecs": "ECS as the runbooks share it: service state, task definitions, images, rollouts.",
            "run": "Running a runbook: the runner (papermill), the context, kernels, progress.",
            "rollback": "Rollback (§7): the ECS path back to a verified revision."}
# a moved file that finds the tree by its own place: one level deeper now
DEPTH = [("core/paths.py", "Path(__file__).resolve().parents[2]", "Path(__file__).resolve().parents[3]"),
         ("run/forkserver.py", "root = Path(__file__).resolve().parent\n", "root = Path(__file__).resolve().parents[1]\n")]
TEXT = ("*.py", "*.ipynb", "pyproject.toml", "Makefile", "*.cfg", "*.ini", "*.toml")


def full(mod: str) -> str:
    return "rovn_ops." + mod


NEW = {full(k): full(v) for k, v in MOVES.items()}


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT / "lib").with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path) -> str:
    mod = module_of(path)
    return mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]


REL = re.compile(r"^(?P<ind>[ \t]*)from (?P<dots>\.+)(?P<rest>[\w.]*) import ", re.M)


def absolute(path: Path, text: str) -> str:
    pkg = package_of(path).split(".")

    def sub(m):
        up = len(m["dots"]) - 1
        base = ".".join(pkg[: len(pkg) - up] + ([m["rest"]] if m["rest"] else []))
        return f"{m['ind']}from {base} import "
    return REL.sub(sub, text)


def rename(dotted: str) -> str:
    """The longest moved prefix of a dotted name, rewritten."""
    parts = dotted.split(".")
    for n in range(len(parts), 1, -1):
        head = ".".join(parts[:n])
        if head in NEW:
            return ".".join([NEW[head]] + parts[n:])
    return dotted


FROM = re.compile(r"^(?P<ind>[ \t]*)from (?P<base>rovn_ops[\w.]*) import (?P<names>\([^)]*\)|[^\n]*?)(?P<tail>[ \t]*#[^\n]*)?$",
                  re.M)


def split_from(m) -> str:
    ind, base = m["ind"], m["base"]
    names = m["names"].strip()
    if names.startswith("("):
        names = names[1:-1]
    items = [n.strip() for n in names.replace("\n", " ").split(",") if n.strip()]
    groups: dict[str, list[str]] = {}
    for item in items:
        name, _, alias = item.partition(" as ")
        name, alias = name.strip(), alias.strip()
        target = f"{base}.{name}"
        if target in NEW:  # a module imported from its parent: from its new parent now
            new_base, new_name = NEW[target].rsplit(".", 1)
            alias = alias or (name if new_name != name else "")
            groups.setdefault(new_base, []).append(new_name + (f" as {alias}" if alias and alias != new_name else ""))
        else:
            groups.setdefault(rename(base), []).append(name + (f" as {alias}" if alias else ""))
    tail = m["tail"] or ""
    lines = []
    for b, ns in groups.items():
        line = f"{ind}from {b} import {', '.join(ns)}"
        if len(line) > 115:
            line = f"{ind}from {b} import (\n" + "".join(f"{ind}    {n},\n" for n in ns) + f"{ind})"
        lines.append(line)
    lines[0] += tail
    return "\n".join(lines)


DOTTED = re.compile(r"\brovn_ops(?:\.\w+)+")
IMPORT_AS = re.compile(r"^(?P<ind>[ \t]*)import (?P<mod>rovn_ops(?:\.\w+)+)(?P<rest>[^\n]*)$", re.M)


def rewrite(text: str) -> str:
    """Each name rewritten once: `from` statements by split_from, every other dotted name by rename."""
    out, at = [], 0
    for m in FROM.finditer(text):
        out.append(DOTTED.sub(lambda d: rename(d[0]), text[at:m.start()]))
        out.append(split_from(m))
        at = m.end()
    out.append(DOTTED.sub(lambda d: rename(d[0]), text[at:]))
    return "".join(out)


def rewrite_notebook(path: Path) -> None:
    raw = path.read_text()
    nb = json.loads(raw)
    changed = False
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        new = rewrite(src)
        if new != src:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", *TEXT, "*/Makefile"], capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.split() if (ROOT / p).is_file()]


def main() -> int:
    missing = [k for k in MOVES if not (LIB / (k.replace(".", "/") + ".py")).exists()]
    if missing:
        print(f"house_move: not found (already moved?): {', '.join(missing)}", file=sys.stderr)
        return 2
    for p in files():
        if p.suffix == ".py" and LIB in p.parents:
            p.write_text(absolute(p, p.read_text()))
    for p in files():
        if p.suffix == ".ipynb":
            rewrite_notebook(p)
        else:
            text = p.read_text()
            new = rewrite(text)
            if new != text:
                p.write_text(new)
    for pkg, doc in PACKAGES.items():
        (LIB / pkg).mkdir(exist_ok=True)
        init = LIB / pkg / "__init__.py"
        if not init.exists() and not (LIB / f"{pkg}.py").exists():
            init.write_text(f'"""{doc}"""\n')
    for old, new in MOVES.items():
        src, dst = LIB / (old.replace(".", "/") + ".py"), LIB / (new.replace(".", "/") + ".py")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "mv", str(src), str(dst)], check=True)
    for pkg, doc in PACKAGES.items():  # a package that replaced a module of its name (protocol, rollback)
        init = LIB / pkg / "__init__.py"
        if not init.exists():
            init.write_text(f'"""{doc}"""\n')
    for rel, old, new in DEPTH:
        p = LIB / rel
        text = p.read_text()
        if old not in text:
            raise SystemExit(f"house_move: {rel} no longer says {old.strip()!r}: look at it by hand")
        p.write_text(text.replace(old, new))
    subprocess.run(["git", "add", "-A", "lib"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
