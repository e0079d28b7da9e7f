"""The docs cannot drift from the code nor point nowhere: the generated tables are what
docs/generate.py writes from the code today, every relative link and image of README.md and docs/
names a file that exists, and docs/index.md lists every page."""
import datetime
import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import click
import pytest

from gandiag import config as C
from gandiag.cli import main, overrides

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


def shown_commands(text: str) -> list[str]:
    """The `gandiag ...` calls a Markdown text shows: the `$ ` lines and bare `gandiag` lines of its code
    blocks, and its inline code that starts with `gandiag ` (output lines are left out)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            lines.append(line.strip())
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    code = [line.removeprefix("$ ") for line in lines if line.startswith("$ ") or CALL.match(line)]
    return [shown for shown in code + spans if CALL.search(shown)]


#: where a call of the command line starts: `gandiag NAME`, `python -m gandiag NAME`, `torchrun ... -m gandiag NAME`,
#: and after `&&`, `;` or `(` of a shell line
CALL = re.compile(r"(?:^|[;&|(]\s*|-m )gandiag (?=-|[a-z])")


def unknown_words(shown: str) -> list[str]:
    """The commands and options of `shown` (a shell line) that gandiag's command line does not have; a
    placeholder in capitals (`gandiag --debug COMMAND`) stands for any command, `[--steps TOTAL]` for
    `--steps TOTAL`."""
    lexer = shlex.shlex(shown, posix=True, punctuation_chars="|&;()<>")
    lexer.whitespace_split = True
    words, segments = [], [[]]
    for word in lexer:
        if word and set(word) <= set("|&;()<>"):
            segments.append([])
        else:
            segments[-1].append(word.strip("[]"))
    for segment in segments:
        starts = [i + 1 for i, word in enumerate(segment) if word == "gandiag" and (i == 0 or segment[i - 1] == "-m")]
        if not starts:
            continue
        command, args = main, segment[starts[0]:]
        ctx = click.Context(main, info_name="gandiag")
        while True:
            try:
                _, args, _ = command.make_parser(ctx).parse_args(args)
            except click.NoSuchOption as e:
                words.append(f"{ctx.command_path} {e.option_name}")
                break
            except click.UsageError as e:   # an option without its value
                words.append(f"{ctx.command_path}: {e.message}")
                break
            if not isinstance(command, click.Group) or not args or re.fullmatch(r"[A-Z_.]+", args[0]):
                break
            name, *args = args
            command = command.get_command(ctx, name)
            if command is None:
                words.append(f"{ctx.command_path} {name}")
                break
            ctx = click.Context(command, info_name=name, parent=ctx)
    return words


def test_the_command_scan_finds_the_calls_and_sees_a_made_up_command_or_option():
    page = ("Train with `gandiag run ring8 --unroled 10`, then `gandiag.show(run)`.\n"
            "```\n$ gandiag analyze runs/a | head -1\nrun runs/a  status finished\n"
            "$ cd examples && python -m gandiag probe saturaton RUN\n$ (ulimit -v 9; gandiag animate RUN --fps)\n```\n"
            "    gandiag resume RUN [--steps TOTAL]\n    gandiag --debug COMMAND ...\n")
    shown = shown_commands(page)
    assert shown == ["gandiag analyze runs/a | head -1", "cd examples && python -m gandiag probe saturaton RUN",
                     "(ulimit -v 9; gandiag animate RUN --fps)", "gandiag resume RUN [--steps TOTAL]",
                     "gandiag --debug COMMAND ...", "gandiag run ring8 --unroled 10"]
    assert [unknown_words(s) for s in shown] == [
        [], ["gandiag probe saturaton"], ["gandiag animate: Option '--fps' requires an argument."], [], [],
        ["gandiag run --unroled"]]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_a_page_shows_has_the_commands_and_options_it_names(page):
    unknown = [f"{word} (in `{shown}`)" for shown in shown_commands(page.read_text(encoding="utf-8"))
               for word in unknown_words(shown)]
    assert not unknown, f"{page.relative_to(ROOT)} shows what gandiag's command line lacks: {'; '.join(unknown)}"


def shown_refusals(text: str) -> list[tuple[str, str]]:
    """(command, error line) for each `$ gandiag run NAME ...` of a code block that a shipped scenario names
    and the next line shows refused with `Error: ...`."""
    lines = [line.strip() for line in text.splitlines()]
    return [(line[2:], after) for line, after in zip(lines, lines[1:])
            if after.startswith("Error: ") and re.fullmatch(r"\$ gandiag run ([\w-]+)(?: --?[\w-]+(?: \S+)?)*", line)
            and line.split()[3] in C.scenario_names()]


def refused_now(shown: str) -> str | None:
    """The one line `shown` (a `gandiag run` of a shipped scenario) is refused with now, by the command line's
    parsing or by the config's validation; None where it gets past both (a later refusal: memory, the device).
    Nothing trains."""
    words = shlex.split(shown)[2:]
    root = click.Context(main, info_name="gandiag")
    try:
        params = main.get_command(root, "run").make_context("run", words, parent=root).params
        C.load_config(params.pop("scenario"), **overrides(params))
    except click.UsageError as e:
        return f"Error: {e.format_message()}"
    except C.ConfigError as e:
        return f"Error: {e}"
    return None


def test_the_refusal_check_finds_the_refused_runs_and_sees_a_stale_message():
    page = ("```\n$ gandiag run ring8 --d-lr -1\nError: d_lr = -1.0 is not allowed: expected a number > 0\n"
            "$ gandiag run mine.toml\nError: unknown key\n$ gandiag run ring8 --out \"\"\nError: Invalid value\n```\n")
    (lr, lr_line), (out, out_line) = shown_refusals(page)
    assert lr == "gandiag run ring8 --d-lr -1" and refused_now(lr) == \
        "Error: d_lr = -1.0 is not allowed: expected a number > 0 and <= 3.402823466e+38" != lr_line
    assert out == 'gandiag run ring8 --out ""' and out_line == "Error: Invalid value" and \
        refused_now(out) == "Error: Invalid value for '--out': is empty: give a path to write to."
    assert refused_now("gandiag run ring8 --steps 5") is None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_refused_run_a_page_shows_is_refused_with_the_line_it_shows(page):
    shown = shown_refusals(page.read_text(encoding="utf-8"))
    stale = [f"`{command}` says {now!r}, the page {line!r}" for command, line in shown
             if (now := refused_now(command)) is not None and now != line]
    assert not stale, f"{page.relative_to(ROOT)}: {'; '.join(stale)}"
