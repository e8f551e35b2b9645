"""Stages of notebook 07 (the conclusion): several processes around one cache, tables, the figure.

The processes and what they call are the notebook's: it passes in how each one writes and reads.

    seen = conclusion.who_sees_what({"notebook": Process(write, read), "web-2": ...}, ALIASES)
    print(conclusion.sharing_table(seen))
    # {NO_CACHE: Timing, alias: Timing, ...}, {EMAIL_INLINE: Timing, EMAIL_QUEUED: Timing}
    conclusion.plot_before_after(page_costs, signup_costs)
"""

from collections.abc import Callable
from dataclasses import dataclass

from cqlab.notebook.plots import ALIAS_LABEL, PALETTE, colour, new_axes
from cqlab.notebook.timing import Timing

# Labels of the "before" and "after" requests of the figure.
NO_CACHE = "no cache"
EMAIL_INLINE = "email inline"
EMAIL_QUEUED = "email queued"
# Bars of "before": the work done inside the request (the slow query, the SMTP conversation).
BEFORE_COLOUR = PALETTE["database"]


@dataclass(frozen=True)
class Process:
    """How one process writes `value` under `key` in a cache alias, and reads it back (None: miss)."""

    write: Callable[[str, str, str], object]  # (alias, key, value)
    read: Callable[[str, str], object]  # (alias, key) -> value or None


def written_by(name: str) -> str:
    """The key process `name` writes: each process leaves its own mark."""
    return f"written-by-{name}"


def who_sees_what(processes: dict[str, Process], aliases: list[str]) -> dict[str, dict[str, int]]:
    """Every process writes its key in every alias; then every process reads every process's key.

    Returns {alias: {process: how many of the processes' keys it sees}} (all of them: shared).
    """
    for name, process in processes.items():
        for alias in aliases:
            process.write(alias, written_by(name), name)
    return {
        alias: {
            reader: sum(process.read(alias, written_by(writer)) is not None for writer in processes)
            for reader, process in processes.items()
        }
        for alias in aliases
    }


def sharing_table(seen: dict[str, dict[str, int]]) -> str:
    """`alias  notebook  web-2  web-3` with "k/n": how many processes' writes each one sees."""
    readers = list(next(iter(seen.values())))
    lines = [f"{'cache alias':<14}" + "".join(f"{reader:>10}" for reader in readers) + "   shared"]
    for alias, counts in seen.items():
        cells = "".join(f"{f'{counts[reader]}/{len(readers)}':>10}" for reader in readers)
        shared = all(count == len(readers) for count in counts.values())
        lines.append(f"{alias:<14}{cells}   {'yes' if shared else 'no'}")
    return "\n".join(lines)


def cost_table(timings: dict[str, Timing]) -> str:
    """Median and p99 per call, in ms, one line per label (raw figures: they vary run to run)."""
    lines = [f"{'':<28}{'p50 ms':>10}{'p99 ms':>10}{'calls':>7}"]
    for label, timing in timings.items():
        lines.append(f"{label:<28}{timing.p50_us / 1000:>10.3f}{timing.p99_us / 1000:>10.3f}{timing.n:>7}")
    return "\n".join(lines)


def bar_colour(label: str) -> str:
    """Course colour of a bar: a cache alias keeps its own, a queued request is Celery's."""
    if label in (NO_CACHE, EMAIL_INLINE):
        return BEFORE_COLOUR
    return PALETTE["celery"] if label == EMAIL_QUEUED else colour(label)


def plot_before_after(pages: dict[str, Timing], signups: dict[str, Timing]):
    """One figure: median time of the catalogue page (NO_CACHE, then cached on each alias) and
    of the signup request (EMAIL_INLINE, then EMAIL_QUEUED), log scale, "before" bars in black."""
    bars = {
        f"catalogue page, {ALIAS_LABEL.get(label, label)}": (timing, label) for label, timing in pages.items()
    }
    bars |= {f"signup, {label}": (timing, label) for label, timing in signups.items()}
    fig, ax = new_axes(9, 4.5)
    names = list(bars)[::-1]  # top to bottom in the order given
    ax.barh(
        names,
        [bars[name][0].p50_us / 1000 for name in names],
        color=[bar_colour(bars[name][1]) for name in names],
        edgecolor="black",
        linewidth=0.5,
    )
    ax.set_xscale("log")
    ax.set_xlabel("median time per request, ms (log scale)")
    ax.set_title("The sandbox's requests, before (black) and after caching or queueing", fontsize=11)
    fig.tight_layout()
    return fig
