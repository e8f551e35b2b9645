"""One palette and one set of labels for every plot of the course: a technology keeps its colour."""

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
