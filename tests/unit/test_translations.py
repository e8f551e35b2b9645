"""The Russian edition is in step with the English one (no server needed).

For every English notebook: its catalog exists, every markdown cell has a current translation (no
missing, stale, orphaned or placeholder entry, the same links), and the committed notebooks/ru/ twin
is exactly what `make translations` generates, its code cells identical to the English ones. Each
failure names the notebook and the cell. The mechanism itself is tested on a small course made here.
"""

import shutil
from pathlib import Path

import nbformat
import pytest

from cqlab.notebook import editions, translations
from cqlab.notebook.translations import Edition, english_hash
from cqlab.paths import NOTEBOOKS_DIR

STEMS = sorted(path.stem for path in NOTEBOOKS_DIR.glob("[0-9][0-9]*.ipynb"))


@pytest.fixture(scope="module")
def edition() -> Edition:
    return Edition()


def failures(problems) -> str:
    return "\n".join(str(problem) for problem in problems)


@pytest.mark.parametrize("stem", STEMS)
def test_every_markdown_cell_has_a_current_translation(edition, stem):
    problems = edition.catalog_problems(stem)
    assert not problems, "make translations; then fix the catalog:\n" + failures(problems)


@pytest.mark.parametrize("stem", STEMS)
def test_committed_russian_notebook_is_what_generation_gives(edition, stem):
    problems = edition.edition_problems(stem)
    assert not problems, failures(problems)


def test_nothing_in_the_russian_edition_without_an_english_notebook():
    strays = [
        path.name
        for path in [*translations.RU_DIR.glob("*.ipynb"), *(translations.RU_DIR / "catalog").glob("*.md")]
        if path.stem not in STEMS
    ]
    assert not strays, f"no English notebook for {strays} (renamed? move the catalog, make translations)"


@pytest.mark.parametrize("stem", sorted(path.stem for path in translations.RU_DIR.glob("*.ipynb")))
def test_russian_student_edition_has_the_english_code_cells(stem, tmp_path):
    """`make student` in Russian: the same stubs and code as the English student edition."""
    (english,) = editions.write_editions([NOTEBOOKS_DIR / f"{stem}.ipynb"], tmp_path / "en")
    (russian,) = editions.write_editions([translations.RU_DIR / f"{stem}.ipynb"], tmp_path / "ru", "ru")
    english_cells = nbformat.read(english, as_version=4).cells
    russian_cells = nbformat.read(russian, as_version=4).cells
    assert [cell for cell in russian_cells if cell.cell_type == "code"] == [
        cell for cell in english_cells if cell.cell_type == "code"
    ]
    appendix = (tmp_path / "ru" / "solutions" / f"{stem}.md").read_text()
    assert appendix.startswith(f"# Решения: {stem}.ipynb")
    assert editions.language_of(translations.RU_DIR / f"{stem}.ipynb") == "ru"


# --- the mechanism, on a small course made here ------------------------------------------------------


def small_notebook(title: str, link: str = "") -> nbformat.NotebookNode:
    code = nbformat.v4.new_code_cell("print(6 * 7)", execution_count=1)
    code.outputs = [nbformat.v4.new_output("stream", text="42\n")]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\nSee [the code](../sandbox_project/x.py).{link}"),
        code,
        nbformat.v4.new_markdown_cell("## 1. The cache and the queue\n\nA **hit**: `cache.get` «как есть»."),
    ]
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell{number}"
    return notebook


RUSSIAN = {
    "cell0": "# {title_ru}\n\nСм. [код](../../sandbox_project/x.py).{link}",
    "cell2": "## 1. Кэш и очередь\n\n**Попадание**: `cache.get` «как\nесть».",
}


@pytest.fixture
def course(tmp_path) -> Path:
    """notebooks/ with 01-one and 02-two (02 links to a heading of 01), and a catalog for each."""
    english_dir = tmp_path / "notebooks"
    english_dir.mkdir()
    nbformat.write(small_notebook("One"), english_dir / "01-one.ipynb")
    link = " [Back](01-one.ipynb#1.-The-cache-and-the-queue)"
    nbformat.write(small_notebook("Two", link), english_dir / "02-two.ipynb")
    for stem, title_ru, link_ru in (("01-one", "Первый", ""), ("02-two", "Второй", " [Назад]" + link[7:])):
        write_catalog(english_dir, stem, {"cell0": RUSSIAN["cell0"].format(title_ru=title_ru, link=link_ru)})
    return english_dir


