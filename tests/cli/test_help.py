"""``--help`` reads as people read: every command ends with examples and a documentation page that exists (its
anchor too), ranges are written in words, switches say on or off, and ``-v`` works after the command's name."""

import re

import pytest

from ripdetect.cli import SUBCOMMANDS, get_args_parser
from ripdetect.cli.examples import EXAMPLES
from tests.test_docs import ROOT, _anchors


def help_of(command: str) -> str:
    parser = get_args_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


@pytest.mark.parametrize("command", [name.replace("_", "-") for name in SUBCOMMANDS])
def test_every_command_has_examples_and_a_docs_page(command):
    text = help_of(command)
    assert "examples:\n  " in text and f"ripdetect {command}" in text.split("examples:")[1] or command == "train"
    page, _, anchor = EXAMPLES[command][0].partition("#")
    assert (ROOT / "docs" / page).is_file(), f"{command}: docs/{page} does not exist"
    assert not anchor or anchor in _anchors(ROOT / "docs" / page), f"{command}: docs/{page} has no #{anchor}"
    assert f"documentation: docs/{EXAMPLES[command][0]}" in text
    assert not re.search(r"\d e\+\d|\de\+\d", text), f"{command}: a number in scientific notation"
    assert "(default: False)" not in text and "(default: True)" not in text
    assert "a number in [" not in text


def test_ranges_and_switches_in_words():
    predict = " ".join(help_of("predict").split())
    assert "a share of the map's peak from 0 to 1 (fraction mode), or a percentile from 0 to 100" in predict
    assert "a number from 1 to 10,000,000,000 (default: 120,000,000)" in predict
    assert "(default: off)" in predict
    train = " ".join(help_of("train").split())
    assert "a number from 0 to 2,147,483,647 (default: 0)" in train and "rip/ and no_rip/ subfolders" in train


def test_verbose_after_the_command(cli, tmp_path):
    result = cli("predict", tmp_path / "missing.jpg", "-v")
    assert result.returncode == 1 and "no such file" in result.stdout  # the input's error, not a refused -v
