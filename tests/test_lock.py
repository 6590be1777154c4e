"""The per-base lock: concurrent writers serialised, readers never roll back a live update."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from cmoc.analyses import SimulationSpec, default_fit_path, save_fit, simulate_tables
from cmoc.cli import main
from cmoc.evidence import EvidenceError, load_evidence
from cmoc.evidence.append import plan_append
from cmoc.evidence.lock import LockError, writing

# Runs in a subprocess with the model fit replaced by an instant fake, so that updates run in
# seconds: the lock, the journal and the files are real, only sampling is left out.
FAKE_FIT = """
import importlib, sys, time
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import xarray as xr

import cmoc.analyses.fitting.reuse as pipeline
from cmoc.analyses.fitting.provenance import stamp

upd = importlib.import_module("cmoc.analyses.updating.update")
DELAY = float(sys.argv[1])


def fake_fit(evidence, config, sampler, *, progress=False):
    time.sleep(DELAY)
    zeros = np.zeros((1, 2))
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": (("chain", "draw"), zeros)})})
    return stamp(tree, evidence, config, asdict(sampler))


pipeline.fit = fake_fit
upd.change_report = lambda *a, **k: None
upd.check_convergence = lambda idata: SimpleNamespace(passed=True, text="fake fit")
"""

UPDATE = (
    FAKE_FIT
    + """
from cmoc.cli import main

sys.exit(main(sys.argv[2:]))
"""
)

# Commits a planned update, pausing (or hanging) in the middle of moving the files in place.
PAUSED_COMMIT = """
import os, sys, time
from pathlib import Path

from cmoc.evidence import load_evidence
from cmoc.evidence.append import apply_plan, plan_append

base, batch, signal, pause = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
plan = plan_append(load_evidence(base), batch)
real_replace = os.replace


def slow_replace(src, dst, *args, **kwargs):
    real_replace(src, dst, *args, **kwargs)
    if Path(dst) == base / "codings.csv":  # the first file moved in: the commit is half done
        signal.write_text("x")
        time.sleep(pause)


os.replace = slow_replace
apply_plan(base, plan)
"""

HOLD_WRITER = """
import sys, time
from pathlib import Path

from cmoc.evidence.lock import writing

with writing(sys.argv[1], "update"):
    Path(sys.argv[2]).write_text("held")
    time.sleep(float(sys.argv[3]))
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def _run(script: str, *args, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 60.0) -> None:
    start = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"helper ended early: {proc.communicate()}")
        if time.monotonic() - start > limit:
            raise AssertionError("helper never reached its signal")
        time.sleep(0.05)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def three_waves(out: Path) -> tuple[Path, Path, Path]:
    """A simulated base of its first wave, and its second and third waves as batches."""
    t = simulate_tables(SimulationSpec(mechanisms=2, cmocs=6, sources=24, waves=3), 5)
    src, cod = t["sources.csv"], t["codings.csv"]
    base = out / "base"
    base.mkdir(parents=True)
    toml = t["evidence.toml"].replace('"review", "wave2", "wave3"', '"review"')
    (base / "evidence.toml").write_text(toml)
    for name in ("mechanisms.csv", "cmocs.csv"):
        t[name].to_csv(base / name, index=False)
    batches = []
    later = set()
    for wave in ("wave2", "wave3"):
        ids = set(src.loc[src["wave"] == wave, "source_id"])
        later |= ids | {wave}
        batch = out / wave
        batch.mkdir()
        src[src["wave"] == wave].to_csv(batch / "sources.csv", index=False)
        cod[cod["source_id"].isin(ids | {wave})].to_csv(batch / "codings.csv", index=False)
        batches.append(batch)
    src[src["wave"] == "review"].to_csv(base / "sources.csv", index=False)
    cod[~cod["source_id"].isin(later)].to_csv(base / "codings.csv", index=False)
    return base, batches[0], batches[1]


