"""A headless run's progress, streamed line by line to stderr as the kernel works:
each step's heading as it starts, every line the library prints (build phases,
rollout lines, migrations, the bake), and a heartbeat when a step stays quiet, so a
CI job with a no-output timeout never sees a silent 20-minute deploy.

Under GitHub Actions (GITHUB_ACTIONS=true) each step is a collapsible `::group::`.
The stream is a papermill engine: it sees each cell start and end (papermill's
execution manager) and the kernel's stdout (papermill's `stdout_file`)."""
from __future__ import annotations

import os
import re
import sys
import threading
import time

from papermill.engines import NBClientEngine, papermill_engines

from rovn_ops.run import heartbeat

ENGINE = "rovn-progress"
# A preview's steps that do nothing (the protocol stops at the plan): no heading for them.
WRITE_STEPS = re.compile(r"^(\d+\.\s*)?(Confirm|Execute|Verify)\b", re.ASCII)


def github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def step_titles(cells: list) -> dict[int, str]:
    """Each code cell's step: the last Markdown heading above it (parameters cells excluded)."""
    titles, heading = {}, ""
    for i, cell in enumerate(cells):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            first = source.strip().splitlines()[0] if source.strip() else ""
            heading = first.lstrip("#").strip() if first.startswith("#") else heading
        elif cell.get("cell_type") == "code":
            tags = set(cell.get("metadata", {}).get("tags", []))
            titles[i] = "parameters" if tags & {"parameters", "injected-parameters"} else heading
    return titles


class Progress:
    """A file-like sink for the kernel's stdout that also frames the steps."""

    def __init__(self, runbook: str, stream=None, *, github: bool | None = None, heartbeat_s: float = heartbeat.DEFAULT_S,
                 redactor=None, preview: bool = False):
        """redactor: returns a scrub.Redactor for every secret the run has read so far: the
        kernel's lines reach a terminal or a CI log, which is never scrubbed afterwards.
        preview: a writing runbook without confirm: its confirm, execute and verify steps
        show no heading, since nothing executes."""
        self.runbook, self.stream, self.preview = runbook, stream or sys.stderr, preview
        self.redactor = redactor
        self.github = github_actions() if github is None else github
        self.heartbeat_s = heartbeat_s
        self.titles: dict[int, str] = {}
        self.step, self.step_started, self.last = "", 0.0, time.monotonic()
        self.started = time.monotonic()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)

    # papermill's hooks ----------------------------------------------------------
    def attach(self, nb_man) -> None:
        self.titles = step_titles(nb_man.nb.cells)
        start, end = nb_man.cell_start, nb_man.cell_complete

        def cell_start(cell, cell_index=None, **kw):
            self._enter(self.titles.get(cell_index))
            return start(cell, cell_index, **kw)

        def cell_complete(cell, cell_index=None, **kw):
            self.last = time.monotonic()
            return end(cell, cell_index, **kw)

        nb_man.cell_start, nb_man.cell_complete = cell_start, cell_complete
        self._beat.start()

    def write(self, text: str) -> None:
        """The kernel's stdout: the library's progress lines, passed on as they come,
        with every secret the run has read (and every secret-shaped string) redacted."""
        from rovn_ops.safety import scrub

        from rovn_ops.core.escape import terminal

        text = self.redactor().text(text) if self.redactor else scrub.Redactor().text(text)
        text = "\n".join(terminal(line) for line in text.rstrip("\n").split("\n"))  # no ANSI from the world
        self._emit(text + "\n")

    def flush(self) -> None:
        with self._lock:
            self._out()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._out("::endgroup::\n" if self.github and self.step else "")
            self.step = ""

    # framing ---------------------------------------------------------------------
    def _enter(self, title: str | None) -> None:
        if not title or title == "parameters" or title == self.step:
            return
        if self.preview and WRITE_STEPS.match(title):
            return
        with self._lock:
            ended = "::endgroup::\n" if self.github and self.step else ""
            self.step, self.step_started = title, time.monotonic()
            elapsed = self.step_started - self.started
            self._out(ended + (f"::group::{self.runbook}: {title}\n" if self.github else
                               f"[{self.runbook} {elapsed:5.0f}s] {title}\n"))

    def _emit(self, text: str) -> None:
        with self._lock:
            self._out(text)

    def _out(self, text: str = "") -> None:
        """Write and flush (the caller holds the lock). A reader that went away (`| head`,
        a CI log cut) stops the stream, never the run: a deploy must not die mid-change."""
        if self.stream is not None:
            try:
                if text:
                    self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                self.stream = None
        self.last = time.monotonic()

    def _heartbeat(self) -> None:
        # Looks ten times per interval (at most once a second): a quiet step's gap is the
        # interval plus a tenth at most, however short the interval is set.
        while not self._stop.wait(min(1.0, self.heartbeat_s / 10)):
            now = time.monotonic()
            if self.step and now - self.last >= self.heartbeat_s:
                self._emit(f"  ... {self.step}: still running ({now - self.step_started:.0f}s in this step)\n")


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, with a Progress watching the cells, and cheaper
    saves while cells run. papermill saves when a cell starts and again when it
    completes, each time deep-copying, validating and serialising the whole notebook
    (half a run's CPU in this process). Here the completion's save is skipped (the
    next cell's start, or papermill's final save, holds the same), and a save while
    cells run writes the notebook's JSON directly (quick_save). Whenever a cell is
    running, everything before it is on disk, as before; the final save is papermill's."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, progress: Progress | None = None, **kwargs):
        save, complete = nb_man.save, nb_man.cell_complete
        skipping = []

        def save_unless_completing(**kw):
            if not skipping and nb_man.output_path:
                quick_save(nb_man.nb, nb_man.output_path)
                nb_man.last_save_time = nb_man.now()

        def cell_complete(*args, **kw):
            skipping.append(True)
            try:
                return complete(*args, **kw)
            finally:
                skipping.clear()
        nb_man.save, nb_man.cell_complete = save_unless_completing, cell_complete
        if progress is not None:
            progress.attach(nb_man)
            kwargs["stdout_file"] = progress
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            nb_man.save, nb_man.cell_complete = save, complete
            if progress is not None:
                progress.close()


def quick_save(nb, path: str) -> None:
    """The notebook as nbformat writes it (sorted keys, indent 1, UTF-8) without its
    deep copy and schema validation: transient output fields and orig_nbformat left
    out, as nbformat does; multi-line strings stay strings (nbformat reads both forms).
    Atomic, so a kill never leaves half a notebook in the spool."""
    import json

    def cell(c):
        if "outputs" not in c:
            return c
        return {**c, "outputs": [{k: v for k, v in o.items() if k != "transient"} for o in c["outputs"]]}
    meta = {k: v for k, v in nb.get("metadata", {}).items() if k not in ("orig_nbformat", "orig_nbformat_minor")}
    data = {**nb, "metadata": meta, "cells": [cell(c) for c in nb.get("cells", [])]}
    tmp = f"{path}.saving"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": "))
        f.write("\n")
    os.replace(tmp, path)


papermill_engines.register(ENGINE, ProgressEngine)
