"""Writing the report: its folder from a safe slug of the name, all files or none.

Fits are draws from the prior (``pymc.testing.mock_sample``, see ``test_escaping``): what is under
test is where and how the files are written.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from cmoc.cli import main
from cmoc.reports import report_slug
from evidence_fixtures import BASE_FILES, make_base
from test_escaping import TINY

REPORT = [*TINY, "--no-compare", "--no-plan"]


def _named(directory: Path, name: str) -> Path:
    toml = BASE_FILES["evidence.toml"].replace('name = "tiny"', f'name = "{name}"')
    return make_base(directory, **{"evidence.toml": toml})


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("ioc", "ioc"),
        ("tiny_base-2", "tiny_base-2"),
        ("../../x", f"x-{_hash('../../x')}"),
        ("/some/path", f"some-path-{_hash('/some/path')}"),
        ("IOC Study", f"ioc-study-{_hash('IOC Study')}"),
        ("Café ü", f"cafe-u-{_hash('Café ü')}"),
        ("..", f"report-{_hash('..')}"),
        ("a" * 80, f"{'a' * 48}-{_hash('a' * 80)}"),
    ],
)
def test_slug(name, slug):
    assert report_slug(name) == slug
    assert len(slug) <= 57


def test_names_that_look_alike_get_their_own_folders():
    names = ["a b", "a/b", "A B", "a-b", "a\\b", "a..b"]
    assert len({report_slug(n) for n in names}) == len(names)


@pytest.fixture(scope="module")
def escaping_base(tmp_path_factory, mocked_sampling):
    """A base named ``../../x``, reported once from a scratch working directory."""
    root = tmp_path_factory.mktemp("slug")
    base = _named(root / "a" / "b", "../../x")
    cwd = root / "a" / "b" / "work"
    cwd.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        assert main(["report", str(base), *REPORT]) == 0
    return root, base, cwd


def test_report_of_a_path_like_name_stays_in_reports_build(escaping_base):
    root, _, cwd = escaping_base
    folder = cwd / "reports" / "build" / f"x-{_hash('../../x')}"
    assert sorted(p.name for p in folder.iterdir()) == [
        "figures",
        "report.html",
        "report.md",
        "summary.csv",
        "summary.json",
    ]
    assert not (root / "x").exists() and not (root / "a" / "x").exists()
    assert not (cwd / "reports" / "x").exists()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _disk_full_on(call: int):
    """A ``_write_all`` that writes half of the ``call``-th file, then finds the disk full."""
    from cmoc.reports import build

    real = build._write_all
    calls = []

    def write(fd, data):
        calls.append(len(data))
        if len(calls) == call:
            real(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    return write


def test_disk_full_leaves_the_old_report_whole(escaping_base, tmp_path, monkeypatch, capsys):
    _, base, _ = escaping_base
    out = tmp_path / "out"
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    (out / "notes.txt").write_text("mine")  # not the report's: never touched
    for path in [*out.glob("*.*"), *out.glob("figures/*")]:
        if path.name != "notes.txt":  # an older report (a rebuild gives the same bytes)
            path.write_text(f"older {path.name}")
    before = _snapshot(out)
    capsys.readouterr()
    monkeypatch.setattr("cmoc.reports.build._write_all", _disk_full_on(3))
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 2
    err = capsys.readouterr().err
    assert (
        f"error: cannot write the report: no space left on device while writing "
        f"{out / 'summary.csv'}: nothing was changed"
    ) in err
    assert _snapshot(out) == before  # no half file, no temporary file left
    monkeypatch.undo()
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "report.md").read_text().startswith("older")
    assert sorted(_snapshot(out)) == sorted(before)


def test_disk_full_in_a_new_folder_leaves_no_folder(escaping_base, tmp_path, monkeypatch, capsys):
    _, base, _ = escaping_base
    out = tmp_path / "new" / "deeper" / "out"
    monkeypatch.setattr("cmoc.reports.build._write_all", _disk_full_on(1))
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 2
    assert "no space left on device while writing" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_file_is_refused(escaping_base, tmp_path, capsys):
    _, base, _ = escaping_base
    out = tmp_path / "file"
    out.write_text("x")
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 2
    assert f"not a folder while writing {out}: nothing was changed" in capsys.readouterr().err
    assert out.read_text() == "x"


def test_a_figures_folder_that_is_a_link_is_refused(escaping_base, tmp_path, capsys):
    """A ``figures`` link would let the report write outside the chosen folder: refused."""
    _, base, _ = escaping_base
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "figures").symlink_to(elsewhere, target_is_directory=True)
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 2
    err = capsys.readouterr().err
    assert f"not a folder while writing {out / 'figures'}: nothing was changed" in err
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == ["figures"]
