"""One palette and one set of labels for every plot of the course: a technology keeps its colour."""

from collections.abc import Callable

import matplotlib.pyplot as plt

# Colour-blind-safe (Okabe-Ito). Keys are the technologies as the course names them.
PALETTE = {
    "redis": "#D55E00",  # raw redis-py
    "django-redis": "#E69F00",
    "Django RedisCache (built-in)": "#CC79A7",
    "memcached": "#0072B2",  # raw pymemcache
    "Django PyMemcacheCache": "#56B4E9",
    "locmem": "#009E73",
    "file": "#999999",
    "database": "#000000",
    "celery": "#F0E442",
}
# Cache alias of the sandbox's settings → the label a plot shows.
ALIAS_LABEL = {
    "locmem": "locmem",
    "file": "file",
    "redis": "Django RedisCache (built-in)",
    "django_redis": "django-redis",
    "memcached": "Django PyMemcacheCache",
}


def colour(name: str) -> str:
    """The course colour of a technology or a sandbox cache alias."""
    return PALETTE[ALIAS_LABEL.get(name, name)]


def new_axes(width: float = 8, height: float = 4):
    """A figure and axes in the course's style."""
    fig, ax = plt.subplots(figsize=(width, height))
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def task_timelines(
    panels: dict[str, dict], xlabel: str, bar_colour: Callable[[int, int], str], panel_height: float = 2.0
) -> None:
    """Gantt chart, shown: one panel per batch, one lane per worker process, one bar per task run.

    A batch is `{"sent": t, "runs": [...]}`; each run reports `worker`, `pid`, `started` and
    `finished` (seconds since the epoch). `bar_colour(lane, index)` colours the `index`-th run,
    drawn in lane `lane`.
    """
    size = (9, panel_height * len(panels))
    fig, axes = plt.subplots(len(panels), 1, figsize=size, sharex=True, squeeze=False)
    for ax, (title, batch) in zip(axes[:, 0], panels.items(), strict=True):
        ax.spines[["top", "right"]].set_visible(False)
        lanes = sorted({(run["worker"], run["pid"]) for run in batch["runs"]})
        labels, processes_of = [], {}
        for worker, _ in lanes:
            processes_of[worker] = processes_of.get(worker, 0) + 1
            labels.append(f"{worker} process {processes_of[worker]}")
        for index, run in enumerate(batch["runs"]):
            lane = lanes.index((run["worker"], run["pid"]))
            ax.barh(
                lane,
                run["finished"] - run["started"],
                left=run["started"] - batch["sent"],
                color=bar_colour(lane, index),
                edgecolor="black",
            )
        ax.set_yticks(range(len(labels)), labels)
        ax.set_title(title)
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    plt.show()
