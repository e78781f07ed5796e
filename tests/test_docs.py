"""The documentation cannot rot: every command line in README.md and docs/*.md parses with that command's
real parser (flags exist, choices are valid), every relative link and image resolves (headings included),
and the README's quick start is what CI runs. A renamed flag fails here instead of misleading a user."""

from __future__ import annotations

import argparse
import copy
import importlib
import re
import shlex
from pathlib import Path

import pytest
from conftest import REPO

from pix2pix_tf.core.errors import UserError

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CI_SCRIPT = REPO / ".ci" / "run"
# What a documented command runs -> the module whose build_parser() parses it.
MODULES = {
    "datasets/download.py": "pix2pix_tf.datasets.download",
    "datasets/combine_A_and_B.py": "pix2pix_tf.datasets.combine",
}
COMMAND = re.compile(r"(?:\.venv/bin/)?python3? (?:-m (pix2pix_tf(?:\.\w+)+)|(datasets/\w+\.py))(?=\s|$)(.*)")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$|\.\.\.")  # RUN, N, DIR, EXPORT_DIR, ...
SHELL_BREAKS = {"&&", "||", ";", "|", "&", ")"}
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def code_lines(text: str) -> list[str]:
    """Lines of fenced code blocks and inline code spans: where commands are written to be copied."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    lines = [re.sub(r"\s#.*$", "", line) for block in blocks for line in block.splitlines()]  # no comments
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", prose.replace("`\n", "` ").replace("\n", " "))
    return lines + spans


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(page, module, argv) for every command line of the pages."""
    found = []
    for page in PAGES:
        for line in code_lines(page.read_text()):
            for match in COMMAND.finditer(line):
                module = MODULES.get(match[1] or match[2], match[1] or match[2])
                if PLACEHOLDER.search(module.rsplit(".", 1)[-1]):
                    continue  # python -m pix2pix_tf.COMMAND: any command
                words = shlex.split(match[3], comments=True)
                cut = next((i for i, word in enumerate(words) if word in SHELL_BREAKS), len(words))
                found.append((page.name, module, words[:cut]))
    return found


def placeholder_tolerant(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser, except that a placeholder value (RUN, N, DIR) passes any flag's type: names are not values,
    but a flag that does not exist, a choice that is not offered or a missing required flag still fail."""
    parser = copy.deepcopy(parser)

    def wrap(convert):
        return lambda text: text if PLACEHOLDER.search(text) else convert(text)

    for action in parser._actions:
        if callable(action.type):
            action.type = wrap(action.type)
    return parser


def parse(module: str, argv: list[str]) -> None:
    parser = importlib.import_module(module).build_parser()
    if not argv or "--help" in argv or "-h" in argv:
        return  # the command's name in prose, or its help: the command exists
    placeholder_tolerant(parser).parse_args(argv)


COMMANDS = documented_commands()


def test_the_pages_document_every_command():
    modules = {module for _, module, _ in COMMANDS}
    assert {"pix2pix_tf.fit", "pix2pix_tf.evaluate", "pix2pix_tf.translate", "pix2pix_tf.export",
            "pix2pix_tf.judge", "pix2pix_tf.web_demo", "pix2pix_tf.datasets.download"} <= modules


COMMAND_IDS = [f"{page}:{module.split('.')[-1]}:{' '.join(argv)[:60]}" for page, module, argv in COMMANDS]


@pytest.mark.parametrize("page, module, argv", COMMANDS, ids=COMMAND_IDS)
def test_documented_command_parses(page, module, argv):
    try:
        parse(module, argv)
    except (UserError, SystemExit) as err:
        pytest.fail(f"{page}: `{module} {' '.join(argv)}` does not parse: {err}")


def test_a_wrong_flag_would_be_caught():
    for argv in (["--run-dir", "RUN", "--no-such-flag"], ["--run-dir", "RUN", "--inference", "sometimes"]):
        with pytest.raises(UserError):
            parse("pix2pix_tf.evaluate", argv)
    with pytest.raises(UserError):
        parse("pix2pix_tf.export", ["--run-dir", "RUN", "--out", "OUT", "--web-model", "none"])


def github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {github_anchor(heading) for heading in re.findall(r"^#+ (.+)$", text, flags=re.M)}


LINKS = [(page, target) for page in PAGES for found in LINK.findall(page.read_text()) for target in found
         if target and not re.match(r"[a-z]+://|mailto:", target)]


@pytest.mark.parametrize("page, target", LINKS, ids=[f"{p.name}->{t}" for p, t in LINKS])
def test_relative_links_and_images_resolve(page, target):
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.exists(), f"{page.name}: {target} does not exist"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"{page.name}: {target}: no such heading in {resolved.name}"


def quick_start_blocks() -> list[str]:
    section = REPO.joinpath("README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_the_readme_test_command_is_what_ci_runs():
    ci_lines = [line for line in CI_SCRIPT.read_text().splitlines() if line and not line.startswith(("#", "set ",
                                                                                                    "cd ", "export "))]
    assert ci_lines == [quick_start_blocks()[1]]
    assert "--durations=15" in ci_lines[0]


def test_the_readme_train_command_sets_up_as_ci_does_and_trains_on_the_builtin_data():
    from pix2pix_tf.fit import default_run_dir
    from pix2pix_tf.train.rundir import RunDir

    train = quick_start_blocks()[0]
    setup, _, command = train.rpartition(" && ")
    assert setup == 'python3 -m venv .venv && .venv/bin/pip install -e ".[cpu]"'
    assert command == ".venv/bin/python -m pix2pix_tf.fit"
    ci = quick_start_blocks()[1]
    assert "python3 -m venv .venv && .venv/bin/pip install -e \".[cpu," in ci
    examples = RunDir(default_run_dir("builtin")).examples
    readme = REPO.joinpath("README.md").read_text()
    assert f"python -m pix2pix_tf.translate --run-dir {default_run_dir('builtin')} {examples} " in readme, \
        "the README's translate example uses the inputs the quick start's run leaves"
    assert "source .venv/bin/activate" in readme


def test_the_readme_is_a_five_minute_read():
    assert len(REPO.joinpath("README.md").read_bytes()) < 12 * 1024


def test_the_papers_recipe_is_quoted_as_fit_sets_it():
    from pix2pix_tf.fit import paper_flags

    for page in (REPO / "README.md", REPO / "docs" / "paper.md"):
        text = " ".join(page.read_text().split())
        assert "--recipe paper" in text and f"`{paper_flags()}`" in text, f"{page.name} quotes another recipe"
