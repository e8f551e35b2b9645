"""In a real JupyterLab (headless Chromium): a link of the Russian edition lands on its section.

Notebook 07's claims table is an output built from the English headings, so its links carry English
anchors (`02-django-caching.ipynb#4.-LocMemCache:-one-process-or-many`). In notebooks/ru/ the heading
is Russian and so is the id JupyterLab gives it; generation puts the English anchor above it
(cqlab.notebook.anchors). This follows such a link from ru/07 and checks where ru/02 is scrolled to.

JupyterLab 4.6 applies a link's fragment once, when the target notebook's file is loaded: on the click
that opens a notebook its cells are not rendered yet, so nothing is found and the notebook shows its
top (the English edition does the same). With the notebook open, a click scrolls to the anchor;
cells rendered while scrolling can push the heading down, and the next click lands.
"""

import re
import shutil
import subprocess
import sys
import uuid
from urllib.parse import urldefrag

import pytest
from selenium.webdriver.common.by import By

from cqlab.infra.probes import port_open
from cqlab.infra.processes import BoundProcess
from cqlab.notebook.anchors import fragment
from cqlab.notebook.translations import RU_DIR
from cqlab.paths import REPO_ROOT, process_log
from cqlab.ports import DEFAULT_HOST, free_port
from cqlab.waiting import wait_until
from tests.live.test_browser import book_url, browser  # noqa: F401  (fixtures: the book, Chromium)

SOURCE = "ru/07-conclusion.ipynb"
LINK_TEXT = "02: 4. LocMemCache: one process or many"  # a row of 07's claims table (English output)
ANCHOR = "4.-LocMemCache:-one-process-or-many"
CLICKS_TO_LAND = 3  # after the click that opens the notebook (see the module's docstring)
NEAR_TOP_PX = 80  # the heading's top within this of the scroll area's top: scrolled to it


@pytest.fixture(scope="module")
def jupyter_lab_on_a_copy(tmp_path_factory):
    """JupyterLab as `make lab` prepares it, serving a copy of notebooks/ru/: its autosave (a notebook
    opened in JupyterLab gets its kernel's display name, which marks it changed) writes to the copy."""
    subprocess.run(["make", "-s", "lab-ready"], cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(RU_DIR, root / "ru", ignore=shutil.ignore_patterns("catalog"))
    port, token = free_port(), uuid.uuid4().hex
    command = [
        *(sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ip={DEFAULT_HOST}", f"--port={port}"),
        *(f"--IdentityProvider.token={token}", "--allow-root", str(root)),
    ]
    with BoundProcess("test-jupyterlab-ru", command, process_log("test-jupyterlab-ru")) as server:
        server.wait_for(lambda: port_open(DEFAULT_HOST, port), "no listening port", timeout=90)
        yield f"http://{DEFAULT_HOST}:{port}", token


# In the visible notebook: the element carrying the fragment, the first heading from it on, and the
# heading's distance from the top of the notebook's scroll area.
WHERE = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
const target = panel && panel.querySelector(`[data-jupyter-id="${CSS.escape(arguments[0])}"]`);
if (!target) return null;
const headings = [...target.closest('.jp-RenderedMarkdown').querySelectorAll('h1, h2, h3, h4, h5, h6')];
const after = h => h === target || target.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING;
const heading = headings.find(after);
const area = panel.querySelector('.jp-WindowedPanel-outer');
return {text: heading.textContent, id: heading.getAttribute('data-jupyter-id'),
        offset: heading.getBoundingClientRect().top - area.getBoundingClientRect().top};
"""


def click_link(driver, text: str):
    """Click the link with this text in the visible notebook (scrolled into view first)."""

    def visible_link():
        links = driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) a")
        return [link for link in links if link.text == text]

    link = wait_until(visible_link, 90, f"the link {text!r}")[0]  # the first, if two rows share it
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()


def activate_tab(driver, name: str) -> None:
    tab = f"//li[contains(@class, 'lm-TabBar-tab')][.//div[text()='{name}']]"
    driver.find_element(By.XPATH, tab).click()


def test_a_claims_table_link_of_russian_07_lands_on_the_russian_heading(browser, jupyter_lab_on_a_copy):  # noqa: F811
    base, token = jupyter_lab_on_a_copy
    browser.get(f"{base}/lab/tree/{SOURCE}?reset&token={token}")
    click_link(browser, LINK_TEXT)  # opens ru/02 (at its top: the fragment came before the cells)
    opened = wait_until(lambda: browser.execute_script(WHERE, fragment(ANCHOR)), 90, "ru/02 rendered")
    assert opened["text"].startswith("4. LocMemCache: один процесс или много")
    # Why the anchor is needed: the heading's own id is its Russian text, which a link cannot reach.
    assert opened["id"] == "4.-LocMemCache:-один-процесс-или-много"

    def offset() -> float | None:
        where = browser.execute_script(WHERE, fragment(ANCHOR))
        return where["offset"] if where else None  # None: ru/02 not in front yet

    offsets = []
    for _ in range(CLICKS_TO_LAND):
        activate_tab(browser, SOURCE.rsplit("/", 1)[-1])
        click_link(browser, LINK_TEXT)
        try:
            wait_until(lambda: 0 <= (offset() or -1) <= NEAR_TOP_PX, 15, "the heading near the top")
            return
        except TimeoutError:
            offsets.append(offset())
    pytest.fail(f"ru/02's heading never scrolled near the top: offsets {offsets} px")


# --- the Russian book ---------------------------------------------------------------------------
def test_russian_book_links_to_sections_exist_and_07s_link_scrolls(browser, book_url):  # noqa: F811
    """Every link of build/book/ru/ to a section of a page finds the id; one of 07's scrolls to it."""
    ru_pages = REPO_ROOT / "build" / "book" / "ru"
    ids = {page.name: set(re.findall(r' id="([^"]*)"', page.read_text())) for page in ru_pages.glob("*.html")}
    links = [
        (page.name, target, section)
        for page in ru_pages.glob("*.html")
        for target, section in re.findall(r'href="([\w.-]+\.html)#([^"]+)"', page.read_text())
    ]
    assert len(links) >= 30
    assert [link for link in links if link[2] not in ids.get(link[1], set())] == []

    browser.get(f"{book_url}ru/07-conclusion.html")
    link = browser.find_element(By.PARTIAL_LINK_TEXT, LINK_TEXT)
    page, section = urldefrag(link.get_attribute("href"))
    link.click()
    wait_until(lambda: browser.current_url.split("#")[0] == page, 30, "ru/02 in the book")
    top = browser.execute_script(
        "return document.getElementById(arguments[0]).getBoundingClientRect().top", section
    )
    heading = browser.find_element(By.ID, section).find_element(By.CSS_SELECTOR, "h1, h2, h3").text
    assert abs(top) <= NEAR_TOP_PX and heading.startswith("4. LocMemCache: один процесс или много")
