"""What a notebook cell calls: set-up, showing sandbox code, waiting, timing."""

from cqlab.notebook.lab import Lab, setup
from cqlab.notebook.show import show_source
from cqlab.waiting import wait_until

__all__ = ["Lab", "setup", "show_source", "wait_until"]
