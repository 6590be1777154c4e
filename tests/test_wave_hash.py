"""An earlier wave's evidence keeps its hash when later waves arrive, so its fit is reused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cmoc.analyses import SimulationSpec, simulate_tables
from cmoc.evidence import load_evidence
from cmoc.evidence.append import apply_plan, plan_append

pytestmark = pytest.mark.usefixtures("mocked_sampling")  # wiring: fits drawn from the prior


def _split(out: Path) -> tuple[Path, Path]:
    """A simulated base of its first wave, and its second wave as a batch."""
    t = simulate_tables(SimulationSpec(mechanisms=3, cmocs=12, sources=40, waves=2), 11)
    src, cod = t["sources.csv"], t["codings.csv"]
    second = set(src.loc[src["wave"] != "review", "source_id"])
    is2 = cod["source_id"].isin(second) | (cod["source_id"] == "wave2")
    base, batch = out / "base", out / "batch"
    base.mkdir(parents=True)
    batch.mkdir()
    (base / "evidence.toml").write_text(t["evidence.toml"].replace('"review", "wave2"', '"review"'))
    t["mechanisms.csv"].to_csv(base / "mechanisms.csv", index=False)
    # novel CMOCs first coded in the second wave arrive with it, as they would in a real update
    cmocs, first = t["cmocs.csv"], set(cod.loc[~is2, "target_id"])
    late = (cmocs["origin"] == "novel") & ~cmocs["cmoc_id"].isin(first)
    assert late.any()
    cmocs[~late].to_csv(base / "cmocs.csv", index=False)
    cmocs[late].to_csv(batch / "cmocs.csv", index=False)
    src[src["wave"] == "review"].to_csv(base / "sources.csv", index=False)
    cod[~is2].to_csv(base / "codings.csv", index=False)
    src[src["wave"] != "review"].to_csv(batch / "sources.csv", index=False)
    cod[is2].to_csv(batch / "codings.csv", index=False)
    return base, batch


@pytest.fixture
def appended(tmp_path):
    base, batch = _split(tmp_path)
    before = load_evidence(base)
    apply_plan(base, plan_append(before, batch))
    return base, before, load_evidence(base)


def test_earlier_wave_keeps_its_hash_after_an_update(appended):
    _, before, after = appended
    assert after.waves == ["review", "wave2"]
    assert after.evidence_hash != before.evidence_hash
    # the whole base as it was, and the first wave cut from the base as it is, are one evidence
    assert after.up_to("review").evidence_hash == before.evidence_hash
    assert after.up_to("review").evidence_hash == before.up_to("review").evidence_hash


def test_editing_the_earlier_wave_changes_its_hash(appended):
    base, before, _ = appended
    codings = pd.read_csv(base / "codings.csv", dtype=str, keep_default_na=False)
    exact = codings["source_id"].isin(before.sources.index) & (codings["count"] != "")
    row = codings.index[exact][0]  # an exact count of a first-wave source
    codings.loc[row, "count"] = str(int(codings.loc[row, "count"]) + 1)
    codings.to_csv(base / "codings.csv", index=False)
    assert load_evidence(base).up_to("review").evidence_hash != before.evidence_hash


def test_resaving_a_file_with_the_same_content_keeps_the_hash(appended):
    base, _, after = appended
    text = (base / "mechanisms.csv").read_text()
    (base / "mechanisms.csv").write_text(text.replace("\n", "\r\n") + "\n\n")
    assert load_evidence(base).evidence_hash == after.evidence_hash


def test_update_reuses_the_fit_of_the_unchanged_earlier_wave(tmp_path):
    from cmoc.analyses import fit_waves, update
    from cmoc.models import V1_CONFIG
    from conftest import tiny_sampler

    # one model throughout: the new wave's group totals are a layout only model v1 fits, so
    # the default model of the base would change with the update (and refit every wave)
    base, batch = _split(tmp_path)
    (how,) = [how for _, _, how in fit_waves(base, V1_CONFIG, tiny_sampler()).values()]
    assert how.startswith("fitted")
    result = update(base, batch, config=V1_CONFIG, sampler=tiny_sampler())
    review = next(m for m in result.messages if m.startswith("review: "))
    wave2 = next(m for m in result.messages if m.startswith("wave2: "))
    assert "reused the saved fit" in review, result.messages
    assert wave2.startswith("wave2: fitted"), result.messages
    # and a report of the updated base refits nothing
    again = fit_waves(base, V1_CONFIG, tiny_sampler())
    assert all("reused" in how for _, _, how in again.values()), again
