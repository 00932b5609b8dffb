"""The documentation holds together: the MkDocs site (mkdocs.yml, docs/, the API reference from the docstrings)
builds in strict mode without a warning, and every relative link and image in README.md points at a file of the
repository, and at a heading of that file where the link names an anchor."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
CUSTOM_ID = re.compile(r"\{[^}]*#([\w-]+)[^}]*\}\s*$")


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks, with code spans kept as plain text (their backticks dropped)."""
    return CODE_SPAN.sub(lambda m: m.group(0)[len(m.group(1)):-len(m.group(1))], FENCE.sub("", markdown))


def _anchor(heading: str) -> str:
    """The id MkDocs' toc extension gives a heading: its text lowercased, punctuation but hyphens and underscores
    dropped, runs of spaces and hyphens made one hyphen."""
    custom = CUSTOM_ID.search(heading)
    if custom:
        return custom.group(1)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading counts by its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    return {_anchor(heading) for heading in HEADING.findall(_prose(path.read_text(encoding="utf-8")))}


def _relative_links(markdown: str) -> list[str]:
    targets = [target for _, target in LINK.findall(_prose(markdown))]
    return [t for t in targets if not re.match(r"^(https?:|mailto:|#)", t)]


@pytest.mark.slow
@pytest.mark.system
def test_the_docs_site_builds_strict_without_warnings(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert not warnings, "mkdocs build warned:\n" + "\n".join(warnings)
    assert (tmp_path / "site" / "index.html").is_file(), "the build wrote no index.html"
    assert (tmp_path / "site" / "reference" / "index.html").is_file(), "the API reference page was not built"


def test_every_readme_link_and_image_resolves():
    readme = ROOT / "README.md"
    links = _relative_links(readme.read_text(encoding="utf-8"))
    assert links, "README.md has no relative links: the Documentation list is missing"
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (readme.parent / path).resolve()
        if not target.is_file():
            broken.append(f"{link}: no such file {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: {path} has no heading with the anchor #{anchor} "
                          f"(it has {sorted(_anchors(target))})")
    assert not broken, "README.md links that do not resolve:\n" + "\n".join(broken)

