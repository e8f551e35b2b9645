"""Every claim of the source is settled exactly once across the notebooks (no server needed).

A settling cell is a markdown cell quoting `Claim Cn`, with `"claims": {"Cn": "<verdict>"}` in its
metadata (cqlab.notebook.claims reads them; notebook 07's table is built from the same rows).
"""

import nbformat
import pytest

from cqlab.notebook import claims

SOURCE_CLAIMS = claims.SOURCE_CLAIMS  # REPO_ROOT.parent / "shared" / "source" / "claims.md"
CELLS = claims.settling_cells()


def test_the_course_claim_ids_are_those_of_the_source():
    if not SOURCE_CLAIMS.exists():
        pytest.skip(f"{SOURCE_CLAIMS} is absent: cannot read the source's claim IDs to compare")
    assert claims.claim_ids(SOURCE_CLAIMS) == claims.COURSE_CLAIMS


@pytest.mark.parametrize("claim", claims.claim_ids(SOURCE_CLAIMS))
def test_claim_is_settled_exactly_once_with_a_valid_verdict(claim):
    cells = [cell for cell in CELLS if cell.claim == claim]
    where = ", ".join(f"{cell.notebook} cell {cell.cell_index}" for cell in cells) or "no cell"
    assert len(cells) == 1, f"{claim} has {len(cells)} settling cells ({where}); exactly one expected"
    [cell] = cells
    assert cell.verdict in claims.VERDICTS, (
        f"{claim} in {where}: verdict {cell.verdict!r} not in {claims.VERDICTS}"
    )
    assert cell.quotes_claim, f"{claim} in {where}: the cell is not markdown quoting 'Claim {claim}'"


# --- the reader itself, on a small course written here ----------------------------------------
def write_notebook(path, cells):
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


@pytest.fixture
def course(tmp_path):
    md = nbformat.v4.new_markdown_cell
    write_notebook(
        tmp_path / "01-first.ipynb",
        [
            md("# 01 — First\n\n## 1. The `cache` API\n\n```python\n# a comment, not a heading\n```"),
            md("> **Claim C2** — quoted", metadata={"claims": {"C2": "confirmed"}}),
            md("## 2. Second section\n\n> **Claim C1** — quoted", metadata={"claims": {"C1": "wrong"}}),
        ],
    )
    write_notebook(
        tmp_path / "02-second.ipynb",
        [
            md("## Twice\n\n> Claim C2 again", metadata={"claims": {"C2": "imprecise"}}),
            md("no quote here", metadata={"claims": {"C3": "confirmed"}}),
            md("## Bad verdict\n\nClaim C4", metadata={"claims": {"C4": "true"}}),
        ],
    )
    return tmp_path


def test_rows_carry_verdict_heading_and_link(course):
    rows = claims.settling_cells(course)
    assert [(row.claim, row.notebook, row.verdict) for row in rows] == [
        ("C1", "01-first.ipynb", "wrong"),
        ("C2", "01-first.ipynb", "confirmed"),
        ("C2", "02-second.ipynb", "imprecise"),
        ("C3", "02-second.ipynb", "confirmed"),
        ("C4", "02-second.ipynb", "true"),
    ]
    first = rows[1]
    assert first.heading == "1. The `cache` API"  # the heading of the cell above
    assert first.link == "01-first.ipynb#1.-The-cache-API"
    assert rows[0].link == "01-first.ipynb#2.-Second-section"  # the cell's own heading


def test_only_single_valid_quoted_claims_count_as_settled(course):
    rows = claims.settling_cells(course)
    assert claims.settled(rows, ["C1", "C2", "C3", "C4", "C5"]) == ["C1"]


def test_the_table_lists_every_claim(course):
    table = claims.markdown_table(claims.settling_cells(course), ["C1", "C5"])
    assert "| C1 | wrong | [01: 2. Second section](01-first.ipynb#2.-Second-section) |" in table
    assert "| C5 | *not settled yet* | |" in table
    assert len(table.splitlines()) == 2 + 2  # header, rule, one row per claim
