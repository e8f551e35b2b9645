"""`make flower`: Flower, Celery's monitoring web UI, on loopback with basic auth, for one namespace.

Each notebook's workers use the broker of its namespace (a Redis database of its own), so Flower
watches one namespace: NS=03 for notebook 03's, default the `make sandbox` website's. It only
reads that namespace; it never resets it. The user:password is FLOWER_BASIC_AUTH in the
git-ignored .env (generated); Flower reads it from the environment, so it is never on a command
line or printed.
"""

import os
import sys

from cqlab import config
from cqlab.infra.processes import celery_command
from cqlab.infra.website import preferred_port
from cqlab.notebook.lab import NAMESPACE_DB
from cqlab.paths import SANDBOX_DIR
from cqlab.ports import DEFAULT_HOST

PREFERRED_PORT = 5555


def main(namespace: str = "site") -> None:
    lab_config = config.LabConfig.from_env()  # completes .env's secrets, reads it into the environment
    broker = lab_config.celery_url(NAMESPACE_DB[namespace])
    port = preferred_port(PREFERRED_PORT)
    print(
        f"Flower for namespace {namespace}: http://{DEFAULT_HOST}:{port}/  "
        "(user and password: FLOWER_BASIC_AUTH in .env; Ctrl-C to stop)",
        flush=True,
    )
    command = celery_command("flower", f"--address={DEFAULT_HOST}", f"--port={port}")
    os.chdir(SANDBOX_DIR)
    os.execvpe(command[0], command, {**os.environ, "CELERY_BROKER_URL": broker})


if __name__ == "__main__":
    main(*sys.argv[1:])
