"""Serve the built book (build/book/) on loopback: port 8001, or a free port when 8001 is taken."""

import contextlib
import functools
import http.server
import socket

from cqlab.paths import REPO_ROOT
from cqlab.ports import DEFAULT_HOST, free_port

BOOK_DIR = REPO_ROOT / "build" / "book"
PREFERRED_PORT = 8001


def port_to_use() -> int:
    with socket.socket() as probe:
        in_use = probe.connect_ex((DEFAULT_HOST, PREFERRED_PORT)) == 0
    return free_port() if in_use else PREFERRED_PORT


def main() -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(BOOK_DIR))
    with http.server.ThreadingHTTPServer((DEFAULT_HOST, port_to_use()), handler) as server:
        print(f"The book: http://{DEFAULT_HOST}:{server.server_port}/  (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
            server.serve_forever()


if __name__ == "__main__":
    main()
