"""What a new wave changed, for model v2 fits: the columns, the newest wave's evidence, the CLI.

Wiring on prior draws (``mocked``): which estimand and which count goes where, not the numbers.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import MEASUREMENT_CHANGE_COLUMNS, change_report, fit, summarize
from cmoc.cli import main
from conftest import mocked, tiny_sampler
from test_measurement_summary import V2, _base

RECORDING = '\n[recording]\nrefutes = { review = "recorded", interview = "not recorded" }\n'
CODINGS = (
    "R1,C1,supports,2\nR1,C1,refutes,1\nR2,C1,supports,1\n"
    "I1,C3,supports,3\nI2,C3,supports,1\nI2,C1,supports,2\nw2,C2,supports,4\n"
)
"""Wave w2 (interviews, refutes not recorded): I1 and I2 code C3, I2 codes C1, and a total over
the wave gives C2 four supporting codes."""


@pytest.fixture(scope="module")
def changes(tmp_path_factory):
    base = _base(tmp_path_factory.mktemp("v2changes") / "b", RECORDING, CODINGS)
    early = base.up_to("w1")
    with mocked():
        before, after = (fit(ev, V2, sampler=tiny_sampler()) for ev in (early, base))
    return base, early, before, after, change_report(early, before, base, after)


def test_columns_and_estimands(changes):
    base, early, before, after, frame = changes
    assert list(frame.columns) == MEASUREMENT_CHANGE_COLUMNS
    frame = frame.set_index("target_id")
    assert list(frame.index) == list(base.targets.index)
    a = summarize(after, base).set_index("target_id")
    b = summarize(before, early).set_index("target_id")
    np.testing.assert_allclose(frame["breadth_after"], a["breadth_mean"])
    np.testing.assert_allclose(frame["breadth_before"], b["breadth_mean"].reindex(frame.index))
    np.testing.assert_allclose(
        frame["breadth_shift"], a["breadth_mean"] - b["breadth_mean"].reindex(frame.index)
    )
    assert (frame["breadth_shift_sd"] > 0).all()
    assert (frame["status_after"] == a["status"]).all()
    # direction: testable through the reviews (refutes recorded) for M1's targets
    assert frame.loc["C1", "direction_testable"]
    assert np.isfinite(frame.loc["C1", "direction_shift"])


def test_the_newest_waves_evidence_is_counted(changes):
    frame = changes[-1].set_index("target_id")
    assert frame.loc["C1", ["new_sources", "new_supports", "new_refutes"]].tolist() == [1, 2, 0]
    assert frame.loc["C3", ["new_sources", "new_supports"]].tolist() == [2, 4]
    # a total over the wave is no source, but its codes count
    assert frame.loc["C2", ["new_sources", "new_supports"]].tolist() == [0, 4]
    # a mechanism: its own and its CMOCs' (M1: I2 for C1, the wave's total for C2)
    assert frame.loc["M1", ["new_sources", "new_supports"]].tolist() == [1, 6]
    assert frame.loc["M2", ["new_sources", "new_supports"]].tolist() == [2, 4]


def test_cli_changes_of_v2_fits(tmp_path, capsys):
    directory = _base(tmp_path / "b", RECORDING, CODINGS).path
    model = tmp_path / "v2.toml"
    model.write_text('model = "measurement"\n')
    tiny = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]
    with mocked():
        assert main(["fit", str(directory), "--all-waves", "--model", str(model), *tiny]) == 0
    capsys.readouterr()
    assert main(["summary", str(directory), "--changes"]) == 0
    out = capsys.readouterr().out
    assert "What the newest wave changed (model v2)" in out
    c3 = out.split("│ C3")[1].split("├")[0]  # C3's two lines
    assert "2 sources" in c3 and "+4 / -0 codes" in c3 and "unevidenced" in c3
    assert main(["summary", str(directory), "--changes", "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(frame.columns) == MEASUREMENT_CHANGE_COLUMNS
