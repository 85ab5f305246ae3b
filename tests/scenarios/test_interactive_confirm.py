"""Interactive mode: a kernel asks the operator to type the target's name over the
stdin channel, as JupyterLab does, and only then executes."""
import queue

import pytest
from jupyter_client.manager import start_new_kernel

from rovn_ops.audit import log as audit

CODE = """
from rovn_ops.run.context import Operator, RunContext
from rovn_ops.safety.params import ChangeParams
from rovn_ops.protocol.change import Change, Plan
plan = Plan("annotate", "rovn-passport-api", {"note": "interactive test"})
ctx = RunContext("demo_change", ChangeParams(confirm=True, plan_hash=plan.bind(ChangeParams()).hash, approved_by=APPROVERS),
                 "run-interactive", "interactive", Operator("arn:aws:iam::123456789012:user/claude-deploy", "oncall"))
change = Change(ctx, plan, replan=lambda: plan)
approval = change.confirm()
change.execute(lambda: "done")
change.verify(lambda: True)
print("AUDIT", change.log("success").id, approval.approvers)
"""


def _run(kc, code: str, answer) -> tuple[list[str], str, str | None]:
    """One cell; `answer` (text, or a function of the prompt) is typed at each prompt."""
    msg_id = kc.execute(code, allow_stdin=True)
    prompts, out, error = [], "", None
    while True:
        try:
            req = kc.get_stdin_msg(timeout=0.2)
            prompts.append(req["content"]["prompt"])
            kc.input(answer(prompts[-1]) if callable(answer) else answer)
        except queue.Empty:
            pass
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            out += msg["content"]["text"]
        elif kind == "error":
            error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return prompts, out, error


@pytest.fixture
def kernel(fresh):
    km, kc = start_new_kernel(kernel_name="python3")
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_typed_target_name_confirms_and_logs(kernel, app_db):
    prompts, out, error = _run(kernel, "APPROVERS = ['Giles']" + CODE, "rovn-passport-api")
    assert error is None, error
    assert prompts and "rovn-passport-api" in prompts[0]
    row = audit.rows(app_db)[0]
    assert f"AUDIT {row['id']} ['giles']" in out and row["run_id"] == "run-interactive"


def test_wrong_name_refuses_and_changes_nothing(kernel, app_db):
    prompts, out, error = _run(kernel, "APPROVERS = ['giles']" + CODE, "rovn-passport")
    assert error and error.startswith("Refused: confirmation refused")
    assert [r["outcome"] for r in audit.rows(app_db, run_id="run-interactive")] == ["refused"]


@pytest.mark.parametrize("approvers", [[], ["oncall"], ["CLAUDE-DEPLOY"]])
def test_interactive_self_approval_is_refused(kernel, app_db, approvers):
    prompts, out, error = _run(kernel, f"APPROVERS = {approvers!r}" + CODE, "rovn-passport-api")
    assert error and error.startswith("Refused: ") and not prompts  # refused before asking
    assert [r["outcome"] for r in audit.rows(app_db, run_id="run-interactive")] == ["refused"]
