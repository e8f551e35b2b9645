"""The Russian edition: notebooks/ru/NN-….ipynb generated from the English notebooks and one catalog each.

A catalog (`notebooks/ru/catalog/<stem>.md`) holds one entry per English markdown cell, keyed by the
cell's id and the first 12 hex digits of the sha256 of the English text it translates (the format and
the glossary: docs/translations.md).
Generation replaces each English markdown cell's source by its entry and copies everything else (code
cells, outputs, metadata, ids, attachments) unchanged. Each translated heading keeps its English anchor
(cqlab.notebook.anchors), so links to a heading (`03a-….ipynb#4.-The-task-and-the-worker`) land in the
Russian edition as written. The check names each notebook and cell whose translation is missing, stale (the
English text changed since), orphaned (its cell is gone), a placeholder, or whose links, code spans or
source quotes («…») are not kept.

    python -m cqlab.notebook.translations             generate notebooks/ru/, then check (make translations)
    python -m cqlab.notebook.translations check       check only, write nothing
    python -m cqlab.notebook.translations scaffold STEM [--merge]
        write a catalog skeleton for notebooks/STEM.ipynb: headers, and the English text as a placeholder
        the check flags; --merge keeps an existing catalog's entries, adds the missing, drops orphans
"""

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cqlab.notebook.anchors import anchored, heading_lines
from cqlab.notebook.claims import heading_anchor
from cqlab.paths import NOTEBOOKS_DIR, REPO_ROOT

