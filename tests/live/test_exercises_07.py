"""Notebook 07's self-checks catch a stub and a plausible wrong answer, and accept another right one."""

from cqlab.notebook.exercises import STUB, try_answers
from cqlab.paths import NOTEBOOKS_DIR

ANSWERS = {
    "07-ex1": [
        STUB,
        # Plausible but wrong: the settings were read when Django started; the default stays.
        "import os\n\n\ndef render_with(alias):\n"
        '    os.environ["SANDBOX_CACHE"] = alias\n'
        '    return browser.get("/products/cached/")',
        # Right, another way: only the default entry overridden.
        "def render_with(alias):\n"
        '    with override_settings(CACHES={"default": settings.CACHES[alias]}):\n'
        '        return browser.get("/products/cached/")',
    ],
    "07-ex2": [
        STUB,
        # Plausible but wrong: an address as the LOCATION of a per-process memory cache.
        "def shared_entry(server):\n"
        '    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",'
        ' "LOCATION": f"127.0.0.1:{server.port}"}',
        # Right, another way: LOCATION as a list of servers.
        "def shared_entry(server):\n"
        '    return {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",'
        ' "LOCATION": [f"127.0.0.1:{server.port}"]}',
    ],
}


def test_self_checks_tell_right_from_wrong(lab):
    results = try_answers(NOTEBOOKS_DIR / "07-conclusion.ipynb", ANSWERS)
    assert results == {exercise: [False, False, True] for exercise in ANSWERS}
