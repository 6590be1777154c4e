"""The command line end to end: simulate, fit, summary, report; exit codes and outputs."""

from __future__ import annotations

import html
import io
import json
import shutil
import subprocess

import pandas as pd
import pytest

from cmoc.cli import main
from conftest import IOC, ROOT

pytestmark = pytest.mark.usefixtures("mocked_sampling")  # wiring: fits drawn from the prior

TINY = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]
REPORT = [*TINY, "--no-compare", "--no-plan"]
"""Tiny report builds; the comparison's extra fits are tested in test_compare.py, the plan in
test_report_plan.py."""


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "sim"
    args = ["simulate", "--out", str(out), "--seed", "4", "--sources", "40", "--cmocs", "8"]
    assert main([*args, "--mechanisms", "2"]) == 0
    return out


def test_simulate_writes_a_valid_base_with_truth(sim_dir, capsys):
    assert (sim_dir / "truth.csv").is_file()
    assert main(["validate", str(sim_dir)]) == 0
    assert "CMOCs: 8" in capsys.readouterr().out
    truth = pd.read_csv(sim_dir / "truth.csv")
    assert set(truth.columns) >= {"target_id", "target_type", "support"}
    assert len(truth) == 10


def test_simulate_refuses_a_non_empty_directory(sim_dir, capsys):
    assert main(["simulate", "--out", str(sim_dir)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_summary_before_fit_says_what_to_do(sim_dir, capsys):
    assert main(["summary", str(sim_dir)]) == 2
    err = capsys.readouterr().err
    assert "no fit" in err and "cmoc fit" in err


def test_fit_then_summary_csv(sim_dir, capsys):
    assert main(["fit", str(sim_dir), *TINY]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("fit.nc")
    assert "WARNING: NOT CONVERGED" in captured.err  # 60 draws cannot pass the gate
    assert main(["summary", str(sim_dir), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(io.StringIO(captured.out))
    required = [
        "target_id",
        "target_type",
        "wave",
        "support_mean",
        "support_lo",
        "support_hi",
        "p_supported",
        "evidence_level",
        "status",
        "ess_bulk",
        "r_hat",
    ]
    assert all(c in frame.columns for c in required)
    assert len(frame) == 10
    assert frame[required].notna().all().all()
    assert "WARNING" in captured.err


def test_summary_table_and_json(sim_dir, capsys):
    assert main(["summary", str(sim_dir), "--format", "json", "--ci", "0.5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ci"] == 0.5 and doc["converged"] is False and len(doc["rows"]) == 10
    assert main(["summary", str(sim_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("WARNING: NOT CONVERGED")
    assert "C001" in out and "50% interval" not in out


def test_summary_of_a_fit_file(sim_dir, capsys):
    assert main(["summary", str(sim_dir / ".cmoc" / "fit.nc"), "--format", "csv"]) == 0
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == 10


def test_summary_refuses_changed_evidence(sim_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(sim_dir, copy)
    with open(copy / "codings.csv", "a") as fh:
        fh.write("S0001,C001,refutes,7,,\n")
    assert main(["summary", str(copy)]) == 2
    assert "evidence changed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fit", "{d}", "--sampler", "stan"], "stan"),
        (["fit", "{d}", "--chains", "0"], "chains"),
        (["summary", "{d}", "--format", "xml"], "xml"),
        (["summary", "{d}", "--ci", "1.5"], "--ci"),
        (["summary", "{d}", "--wave", "nope"], "nope"),
    ],
)
def test_bad_options_exit_2(sim_dir, capsys, args, needle):
    assert main([a.format(d=sim_dir) for a in args]) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and "Traceback" not in captured.err


def test_fit_of_an_earlier_wave(sim_dir, capsys):
    assert main(["fit", str(sim_dir), "--wave", "review", *TINY]) == 0
    from cmoc.analyses import default_fit_path

    assert default_fit_path(sim_dir, "review").is_file()
    capsys.readouterr()
    assert main(["summary", str(sim_dir), "--wave", "review", "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(frame["wave"]) == {"review"}


class _RefitAttempted(BaseException):
    """Raised in place of sampling: what is under test is the decision to refit."""


def test_a_fit_made_by_other_model_code_is_not_reused(sim_dir, tmp_path, monkeypatch):
    from cmoc.analyses import SamplerConfig, fit_or_reuse
    from cmoc.analyses.fitting import reuse
    from cmoc.analyses.fitting.provenance import model_code
    from cmoc.evidence import load_evidence

    base = load_evidence(sim_dir)
    path = tmp_path / "fit.nc"
    tiny = SamplerConfig(seed=7, draws=60, tune=60, chains=2)
    idata, how = fit_or_reuse(base, path, sampler=tiny)
    assert how.startswith("fitted (no saved fit)")
    assert idata.attrs["model_code"] == model_code() and len(model_code()) == 16
    assert fit_or_reuse(base, path, sampler=tiny)[1].startswith("reused the saved fit")

    def refit(*args, **kwargs):
        raise _RefitAttempted

    monkeypatch.setattr(reuse, "fit", refit)
    monkeypatch.setattr(reuse, "model_code", lambda: "0" * 16)  # the code has changed
    with pytest.raises(_RefitAttempted):
        fit_or_reuse(base, path, sampler=tiny)
    assert reuse._code_mismatch(idata) == [
        f"the model code changed since the fit (fit made by {model_code()}, now {'0' * 16})"
    ]
    del idata.attrs["model_code"]
    assert reuse._code_mismatch(idata) == ["the fit does not record the model code that made it"]


def test_report_reuses_the_fit_and_is_byte_identical(sim_dir, tmp_path, capsys, monkeypatch):
    base = tmp_path / "base"
    shutil.copytree(sim_dir, base, ignore=shutil.ignore_patterns(".cmoc"))
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    assert main(["report", str(base), "--out", str(out1), *REPORT]) == 0
    assert "fitted (no saved fit)" in capsys.readouterr().err
    assert main(["report", str(base), "--out", str(out2), *REPORT]) == 0
    assert "reused the saved fit" in capsys.readouterr().err
    shutil.rmtree(base / ".cmoc")
    out3 = tmp_path / "r3"
    assert main(["report", str(base), "--out", str(out3), *REPORT]) == 0
    names = ["summary.csv", "summary.json", "report.md", "report.html"]
    for name in names:
        assert (
            (out1 / name).read_bytes() == (out2 / name).read_bytes() == (out3 / name).read_bytes()
        )
    report = (out1 / "report.md").read_text()
    assert "WARNING: NOT CONVERGED" in report.split("##")[0]  # at the top
    page = (out1 / "report.html").read_text()
    assert 'id="convergence-warning"' in page.split('id="methods"')[0]

    # changed evidence: the report does not reuse the saved fit but refits (not sampled here;
    # the mismatch's wording is tested in test_fit_results.py and by `summary` above)
    def added(evidence) -> int:
        c = evidence.codings
        return int(((c["source_id"] == "S0001") & (c["line"] == n_lines + 1)).sum())

    n_lines = len((base / "codings.csv").read_text().splitlines())
    with open(base / "codings.csv", "a") as fh:
        fh.write("S0001,C001,refutes,7,,\n")
    from cmoc.analyses.fitting import reuse as pipeline

    refits = []

    def no_sampling(evidence, *args, **kwargs):
        refits.append(evidence)
        raise _RefitAttempted

    monkeypatch.setattr(pipeline, "fit", no_sampling)
    with pytest.raises(_RefitAttempted):
        main(["report", str(base), "--out", str(tmp_path / "r4"), *REPORT])
    # the first fit the report needs (the earliest wave) already sees the new row
    assert len(refits) == 1 and added(refits[0]) == 1
    assert not (tmp_path / "r4").exists()


@pytest.mark.slow  # about 18 minutes: v2 fits both IOC waves, the variants, the plan, the what-if
def test_readme_first_command_builds_the_ioc_report(tmp_path):
    """`make report` (the README's first command) on a copy of the bundled base."""
    base = tmp_path / "ioc"
    shutil.copytree(IOC, base, ignore=shutil.ignore_patterns(".cmoc"))
    out = tmp_path / "report"
    run = subprocess.run(
        ["make", "--no-print-directory", "report", f"EVIDENCE={base}", f"REPORT_OUT={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert run.returncode == 0, run.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 45 + 14 + 20  # CMOCs, mechanisms, links of the web
    assert (summary["target_type"] == "link").sum() == 20
    assert summary["converged"].all()
    mech = summary[summary["target_type"] == "mechanism"].set_index("target_id")
    assert mech["evidence_level"].value_counts().to_dict() == {
        "moderate": 9,
        "significant": 4,
        "limited": 1,
    }
    assert "WARNING" not in (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    assert "WARNING" not in page and 'id="convergence-warning"' not in page
    for target in summary["target_id"]:
        assert f'data-target="{html.escape(target)}"' in page
    assert page.count('<tr data-action="') == 35  # P3's action statements
    assert "interviews" in run.stderr and "review" in run.stderr  # both waves fitted or reused
    # for whom: the review and the interviews side by side, from the fit with context effects
    md = (out / "report.md").read_text()
    assert "## For whom, in what circumstances" in md and 'id="context-table"' in page
    assert "Coded against interview sources only" in md and "P3-R01" in md
    # what reading the unrecorded refutes as none would decide, measured by the what-if refit
    assert "what-if: fitted" in run.stderr
    findings = md.split("## Findings")[1].split("## The evidence")[0]
    assert "Read as none instead" in findings and "79 of 79 directions could be tested" in findings
    assert "### What the recording of refutes decides" in md
    # the review's ">= 1" rows bound nothing from above, nor do M03's and M05's rows: those
    # levels show the floor beside the model's; the other interview levels are bounded
    assert "review: at least limited (model: significant, P = " in md
    floored = summary.dropna(subset=["evidence_level_floor"])
    assert sorted(floored.loc[floored["target_type"] == "cmoc", "target_id"]) == [
        f"P3-R{n:02d}" for n in (3, 4, 5, 7, 10, 14, 19)
    ]
    assert floored["target_type"].isin(["cmoc", "link"]).all()
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "forest-1.svg",
        "forest-2.svg",
        "plan.svg",
        "ppc.svg",
        "theory.svg",
        "trajectory.svg",
        "web.svg",
    ]


def test_priors_are_printed_and_configurable(tmp_path, capsys):
    assert main(["priors"]) == 0  # model v2, the default
    out = capsys.readouterr().out
    assert "activation mean (logit), alpha_0" in out and "likelihood" not in out
    model = tmp_path / "model.toml"
    model.write_text(
        'model = "hierarchical"\nlikelihood = "poisson"\n[support_mean]\nmu = 0.5\nsigma = 2\n'
    )
    assert main(["priors", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "Normal(0.5, 2)" in out and "poisson" in out


def test_model_v1_settings_must_name_model_v1(tmp_path, capsys):
    model = tmp_path / "model.toml"
    model.write_text('likelihood = "poisson"\n')
    assert main(["priors", "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert f"{model}: bad model configuration" in err
    assert "likelihood: settings of model v1" in err and 'add model = "hierarchical"' in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[support_mean]\nsigma = -1\n", "support_mean.sigma"),
        ('likelihood = "binomial"\n', "likelihood"),
        ("colour = 1\n", "colour"),
        ("likelihood = \n", "not valid TOML"),
        # a prior-or-number setting: one line, why each reading failed, no pydantic internals
        ("kind_lean_sd = -1\n", "kind_lean_sd: Input should be a valid dictionary"),
        ('kind_lean_sd = {dist = "Gamma", mu = 0}\n', "Gamma prior needs a positive mean"),
    ],
)
def test_bad_model_file_exit_2(tmp_path, capsys, text, needle):
    model = tmp_path / "model.toml"
    model.write_text('model = "hierarchical"\n' + text)
    assert main(["priors", "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert "constrained-" not in err and "function-after" not in err


def test_priors_show_a_fixed_kind_lean_scale_and_a_gamma_prior(tmp_path, capsys):
    model = tmp_path / "model.toml"
    model.write_text('model = "hierarchical"\n')
    assert main(["priors", "--model", str(model)]) == 0
    assert "fixed at 0.5" in capsys.readouterr().out
    model.write_text(
        'model = "hierarchical"\nkind_lean_sd = {dist = "Gamma", mu = 0.4, sigma = 0.2}\n'
    )
    assert main(["priors", "--model", str(model)]) == 0
    assert "Gamma(shape=4, rate=10)" in capsys.readouterr().out


def test_fit_uses_the_model_file(sim_dir, tmp_path, capsys):
    model = tmp_path / "model.toml"
    model.write_text('model = "hierarchical"\nlikelihood = "poisson"\n')
    out = tmp_path / "fit.nc"
    assert main(["fit", str(sim_dir), "--model", str(model), "--out", str(out), *TINY]) == 0
    from cmoc.analyses import fit_config, load_fit

    cfg, sampler = fit_config(load_fit(out))
    assert cfg.likelihood == "poisson" and sampler["seed"] == 7
