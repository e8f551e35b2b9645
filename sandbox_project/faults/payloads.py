"""Notebook 05c's big-payload tasks: the same work with the data in the message, or only its name.

A web request that receives a big upload saves it first (to disk here; object storage or the
database in production) and hands the task the name. The message and the stored result stay a
few hundred bytes whatever the upload's size.
"""

from pathlib import Path

from celery import shared_task
from django.conf import settings

from sandbox.env import VAR_DIR


def uploads_dir() -> Path:
    """Where this namespace's uploads are saved (the sandbox's stand-in for object storage)."""
    return VAR_DIR / "uploads" / settings.NAMESPACE


def save_upload(name: str, text: str) -> str:
    """Save an upload as the web request would, and return the name a task can be given."""
    uploads_dir().mkdir(parents=True, exist_ok=True)
    (uploads_dir() / name).write_text(text)
    return name


@shared_task
def normalize_rows(csv_text: str) -> str:
    """The whole upload travels in the message, and the normalized copy comes back as the result."""
    return csv_text.upper()


@shared_task
def normalize_upload(name: str) -> str:
    """Only the upload's name travels: the task reads the file, writes its result beside it and
    returns that file's name."""
    source = uploads_dir() / name
    target = source.with_name(f"normalized-{name}")
    target.write_text(source.read_text().upper())
    return target.name
