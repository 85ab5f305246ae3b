"""The HTML copy of an executed notebook (nbconvert), made from the scrubbed notebook.

nbconvert's `basic` template (cells and outputs, no page chrome) in a small page of
our own: a fraction of the `lab` template's render time and ~300 KB of CSS less per
run, and it still opens from disk in any browser.
"""
from __future__ import annotations

import html as html_lib
from pathlib import Path

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font:14px system-ui,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px;color:#222}}
.jp-InputArea-editor,.input_area,pre{{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:4px;padding:6px;
  overflow-x:auto;font:12px ui-monospace,monospace}}
.jp-InputPrompt,.jp-OutputPrompt,.prompt{{display:none}}
.jp-Cell,.cell{{margin:12px 0}} .jp-RenderedText pre,.output_text pre{{background:none;border:none}}
table{{border-collapse:collapse;margin:6px 0;font-size:12px}} th,td{{border:1px solid #ddd;padding:3px 6px;text-align:left}}
th{{background:#f5f5f5}} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] pre,
.output_error pre{{background:#fdecea;border:1px solid #f5c2c0}}
</style></head><body>
<p style="color:#777">Executed notebook: {title}. The signed original is the .ipynb beside this file.</p>
{body}
</body></html>
"""


def prewarm() -> None:
    """Import nbconvert ahead of time (the runner does it while the kernel works)."""
    from nbconvert import HTMLExporter  # noqa: F401


def html(notebook: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="basic").from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(PAGE.format(title=html_lib.escape(notebook.name), body=body))
    return out
