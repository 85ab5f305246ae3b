"""Inline charts: a picture of the window reads faster than a table. Each is a
matplotlib Figure (no pyplot, so nothing shows twice) wrapped to render as PNG in the
notebook and its HTML copy, with a one-line text description for plain-text readers."""
from __future__ import annotations

import io
from dataclasses import dataclass

COLOURS = {"deploy": "#6a1b9a", "rollback": "#1565c0", "migration": "#ef6c00"}


@dataclass
class Chart:
    figure: object
    text: str

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80)  # laid out already: no second "tight" pass
        return buf.getvalue()

    def __repr__(self) -> str:
        return self.text


def _figure(rows: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 2.3 * rows))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _changes(ax, changes, label: bool = False) -> None:
    for c in changes:
        colour = COLOURS.get(c.action.split("_")[0], "#555")
        ax.axvline(c.at, color=colour, linestyle="--", linewidth=1.2)
        if label:
            ax.annotate(c.what[:40], (c.at, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=7, color=colour)


def _finish(fig, axes, window) -> None:
    import matplotlib.dates as mdates

    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_xlim(window.start, window.end)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=7, frameon=False)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes[-1].set_xlabel("UTC")
    # Fixed margins (in inches, whatever the height) rather than tight_layout, which
    # draws the figure once more to measure it: a third of each chart's time.
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.07, right=0.94, bottom=0.5 / height, top=1 - 0.12 / height, hspace=0.12)


def traffic(found, p) -> Chart:
    """5xx share of requests (with the §5 threshold) and target p95 latency."""
    df = found.metrics
    fig, (rate, latency) = _figure(2)
    rate.plot(df.index, df["error_rate_pct"], color="#c62828", label="5xx (target + ALB) % of requests")
    rate.axhline(p.error_rate_pct, color="#c62828", alpha=0.4, linestyle=":", label=f"§5 threshold {p.error_rate_pct:g}%")
    latency.plot(df.index, df["p95_latency_s"], color="#1565c0", label="target p95 latency (s)")
    _changes(rate, found.changes, label=True)
    _changes(latency, found.changes)
    _finish(fig, (rate, latency), found.window)
    peak = df["error_rate_pct"].max()
    return Chart(fig, f"[chart] 5xx rate (peak {peak:.2f}%) and p95 latency over {found.window}"
                 if peak == peak else f"[chart] no ALB data in {found.window}")


def database(found, p) -> Chart:
    df = found.metrics
    fig, (cpu, conns) = _figure(2)
    cpu.plot(df.index, df["rds_cpu_pct"], color="#ef6c00", label="RDS CPU %")
    cpu.axhline(p.rds_cpu_pct, color="#ef6c00", alpha=0.4, linestyle=":", label=f"§5 threshold {p.rds_cpu_pct:g}%")
    cpu.set_ylim(0, 100)
    conns.plot(df.index, df["rds_connections"], color="#6d4c41", label="connections")
    _changes(cpu, found.changes, label=True)
    _changes(conns, found.changes)
    _finish(fig, (cpu, conns), found.window)
    peak = df["rds_cpu_pct"].max()
    return Chart(fig, f"[chart] RDS CPU (peak {peak:.0f}%) and connections" if peak == peak else "[chart] no RDS data")


def tasks(found) -> Chart:
    df = found.metrics
    fig, (ax,) = _figure(1)
    ax.step(df.index, df["ecs_desired"], where="post", color="#90a4ae", label="desired")
    ax.step(df.index, df["ecs_running"], where="post", color="#2e7d32", label="running")
    ax.set_ylim(bottom=0)
    _changes(ax, found.changes, label=True)
    _finish(fig, (ax,), found.window)
    low = df["ecs_running"].min()
    return Chart(fig, f"[chart] ECS running vs desired (lowest running {low:.0f})" if low == low
                 else "[chart] no ECS task metrics")


def timeline(found, verdict) -> Chart:
    """Errors and database CPU on one axis of time, changes and alarms marked."""
    df = found.metrics
    fig, (ax,) = _figure(1)
    ax.plot(df.index, df["error_rate_pct"], color="#c62828", label="5xx %")
    twin = ax.twinx()
    twin.plot(df.index, df["rds_cpu_pct"], color="#ef6c00", alpha=0.6, label="RDS CPU %")
    twin.set_ylim(0, 100)
    _changes(ax, found.changes, label=True)
    for t in found.transitions:
        if t.new == "ALARM":
            ax.axvline(t.at, color="#b71c1c", alpha=0.5, linewidth=3)
    for s in verdict.signals:
        if s.since and found.window.start <= s.since <= found.window.end:
            ax.plot([s.since], [0], marker="^", color="black", markersize=8)
    twin.legend(loc="upper right", fontsize=7, frameon=False)
    _finish(fig, (ax,), found.window)
    return Chart(fig, f"[chart] timeline: {len(found.changes)} change(s), "
                      f"{sum(t.new == 'ALARM' for t in found.transitions)} alarm(s) firing, "
                      f"{len(verdict.signals)} signal(s)")