def write_catalog(english_dir: Path, stem: str, texts: dict[str, str], extra: str = "") -> None:
    notebook = nbformat.read(english_dir / f"{stem}.ipynb", as_version=4)
    entries = [
        f"<!-- cell: {cell.id} | en-sha256: {english_hash(cell.source)} -->\n{{texts}}\n"
        for cell in translations.markdown_cells(notebook)
    ]
    bodies = [texts.get(cell.id, RUSSIAN.get(cell.id)) for cell in translations.markdown_cells(notebook)]
    text = "Preamble, ignored.\n\n" + "\n".join(
        entry.replace("{texts}", body) for entry, body in zip(entries, bodies, strict=True)
    )
    path = translations.catalog_path(stem, english_dir / "ru")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + extra, encoding="utf-8")


def generated(english_dir: Path) -> Edition:
    Edition(english_dir, english_dir / "ru").write()
    return Edition(english_dir, english_dir / "ru")


def kinds(edition: Edition) -> list[tuple[str, str, str]]:
    return [(problem.notebook, problem.cell_id, problem.kind) for problem in edition.problems()]


def test_generated_edition_is_russian_markdown_and_english_code(course):
    edition = generated(course)
    assert kinds(edition) == []
    english = nbformat.read(course / "02-two.ipynb", as_version=4)
    russian = nbformat.read(course / "ru" / "02-two.ipynb", as_version=4)
    assert russian.cells[1] == english.cells[1]  # code, outputs, metadata, id
    assert russian.cells[0].source.startswith('<a id="Two"></a>\n\n# Второй')  # the title keeps its anchor
    assert "[код](../../sandbox_project/x.py)" in russian.cells[0].source
    # the link to 01's heading keeps its English anchor, which 01's Russian heading carries
    assert "[Назад](01-one.ipynb#1.-The-cache-and-the-queue)" in russian.cells[0].source
    heading = nbformat.read(course / "ru" / "01-one.ipynb", as_version=4).cells[2].source
    assert heading.startswith('<a id="1.-The-cache-and-the-queue"></a>\n\n## 1. Кэш и очередь')
    assert [cell.id for cell in russian.cells] == [cell.id for cell in english.cells]


def test_english_edit_without_translation_is_stale(course):
    generated(course)
    notebook = nbformat.read(course / "01-one.ipynb", as_version=4)
    notebook.cells[2].source += " A miss."
    nbformat.write(notebook, course / "01-one.ipynb")
    assert ("01-one", "cell2", "stale") in kinds(Edition(course, course / "ru"))


def test_missing_entry_orphan_entry_and_placeholder_are_named(course):
    write_catalog(course, "01-one", {"cell2": translations.PLACEHOLDER + "\nEnglish."})
    orphan = "\n<!-- cell: gone | en-sha256: 000000000000 -->\nСтарое.\n"
    write_catalog(course, "02-two", {}, extra=orphan)
    catalog = translations.catalog_path("02-two", course / "ru")
    catalog.write_text(catalog.read_text().replace("<!-- cell: cell2", "<!-- cell: cellX"))
    found = kinds(generated(course))
    assert ("01-one", "cell2", "placeholder") in found
    assert ("02-two", "cell2", "missing") in found
    assert ("02-two", "gone", "orphan") in found
    assert ("02-two", "cellX", "orphan") in found


def test_untranslated_on_purpose_keeps_english_and_passes(course):
    write_catalog(course, "01-one", {"cell2": "<!-- untranslated: a table of English identifiers -->"})
    edition = generated(course)
    assert kinds(edition) == []
    assert nbformat.read(course / "ru" / "01-one.ipynb", as_version=4).cells[2].source.startswith("## 1. The")
    assert edition.untranslated_on_purpose() == [("01-one", "cell2", "a table of English identifiers")]


def test_cell_kept_in_english_keeps_its_link_and_its_heading(course):
    write_catalog(course, "02-two", {"cell0": "<!-- untranslated: a list of commands -->"})
    generated(course)
    kept = nbformat.read(course / "ru" / "02-two.ipynb", as_version=4).cells[0].source
    assert kept.startswith("# Two") and "[Back](01-one.ipynb#1.-The-cache-and-the-queue)" in kept


def test_changed_link_is_named(course):
    write_catalog(course, "01-one", {"cell0": "# Первый\n\nСм. [код](../sandbox_project/x.py)."})
    assert ("01-one", "cell0", "links") in kinds(generated(course))


