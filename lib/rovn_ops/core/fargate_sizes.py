"""Fargate's task sizes: the valid task-level cpu and memory combinations, from AWS's
table (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size,
and the same table at
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html).
ECS refuses any other pair at RegisterTaskDefinition ("Invalid 'cpu' setting for task"),
so a deploy checks it in its parameters (and again against the live revision's other
value) before anything is registered. Values are CPU units and MiB, as integers."""
from __future__ import annotations

# cpu units -> the memory (MiB) it may have: 8 and 16 vCPU need Linux platform 1.4.0.
SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
MEMORY = tuple(sorted({m for ms in SIZES.values() for m in ms}))


def _units(value: str) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def cpu_problem(value: str) -> str | None:
    """Why a cpu value is not one Fargate has, or None ('' keeps the current)."""
    if value == "" or _units(value) in SIZES:
        return None
    return f"Fargate task cpu units, one of {', '.join(map(str, SIZES))}"


def memory_problem(value: str) -> str | None:
    if value == "" or _units(value) in MEMORY:
        return None
    return f"Fargate task memory in MiB: 512, 1024, 2048, … (a multiple of 1024 up to 30720; larger for 8 and " \
           "16 vCPU)"


def pair_problem(cpu: str, memory: str) -> str | None:
    """Why this cpu and memory cannot go together (both set), with what would."""
    c, m = _units(cpu), _units(memory)
    if c is None or m is None or c not in SIZES or m in SIZES[c]:
        return None
    allowed = SIZES[c]
    shown = ", ".join(map(str, allowed)) if len(allowed) <= 8 else f"{allowed[0]} to {allowed[-1]} " \
        f"in steps of {allowed[1] - allowed[0]}"
    fits = [str(k) for k, ms in SIZES.items() if m in ms]
    return f"cpu {c} takes memory {shown} (MiB); memory {m} goes with cpu {', '.join(fits) or 'none'}"
