"""What a browser should see of the cache: how long the page took, and whether it was a cache hit.

Like a CDN's `X-Cache` header: `X-Response-Time` on every response, `X-Cache: hit` or `miss` on
the pages cached whole by `cache_page`, and the same facts in a footer of each HTML page (a
browser does not show headers). Installed only when the sandbox is served as a website
(`make sandbox`, the browser tests), so the notebooks' pages stay byte-for-byte as they teach them.
"""

import time


def page_cache_status(request) -> str | None:
    """Django's cache middleware (what `cache_page` runs) marks the request when it looks the page
    up: `_cache_update_cache` is True when it found nothing and will store this response (a miss),
    False when it answered from the cache (a hit). Absent: the view is not page-cached."""
    marker = getattr(request, "_cache_update_cache", None)
    return None if marker is None else ("miss" if marker else "hit")


class ResponseTimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["X-Response-Time"] = f"{elapsed_ms:.1f} ms"
        status = page_cache_status(request)
        if status:
            response["X-Cache"] = status
        if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            footer = f"Served in {elapsed_ms:.1f} ms" + (f" · page cache: {status}" if status else "")
            response.content += f'\n<footer id="served">{footer}</footer>\n'.encode()
            response["Content-Length"] = str(len(response.content))
        return response
