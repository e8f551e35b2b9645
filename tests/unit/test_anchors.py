"""The Russian edition's headings carry their English anchors, so every link to a section lands.

No server: the generation on small texts, then every link to a heading in the committed Russian
notebooks (catalog links and notebook 07's generated claims table) against the ids of its target.
"""

import html
import json
import re
from urllib.parse import unquote

import pytest

from cqlab.notebook.anchors import anchored, fragment, heading_lines
from cqlab.notebook.claims import heading_anchor
from cqlab.notebook.translations import RU_DIR


def test_a_translated_heading_gets_the_english_anchor_above_it():
    english = "## 4. The task and the worker\n\nText.\n\n### The queue\n\nMore."
    russian = "## 4. Задача и воркер\n\nТекст.\n\n### Очередь\n\nЕщё."
    assert anchored(english, russian) == (
        '<a id="4.-The-task-and-the-worker"></a>\n\n## 4. Задача и воркер\n\nТекст.\n\n'
        '<a id="The-queue"></a>\n\n### Очередь\n\nЕщё.'
    )


def test_a_heading_written_the_same_and_a_comment_in_code_get_nothing():
    english = "## django-redis\n\n```python\n# not a heading\n```"
    russian = "## django-redis\n\n```python\n# not a heading\n```\n\nПо-русски."
    assert anchored(english, russian) == russian
    assert [match[2] for match in heading_lines(russian)] == ["django-redis"]


def test_the_anchor_is_written_as_jupyterlab_receives_it_from_a_link():
    # a browser percent-encodes `"` and non-ASCII in a fragment; JupyterLab looks the encoded form up
    assert fragment('6.-"Small-objects":-Memcached\'s-limits') == "6.-%22Small-objects%22:-Memcached's-limits"
    assert fragment("01a-—-Redis,-live") == "01a-%E2%80%94-Redis,-live"
    assert fragment("4.-Задача") == "4.-%D0%97%D0%B0%D0%B4%D0%B0%D1%87%D0%B0"
    assert anchored('## 6. "Small objects" & more', "## 6. «Небольшие объекты» и другое").startswith(
        '<a id="6.-%22Small-objects%22-&amp;-more"></a>\n\n'
    )


# --- the committed edition ------------------------------------------------------------------------
NOTEBOOK_LINK = re.compile(
    r"\]\((?P<page>[\w.-]+\.ipynb)#(?P<anchor>[^)\s]+)\)|href=\"(?P<hpage>[\w.-]+\.ipynb)#(?P<hanchor>[^\"]+)\""
)
ANCHOR_ID = re.compile(r'<a id="([^"]*)"></a>')


def texts(notebook: dict) -> list[str]:
    """Markdown cells' sources and markdown/HTML outputs: where a learner clicks a link."""
    found = []
    for cell in notebook["cells"]:
        found.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            for kind in ("text/markdown", "text/html"):
                value = output.get("data", {}).get(kind, "")
                found.append("".join(value) if isinstance(value, list) else value)
    return found


def reachable_ids(notebook: dict) -> set[str]:
    """The fragments a link lands on in JupyterLab: anchors' ids; headings' ids that need no encoding."""
    ids = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        ids |= {html.unescape(anchor) for anchor in ANCHOR_ID.findall(source)}
        ids |= {
            anchor
            for match in heading_lines(source)
            if fragment(anchor := heading_anchor(match[2])) == anchor
        }
    return ids


RUSSIAN_NOTEBOOKS = sorted(RU_DIR.glob("[0-9][0-9]*.ipynb"))


@pytest.mark.skipif(not RUSSIAN_NOTEBOOKS, reason="no Russian edition generated")
def test_every_link_to_a_heading_in_the_russian_edition_lands():
    notebooks = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in RUSSIAN_NOTEBOOKS}
    ids = {name: reachable_ids(notebook) for name, notebook in notebooks.items()}
    links, missing = 0, []
    for name, notebook in notebooks.items():
        for text in texts(notebook):
            for match in NOTEBOOK_LINK.finditer(text):
                page = match["page"] or match["hpage"]
                anchor = unquote(html.unescape(match["anchor"] or match["hanchor"]))
                links += 1
                if fragment(anchor) not in ids.get(page, set()):
                    missing.append(f"{name} → {page}#{anchor}")
    assert links >= 30  # 07's claims table alone links 32 sections
    assert missing == []
