"""The runner's cheaper in-run notebook saves (progress.quick_save): what nbformat reads
back is what papermill's own save would have written."""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from rovn_ops.run import progress


def _notebook():
    shown = new_output("display_data", {"text/plain": "42"})
    nb = new_notebook(cells=[new_markdown_cell("# Step\nline two"),
                             new_code_cell("print('é')\nx = 1", outputs=[
                                 new_output("stream", name="stdout", text="é\nsecond line\n"), shown])],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.metadata["orig_nbformat"] = 4
    return nb


def test_quick_save_reads_back_as_nbformat_writes_it(tmp_path):
    nb = _notebook()
    quick, proper = tmp_path / "quick.ipynb", tmp_path / "proper.ipynb"
    nbformat.write(nb, proper)
    nb.cells[1].outputs[1]["transient"] = {"display_id": "abc"}  # a kernel's field nbformat never writes
    progress.quick_save(nb, str(quick))
    a, b = nbformat.read(quick, as_version=4), nbformat.read(proper, as_version=4)
    nbformat.validate(a)
    assert a == b
    assert "transient" not in quick.read_text() and "orig_nbformat" not in quick.read_text()
    assert "é" in quick.read_text(encoding="utf-8") and not list(tmp_path.glob("*.saving"))
    assert nb.cells[1].outputs[1]["transient"]  # the notebook in memory is left as it was


def test_a_reader_that_goes_away_stops_the_stream_not_the_run():
    import os

    from rovn_ops.run.progress import Progress

    r, w = os.pipe()
    os.close(r)  # `rovn-ops run … 2>&1 | head -1`: the reader is gone
    p = Progress("deploy", stream=os.fdopen(w, "w"))
    p._enter("build")
    p.write("phase BUILD")
    p.flush()
    p.close()  # no BrokenPipeError reached the runner
    assert p.stream is None
