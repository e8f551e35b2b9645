"""Each translated heading keeps its English anchor, so a link to a section lands in the Russian edition.

JupyterLab gives a heading the id of its text, spaces as hyphens: `4.-Задача-и-воркер` for a Russian
heading. A link to that id does not scroll in JupyterLab: the browser percent-encodes a non-ASCII
fragment (`#4.-%D0%97…`) and JupyterLab looks it up as written, so it finds nothing. Generation puts
an empty `<a id="4.-The-task-and-the-worker"></a>` (the English heading's anchor) above the Russian
heading instead: JupyterLab's sanitizer keeps the id (as `data-jupyter-id`, where it looks a fragment
up), the book keeps it as written, and every link written for the English edition, notebook 07's
generated claims table included, lands on the same section in Russian. The catalogs stay the
translators' text: the anchors are added at generation only.
"""

import html
import re
from urllib.parse import quote

from cqlab.notebook.claims import FENCED_CODE, HEADING, heading_anchor

# What a browser percent-encodes in a URL's fragment (the URL standard's fragment set): JupyterLab is
# handed the encoded form, so a heading like `6. "Small objects"` is looked up as `6.-%22Small-objects%22`.
FRAGMENT_ENCODED = set(' "<>`')
# `<a id="…"></a>` on its own line, then a blank line: an HTML block of its own, so the heading below
# it stays a heading (an HTML block runs to the next blank line).
ANCHOR_LINE = '<a id="{anchor}"></a>'


def heading_lines(markdown: str) -> list[re.Match]:
    """The heading lines of a markdown text, in order; lines of fenced code are not headings."""
    fenced = [match.span() for match in FENCED_CODE.finditer(markdown)]
    return [
        match
        for match in HEADING.finditer(markdown)
        if not any(start <= match.start() < end for start, end in fenced)
    ]


def fragment(anchor: str) -> str:
    """The anchor as JupyterLab receives it from a clicked link `page.ipynb#<anchor>`."""

    def encoded(char: str) -> bool:
        return char in FRAGMENT_ENCODED or not char.isascii() or not char.isprintable()

    return "".join(quote(char, safe="") if encoded(char) else char for char in anchor)


def anchored(english: str, russian: str) -> str:
    """The Russian markdown with the English anchor above each heading whose own anchor differs.

    Headings pair up by position (the check `headings` makes sure both texts have as many).
    """
    english_anchors = [heading_anchor(match[2]) for match in heading_lines(english)]
    parts, position = [], 0
    for match, anchor in zip(heading_lines(russian), english_anchors, strict=False):
        if heading_anchor(match[2]) == anchor:
            continue  # a heading written the same in both (a name, a command): its own id is the anchor
        line = ANCHOR_LINE.format(anchor=html.escape(fragment(anchor), quote=False))
        parts += [russian[position : match.start()], line, "\n\n"]
        position = match.start()
    return "".join(parts) + russian[position:]
