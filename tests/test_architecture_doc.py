"""The architecture documents kept true by a script.

Every module under ``src/cmoc`` (each ``.py`` file but ``__init__.py``, and each sub-package)
has a row in the module map of ARCHITECTURE.md, and every module the map names exists; every
relative Markdown link in ARCHITECTURE.md, CONTRIBUTING.md, README.md and ``docs/*.md`` resolves
to a file and, with ``#anchor``, to a heading of it (GitHub's heading ids). Markdown is parsed
with markdown-it-py (a dependency of rich), so code blocks and code spans are never read as
links.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cmoc"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
LINKED_DOCS = [
    ROOT / "ARCHITECTURE.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
MAP_HEADING = "Module map"

_MD = MarkdownIt("commonmark").enable("table")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _inline_text(token: Token) -> str:
    """The plain text of an inline token (code spans without their backticks)."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def heading_id(text: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading id of a Markdown file (repeated headings get ``-1``, ``-2``, ...)."""
    tokens = _MD.parse(path.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    out = set()
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            base = heading_id(_inline_text(tokens[i + 1]))
            out.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """``(line, href)`` of every link in a Markdown file (the line where its block starts)."""
    out = []
    for token in _MD.parse(path.read_text(encoding="utf-8")):
        if token.type != "inline":
            continue
        line = token.map[0] + 1 if token.map else 0
        for child in token.children or []:
            if child.type == "link_open":
                out.append((line, str(child.attrs.get("href", ""))))
    return out


def link_problems(path: Path, root: Path = ROOT) -> list[str]:
    """One message per relative link of ``path`` that does not resolve."""
    problems = []
    name = path.relative_to(root).as_posix()
    for line, href in links(path):
        if not href or _SCHEME.match(href) or href.startswith("//"):
            continue
        target_text, _, fragment = href.partition("#")
        target = (path.parent / target_text).resolve() if target_text else path
        where = f"{name}:{line}: link ({href})"
        if not target.exists():
            problems.append(f"{where}: no file {target_text!r} (relative to {name})")
        elif fragment:
            if target.suffix != ".md" or target.is_dir():
                problems.append(f"{where}: #{fragment} points into {target_text!r}, not Markdown")
            elif fragment not in anchors(target):
                problems.append(
                    f"{where}: no heading with id #{fragment} in "
                    f"{target.relative_to(root).as_posix()} (ids: {sorted(anchors(target))})"
                )
    return problems


def map_names(architecture: Path) -> list[str]:
    """The module paths (code spans) in the first column of the module-map table."""
    tokens = _MD.parse(architecture.read_text(encoding="utf-8"))
    start = None
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and _inline_text(tokens[i + 1]) == MAP_HEADING:
            start = i
            break
    assert start is not None, f"{architecture.name}: no heading '{MAP_HEADING}'"
    names: list[str] = []
    in_table = first_cell = False
    for i in range(start + 2, len(tokens)):
        token = tokens[i]
        if token.type == "heading_open":
            break
        if token.type == "tbody_open":
            in_table = True
        elif token.type == "tbody_close":
            break
        elif in_table and token.type == "tr_open":
            first_cell = True
        elif in_table and token.type == "td_open" and first_cell:
            first_cell = False
            names += [
                child.content
                for child in tokens[i + 1].children or []
                if child.type == "code_inline"
            ]
    assert names, f"{architecture.name}: no table with module names under '{MAP_HEADING}'"
    return names


def modules(package: Path) -> list[str]:
    """Every module (``x/y.py``) and sub-package (``x/``) under ``package``, relative to it."""
    out = []
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package).as_posix()
        if path.name == "__init__.py":
            if path.parent != package:
                out.append(rel.removesuffix("__init__.py"))
        else:
            out.append(rel)
    return out


def map_problems(architecture: Path, package: Path) -> list[str]:
    """One message per module missing from the map and per name of the map that does not exist."""
    names = map_names(architecture)
    listed = set(names)
    shown = package.relative_to(ROOT).as_posix() if package.is_relative_to(ROOT) else package.name
    problems = [
        f"{architecture.name}, '{MAP_HEADING}': {shown}/{module} is not in the table "
        f"(add a row `{module}`)"
        for module in modules(package)
        if module not in listed
    ]
    for name in names:
        path = package / name
        exists = path.is_dir() if name.endswith("/") else path.is_file()
        if not exists:
            problems.append(
                f"{architecture.name}, '{MAP_HEADING}': `{name}` names no "
                f"{'package' if name.endswith('/') else 'file'} {shown}/{name} "
                "(moved or removed? update the row)"
            )
    return problems


def test_module_map_lists_every_module_and_only_existing_ones():
    problems = map_problems(ARCHITECTURE, PACKAGE)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LINKED_DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    problems = link_problems(path)
    assert not problems, "\n".join(problems)


def test_the_link_check_finds_every_kind_of_broken_link(tmp_path):
    (tmp_path / "b.md").write_text("# Title\n\n## Concurrency: the lock (`cmoc.lock`)\n")
    a = tmp_path / "a.md"
    a.write_text(
        "# Here\n\n## Here\n\n"
        "[ok](b.md#concurrency-the-lock-cmoclock) [ok](#here-1) [ok](https://x.org/#y)\n\n"
        "[gone](missing.md)\n[bad anchor](b.md#nope)\n\n"
        "`[not a link](missing.md)`\n\n```\n[nor this](missing.md)\n```\n"
    )
    assert link_problems(a, tmp_path) == [
        "a.md:7: link (missing.md): no file 'missing.md' (relative to a.md)",
        "a.md:7: link (b.md#nope): no heading with id #nope in b.md "
        "(ids: ['concurrency-the-lock-cmoclock', 'title'])",
    ]


def test_the_map_check_names_missing_and_stale_modules(tmp_path):
    package = tmp_path / "cmoc"
    (package / "sub").mkdir(parents=True)
    for name in ("__init__.py", "kept.py", "new.py", "sub/__init__.py", "sub/inner.py"):
        (package / name).write_text("")
    doc = tmp_path / "ARCHITECTURE.md"
    doc.write_text(
        "# A\n\n## Module map\n\n| module | what |\n|---|---|\n"
        "| `kept.py` | kept (`not/a/module.py` in the second column is ignored) |\n"
        "| `sub/inner.py`, `gone.py` | two |\n| `old/` | a package that went |\n\n"
        "## Conventions\n\n| `new.py` | after the map: not counted |\n|---|---|\n"
    )
    assert map_problems(doc, package) == [
        "ARCHITECTURE.md, 'Module map': cmoc/new.py is not in the table (add a row `new.py`)",
        "ARCHITECTURE.md, 'Module map': cmoc/sub/ is not in the table (add a row `sub/`)",
        "ARCHITECTURE.md, 'Module map': `gone.py` names no file cmoc/gone.py "
        "(moved or removed? update the row)",
        "ARCHITECTURE.md, 'Module map': `old/` names no package cmoc/old/ "
        "(moved or removed? update the row)",
    ]
