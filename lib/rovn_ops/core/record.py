"""Facts a run hands to its runner for the manifest (headless runs only).

The kernel appends to the JSON file named by ROVN_RESULT_FILE: lists extend,
scalars replace. Secret values are never written here in the clear: only sealed
(scrub.register) with a key that lives in the runner's memory and the kernel's environment.
"""
from __future__ import annotations

import fcntl
import json
import os


def record(**facts) -> None:
    path = os.environ.get("ROVN_RESULT_FILE")
    if not path:
        return
    # Locked read-modify-write: the kernel and the runner (its signing-key read, sealed
    # while the kernel's environment is set) may both append; neither may lose the other's.
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        data = json.loads(text) if text.strip() else {}
        for key, value in facts.items():
            if isinstance(value, list):
                data.setdefault(key, []).extend(value)
            else:
                data[key] = value
        f.seek(0)
        f.truncate()
        json.dump(data, f, default=str)


def read(path) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
