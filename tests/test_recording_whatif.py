"""The what-if of the recording of refutes: the evidence it refits, and the sentence it gives."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from cmoc.analyses import WHATIF_COLUMNS, refutes_read_as_none, whatif_fit_path
from cmoc.evidence import load_evidence
from cmoc.evidence.recording import refutes_recording
from cmoc.reports.findings import whatif_sentence
from cmoc.reports.html import whatif_crosstab
from conftest import IOC


def test_every_kind_is_declared_recorded_and_nothing_else_changes():
    base = load_evidence(IOC)
    assert {r.refutes for r in refutes_recording(base).values()} == {"not recorded", "partial"}
    whatif = refutes_read_as_none(base)
    assert {r.refutes for r in refutes_recording(whatif).values()} == {"recorded"}
    assert whatif.evidence_hash != base.evidence_hash  # its own fit, never the report's
    for name in ("mechanisms", "cmocs", "sources", "codings"):
        pd.testing.assert_frame_equal(getattr(whatif, name), getattr(base, name))
    assert whatif.config.model_copy(update={"recording": base.config.recording}) == base.config
    # nothing to ask where every kind records refutes already
    assert refutes_read_as_none(whatif) is None
    assert whatif_fit_path(IOC) == IOC / ".cmoc" / "whatif-refutes-none-fit.nc"


def _content(rows, passed=True):
    table = pd.DataFrame(rows, columns=WHATIF_COLUMNS)
    check = SimpleNamespace(passed=passed, text="converged" if passed else "NOT CONVERGED")
    return SimpleNamespace(recording_whatif=table, recording_whatif_check=check)


def _row(target, status, whatif, lo, mean, hi, testable=True):
    return [target, "cmoc", status, whatif, False, testable, mean, lo, hi, 0.1, 0.1]


def test_the_sentence_counts_what_the_table_holds():
    content = _content(
        [
            _row("A", "affirmed", "affirmed", 0.97, 0.99, 1.0),
            _row("B", "affirmed", "inconclusive", 0.96, 0.98, 1.0),
            _row("C", "inconclusive", "inconclusive", 0.3, 0.6, 0.8),
            _row("D", "unevidenced", "unevidenced", None, None, None, testable=False),
        ]
    )
    text = whatif_sentence(content)
    assert "3 of 4 directions could be tested, with means from 0.60 to 0.99" in text
    assert "2 intervals wholly above ½" in text
    assert "1 of 4 statuses would change (1 affirmed → inconclusive)" in text
    cross = whatif_crosstab(content.recording_whatif)
    assert cross.to_numpy().sum() == 4
    assert cross.loc["affirmed", "inconclusive"] == 1 and cross.loc["affirmed", "affirmed"] == 1
    unchanged = _content([_row("A", "affirmed", "affirmed", 0.2, 0.4, 0.6)], passed=False)
    text = whatif_sentence(unchanged)
    assert "no status would change" in text and "wholly above" not in text
    assert "did not pass its convergence gate (NOT CONVERGED)" in text
    assert whatif_sentence(SimpleNamespace(recording_whatif=None)) == ""


def test_means_that_round_alike_get_a_third_digit():
    content = _content(
        [
            _row("A", "affirmed", "affirmed", 0.97, 0.9921, 1.0),
            _row("B", "affirmed", "affirmed", 0.97, 0.9942, 1.0),
        ]
    )
    assert "with means from 0.992 to 0.994" in whatif_sentence(content)
