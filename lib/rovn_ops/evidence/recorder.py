"""Interactive runs are evidence too: what the kernel actually executed, recorded.

`context.begin()` in a kernel that `rovn-ops run` did not start (JupyterLab, a
kernel client, bare papermill) installs a Recorder. From then on each cell's source,
its outputs and errors, in execution order, go to the run's private spool
(evidence/spool.py) as a notebook: IPython's `pre_run_cell`/`post_run_cell` events
delimit cells, and the kernel session's `send` is teed, so what is recorded is what
the frontend was sent (streams, displays, results, errors), not what a notebook file
on disk claims. The run is archived through the same pipeline as a headless one
(scrub, render, manifest, anchor, cache, upload), with mode `interactive`:

- when a cell logs the run's outcome (the protocol's log, a refusal, a preview);
- when `begin()` starts another run in the same kernel;
- when the kernel shuts down.

A kernel that dies holds its spool's lock no longer: the next `rovn-ops` invocation
archives what it recorded as `interrupted`.

A kernel that runs any code but the committed runbook's is a draft (issue 20, class 5):
each cell is compared, before it runs, with the code cells of runbooks/<name>.ipynb at
HEAD; besides those, only parameter values (`name = literal`) and a bare name (to show a
variable) are the runbook. From the first other cell on, every audit_log row the kernel
writes says `draft: true` (ROVN_DRAFT, as the runner sets it for a draft notebook), and
the manifest is a draft's: its self-reported operator is set apart under draft_claims and
the operator is the one begin() identified.
"""
from __future__ import annotations

import atexit
import json
import os
import sys
from datetime import datetime, timezone

from rovn_ops.core import paths, record
from rovn_ops.evidence import cell_source
from rovn_ops.safety import scrub

OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
_ACTIVE: list["Recorder"] = []
_SEEN = [0]  # the kernel's input history up to here belongs to an earlier run


