"""Helpers for the Django Caching & Queues Lab: services, Celery processes, notebook set-up."""

from cqlab.errors import LabError

__all__ = ["LabError"]
