"""``cmoc validate DIR``: a one-screen description on stdout and exit 0, or problems and exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmoc.cli import main
from evidence_fixtures import BASE_FILES, make_base, replace_line
from evidence_fixtures import tiny_base as tiny_base  # the fixture

IOC = Path(__file__).resolve().parents[1] / "evidence" / "ioc"


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_validate_tiny_base(capsys, tiny_base):
    before = sorted(p.name for p in tiny_base.iterdir())
    status, out, err = run(capsys, "validate", str(tiny_base))
    assert status == 0
    assert err == (  # two waves and no ledger.csv (the IOC base has one: no note there)
        "note: no ledger.csv: edits to earlier waves cannot be detected (this base has 2 "
        "waves; `cmoc update` records every wave in a new ledger.csv when it adds the next one)\n"
    )
    lines = out.splitlines()
    assert lines[0] == "tiny: A tiny evidence base"
    assert lines[-1] == "valid"
    assert "mechanisms: 3 (2 prior, 1 novel)" in lines
    assert "CMOCs: 4 (3 prior, 1 novel; 1 revise an earlier CMOC)" in lines
    assert "sources: 6 by kind and wave" in lines
    assert re.search(r"^\s+interview\s+0\s+4$", out, re.M)
    assert re.search(r"^\s+review\s+2\s+0$", out, re.M)
    assert "actions: 3" in lines
    assert "  interviews: 1 limited, 1 significant" in lines
    assert sorted(p.name for p in tiny_base.iterdir()) == before


def test_validate_with_debug_flag_still_reports_problems(tmp_path, capsys):
    text = replace_line(BASE_FILES["codings.csv"], 5, "R2,C3,supports,many,,,,,")
    directory = make_base(tmp_path, **{"codings.csv": text})
    status, out, err = run(capsys, "--debug", "validate", str(directory))
    assert status == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.splitlines()[0] == "1 problem in the evidence:"
    assert "codings.csv:5, column 'count', value 'many': a whole number >= 0" in err


def test_validate_missing_directory(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    status, out, err = run(capsys, "validate", str(missing))
    assert status == 2
    assert out == ""
    assert err == (
        f"1 problem in the evidence:\n  {missing}: an evidence base directory (not found)\n"
    )
    assert not missing.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate"], "Missing argument"),
        (["validate", "a", "b"], "unexpected extra argument"),
    ],
)
def test_validate_usage_errors(capsys, args, message):
    status, out, err = run(capsys, *args)
    assert status == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# the bundled IOC base


def test_validate_ioc(capsys):
    status, out, err = run(capsys, "validate", str(IOC))
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[-1] == "valid"
    assert lines[0].startswith("ioc: How, when and why inter-organisational collaborations")
    assert "mechanisms: 14 (13 prior, 1 novel)" in lines
    assert "CMOCs: 45 (38 prior, 7 novel; 0 revise an earlier CMOC)" in lines
    assert "sources: 78 by kind and wave" in lines
    # 32 interviews, all in the interview wave; 46 review sources
    assert re.search(r"^\s+interview\s+0\s+32$", out, re.M)
    assert re.search(r"^\s+review\s+46\s+0$", out, re.M)
    assert (
        "groups: interview set: 2 (32 sources); organisation or stakeholder type: 22 "
        "(32 sources); participant: 29 (32 sources)"
    ) in lines
    assert "participant: 29" in out
    assert "actions: 35" in lines
    assert "  review: 13 at least limited" in lines
    assert "  interviews: 1 limited, 9 moderate, 4 significant" in lines