def start(ctx) -> "Recorder | None":
    """Record this kernel's run (no-op outside IPython, or in a `rovn-ops run` kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return None
    from rovn_ops.evidence import archive

    archiver = archive.Archiver(ctx.env, ctx.runbook)  # prod: loads and checks the signing key now
    if getattr(ctx.params, "confirm", False):  # no change may run that could not be signed
        archiver.ready()
    for previous in list(_ACTIVE):  # the runbook started over: the earlier run is evidence too
        previous.finish(default="interrupted", why="the runbook was started again before it logged an outcome")
    rec = Recorder(ip, ctx, archiver)
    _ACTIVE.append(rec)
    return rec


def stdin_available() -> bool:
    """False under bare papermill (nbclient executes with allow_stdin=False)."""
    try:
        from IPython import get_ipython

        kernel = get_ipython().kernel
        return bool(kernel.get_parent("shell").get("content", {}).get("allow_stdin", True))
    except Exception:  # noqa: BLE001 - not a kernel: a terminal can always ask
        return True


class Recorder:
    def __init__(self, ip, ctx, archiver):
        from rovn_ops.core.identity import local_user
        from rovn_ops.evidence.spool import Spool

        self.ip, self.ctx, self.archiver, self.cells, self.done = ip, ctx, archiver, [], False
        redact_key = scrub.new_key()
        source = paths.runbooks() / f"{ctx.runbook}.ipynb"
        self.spool = Spool.create(
            ctx.run_id, runbook=ctx.runbook, source=str(source), notebook=f"{ctx.runbook}.ipynb", env=ctx.env,
            parameters=ctx.params.model_dump(mode="json"), mode=ctx.mode,
            started=datetime.now(timezone.utc).isoformat(), local_user=ctx.operator.local_user,
            operator=ctx.operator.as_dict(),  # never the kernel's claim
            redact_key=redact_key)
        self.reviewed, self.draft = reviewed_code(source), False
        # record() and the secret reads of this kernel now feed the run's spool
        os.environ["ROVN_RESULT_FILE"] = str(self.spool.result_file)
        os.environ[scrub.REDACT_KEY_ENV] = redact_key
        scrub.register_operator()  # the operator's own credentials (AWS_SECRET_ACCESS_KEY, DATABASE_URL's password)
        scrub._seal(sorted(scrub.registered()))  # values read before begin(): this run's too
        # Cells executed before begin() (the parameters cell, as the operator edited it):
        # their sources, from the kernel's own input history; this cell is recorded whole.
        history = ip.history_manager.input_hist_raw if ip.history_manager else [""]
        self.cells = [self._cell(src) for src in history[_SEEN[0] + 1:-1]]
        self.current = self._cell(history[-1])
        for src in history[_SEEN[0] + 1:]:
            self._judge(src)
        self._outcome_before = None
        self._sessions = self._tee()
        ip.events.register("pre_run_cell", self.pre_run_cell)
        ip.events.register("post_run_cell", self.post_run_cell)
        atexit.register(self.finish)

    # what the kernel sends -------------------------------------------------------
    def _tee(self) -> list:
        """Wrap each session the kernel sends IOPub messages with (one, in practice)."""
        owners = [self.ip.kernel, self.ip.display_pub, self.ip.displayhook, sys.stdout, sys.stderr]
        sessions = {id(s): s for s in (getattr(o, "session", None) for o in owners) if s is not None}
        for s in sessions.values():
            original = s.send

            def send(stream, msg_or_type, content=None, *args, _original=original, **kwargs):
                self._capture(msg_or_type, content)
                return _original(stream, msg_or_type, content, *args, **kwargs)

            s.send = send
        return list(sessions.values())

    def _capture(self, msg_or_type, content) -> None:
        if self.done or self.current is None:
            return
        if isinstance(msg_or_type, dict):
            kind, content = msg_or_type.get("header", {}).get("msg_type"), msg_or_type.get("content")
        else:
            kind = msg_or_type
        if kind not in OUTPUT_TYPES or not isinstance(content, dict):
            return
        import nbformat

        try:
            out = nbformat.v4.output_from_msg({"header": {"msg_type": kind}, "content": content})
        except Exception:  # noqa: BLE001 - an odd message is not worth losing the run over
            return
        outputs = self.current["outputs"]
        if kind == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                and outputs[-1].get("name") == out.get("name"):
            outputs[-1]["text"] += out["text"]
        else:
            outputs.append(out)

    # cells -----------------------------------------------------------------------
    @staticmethod
    def _cell(source: str) -> dict:
        import nbformat

        return nbformat.v4.new_code_cell(source)

    def _judge(self, source: str) -> None:
        """Mark the run a draft, before the cell runs, when it is not the runbook's code."""
        if self.draft or is_reviewed(source, self.reviewed):
            return
        self.draft = True
        os.environ["ROVN_DRAFT"] = "1"  # audit.append marks this kernel's rows from now on
        self.spool.update(draft=True)   # a spool archived by the next command is a draft's too

    def pre_run_cell(self, info) -> None:
        if not self.done:
            self._judge(info.raw_cell)
            self.current = self._cell(info.raw_cell)
            self._outcome_before = record.read(self.spool.result_file).get("outcome")

    def post_run_cell(self, result) -> None:
        if self.done or self.current is None:
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # the IOPub thread sends what the cell printed last
            except Exception:  # noqa: BLE001
                pass
        self.current["execution_count"] = result.execution_count
        self.cells.append(self.current)
        self.current = None
        self._save()
        outcome = record.read(self.spool.result_file).get("outcome")
        if outcome and outcome != self._outcome_before:
            self.finish()

    def _save(self) -> None:
        """The whole runbook as the person ran it (as_run.py), from the executed cells."""
        from pathlib import Path

        from rovn_ops.evidence import as_run

        try:
            runbook = json.loads(Path(self.spool.meta["source"]).read_text())
        except (OSError, ValueError, KeyError):
            runbook = None  # no notebook to lay the cells into: the executed cells alone
        nb = as_run.build(runbook, self.cells, {
            "rovn": {"mode": self.ctx.mode, "run_id": self.ctx.run_id,
                     "recorded": "the runbook, each code cell with its last run's outputs (execution_order: "
                                 "the cells in the order they ran)"},
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        path = self.spool.dir / self.spool.meta["notebook"]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(nb, indent=1))
        os.replace(tmp, path)

    # archive ---------------------------------------------------------------------
    def finish(self, default: str | None = None, why: str = "") -> dict | None:
        """Archive the recording once: the outcome it logged, else `default`, else success
        (failed when the last cell raised)."""
        if self.done:
            return None
        self.done = True
        if self.ip.history_manager:
            _SEEN[0] = len(self.ip.history_manager.input_hist_raw) - 1
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        for event, fn in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.ip.events.unregister(event, fn)
            except ValueError:
                pass
        if self.current is not None and self.current not in self.cells:
            self.cells.append(self.current)
        self._save()
        failed = [o for c in self.cells[-1:] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        recorded = record.read(self.spool.result_file).get("outcome")
        outcome = recorded or default or ("failed" if failed else "success")
        error = why or (f"{failed[0].get('ename')}: {failed[0].get('evalue')}" if failed and not recorded else "")

        try:
            m = self.archiver.finish(self.spool, outcome=outcome, error=error)
        except Exception as e:  # noqa: BLE001 - the spool stays; the next rovn-ops archives it
            print(f"rovn-ops: evidence for run {self.ctx.run_id} not archived yet ({type(e).__name__}: {e}); "
                  "the next rovn-ops invocation archives it", file=sys.stderr)
            return None
        finally:
            os.environ.pop("ROVN_RESULT_FILE", None)
            if self.draft:  # the next begin() in this kernel is judged afresh
                os.environ.pop("ROVN_DRAFT", None)
        print(f"evidence: run {m['run_id']} archived as {m['outcome']} (mode {m['mode']}): {m['path']}")
        return m


def reviewed_code(source) -> set[str] | None:
    """The committed runbook's code cells (stripped), or None when it is not at HEAD."""
    from rovn_ops.protocol.authorization import at_head

    head = at_head(source)
    if head is None:
        return None
    try:
        return {cell_source.text(c["source"]).strip() for c in json.loads(head)["cells"] if c["cell_type"] == "code"}
    except (ValueError, KeyError, TypeError):
        return None


def is_reviewed(source: str, reviewed: set[str] | None) -> bool:
    """A cell of the committed runbook, parameter values only, or a bare name."""
    import ast

    if reviewed is None:
        return False
    if source.strip() in reviewed or not source.strip():
        return True
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return cell_source.values_only(source) or (len(body) == 1 and isinstance(body[0], ast.Expr)
                                   and isinstance(body[0].value, ast.Name))
