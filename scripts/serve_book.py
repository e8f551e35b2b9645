"""Serve the built book (build/book/) on loopback: port 8001, or a free port when 8001 is taken."""

import contextlib
import functools
import http.server

from cqlab.infra.website import preferred_port
from cqlab.paths import REPO_ROOT
from cqlab.ports import DEFAULT_HOST

BOOK_DIR = REPO_ROOT / "build" / "book"
PREFERRED_PORT = 8001


def main() -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(BOOK_DIR))
    with http.server.ThreadingHTTPServer((DEFAULT_HOST, preferred_port(PREFERRED_PORT)), handler) as server:
        print(f"The book: http://{DEFAULT_HOST}:{server.server_port}/  (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
            server.serve_forever()


if __name__ == "__main__":
    main()
