"""Sphinx + MyST-NB configuration of the course book (`make book`).

The pages are the committed, executed notebooks: nothing is re-executed and no server is needed.
`make book` copies index.md and notebooks/*.ipynb into build/book-src/ and builds build/book/.
"""

import re
from urllib.parse import unquote

from docutils import nodes

project = "Caching and task queues in Django"
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
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # a page without one makes the browser fetch a missing /favicon.ico


# Notebooks link to each other as Jupyter does (`03a-….ipynb#2.-Installing`: the heading's text,
# spaces as dashes). In the book those are pages, and sections have Sphinx's ids (`#installing`).
NOTEBOOK_LINK = re.compile(r"^(?P<page>[\w.-]+)\.ipynb(?:#(?P<anchor>.*))?$")


def notebook_links_to_pages(app, doctree, docname):
    for reference in doctree.findall(nodes.reference):
        if match := NOTEBOOK_LINK.match(reference.get("refuri", "")):
            anchor = match["anchor"]
            section = f"#{nodes.make_id(unquote(anchor).replace('-', ' '))}" if anchor else ""
            reference["refuri"] = f"{match['page']}.html{section}"


def setup(app):
    app.connect("doctree-resolved", notebook_links_to_pages)
