"""Updating an evidence base with a new wave: validation, atomicity, the ledger, what changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cmoc.analyses import (
    CHANGE_COLUMNS,
    SimulationSpec,
    default_fit_path,
    evidence_units,
    simulate_tables,
    update,
)
from cmoc.cli import main
from cmoc.evidence import EvidenceError, load_evidence
from cmoc.evidence.append import apply_plan, plan_append
from cmoc.evidence.ledger import check_ledger, read_ledger
from conftest import tiny_sampler

pytestmark = pytest.mark.usefixtures("mocked_sampling")  # wiring: fits drawn from the prior


def _split(out: Path, seed: int = 5) -> tuple[Path, Path]:
    """A simulated base of its first wave, and its second wave as a batch."""
    t = simulate_tables(SimulationSpec(mechanisms=3, cmocs=12, sources=60, waves=2), seed)
    src, cod = t["sources.csv"], t["codings.csv"]
    second = set(src.loc[src["wave"] != "review", "source_id"])
    is2 = cod["source_id"].isin(second) | (cod["source_id"] == "wave2")
    base, batch = out / "base", out / "batch"
    base.mkdir(parents=True)
    batch.mkdir()
    toml = t["evidence.toml"].replace('"review", "wave2"', '"review"')
    (base / "evidence.toml").write_text(toml)
    for name in ("mechanisms.csv", "cmocs.csv"):
        t[name].to_csv(base / name, index=False)
    src[src["wave"] == "review"].to_csv(base / "sources.csv", index=False)
    cod[~is2].to_csv(base / "codings.csv", index=False)
    src[src["wave"] != "review"].to_csv(batch / "sources.csv", index=False)
    cod[is2].to_csv(batch / "codings.csv", index=False)
    return base, batch


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def updated(tmp_path_factory):
    base, batch = _split(tmp_path_factory.mktemp("upd"))
    before = _snapshot(base)
    result = update(base, batch, sampler=tiny_sampler())
    return base, batch, before, result


def test_update_appends_a_wave(updated):
    base, _, before, result = updated
    after = load_evidence(base)
    assert after.waves == ["review", "wave2"]
    assert result.plan.added == {"sources.csv": 36, "codings.csv": result.plan.added["codings.csv"]}
    for name in ("mechanisms.csv", "cmocs.csv"):
        assert _snapshot(base)[name] == before[name]
    # earlier rows are kept byte for byte: the new file starts with the old one
    for name in ("sources.csv", "codings.csv"):
        assert _snapshot(base)[name].startswith(before[name])
    assert (base / ".cmoc" / "fit.nc").is_file() and default_fit_path(base, "review").is_file()
    assert not list((base / ".cmoc").glob("update-*"))
    # the fits behind the change report are checked, and tiny draws cannot pass the gate
    assert sum("WARNING: NOT CONVERGED" in m for m in result.messages) == 2


def test_change_report(updated):
    _, _, _, result = updated
    ch = result.changes
    assert list(ch.columns) == CHANGE_COLUMNS
    novel = ch[ch["status_before"].isna()]
    # the novel CMOCs first coded in wave 2 have no "before"
    assert set(novel["target_type"]) <= {"cmoc"}
    assert novel["support_after"].notna().all() and novel["shift"].isna().all()
    known = ch[ch["status_before"].notna()]
    assert (known["shift"] - (known["support_after"] - known["support_before"])).abs().max() < 1e-12
    # the units named as having moved a target most are all from the newest wave
    named = [p.split()[0] for text in ch["moved_most"] if text for p in text.split("; ")]
    assert named
    units = evidence_units(load_evidence(updated[0]))
    assert set(units.loc[named, "wave"]) == {"wave2"}


def test_ledger_records_and_detects_edits(updated, tmp_path):
    base, _, _, _ = updated
    entries = read_ledger(base)
    assert [(e.wave, e.file) for e in entries] == [
        ("review", "sources.csv"),
        ("review", "codings.csv"),
        ("wave2", "sources.csv"),
        ("wave2", "codings.csv"),
    ]
    assert check_ledger(load_evidence(base), entries) == []
    copy = tmp_path / "copy"
    shutil.copytree(base, copy)
    lines = (copy / "codings.csv").read_text().splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if i and ln.split(",")[3])
    row = lines[i].split(",")
    row[3] = str(int(row[3]) + 1)  # one more code on an early row
    lines[i] = ",".join(row)
    (copy / "codings.csv").write_text("".join(lines))
    problems = check_ledger(load_evidence(copy), read_ledger(copy))
    assert len(problems) == 1 and "wave 'review' changed" in problems[0]


def test_validate_shows_ledger(updated, capsys):
    base, _, _, _ = updated
    assert main(["validate", str(base)]) == 0
    assert "ledger: 2 waves recorded (review, wave2)" in capsys.readouterr().out


def test_same_batch_again_changes_nothing(updated):
    base, batch, _, _ = updated
    before = _snapshot(base)
    result = update(base, batch, sampler=tiny_sampler())
    assert result.plan.changes_nothing and result.changes is None
    assert _snapshot(base) == before


def _expect_refusal(base: Path, batch: Path, needle: str, file: str, line: int | None):
    before = _snapshot(base)
    with pytest.raises(EvidenceError) as err:
        update(base, batch, sampler=tiny_sampler())
    assert any(
        needle in str(p) and p.file.endswith(file) and (line is None or p.line == line)
        for p in err.value.problems
    ), err.value.problems
    assert _snapshot(base) == before
    assert not (base / ".cmoc").exists() or not any((base / ".cmoc").iterdir())


def test_bad_batch_is_refused_in_its_own_lines(tmp_path):
    base, batch = _split(tmp_path)
    cod = pd.read_csv(batch / "codings.csv", dtype=str, keep_default_na=False)
    cod.loc[2, "target_id"] = "C999"
    cod.to_csv(batch / "codings.csv", index=False)
    _expect_refusal(base, batch, "C999", "batch/codings.csv", 4)


def test_changed_source_is_refused(tmp_path):
    base, batch = _split(tmp_path)
    old = pd.read_csv(base / "sources.csv", dtype=str, keep_default_na=False).iloc[[0]]
    old = old.assign(wave="wave2", weight="0.9")
    src = pd.read_csv(batch / "sources.csv", dtype=str, keep_default_na=False)
    pd.concat([src, old]).to_csv(batch / "sources.csv", index=False)
    _expect_refusal(base, batch, "already in sources.csv", "batch/sources.csv", len(src) + 2)


def test_codes_for_an_earlier_wave_are_refused(tmp_path):
    base, batch = _split(tmp_path)
    with open(batch / "codings.csv", "a") as fh:
        fh.write("S0001,C001,supports,2,,\n")
    _expect_refusal(base, batch, "does not add codes to earlier waves", "codings.csv", None)


def test_existing_wave_label_is_refused(tmp_path):
    base, batch = _split(tmp_path)
    src = pd.read_csv(batch / "sources.csv", dtype=str, keep_default_na=False)
    src.assign(wave="review").to_csv(batch / "sources.csv", index=False)
    _expect_refusal(base, batch, "a new wave label", "batch/sources.csv", None)


def test_cli_update_bad_input_exit_2(tmp_path, capsys):
    base, batch = _split(tmp_path)
    (batch / "codings.csv").write_bytes(
        b"source_id,target_id,stance,count\nS0100,C001,supp\xe9,1\n"
    )
    before = _snapshot(base)
    assert main(["update", str(base), "--add", str(batch)]) == 2
    err = capsys.readouterr().err
    assert "batch/codings.csv:2" in err and "Traceback" not in err
    assert _snapshot(base) == before


def test_interrupted_write_is_rolled_back(tmp_path):
    base, batch = _split(tmp_path)
    before = _snapshot(base)
    plan = plan_append(load_evidence(base), batch)
    with pytest.raises(KeyboardInterrupt):
        apply_plan(base, plan, _crash_after=2)
    assert _snapshot(base) != before  # half-written on disk...
    recovered = load_evidence(base)  # ...until the next load rolls it back
    assert recovered.notes and "rolled back" in recovered.notes[0]
    assert _snapshot(base) == before
    assert not (base / ".cmoc" / "update-journal.json").exists()


def test_killed_update_leaves_the_base_as_it_was(tmp_path):
    """Kill `cmoc update` at several moments: the base is either untouched or fully updated."""
    outcomes = set()
    for delay in (0.5, 3.0, 8.0):
        base, batch = _split(tmp_path / f"k{delay}")
        before = _snapshot(base)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cmoc.cli",
                "update",
                str(base),
                "--add",
                str(batch),
                "--draws",
                "50",
                "--tune",
                "50",
                "--chains",
                "2",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
        after = load_evidence(base)
        if after.waves == ["review"]:
            assert _snapshot(base) == before
            outcomes.add("untouched")
        else:
            assert after.waves == ["review", "wave2"]
            outcomes.add("updated")
    assert "untouched" in outcomes


def test_summary_changes_view(updated, capsys):
    base, _, _, result = updated
    assert main(["summary", str(base), "--changes", "--format", "csv"]) == 0
    import io

    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(frame.columns) == CHANGE_COLUMNS
    expected = result.changes.round(4)
    assert frame["target_id"].tolist() == expected["target_id"].tolist()
    assert frame["status_after"].tolist() == expected["status_after"].tolist()
    assert main(["summary", str(base), "--changes", "--wave", "review"]) == 2
    assert "first wave" in capsys.readouterr().err


def test_scratch_of_a_killed_update_is_cleaned(tmp_path):
    base, _ = _split(tmp_path)
    stale = base / ".cmoc" / "update-dead"
    (stale / "base").mkdir(parents=True)
    (stale / ".owner").write_text("999999999")  # no such process
    alive = base / ".cmoc" / "update-alive"
    alive.mkdir()
    import os

    (alive / ".owner").write_text(str(os.getpid()))
    load_evidence(base)
    assert not stale.exists() and alive.exists()
