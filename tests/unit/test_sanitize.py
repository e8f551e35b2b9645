"""nbval's replacements hide what varies between runs, and never a result."""

import configparser
import re

import pytest

from cqlab.paths import REPO_ROOT

CONFIG = configparser.ConfigParser()
CONFIG.read(REPO_ROOT / "tests" / "nbval_sanitize.cfg")
RULES = [(re.compile(CONFIG[section]["regex"]), CONFIG[section]["replace"]) for section in CONFIG.sections()]


def sanitize(text: str) -> str:
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize(
    ("first_run", "second_run"),
    [
        ("task 1b4e28ba-2fa1-11d2-883f-0016d3cca427 done", "task 6fa459ea-ee8a-3ca4-894e-db77e160355e done"),
        ("[2026-11-29 12:00:00,123: INFO]", "[2026-12-01 08:30:59,001: INFO]"),
        ("took 12.3 ms", "took 0.8 s"),
        ("pid=1234 ForkPoolWorker-3", "pid=98765 ForkPoolWorker-12"),
        ("<Client at 0x7f3a2b1c9d80>", "<Client at 0x55d0c0ffee00>"),
        ("redis on 127.0.0.1:6380", "redis on 127.0.0.1:41923"),
        ("-s var/private-4242/run/celerybeat-schedule-nb04", "-s var/run/celerybeat-schedule-nb04"),
    ],
)
def test_what_varies_between_runs_is_hidden(first_run, second_run):
    assert sanitize(first_run) == sanitize(second_run)


@pytest.mark.parametrize(
    ("stored", "fresh"),
    [
        ("speed-up ≥ 3×: True", "speed-up ≥ 3×: False"),
        ("lost 0, doubled 0", "lost 1, doubled 0"),
        ("result: 42", "result: 41"),
        ("RETRY seen: True then SUCCESS", "RETRY seen: False then SUCCESS"),
        ("20/20 tasks", "19/20 tasks"),
        ("Redis DB 13", "Redis DB 14"),
        ("daily-task sent at 00:00", "daily-task sent at 01:00"),
    ],
)
def test_results_are_never_hidden(stored, fresh):
    assert sanitize(stored) != sanitize(fresh)
