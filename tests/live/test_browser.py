"""In a real browser (headless Chromium): the book, and the sandbox served as a website.

One module, one browser, one runserver, one worker: the cost is paid once. Chromium comes from
Debian's packages (installed when missing, see cqlab.infra.browser).
"""

import functools
import http.server
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from urllib.parse import urldefrag, urlparse

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from cqlab.infra import browser as browser_module
from cqlab.infra import website
from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess
from cqlab.paths import NOTEBOOKS_DIR, REPO_ROOT, process_log
from cqlab.ports import DEFAULT_HOST, free_port
from cqlab.waiting import wait_until

BOOK_DIR = REPO_ROOT / "build" / "book"
SCREENSHOT_DIR = REPO_ROOT / "build" / "screenshots"
ADMIN_PASSWORD = uuid.uuid4().hex  # a throw-away superuser of the tests' own database


@pytest.fixture(scope="module")
def browser():
    driver = browser_module.headless_chromium()
    # Every page from the server: cache_page's `Cache-Control: max-age` would let the browser's
    # own cache answer a second visit, and the server's hit would never be seen.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    yield driver
    driver.quit()


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# --- the book ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def book_url():
    """`make book` (no execution, no server needed), served on a free loopback port."""
    subprocess.run(["make", "-s", "book"], cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    handler = functools.partial(QuietHandler, directory=str(BOOK_DIR))
    server = http.server.ThreadingHTTPServer((DEFAULT_HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{DEFAULT_HOST}:{server.server_port}/"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def book_pages() -> list[str]:
    return sorted(path.name for path in BOOK_DIR.glob("*.html"))


def test_book_pages_load_with_images_and_working_links(browser, book_url):
    pages = book_pages()
    assert "index.html" in pages and "search.html" in pages
    broken, seen_targets = [], set()
    for page in pages:
        browser.get(book_url + page)
        assert console_errors(browser) == [], page
        images = browser.find_elements(By.TAG_NAME, "img")
        assert all(
            browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image)
            for image in images
        ), f"an image of {page} did not render"
        for link in browser.find_elements(By.CSS_SELECTOR, "a[href]"):
            target = link.get_attribute("href")
            if urlparse(target).netloc == urlparse(book_url).netloc:
                seen_targets.add(target)
    for target in sorted(seen_targets):
        address, fragment = urldefrag(target)
        try:
            with urllib.request.urlopen(address, timeout=30) as response:
                html = response.read().decode()
        except urllib.error.HTTPError:
            broken.append(target)
            continue
        if fragment and f'id="{fragment}"' not in html:
            broken.append(target)
    assert broken == []


def test_book_has_previous_next_links_search_and_the_plots(browser, book_url):
    notebooks = [page for page in book_pages() if re.match(r"\d\d", page)]
    browser.get(book_url + notebooks[1])

    def relation(rel: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f"link[rel={rel}]").get_attribute("href")

    assert relation("prev").endswith(notebooks[0]) and relation("next").endswith(notebooks[2])
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT_DIR / f"book-{notebooks[1]}.png"))
    browser.get(book_url + "search.html?q=Redis")
    results = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "ul.search li"), 30, "search results")
    assert len(results) >= 2
    browser.get(book_url + "index.html")
    browser.save_screenshot(str(SCREENSHOT_DIR / "book-index.png"))
    plots = sum(len(list(BOOK_DIR.glob(f"_images/*.{kind}"))) for kind in ("png", "svg"))
    assert plots >= 1


# --- the sandbox as a website -----------------------------------------------------------------
@pytest.fixture(scope="module")
def site(lab):
    """`manage.py runserver` on a free port, in the tests' namespace, with the website footer."""
    port = free_port()
    server = website.start_runserver("test-runserver", port)
    yield f"http://{DEFAULT_HOST}:{port}"
    server.stop()


def footer(driver) -> str:
    return driver.find_element(By.ID, "served").text


def test_catalog_page_shows_a_miss_then_a_hit(browser, site):
    # A query string of its own: cache_page keys on the full URL, so no earlier test's entry is hit.
    url = f"{site}/products/page-cached/?visit={uuid.uuid4().hex}"
    browser.get(url)
    first = footer(browser)
    browser.get(url)
    second = footer(browser)
    assert first.endswith("page cache: miss") and second.endswith("page cache: hit"), (first, second)
    # The miss ran the slow query (SANDBOX_SLOW_QUERY_DELAY, 0.2 s by default): at least that long.
    assert float(re.search(r"Served in ([\d.]+) ms", first).group(1)) >= 200
    assert console_errors(browser) == []


def test_signup_form_then_the_welcome_email_in_the_mailbox(browser, site, worker):
    address = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    browser.get(f"{site}/signup/form/")
    browser.find_element(By.ID, "email").send_keys(address)
    browser.find_element(By.ID, "submit").click()
    wait_until(lambda: '"queued"' in browser.page_source, 30, "the signup answer")

    def welcome_listed():
        browser.get(f"{site}/mailbox/")
        messages = browser.find_elements(By.CSS_SELECTOR, "li.message")
        return [message.text for message in messages if address in message.text]

    (message,) = wait_until(welcome_listed, 60, f"a welcome email to {address}", interval=0.5)
    assert "Welcome" in message
    assert console_errors(browser) == []


