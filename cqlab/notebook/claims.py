"""Where the course settles each claim of the source, read from the notebooks' cell metadata.

A claim cell is a markdown cell that quotes `Claim Cn` and carries `"claims": {"Cn": "<verdict>"}`
in its metadata. Notebook 07's table and tests/unit/test_claims.py read them from here:

    rows = settling_cells()                       # one ClaimCell per (cell, claim), in course order
    markdown_table(rows, claim_ids())             # claim → verdict → link to the section
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from cqlab.paths import NOTEBOOKS_DIR, REPO_ROOT

VERDICTS = ("confirmed", "imprecise", "wrong", "measured")
# The source's claim list lives beside the repository (shared/source/claims.md), not in it.
SOURCE_CLAIMS = REPO_ROOT.parent / "shared" / "source" / "claims.md"
# The same IDs, for a checkout without shared/ (tests/unit/test_claims.py keeps the two in step).
COURSE_CLAIMS = [f"C{n}" for n in range(1, 39)]
CLAIM_ROW = re.compile(r"^\|\s*(C\d+)\s*\|", re.MULTILINE)
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
FENCED_CODE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)  # its `# comments` are no headings


@dataclass(frozen=True)
class ClaimCell:
    """One claim settled in one cell: where, with which verdict, under which heading."""

    claim: str  # "C14"
    notebook: str  # "02-django-caching.ipynb"
    cell_index: int
    verdict: str
    heading: str  # the nearest heading above the claim, as written ("" if none)
    quotes_claim: bool  # a markdown cell that contains "Claim C14"

    @property
    def link(self) -> str:
        """Relative link to the section, e.g. `02-django-caching.ipynb#4.-One-process-or-many`."""
        return f"{self.notebook}#{heading_anchor(self.heading)}" if self.heading else self.notebook


def claim_ids(path: Path = SOURCE_CLAIMS) -> list[str]:
    """The claim IDs of the source's claim list, in order (C1 … C38); COURSE_CLAIMS without it."""
    if not path.exists():
        return COURSE_CLAIMS
    return list(dict.fromkeys(CLAIM_ROW.findall(path.read_text())))


def claim_number(claim: str) -> int:
    return int(claim.lstrip("C"))


def heading_anchor(heading: str) -> str:
    """The anchor Jupyter gives a heading: its rendered text, spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"[`*]", "", text)  # code and emphasis marks are not rendered
    return text.strip().replace(" ", "-")


def settling_cells(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[ClaimCell]:
    """Every (cell, claim) pair with claim metadata in the course's notebooks, in course order."""
    rows = []
    for path in sorted(notebooks_dir.glob("[0-9][0-9]*.ipynb")):
        heading = ""
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            source = "".join(cell["source"])
            claims = cell.get("metadata", {}).get("claims", {})
            for claim, verdict in claims.items():
                rows.append(
                    ClaimCell(
                        claim=claim,
                        notebook=path.name,
                        cell_index=index,
                        verdict=verdict,
                        heading=_heading_above(source, f"Claim {claim}") or heading,
                        quotes_claim=cell["cell_type"] == "markdown"
                        and re.search(rf"Claim {claim}\b", source) is not None,
                    )
                )
            if cell["cell_type"] == "markdown" and (headings := _headings(source)):
                heading = headings[-1]
    return sorted(rows, key=lambda row: claim_number(row.claim))


def _heading_above(source: str, marker: str) -> str:
    """The last heading of a cell before `marker` (a claim cell may open its own section)."""
    position = source.find(marker)
    headings = _headings(source[: position if position >= 0 else 0])
    return headings[-1] if headings else ""


def _headings(markdown: str) -> list[str]:
    """The headings of a markdown text, in order (lines in fenced code blocks are not headings)."""
    return [text for _, text in HEADING.findall(FENCED_CODE.sub("", markdown))]


def markdown_table(rows: list[ClaimCell], claims: list[str]) -> str:
    """Claim → verdict → link to the evidence; a claim with no settling cell says so."""
    by_claim: dict[str, list[ClaimCell]] = {}
    for row in rows:
        by_claim.setdefault(row.claim, []).append(row)
    lines = ["| Claim | Verdict | Evidence |", "|---|---|---|"]
    for claim in claims:
        for row in by_claim.get(claim, []):
            title = (row.heading or row.notebook).replace("|", "\\|")  # a pipe would end the cell
            lines.append(f"| {claim} | {row.verdict} | [{row.notebook[:2]}: {title}]({row.link}) |")
        if claim not in by_claim:
            lines.append(f"| {claim} | *not settled yet* | |")
    return "\n".join(lines)


def settled(rows: list[ClaimCell], claims: list[str]) -> list[str]:
    """Claims settled exactly once, with a valid verdict, in a cell that quotes them."""
    found = [row.claim for row in rows]
    valid = [row.claim for row in rows if row.verdict in VERDICTS and row.quotes_claim]
    return [claim for claim in claims if found.count(claim) == 1 and claim in valid]
