"""A hostile or damaged shared base: nothing outside it is written, moved or deleted."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from cmoc.analyses import default_fit_path, save_fit
from cmoc.cli import main
from cmoc.evidence import load_evidence
from conftest import write_base

JOURNAL = ".cmoc/update-journal.json"


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root`` (links as their target, files as their bytes).

    The lock files a load creates in ``.cmoc/`` are left out.
    """
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if rel.startswith(".cmoc/lock"):
                continue
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                out[rel] = path.read_bytes()
            else:
                out[rel] = "dir"
    return out


@pytest.fixture
def shared(tmp_path):
    """A valid base, and beside it a folder of someone else's files."""
    base = write_base(
        tmp_path / "base",
        "source_id,kind,wave\nS1,review,w1\n",
        "source_id,target_id,stance,count\nS1,C1,supports,2\n",
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.txt").write_text("keep me")
    (outside / "codings.csv").write_text("not yours")
    (outside / ".owner").write_text("999999999")
    (base / ".cmoc").mkdir()
    return base, outside


def _journal(base: Path, doc) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (base / JOURNAL).write_text(text)


def _refused(base: Path, outside: Path, capsys, needle: str) -> None:
    """`cmoc validate` refuses with exit 2 naming the journal; nothing anywhere changes."""
    before_out, before_base = _tree(outside), _tree(base)
    assert main(["validate", str(base)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err
    assert _tree(outside) == before_out
    assert _tree(base) == before_base


def test_journal_naming_a_file_outside(shared, capsys):
    base, outside = shared
    _journal(base, {"state": "applying", "files": ["../outside/outside.txt"], "existed": []})
    _refused(base, outside, capsys, f"{JOURNAL}, column 'files', value '../outside/outside.txt'")


def test_journal_naming_an_absolute_path(shared, capsys):
    base, outside = shared
    victim = str(outside / "outside.txt")
    _journal(base, {"state": "applying", "files": [victim], "existed": []})
    _refused(base, outside, capsys, "one of the base's own evidence files")


def test_journal_moving_a_file_in_from_outside(shared, capsys):
    """A backup folder that is a link elsewhere: restoring would move someone's file in."""
    base, outside = shared
    (base / ".cmoc" / "backup").symlink_to(outside)
    _journal(base, {"state": "applying", "files": ["codings.csv"], "existed": ["codings.csv"]})
    _refused(base, outside, capsys, "backup")


def test_journal_over_a_linked_evidence_file(shared, capsys):
    base, outside = shared
    (base / "actions.csv").symlink_to(outside / "outside.txt")
    _journal(base, {"state": "applying", "files": ["actions.csv"], "existed": []})
    _refused(base, outside, capsys, "symbolic link")


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("{not json", f"{JOURNAL}:1: JSON written by cmoc update"),
        (b"\xff\xfe", "UTF-8 JSON"),
        ("[1, 2]", "a JSON object"),
        ({"state": "applying", "files": "codings.csv", "existed": []}, "a list of file names"),
        ({"state": "applying", "files": [1], "existed": []}, "a list of file names"),
        ({"state": "half", "files": [], "existed": []}, "'state'"),
        ({"state": "applying", "files": ["sources.csv"], "existed": ["codings.csv"]}, "existed"),
        ({"state": "applying", "files": ["..", "sources.csv"], "existed": []}, "value '..'"),
    ],
)
def test_garbled_journal_is_refused_and_nothing_touched(shared, capsys, doc, needle):
    base, outside = shared
    (base / ".cmoc" / "pending").mkdir()
    (base / ".cmoc" / "pending" / "codings.csv").write_text("staged")
    if isinstance(doc, bytes):
        (base / JOURNAL).write_bytes(doc)
    else:
        _journal(base, doc)
    _refused(base, outside, capsys, needle)


def test_journal_that_is_a_link_is_refused(shared, capsys):
    base, outside = shared
    (outside / "j.json").write_text(json.dumps({"state": "done", "files": [], "existed": []}))
    (base / JOURNAL).symlink_to(outside / "j.json")
    _refused(base, outside, capsys, "symbolic link")


def test_scratch_links_are_not_followed(shared):
    base, outside = shared
    (base / ".cmoc" / "update-evil").symlink_to(outside)  # its .owner names a dead process
    (base / ".cmoc" / "pending").symlink_to(outside)
    before = _tree(outside)
    load_evidence(base)
    assert _tree(outside) == before
    assert not (base / ".cmoc" / "update-evil").exists()  # the link itself is removed
    assert not os.path.lexists(base / ".cmoc" / "pending")


def test_linked_work_folder_is_refused(tmp_path, capsys):
    base = write_base(
        tmp_path / "base",
        "source_id,kind,wave\nS1,review,w1\n",
        "source_id,target_id,stance,count\nS1,C1,supports,2\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (base / ".cmoc").symlink_to(elsewhere)
    assert main(["validate", str(base)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


LABELS = ["w/../../../x", "..", ".", "/etc/passwd", "a\0b", "wave 🌊", "-rf", "x" * 300, "", "W"]


def test_wave_labels_never_leave_the_work_folder(shared):
    base, outside = shared
    before = _tree(outside)
    names = set()
    for label in LABELS:
        path = default_fit_path(base, label)
        assert path.parent == base / ".cmoc"
        assert re.fullmatch(r"fit-[A-Za-z0-9_-]{1,40}-[0-9a-f]{8}\.nc", path.name), path.name
        names.add(path.name)
    assert len(names) == len(LABELS)  # "W" and "w", ".." and ".": never one file for two
    assert default_fit_path(base, "w") != default_fit_path(base, "W")
    from test_lock import _fake_fit

    fit = _fake_fit(load_evidence(base))
    for label in LABELS[:3]:
        save_fit(fit, default_fit_path(base, label))
    assert _tree(outside) == before
    assert sorted(p.name for p in (base / ".cmoc").glob("fit-*.nc")) == sorted(
        default_fit_path(base, label).name for label in LABELS[:3]
    )


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x89HDF\r\n\x1a\n" + b"\0" * 100])
def test_truncated_fit_under_summary(shared, capsys, content):
    base, outside = shared
    fit = base / ".cmoc" / "fit.nc"
    fit.write_bytes(content)
    assert main(["summary", str(base)]) == 2
    err = capsys.readouterr().err
    assert str(fit) in err and "truncated or not netCDF: run cmoc fit again" in err, err
    assert "Traceback" not in err and "internal error" not in err
    copy = outside / "copy.nc"
    copy.write_bytes(content)
    assert main(["summary", str(copy), "--evidence", str(base)]) == 2
    err = capsys.readouterr().err
    assert str(copy) in err and "truncated or not netCDF" in err


def test_truncated_real_fit_under_summary(shared, capsys):
    base, _ = shared
    from test_lock import _fake_fit

    path = save_fit(_fake_fit(load_evidence(base)), default_fit_path(base))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert main(["summary", str(base)]) == 2
    assert "truncated or not netCDF" in capsys.readouterr().err