def test_admin_crontab_periodic_task_picked_up_by_beat(browser, site, lab):
    username = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username, f"{username}@example.com", ADMIN_PASSWORD)
    browser.get(f"{site}/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(lambda: "Site administration" in browser.page_source, 30, "the admin index")

    browser.get(f"{site}/admin/django_celery_beat/crontabschedule/add/")
    # Every hour at :30. Not "30 3": DatabaseScheduler loads only the crontabs whose hour is within
    # two hours of now (django-celery-beat 2.8+), so a 03:30 task is not in its schedule at noon.
    minute = browser.find_element(By.ID, "id_minute")
    minute.clear()
    minute.send_keys("30")
    browser.find_element(By.NAME, "_save").click()
    wait_until(lambda: "was added successfully" in browser.page_source, 30, "the crontab saved")

    task_name = f"browser-nightly-{uuid.uuid4().hex[:8]}"
    browser.get(f"{site}/admin/django_celery_beat/periodictask/add/")
    browser.find_element(By.ID, "id_name").send_keys(task_name)
    Select(browser.find_element(By.ID, "id_regtask")).select_by_value("reports.tasks.daily_task")
    crontab = CrontabSchedule.objects.latest("id")
    Select(browser.find_element(By.ID, "id_crontab")).select_by_value(str(crontab.id))
    browser.find_element(By.NAME, "_save").click()
    wait_until(lambda: "was added successfully" in browser.page_source, 30, "the periodic task saved")
    assert console_errors(browser) == []
    assert (crontab.minute, crontab.hour) == ("30", "*")
    assert PeriodicTask.objects.get(name=task_name).crontab == crontab

    beat = lab.start_beat(
        "test-db-beat", scheduler="django_celery_beat.schedulers:DatabaseScheduler", loglevel="debug"
    )
    try:
        beat.wait_for_log(re.escape(task_name), timeout=60)
    finally:
        beat.stop()


# --- first minutes in JupyterLab --------------------------------------------------------------
@pytest.fixture(scope="module")
def jupyter_lab():
    """JupyterLab as `make lab` prepares it, on a free port with a token of its own."""
    subprocess.run(["make", "-s", "lab-ready"], cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    port, token = free_port(), uuid.uuid4().hex
    command = [
        *(sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ip={DEFAULT_HOST}", f"--port={port}"),
        *(f"--IdentityProvider.token={token}", "--allow-root", str(NOTEBOOKS_DIR)),
    ]
    with BoundProcess("test-jupyterlab", command, process_log("test-jupyterlab")) as server:
        server.wait_for(lambda: port_open(DEFAULT_HOST, port), "no listening port", timeout=90)
        yield f"http://{DEFAULT_HOST}:{port}", token


def test_lab_opens_on_notebook_00_trusted_without_news_popup(browser, jupyter_lab):
    base, token = jupyter_lab
    browser.get(f"{base}/?token={token}")
    tab = wait_until(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Notebook .jp-Cell"),
        90,
        "notebook 00",
    )
    assert tab and "00-setup-check.ipynb" in browser.title + browser.current_url
    # What the frontend is handed: the server marks each code cell trusted when the signature checks,
    # and the news setting the announcements plugin reads ("none" means: ask with a pop-up).
    assert set(browser_json(browser, token, "/api/contents/00-setup-check.ipynb", "cells")) == {True}
    assert browser_json(browser, token, NEWS_SETTINGS, "fetchNews") == "false"
    # The pop-up shows a few seconds after the notebook renders when asked for: the setting above
    # is what rules it out; this checks the page as it stands.
    assert "Would you like to get notified" not in browser.find_element(By.TAG_NAME, "body").text
    assert browser.find_elements(By.CSS_SELECTOR, "[class*=jp-Notification-Toast]") == []


NEWS_SETTINGS = "/lab/api/settings/@jupyterlab/apputils-extension:notification"
PICK = {
    "cells": "model.content.cells.filter(c => c.cell_type === 'code').map(c => c.metadata.trusted)",
    "fetchNews": "model.schema.properties.fetchNews.default",
}


def browser_json(driver, token: str, path: str, pick: str):
    """GET `path` from inside the page (the browser's own request, with the token) and pick a value."""
    script = (
        "const done = arguments[arguments.length - 1];"
        f"fetch('{path}', {{headers: {{Authorization: 'token {token}'}}}})"
        f".then(r => r.json()).then(model => done({PICK[pick]}));"
    )
    return driver.execute_async_script(script)


# --- Flower -----------------------------------------------------------------------------------
def test_flower_lists_the_worker_behind_basic_auth(browser, worker):
    """`make flower`'s script on the tests' namespace, with a password of this test's own."""
    user, password = "lab", uuid.uuid4().hex
    command = [sys.executable, str(REPO_ROOT / "scripts" / "flower.py"), "tests"]
    env = {"FLOWER_BASIC_AUTH": f"{user}:{password}"}
    with BoundProcess("test-flower", command, process_log("test-flower"), env=env) as flower:
        line = flower.wait_for_log(r"Flower for namespace tests: http://", timeout=60)
        address = re.search(r"http://[\d.]+:(\d+)/", line)
        port = int(address.group(1))
        flower.wait_for(lambda: port_open(DEFAULT_HOST, port), "no listening port", timeout=60)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{DEFAULT_HOST}:{port}/workers", timeout=30)
        assert refused.value.code == 401
        # The worker's page: Flower asks the workers (an inspect broadcast) when it does not know it.
        # (Its /workers table is built from worker events, which the tests' workers do not send.)
        browser.get(f"http://{user}:{password}@{DEFAULT_HOST}:{port}/worker/test-worker@lab")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "test-worker@lab" in body and "prefork" in body.lower()