def test_code_span_or_source_quote_changed_is_named(course):
    write_catalog(course, "01-one", {"cell2": "## 1. Кэш и очередь\n\n**Попадание**: `кэш.get` «как есть»."})
    write_catalog(course, "02-two", {"cell2": "## 1. Кэш и очередь\n\n**Попадание**: `cache.get` «так»."}, "")
    found = kinds(generated(course))
    assert ("01-one", "cell2", "verbatim") in found and ("02-two", "cell2", "verbatim") in found


def test_heading_lost_is_named(course):
    write_catalog(course, "01-one", {"cell2": "Кэш и очередь. **Попадание**: `cache.get` «как есть»."})
    assert ("01-one", "cell2", "headings") in kinds(generated(course))


def test_russian_code_cell_edited_or_edition_not_regenerated(course):
    generated(course)
    path = course / "ru" / "01-one.ipynb"
    russian = nbformat.read(path, as_version=4)
    russian.cells[1].outputs[0].text = "41\n"
    nbformat.write(russian, path)
    found = kinds(Edition(course, course / "ru"))
    assert ("01-one", "cell1", "code") in found
    assert ("01-one", "", "outdated") in found


def test_missing_catalog_is_reported_not_skipped(course):
    translations.catalog_path("02-two", course / "ru").unlink()
    edition = generated(course)
    assert ("02-two", "", "missing-catalog") in kinds(edition)
    assert not (course / "ru" / "02-two.ipynb").exists()


def test_scaffold_writes_every_markdown_cell_as_a_placeholder_and_merge_keeps_entries(course):
    translations.catalog_path("02-two", course / "ru").unlink()
    edition = Edition(course, course / "ru")
    path = translations.scaffold("02-two", edition=edition)
    entries, problems = translations.parse_catalog(path.read_text(), "02-two")
    assert problems == [] and list(entries) == ["cell0", "cell2"]
    assert all(entry.is_placeholder for entry in entries.values())
    with pytest.raises(FileExistsError):
        translations.scaffold("02-two", edition=Edition(course, course / "ru"))
    path.write_text(path.read_text().replace(translations.PLACEHOLDER + "\n# Two", "# Второй", 1))
    merged = translations.scaffold("02-two", merge=True, edition=Edition(course, course / "ru"))
    entries, _ = translations.parse_catalog(merged.read_text(), "02-two")
    assert entries["cell0"].text.startswith("# Второй") and entries["cell2"].is_placeholder


def test_real_course_english_edit_is_caught(tmp_path):
    """On a scratch copy of the course: an English cell edited without its translation fails the check."""
    catalogs = sorted((translations.RU_DIR / "catalog").glob("*.md"))
    if not catalogs:
        pytest.fail("no catalog in notebooks/ru/catalog/")
    stem = catalogs[0].stem
    scratch = tmp_path / "notebooks"
    (scratch / "ru" / "catalog").mkdir(parents=True)
    shutil.copy(NOTEBOOKS_DIR / f"{stem}.ipynb", scratch)
    shutil.copy(catalogs[0], scratch / "ru" / "catalog")
    notebook = nbformat.read(scratch / f"{stem}.ipynb", as_version=4)
    cell = translations.markdown_cells(notebook)[-1]
    cell.source += "\n\nOne more English sentence."
    nbformat.write(notebook, scratch / f"{stem}.ipynb")
    assert (stem, cell.id, "stale") in kinds(Edition(scratch, scratch / "ru"))


def test_verbatim_parts_ignore_wrapping_fenced_code_and_the_dropped_english_rendering():
    quote = '> **C1** — «Кэш\n> быстрый» и `a\nb`\n> *"The cache is `fast`,\n> says the source."*'
    english = quote + "\n\n```\n`y`\n```"
    assert translations.verbatim_parts(english) == {"«Кэш быстрый»", "a b"}


def test_scaffold_merge_of_a_catalog_without_preamble_keeps_one_copy_of_each_entry(course):
    path = translations.catalog_path("02-two", course / "ru")
    without_preamble = path.read_text().split("\n", 2)[2]  # drop "Preamble, ignored." and its blank line
    path.write_text(without_preamble)
    merged = translations.scaffold("02-two", merge=True, edition=Edition(course, course / "ru"))
    assert merged.read_text() == without_preamble