RU_DIR = NOTEBOOKS_DIR / "ru"
HEADER = re.compile(r"^<!-- cell: (?P<cell_id>\S+) \| en-sha256: (?P<sha>[0-9a-f]{12}) -->\s*$")
HEADER_START = "<!-- cell: "
UNTRANSLATED = re.compile(r"^<!-- untranslated: (?P<reason>.+) -->$")
PLACEHOLDER = "<!-- TRANSLATE: the English text below is a placeholder; replace it with the Russian -->"
# Markdown links and images: [text](target); the target ends at a space (a title) or ")".
LINK_TARGET = re.compile(r"\]\((?P<target>[^)\s]+)")
# What a translation keeps verbatim: inline code spans, and the source's Russian quotes «…»; not the
# English rendering of a quote (`> *"…"*`, which a translation drops), nor fenced code.
CODE_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
SOURCE_QUOTE = re.compile(r"«[^»]*»")
ENGLISH_RENDERING = re.compile(r'^>[ \t]*\*".*?"\*[ \t]*$', re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^[ \t]*(?:>[ \t]*)*(?:```|~~~)")
LINE_BREAK = re.compile(r"\n[ \t]*(?:>[ \t]*)*")  # a new line, and a blockquote's markers on it
PREAMBLE = """\
# Russian translation of notebooks/{stem}.ipynb

One entry per English markdown cell: a header with the cell's id and the sha256 (12 hex digits) of the
English text it translates, then the Russian text. After editing an English cell, `make translations`
names the stale entries; translate the change and put the new hash in the header.
Format and glossary: docs/translations.md.
"""


def english_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Entry:
    cell_id: str
    sha: str
    text: str  # the entry's body, blank lines at both ends stripped
    line: int  # the header's line number in the catalog (1-based)

    @property
    def untranslated_reason(self) -> str | None:
        match = UNTRANSLATED.match(self.text.strip())
        return match["reason"] if match else None

    @property
    def is_placeholder(self) -> bool:
        return PLACEHOLDER in self.text


@dataclass(frozen=True)
class Problem:
    notebook: str  # the English notebook's stem
    cell_id: str  # "" for a problem of the whole notebook
    kind: str  # missing-catalog, missing, stale, orphan, placeholder, empty, links, headings, verbatim,
    # malformed, code, outdated
    detail: str

    def __str__(self) -> str:
        where = f"{self.notebook} cell {self.cell_id}" if self.cell_id else self.notebook
        return f"{where}: {self.kind}: {self.detail}"


def catalog_path(stem: str, ru_dir: Path = RU_DIR) -> Path:
    return ru_dir / "catalog" / f"{stem}.md"


def _strip_blank_lines(lines: list[str]) -> str:
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def parse_catalog(text: str, stem: str = "") -> tuple[dict[str, Entry], list[Problem]]:
    """The entries by cell id, and the problems of the file's own shape (bad or duplicate headers)."""
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    current: tuple[str, str, int] | None = None
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        cell_id, sha, line = current
        if cell_id in entries:
            problems.append(Problem(stem, cell_id, "malformed", f"a second entry for the cell (line {line})"))
        else:
            entries[cell_id] = Entry(cell_id, sha, _strip_blank_lines(body), line)

    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(HEADER_START):
            close()
            body = []
            match = HEADER.match(line)
            if not match:
                problems.append(Problem(stem, "", "malformed", f"line {number}, not a valid header: {line}"))
                current = None
                continue
            current = (match["cell_id"], match["sha"], number)
        elif current is not None:
            body.append(line)
    close()
    return entries, problems


def markdown_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "markdown"]


def headings(markdown: str) -> list[str]:
    """The anchors Jupyter gives the headings of a markdown cell, in order (fenced code skipped)."""
    return [heading_anchor(match[2]) for match in heading_lines(markdown)]


def link_targets(markdown: str) -> set[str]:
    return {match["target"] for match in LINK_TARGET.finditer(markdown)}


def verbatim_parts(markdown: str) -> set[str]:
    """Code spans and source quotes, however the lines wrap (a blockquote's `>` markers dropped)."""
    lines, in_fence = [], False
    for line in ENGLISH_RENDERING.sub("", markdown).splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    text = LINE_BREAK.sub(" ", "\n".join(lines))
    return {" ".join(part.split()) for part in CODE_SPAN.findall(text) + SOURCE_QUOTE.findall(text)}


def russian_link_target(english_target: str) -> str:
    """Where an English link points from notebooks/ru/: repository files are one directory further up."""
    return "../" + english_target if english_target.startswith("../") else english_target


def translated_source(cell, entry: Entry | None) -> str:
    """The Russian source of one English markdown cell (the English one where no translation exists)."""
    if entry is None or entry.untranslated_reason is not None or not entry.text.strip():
        return cell.source
    return entry.text.replace(PLACEHOLDER, "").strip("\n")


def entry_faults(english: str, entry: Entry) -> list[tuple[str, str]]:
    """What an entry's text does not keep of its English cell: (kind, detail) pairs."""
    if entry.is_placeholder:
        return [("placeholder", "not translated")]
    if not entry.text.strip():
        return [("empty", "the entry has no text")]
    if entry.untranslated_reason is not None:
        return []
    faults = []
    expected = {russian_link_target(target) for target in link_targets(english)}
    if expected != (found := link_targets(entry.text)):
        faults.append(
            ("links", f"links lost {sorted(expected - found)}, not in the English {sorted(found - expected)}")
        )
    if len(headings(entry.text)) != len(headings(english)):  # a link to a heading would miss its twin
        faults.append(
            ("headings", f"{len(headings(entry.text))} headings, the English has {len(headings(english))}")
        )
    if lost := sorted(verbatim_parts(english) - verbatim_parts(entry.text)):
        faults.append(("verbatim", f"code spans or source quotes not kept verbatim: {lost[:3]}"))
    return faults


class Edition:
    """The English notebooks, their catalogs, and the Russian notebooks generated from both."""

    def __init__(self, english_dir: Path = NOTEBOOKS_DIR, ru_dir: Path = RU_DIR):
        self.english_dir, self.ru_dir = english_dir, ru_dir
        self.english = {path.stem: path for path in sorted(english_dir.glob("[0-9][0-9]*.ipynb"))}
        self.catalogs: dict[str, tuple[dict[str, Entry], list[Problem]]] = {}
        for stem in self.english:
            path = catalog_path(stem, ru_dir)
            if path.exists():
                self.catalogs[stem] = parse_catalog(path.read_text(encoding="utf-8"), stem)
        self._anchors: dict[str, dict[str, str]] | None = None

    def read_english(self, stem: str):
        return nbformat.read(self.english[stem], as_version=4)

    def anchor_map(self) -> dict[str, dict[str, str]]:
        """Per notebook file name: English heading anchor → the Jupyter anchor of the same heading in Russian
        (the book finds a section by it: book/conf.py)."""
        if self._anchors is None:
            self._anchors = {}
            for stem in self.catalogs:
                entries = self.catalogs[stem][0]
                mapping = self._anchors.setdefault(f"{stem}.ipynb", {})
                for cell in markdown_cells(self.read_english(stem)):
                    russian = translated_source(cell, entries.get(cell.get("id", "")))
                    mapping.update(zip(headings(cell.source), headings(russian), strict=False))
        return self._anchors

    def generate(self, stem: str):
        """The Russian notebook of `stem` (requires its catalog)."""
        notebook = self.read_english(stem)
        entries = self.catalogs[stem][0]
        for cell in markdown_cells(notebook):
            cell.source = anchored(cell.source, translated_source(cell, entries.get(cell.get("id", ""))))
        return notebook

    def generated_text(self, stem: str) -> str:
        return nbformat.writes(self.generate(stem)) + "\n"

    def write(self) -> list[Path]:
        """Write notebooks/ru/<stem>.ipynb for every notebook with a catalog; remove those without one."""
        self.ru_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for stem in self.english:
            target = self.ru_dir / f"{stem}.ipynb"
            if stem in self.catalogs:
                text = self.generated_text(stem)
                if not target.exists() or target.read_text(encoding="utf-8") != text:
                    target.write_text(text, encoding="utf-8")
                written.append(target)
            else:
                target.unlink(missing_ok=True)  # an English copy under a Russian name would mislead
        for stray in sorted(self.ru_dir.glob("*.ipynb")):
            if stray.stem not in self.english:
                stray.unlink()
        return written

    def catalog_problems(self, stem: str) -> list[Problem]:
        """Missing, stale, orphaned, placeholder and unfaithful entries of one notebook's catalog."""
        if stem not in self.catalogs:
            path = catalog_path(stem, self.ru_dir).relative_to(self.ru_dir.parent.parent)
            return [Problem(stem, "", "missing-catalog", f"no {path} (start one: {scaffold_command(stem)})")]
        entries, problems = self.catalogs[stem]
        problems = list(problems)
        cells = {cell.get("id", ""): cell for cell in self.read_english(stem).cells}
        for cell_id, cell in cells.items():
            if cell.cell_type != "markdown":
                continue
            first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
            if (entry := entries.get(cell_id)) is None:
                problems.append(Problem(stem, cell_id, "missing", f"no entry; English: {first_line!r}"))
                continue
            if entry.sha != (current := english_hash(cell.source)):
                detail = f"line {entry.line} has {entry.sha}, the English is now {current}: {first_line!r}"
                problems.append(Problem(stem, cell_id, "stale", detail))
            problems += [
                Problem(stem, cell_id, kind, f"line {entry.line}: {detail}")
                for kind, detail in entry_faults(cell.source, entry)
            ]
        for cell_id, entry in entries.items():
            if cell_id not in cells:
                problems.append(Problem(stem, cell_id, "orphan", f"line {entry.line}: no such cell any more"))
            elif cells[cell_id].cell_type != "markdown":
                problems.append(Problem(stem, cell_id, "orphan", f"line {entry.line}: that cell is code"))
        return problems

    def edition_problems(self, stem: str) -> list[Problem]:
        """The committed Russian notebook: code cells as in English, and exactly what generation gives."""
        committed = self.ru_dir / f"{stem}.ipynb"
        if stem not in self.catalogs:
            return []  # reported as missing-catalog
        if not committed.exists():
            return [Problem(stem, "", "outdated", f"no notebooks/ru/{committed.name}: make translations")]
        russian = nbformat.read(committed, as_version=4)
        english = self.read_english(stem)
        problems = []
        english_ids = [cell.get("id") for cell in english.cells]
        if [cell.get("id") for cell in russian.cells] != english_ids:
            problems.append(Problem(stem, "", "code", "the cells (ids, order) differ from the English ones"))
        else:
            for before, after in zip(english.cells, russian.cells, strict=True):
                if before.cell_type == "code" and before != after:
                    keys = [key for key in ("source", "outputs", "metadata") if before[key] != after.get(key)]
                    detail = f"differs from its English twin in {', '.join(keys) or 'type'}"
                    problems.append(Problem(stem, before.get("id", ""), "code", detail))
        if committed.read_text(encoding="utf-8") != self.generated_text(stem):
            detail = f"notebooks/ru/{committed.name} is not what generation gives: make translations"
            problems.append(Problem(stem, "", "outdated", detail))
        return problems

    def problems(self) -> list[Problem]:
        return [
            problem
            for stem in self.english
            for problem in self.catalog_problems(stem) + self.edition_problems(stem)
        ]

    def untranslated_on_purpose(self) -> list[tuple[str, str, str]]:
        return [
            (stem, entry.cell_id, entry.untranslated_reason)
            for stem, (entries, _) in self.catalogs.items()
            for entry in entries.values()
            if entry.untranslated_reason is not None
        ]


def scaffold_command(stem: str) -> str:
    return f".venv/bin/python -m cqlab.notebook.translations scaffold {stem}"


def scaffold(stem: str, merge: bool = False, edition: Edition | None = None) -> Path:
    """Write the catalog skeleton of one notebook: every markdown cell's header and a placeholder.

    With `merge`, an existing catalog's entries are kept as they are (a stale hash stays stale), entries
    for new cells are added as placeholders and entries whose cell is gone are dropped.
    """
    edition = edition or Edition()
    if stem not in edition.english:
        raise FileNotFoundError(f"no English notebook {stem}.ipynb in {edition.english_dir}")
    path = catalog_path(stem, edition.ru_dir)
    if path.exists() and not merge:
        raise FileExistsError(f"{path} exists: add --merge to keep its entries and add the missing ones")
    kept = edition.catalogs.get(stem, ({}, []))[0] if merge else {}
    preamble = PREAMBLE.format(stem=stem)
    if merge and path.exists():
        existing = path.read_text(encoding="utf-8")
        # Whatever precedes the first header line: nothing when the file starts with an entry.
        before = re.split(f"^{re.escape(HEADER_START)}", existing, maxsplit=1, flags=re.MULTILINE)[0]
        preamble = before.rstrip("\n") + "\n" if before.strip() else ""
    parts = [preamble] if preamble else []
    for cell in markdown_cells(edition.read_english(stem)):
        entry = kept.get(cell.id)
        sha = entry.sha if entry else english_hash(cell.source)
        text = entry.text if entry else f"{PLACEHOLDER}\n{cell.source}"
        parts.append(f"{HEADER_START}{cell.id} | en-sha256: {sha} -->\n{text}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def report(edition: Edition, problems: list[Problem]) -> str:
    lines = []
    translated = [stem for stem in edition.english if stem in edition.catalogs]
    lines.append(f"Russian edition: {len(translated)} of {len(edition.english)} notebooks have a catalog")
    for stem, cell_id, reason in edition.untranslated_on_purpose():
        lines.append(f"  kept in English on purpose: {stem} cell {cell_id}: {reason}")
    lines.extend(f"  {problem}" for problem in problems)
    lines.append("No problems." if not problems else f"{len(problems)} problems.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "generate"
    if command == "scaffold":
        stems = [arg for arg in argv[1:] if not arg.startswith("--")]
        if not stems:
            print(__doc__)
            return 2
        for stem in stems:
            print(scaffold(stem, merge="--merge" in argv).relative_to(REPO_ROOT))
        return 0
    edition = Edition()
    if command == "generate":
        for path in edition.write():
            print(path.relative_to(REPO_ROOT))
        edition = Edition()
    elif command != "check":
        print(__doc__)
        return 2
    problems = edition.problems()
    print(report(edition, problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
