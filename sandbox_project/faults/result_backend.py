"""Notebook 05c: the waits on a Redis result backend, bounded.

A Redis that hangs — swapped out, paused with its virtual machine, stopped by a debugger —
still accepts connections (the kernel queues them) and never answers. Celery's defaults then
wait up to 120 s for each reply and retry a failed store 20 times, 1 s apart: a worker's pool
child stays blocked on the result for as long as the server hangs, up to about three quarters
of an hour. Django's settings spell these keys `CELERY_REDIS_SOCKET_CONNECT_TIMEOUT`,
`CELERY_REDIS_SOCKET_TIMEOUT` and `CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS`.
"""

BOUNDED_RESULT_BACKEND = {
    # A server that does not accept the connection: give up after 2 s (Celery's default: never).
    "redis_socket_connect_timeout": 2,
    # A server that accepts and never answers: 2 s per reply (Celery's default: 120 s).
    "redis_socket_timeout": 2,
    # A store that timed out is tried 3 times in all, not 21: the pool child is free in seconds.
    # (The result is lost either way: make the side effect idempotent, notebook 05b.)
    "result_backend_transport_options": {"retry_policy": {"max_retries": 2}},
}
