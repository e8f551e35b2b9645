"""Sphinx + MyST-NB configuration of the course book (`make book`).

The pages are the committed, executed notebooks: nothing is re-executed and no server is needed.
`make book` copies index.md and notebooks/*.ipynb into build/book-src/ and builds build/book/; then,
with BOOK_LANGUAGE=ru, index.ru.md and the Russian edition (notebooks/ru/*.ipynb) into build/book/ru/.
Every page has a language switch to the same page of the other book.
"""

import os
import re
from pathlib import Path
from urllib.parse import unquote

from docutils import nodes

from cqlab.notebook.claims import heading_anchor
from cqlab.notebook.translations import Edition

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
BOOK_LANGUAGE = os.environ.get("BOOK_LANGUAGE", "en")
EDITIONS = {  # per language: where its notebooks are, its title, the switch's words, the other book
    "en": {
        "notebooks": NOTEBOOKS_DIR,
        "project": "Caching and task queues in Django",
        "this_language": "English",
        "switch_heading": "Language / Язык",
        "other": "ru",
        "other_edition_root": "ru/",
    },
    "ru": {
        "notebooks": NOTEBOOKS_DIR / "ru",
        "project": "Кэширование и очереди задач в Django",
        "this_language": "Русский",
        "switch_heading": "Язык / Language",
        "other": "en",
        "other_edition_root": "../",
    },
}
edition, other = EDITIONS[BOOK_LANGUAGE], EDITIONS[EDITIONS[BOOK_LANGUAGE]["other"]]

project = edition["project"]
language = BOOK_LANGUAGE  # Sphinx's own words (search, navigation) and the search stemmer
author = "The course authors"
extensions = ["myst_nb"]
# Show the outputs stored in the notebooks; never run them (they need live Redis, Memcached, Celery).
nb_execution_mode = "off"
# Stored widget views (progress bars) would need require.js and the widget manager from a CDN:
# the book must work offline, so their text fallback is shown instead and no widget script loads.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}
myst_enable_extensions = ["colon_fence"]
exclude_patterns = ["_build", ".ipynb_checkpoints"]
html_theme = "alabaster"
html_title = project
html_theme_options = {"show_relbars": True}  # previous / next links above and below each page
templates_path = ["_templates"]
html_sidebars = {
    "**": ["about.html", "language-switch.html", "navigation.html", "relations.html", "searchbox.html"]
}
html_context = {
    "this_language": edition["this_language"],
    "switch_heading": edition["switch_heading"],
    "other_language": other["this_language"],
    "other_language_code": edition["other"],
    "other_edition_root": edition["other_edition_root"],
    # the pages the other book has: a notebook not translated yet links to that book's start page
    "other_edition_pages": ["index", "search", *(path.stem for path in other["notebooks"].glob("*.ipynb"))],
}
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # a page without one makes the browser fetch a missing /favicon.ico


# Notebooks link to each other as Jupyter does (`03a-….ipynb#2.-Installing`: the heading's text,
# spaces as dashes). In the book those are pages, and sections have Sphinx's ids (`#installing`; for a
# Russian title Sphinx makes `#id3`), found by the section's title. In the Russian book a link to an
# English heading (e.g. in notebook 07's generated table) goes to the same heading in Russian, and a
# link to a notebook not translated yet goes to the English book's page.
NOTEBOOK_LINK = re.compile(r"^(?P<page>[\w.-]+)\.ipynb(?:#(?P<anchor>.*))?$")
RUSSIAN_ANCHORS = Edition().anchor_map() if BOOK_LANGUAGE == "ru" else {}
_section_ids: dict[str, dict[str, str]] = {}


def section_ids(app, docname: str) -> dict[str, str]:
    """Jupyter's anchor of each section title of a page → the section's id in this book."""
    if docname not in _section_ids:
        doctree = app.env.get_doctree(docname)
        _section_ids[docname] = {
            heading_anchor(section[0].astext()): section["ids"][0]
            for section in doctree.findall(nodes.section)
            if section["ids"]
        }
    return _section_ids[docname]


def notebook_links_to_pages(app, doctree, docname):
    for reference in doctree.findall(nodes.reference):
        if not (match := NOTEBOOK_LINK.match(reference.get("refuri", ""))):
            continue
        page, anchor = match["page"], unquote(match["anchor"] or "")
        if page not in app.env.all_docs:  # not in this book: the other book's page (its ids are ASCII)
            section = f"#{nodes.make_id(anchor.replace('-', ' '))}" if anchor else ""
            reference["refuri"] = f"{edition['other_edition_root']}{page}.html{section}"
            continue
        anchor = RUSSIAN_ANCHORS.get(f"{page}.ipynb", {}).get(anchor, anchor)
        section_id = section_ids(app, page).get(anchor) if anchor else None
        reference["refuri"] = f"{page}.html" + (f"#{section_id}" if section_id else "")


def setup(app):
    app.connect("doctree-resolved", notebook_links_to_pages)
