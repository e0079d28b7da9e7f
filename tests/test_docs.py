"""The docs cannot drift from the code nor point nowhere: the generated tables are what
docs/generate.py writes from the code today, every relative link and image of README.md and docs/
names a file that exists, and docs/index.md lists every page."""
import datetime
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: pages of issue 20 written on other branches, linked to before they land; once one exists its
#: entry must go (test_awaited_pages_are_still_awaited says so), so the allowance cannot outlive them
AWAITED: set[str] = set()


def load(name: str, path: Path):
    """A module of the clone by its file (docs/ and benchmarks/ are not in the installed package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = load("docs_generate", ROOT / "docs" / "generate.py")
RESULTS_FILES = load("results_files", ROOT / "benchmarks" / "results_files.py")


@pytest.mark.parametrize("path", list(GENERATE.targets()), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_generated_docs_are_what_the_code_generates_today(path):
    expected = GENERATE.targets()[path]()
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run `{GENERATE.REGENERATE}`"
    assert path.read_text(encoding="utf-8") == expected, \
        f"{path.relative_to(ROOT)} is out of date with the code: run `{GENERATE.REGENERATE}` and commit the result"


def test_the_drift_check_sees_a_changed_table(tmp_path, monkeypatch):
    """A generated file edited by hand (here: a rule's row dropped) is reported as stale."""
    rules = ROOT / "docs/reference/rules.md"
    copy = tmp_path / "rules.md"
    copy.write_text("\n".join(rules.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")
    monkeypatch.setattr(GENERATE, "targets", lambda: {copy: GENERATE.rules_md})
    assert GENERATE.stale() == [copy]


NIGHT = datetime.datetime(2026, 12, 3, 22, 15, 30)


def test_a_second_write_in_the_same_second_is_a_new_file_and_leaves_the_first_as_it_was(tmp_path):
    first = RESULTS_FILES.write_results("presets", "benchmarks.bench_presets", [], ["run 1"], tmp_path, NIGHT)
    second = RESULTS_FILES.write_results("presets", "benchmarks.bench_presets", [], ["run 2"], tmp_path, NIGHT)
    assert first != second
    assert first.read_text(encoding="utf-8") == "# `python -m benchmarks.bench_presets`\n\nrun 1\n"
    assert second.read_text(encoding="utf-8").endswith("run 2\n")


def test_the_newest_results_file_is_the_last_written_after_a_name_of_the_day_without_a_time(tmp_path):
    (tmp_path / "presets-2026-12-03.md").write_text("# `old`\n", encoding="utf-8")
    (tmp_path / "presets-2026-12-02.md").write_text("# `older`\n", encoding="utf-8")
    written = [RESULTS_FILES.write_results("presets", "benchmarks.bench_presets", ["--reps", "1"], [f"run {i}"],
                                           tmp_path, NIGHT) for i in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["presets-2026-12-02.md", "presets-2026-12-03.md",
                                                          *(p.name for p in written)]
    assert GENERATE.newest_result("presets", tmp_path) == written[-1]


def test_a_results_block_shows_the_newest_file_its_command_and_its_headings_under_the_page(tmp_path):
    (tmp_path / "suite-2026-11-22.md").write_text("# `python -m benchmarks`\n\nold\n", encoding="utf-8")
    newest = RESULTS_FILES.write_results("suite", "benchmarks", ["--suites", "step"],
                                         ["machine: M", "", "## Step time", "", "| a |"], tmp_path, NIGHT)
    start, end = GENERATE.RESULTS_BLOCKS["suite"]
    assert GENERATE.results_block("suite", tmp_path).splitlines() == [
        start, f"`python -m benchmarks --suites step` ([benchmarks/results/{newest.name}](../benchmarks/results/"
        f"{newest.name})):", "", "machine: M", "", "#### Step time", "", "| a |", end]


def test_the_command_table_lists_every_command():
    table = GENERATE.readme_table()
    for ctx, command in GENERATE.commands():
        assert f"`{ctx.command_path}" in table or command.commands, ctx.command_path   # groups: their members


def test_the_config_page_has_every_field_once():
    page = GENERATE.config_md()
    assert all(page.count(f"| `{name}` |") == 1 for name in GENERATE.C.FIELDS)


def markdown_targets(text: str) -> list[str]:
    """Targets of the links and images of a Markdown text, code left out."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return (re.findall(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
            + re.findall(r"(?:src|href)=\"([^\"]+)\"", text))


def relative_targets(page: Path) -> list[tuple[str, Path]]:
    """(target as written, the file it names) for each relative link or image of `page`."""
    found = []
    for target in markdown_targets(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):   # a URL, mailto:, an anchor
            continue
        found.append((target, (page.parent / target.split("#")[0]).resolve()))
    return found


def test_the_link_scan_finds_links_and_images_and_skips_code():
    text = "see [a](docs/a.md#part), ![pic](img/p.png \"t\"), <img src=\"x.gif\">, [web](https://e.org)\n" \
           "`[not](code.md)`\n```\n[nor](block.md)\n```\n"
    assert markdown_targets(text) == ["docs/a.md#part", "img/p.png", "https://e.org", "x.gif"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_names_a_file_that_exists(page):
    missing = [target for target, path in relative_targets(page)
               if not path.exists() and str(path.relative_to(ROOT)) not in AWAITED]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {', '.join(missing)}"


def test_awaited_pages_are_still_awaited():
    landed = sorted(p for p in AWAITED if (ROOT / p).exists())
    assert not landed, f"{', '.join(landed)} exist now: remove them from AWAITED in tests/test_docs.py"


def test_the_docs_index_lists_every_page():
    index = ROOT / "docs/index.md"
    listed = {path for _, path in relative_targets(index)}
    unlisted = [str(p.relative_to(ROOT)) for p in PAGES[1:] if p != index and p.resolve() not in listed]
    assert not unlisted, f"docs/index.md does not link to {', '.join(unlisted)}"
    assert index.resolve() in {path for _, path in relative_targets(ROOT / "README.md")}


def test_the_speed_suite_s_write_option_keeps_what_it_printed_in_a_new_suite_file(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT))   # benchmarks/ is a package of the clone, its modules import each other
    suite = importlib.import_module("benchmarks.__main__")
    monkeypatch.setattr(importlib.import_module("benchmarks.results_files"), "RESULTS", tmp_path)
    suite.main(["--suites", "cuda"])
    assert list(tmp_path.iterdir()) == []
    suite.main(["--suites", "cuda", "--write"])
    (written,) = tmp_path.iterdir()
    assert written.name.startswith("suite-")
    title, _, *body = written.read_text(encoding="utf-8").splitlines()
    assert title == "# `python -m benchmarks --suites cuda --write`"
    assert body and body[0].startswith("machine: ") and "\n".join(body) in capsys.readouterr().out


@pytest.mark.parametrize("module, argv, unknown", [("benchmarks.__main__", ["--suites", "step,stepp"], "stepp"),
                                                   ("benchmarks.bench_presets", ["--configs", "grid25,grid26"],
                                                    "grid26")])
def test_a_benchmark_asked_for_a_suite_or_config_it_does_not_have_says_so_instead_of_skipping_it(
        monkeypatch, capsys, module, argv, unknown):
    monkeypatch.syspath_prepend(str(ROOT))
    with pytest.raises(SystemExit) as exit:
        importlib.import_module(module).main(argv)
    assert exit.value.code == 2 and f"unknown {argv[0][2:-1]} {unknown}: choose from" in capsys.readouterr().err
