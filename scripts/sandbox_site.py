"""`make sandbox`: the sandbox as a website with a Celery worker, for a learner's browser.

Its own namespace (Redis DB, SQLite file, mailbox), fresh at each start. On a terminal it first
asks for an admin account (Django's createsuperuser), so the admin pages can be tried.
"""

import signal
import sys

from cqlab.infra import website
from cqlab.notebook import setup
from cqlab.ports import DEFAULT_HOST

# A namespace no notebook uses (the lab's namespaces are fixed; see cqlab.notebook.lab).
SITE_NAMESPACE = "site"
PREFERRED_PORT = 8000


def main() -> None:
    # `make sandbox`'s launcher passes a closed terminal or a SIGTERM on: stop as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    lab = setup(SITE_NAMESPACE)
    try:
        if sys.stdin.isatty():
            from django.core.management import call_command

            print("Create an admin account for /admin/ (Ctrl-C to skip):")
            try:
                call_command("createsuperuser")
            except KeyboardInterrupt:
                print()
        lab.start_worker("site-worker")
        port = website.preferred_port(PREFERRED_PORT)
        server = website.start_runserver("site-runserver", port)
        base = f"http://{DEFAULT_HOST}:{port}"
        print(
            f"The sandbox website (a worker is running; Ctrl-C stops both):\n"
            f"  catalogue, page-cached:  {base}/products/page-cached/  (footer: time, cache hit/miss)\n"
            f"  catalogue, uncached:     {base}/products/\n"
            f"  signup form:             {base}/signup/form/\n"
            f"  mailbox:                 {base}/mailbox/\n"
            f"  admin:                   {base}/admin/\n"
            f"  server log:              {server.log_path}",
            flush=True,
        )
        server.popen.wait()
    except KeyboardInterrupt:
        pass
    finally:
        lab.cleanup()


if __name__ == "__main__":
    main()
