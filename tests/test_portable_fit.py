"""Portable fits: a fit carries the evidence it was fitted to and works from the file alone."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cmoc.analyses import (
    FitEvidenceError,
    FitMismatchError,
    SamplerConfig,
    fit_evidence,
    load_fit,
    save_fit,
)
from cmoc.analyses.fitting.provenance import stamp
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.evidence.portable import evidence_differences
from cmoc.models import V1_CONFIG
from conftest import IOC
from evidence_fixtures import make_base

pytestmark = pytest.mark.usefixtures("mocked_sampling")  # wiring: fits drawn from the prior

TABLES = ("mechanisms", "cmocs", "sources", "codings", "actions")


def _fake_fit(evidence) -> xr.DataTree:
    """A stamped fit with two draws of one variable: the evidence is what is under test."""
    zeros = xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 2)))})
    tree = xr.DataTree.from_dict({"posterior": zeros, "sample_stats": zeros})
    return stamp(tree, evidence, V1_CONFIG, asdict(SamplerConfig().for_model("hierarchical")))


def _assert_same_evidence(rebuilt, original) -> None:
    assert rebuilt.evidence_hash == original.evidence_hash
    assert rebuilt.config == original.config
    assert rebuilt.path is None
    for name in TABLES:
        a, b = getattr(rebuilt, name), getattr(original, name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        for column in b.columns:  # None and NaN kept apart where the base has both
            assert [type(v) for v in a[column]] == [type(v) for v in b[column]], (name, column)


def _bases(tmp_path, small_base):
    tiny = load_evidence(make_base(tmp_path / "tiny"))
    ioc = load_evidence(IOC)
    no_actions = load_evidence(make_base(tmp_path / "no actions", **{"actions.csv": None}))
    out = {"tiny": tiny, "simulated": small_base, "ioc": ioc, "no actions": no_actions}
    for key, base in list(out.items()):
        out[f"{key} up to {base.waves[0]}"] = base.up_to(base.waves[0])
    return out


def test_round_trip_gives_the_same_evidence(tmp_path, small_base):
    assert small_base.codings["banded"].any() and small_base.sources["group"].notna().any()
    for key, base in _bases(tmp_path, small_base).items():
        path = save_fit(_fake_fit(base), tmp_path / "fits" / f"{key}.nc")
        idata = load_fit(path)
        assert "evidence" in idata.children, key
        _assert_same_evidence(fit_evidence(idata), base)
        assert load_fit(path, base) is not None  # its own evidence matches


def test_the_evidence_group_is_readable_as_tables(tmp_path):
    base = load_evidence(make_base(tmp_path / "tiny"))
    idata = load_fit(save_fit(_fake_fit(base), tmp_path / "fit.nc"))
    codings = idata["evidence/codings"].to_dataset()
    assert list(codings["source_id"].values[:2]) == ["R1", "R1"]
    assert json.loads(idata["evidence"].attrs["evidence_config"])["name"] == "tiny"
    assert idata["evidence"].attrs["evidence_hash"] == base.evidence_hash


def test_differences_are_named_per_file(tmp_path):
    base = load_evidence(make_base(tmp_path / "tiny"))
    assert evidence_differences(base, base) == []
    codings = base.codings
    extra = codings.iloc[:3].assign(target_id=["M1", "M2", "M3"])
    changed = codings.copy()
    changed.loc[0, "count_min"] = 9
    now = type(base)(
        base.config,
        base.mechanisms,
        base.cmocs,
        base.sources,
        pd.concat([changed, extra], ignore_index=True),
        base.actions,
    )
    said = evidence_differences(base, now)
    assert said == [
        "codings.csv differs from the evidence this fit was made from "
        "(3 rows added, 1 changed (count_min))"
    ]
    config = base.config.model_copy(update={"title": "Another title"})
    now = type(base)(config, base.mechanisms, base.cmocs, base.sources, codings, base.actions)
    assert evidence_differences(base, now) == [
        "evidence.toml differs from the evidence this fit was made from (title changed)"
    ]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, small_base, small_fit):
    """A copy of the simulated base with its (tiny) fit, and a copy of the fit elsewhere."""
    root = tmp_path_factory.mktemp("portable")
    directory = root / "base"
    shutil.copytree(small_base.path, directory, ignore=shutil.ignore_patterns(".cmoc"))
    saved = save_fit(small_fit, directory / ".cmoc" / "fit.nc")
    alone = root / "elsewhere" / "copy.nc"
    alone.parent.mkdir()
    shutil.copyfile(saved, alone)
    return directory, alone


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_summary_of_the_fit_alone_equals_summary_of_the_base(
    fitted, fmt, tmp_path, monkeypatch, capsys
):
    directory, alone = fitted
    assert main(["summary", str(directory), "--format", fmt]) == 0
    of_base = capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # anywhere: nothing beside the fit, no base in sight
    assert main(["summary", str(alone), "--format", fmt]) == 0
    assert capsys.readouterr().out == of_base
    assert main(["summary", str(alone), "--format", fmt, "--evidence", str(directory)]) == 0
    assert capsys.readouterr().out == of_base


def test_a_base_with_a_changed_coding_is_refused_naming_codings(fitted, tmp_path, capsys):
    directory, alone = fitted
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    codings = pd.read_csv(copy / "codings.csv", dtype=str, keep_default_na=False)
    row = codings.index[codings["count"].ne("") & codings["count"].ne("0")][0]
    codings.loc[row, "count"] = str(int(codings.loc[row, "count"]) - 1)  # keeps totals valid
    codings.to_csv(copy / "codings.csv", index=False)
    expected = "codings.csv differs from the evidence this fit was made from (1 row changed"
    assert main(["summary", str(alone), "--evidence", str(copy)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "evidence changed" in err, err
    assert main(["summary", str(copy)]) == 2  # the fit beside the changed base
    assert expected in capsys.readouterr().err
    with pytest.raises(FitMismatchError, match=r"codings\.csv differs"):
        load_fit(alone, load_evidence(copy))


def test_an_old_fit_without_its_evidence_says_so(fitted, tmp_path, capsys):
    directory, alone = fitted
    idata = load_fit(alone)
    old = xr.DataTree.from_dict(
        {name: idata[name].to_dataset() for name in idata.children if name != "evidence"}
    )
    old.attrs.update(idata.attrs)
    path = save_fit(old, tmp_path / "old.nc")
    with pytest.raises(FitEvidenceError, match="predates portable fits"):
        fit_evidence(load_fit(path))
    assert main(["summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert "predates portable fits" in err and "--evidence DIR" in err, err
    assert main(["summary", str(path), "--evidence", str(directory), "--format", "csv"]) == 0
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) > 0
    assert main(["report", "--fit", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "predates portable fits" in err and "cmoc report DIR --fit" in err


def test_report_from_the_fit_alone(fitted, tmp_path, monkeypatch, capsys):
    directory, alone = fitted
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report"
    assert main(["report", "--fit", str(alone), "--out", str(out), "--no-plan"]) == 0
    captured = capsys.readouterr()
    assert (out / "report.html").is_file() and str(out / "report.html") in captured.out
    assert "newest wave only" in captured.err and "cmoc report DIR" in captured.err
    assert not (alone.parent / ".cmoc").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert load_evidence(directory).config.title in html
    # the report itself says what it leaves out, not only the terminal
    assert 'id="scope-note"' in html and "newest wave only" in html
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "newest wave only" in md and "cmoc report DIR" in md


def test_report_of_a_fit_beside_a_changed_base_is_refused(fitted, tmp_path, capsys):
    directory, alone = fitted
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    sources = pd.read_csv(copy / "sources.csv", dtype=str, keep_default_na=False)
    sources.loc[0, "kind"] = "another_kind"
    sources.to_csv(copy / "sources.csv", index=False)
    args = ["report", str(copy), "--fit", str(alone), "--out", str(tmp_path / "r"), "--no-plan"]
    assert main(args) == 2
    assert "sources.csv differs from the evidence this fit was made from" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "r").exists()
