"""A run's kernel starts before the runner imports papermill and imports the runbook's
library while it boots (lib/rovn_ops/run/kernels.launch, run/preload.py, issue 24
build 2). The kernel loads preload as an IPython extension, IPython's public hook
(https://ipython.readthedocs.io/en/stable/config/extensions/), and the runner hands the
kernel to papermill as `km` (papermill.execute_notebook's engine keyword, passed on to
nbclient's NotebookClient: https://nbclient.readthedocs.io/en/latest/reference/nbclient.html)."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from rovn_ops.run import context, kernels, preload


def _notebook(tmp_path, *sources: str) -> str:
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# t"), *(new_code_cell(s) for s in sources)]), path)
    return str(path)


def test_the_library_imports_of_the_code_cells_in_order_and_nothing_else():
    cells = [new_markdown_cell("from rovn_ops.core import paths"),  # not code
             new_code_cell("import os\nfrom rovn_ops.run import context\nimport rovn_ops.core.plaintext as pt"),
             new_code_cell("%time x = 1\nfrom rovn_ops.triage import gather"),  # IPython syntax: skipped
             new_code_cell("from rovn_ops.triage.window import Window\nfrom rovn_ops.core import *\nfrom rovn_opsx import y\n"
                           "import pandas"),
             new_code_cell("if True:\n    from rovn_ops.evidence import verify")]  # not top level: runs only maybe
    assert preload.imports(cells) == [["rovn_ops.run", ["context"]], ["rovn_ops.core.plaintext", []],
                                      ["rovn_ops.triage.window", ["Window"]], ["rovn_ops.core", []]]


def _in_kernel(notebook: str, cwd: str, code: str) -> tuple[dict, str]:
    """Launch a run's kernel as the runner does, run one cell, return what it printed as
    JSON (its last line) and the kernel's error output."""
    started: list = []
    with tempfile.TemporaryDirectory(prefix="rk-") as sockets:
        km = kernels.launch(sockets, started, notebook, cwd)
        try:
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            out, err = [], []

            def seen(msg):
                content = msg["content"]
                if msg["msg_type"] == "stream":
                    out.append(content["text"])
                elif msg["msg_type"] == "error":
                    err.append(content["ename"] + ": " + content["evalue"])
            kc.execute_interactive(code, timeout=60, output_hook=seen)
        finally:
            km.finish()
        assert not km.has_kernel and started == [km]
        text = "".join(out).strip().splitlines()
        return (json.loads(text[-1]) if text else {}), "".join(err)


PROBE = ("import json, sys; print(json.dumps({'loaded': sorted(m for m in sys.modules if m in WANT), "
         "'names': sorted(k for k in globals() if not k.startswith('_') and k not in IPY)}))")


def test_the_kernel_holds_the_runbooks_library_before_its_first_cell_and_binds_no_name(tmp_path):
    nb = _notebook(tmp_path, "from rovn_ops.run import context\nfrom rovn_ops.triage import classify")
    want = ["rovn_ops.run.context", "rovn_ops.triage.classify", *context.PRELOAD]
    got, err = _in_kernel(nb, str(tmp_path), f"WANT = {want!r}; IPY = {{'In', 'Out', 'get_ipython', 'exit', "
                                             f"'quit', 'open', 'WANT', 'IPY'}}\n" + PROBE)
    assert not err
    assert got["loaded"] == sorted(want)  # imported by the kernel as it booted: this cell imports none of them
    assert got["names"] == ["json", "sys"]  # the cell's own: preload bound nothing in the notebook's namespace


def test_an_import_that_fails_at_preload_fails_in_its_cell_with_its_own_error(tmp_path):
    nb = _notebook(tmp_path, "from rovn_ops.no_such_module import thing")
    got, err = _in_kernel(nb, str(tmp_path), "from rovn_ops.no_such_module import thing")
    assert "ModuleNotFoundError: No module named 'rovn_ops.no_such_module'" in err


def test_the_kernel_is_launched_before_papermill_is_imported(tmp_path):
    """The point of launching early: the kernel boots while the runner imports papermill."""
    nb = _notebook(tmp_path, "x = 1")
    code = textwrap.dedent(f"""
        import sys, tempfile
        from rovn_ops.run import kernels
        with tempfile.TemporaryDirectory() as d:
            km = kernels.launch(d, [], {nb!r}, {str(tmp_path)!r})
            try:
                assert km.has_kernel and "papermill" not in sys.modules and "nbclient" not in sys.modules
            finally:
                km.finish()
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