def test_two_updates_at_once_keep_both_waves(tmp_path, capsys):
    base, second, third = three_waves(tmp_path)
    n_sources = len(load_evidence(base).sources)
    cmd = ["update", str(base), "--draws", "10", "--tune", "10", "--chains", "1"]
    procs = [_run(UPDATE, 1.0, *cmd, "--add", batch) for batch in (second, third)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    after = load_evidence(base)
    assert sorted(after.waves) == ["review", "wave2", "wave3"]
    added = sum(len(pd.read_csv(b / "sources.csv")) for b in (second, third))
    assert len(after.sources) == n_sources + added
    # the second waited for the first, and said for whom
    waited = [err for _, err in outs if "waiting for" in err]
    assert len(waited) == 1 and "pid " in waited[0] and "update" in waited[0]
    assert main(["validate", str(base)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("valid") and "WARNING" not in out
    assert "ledger: 3 waves recorded" in out
    assert not (base / ".cmoc" / "update-journal.json").exists()


def test_reader_does_not_roll_back_a_live_commit(tmp_path):
    base, second, _ = three_waves(tmp_path)
    signal = tmp_path / "signal"
    proc = _run(PAUSED_COMMIT, base, second, signal, 2.0)
    _wait_for(signal, proc)
    # the commit is half done (codings.csv moved in, the rest not yet): a load waits for it
    # instead of rolling it back, and then sees the whole update
    start = time.monotonic()
    seen = load_evidence(base)
    assert time.monotonic() - start > 0.5
    assert not seen.notes or "rolled back" not in " ".join(seen.notes)
    assert seen.waves == ["review", "wave2"]
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert load_evidence(base).waves == ["review", "wave2"]
    assert not (base / ".cmoc" / "update-journal.json").exists()


def test_a_killed_commit_is_rolled_back_by_the_next_load(tmp_path):
    base, second, _ = three_waves(tmp_path)
    before = _snapshot(base)
    signal = tmp_path / "signal"
    proc = _run(PAUSED_COMMIT, base, second, signal, 600.0)
    _wait_for(signal, proc)
    assert _snapshot(base) != before
    proc.kill()  # its locks go with it: the next load may recover
    proc.communicate()
    recovered = load_evidence(base)
    assert any("rolled back" in n for n in recovered.notes)
    assert _snapshot(base) == before


def test_second_writer_fails_naming_the_holder(tmp_path, capsys, monkeypatch):
    base, second, _ = three_waves(tmp_path)
    before = _snapshot(base)
    signal = tmp_path / "held"
    holder = _run(HOLD_WRITER, base, signal, 30)
    try:
        _wait_for(signal, holder)
        # readers do not wait for a writer
        start = time.monotonic()
        load_evidence(base)
        assert time.monotonic() - start < 5
        monkeypatch.setenv("CMOC_LOCK_TIMEOUT", "1")
        assert main(["update", str(base), "--add", str(second)]) == 2
        err = capsys.readouterr().err
        assert f"locked by pid {holder.pid}" in err and "[update]" in err
        assert "waiting for" in err and "CMOC_LOCK_TIMEOUT" in err
        assert "Traceback" not in err
        assert _snapshot(base) == before
    finally:
        holder.kill()
        holder.communicate()


def test_second_writer_waits_for_the_first(tmp_path, capsys):
    base, _, _ = three_waves(tmp_path)
    signal = tmp_path / "held"
    holder = _run(HOLD_WRITER, base, signal, 1.5)
    _wait_for(signal, holder)
    start = time.monotonic()
    with writing(base, "test", timeout=60):
        assert time.monotonic() - start > 0.5
    holder.communicate(timeout=60)
    assert f"pid {holder.pid}" in capsys.readouterr().err


def test_lock_timeout_zero_fails_at_once(tmp_path):
    base, _, _ = three_waves(tmp_path)
    signal = tmp_path / "held"
    holder = _run(HOLD_WRITER, base, signal, 30)
    try:
        _wait_for(signal, holder)
        with pytest.raises(LockError, match=f"pid {holder.pid}"), writing(base, timeout=0):
            pass
    finally:
        holder.kill()
        holder.communicate()


def _fake_fit(evidence):
    import numpy as np
    import xarray as xr

    from cmoc.analyses.fitting.provenance import stamp
    from cmoc.models import DEFAULT_CONFIG

    tree = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 2)))})}
    )
    return stamp(tree, evidence, DEFAULT_CONFIG, {})


def test_old_fit_is_not_saved_over_an_update(tmp_path):
    """A command that read the base before an update does not replace the update's fit."""
    from cmoc.analyses import fit_or_reuse
    from cmoc.evidence.append import apply_plan

    base, second, _ = three_waves(tmp_path)
    old = load_evidence(base)
    old_fit = _fake_fit(old)
    path = default_fit_path(base)
    save_fit(old_fit, path)  # the evidence is unchanged: saved
    # an update commits meanwhile, with its fit
    new = plan_append(old, second)
    apply_plan(base, new)
    new_fit = _fake_fit(load_evidence(base))
    save_fit(new_fit, path)
    saved = path.read_bytes()
    with pytest.raises(EvidenceError, match="changed while this fit was made"):
        save_fit(old_fit, path)
    with pytest.raises(EvidenceError, match="another cmoc command changed"):
        fit_or_reuse(old, path)  # refused before any sampling
    assert path.read_bytes() == saved
    # a fit saved elsewhere is the caller's business
    assert save_fit(old_fit, tmp_path / "old.nc").is_file()
