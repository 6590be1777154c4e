"""The public API of cmoc.analyses survives its packages by concern, and the layers are kept."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

# cmoc.analyses.__all__ before the analyses were split into packages by concern (issue 14).
# plan_figure is not here: figure code moved to cmoc.reports (cmoc.reports.plots_plan), and
# analyses never import reports.
ANALYSES_API = [
    "CALIBRATION_QUANTITIES",
    "CHANGE_COLUMNS",
    "CONCERNS",
    "CONCERN_TEXT",
    "CONFIDENCE_COLUMNS",
    "DEFAULT_CI",
    "GRADES",
    "INFLUENCE_COLUMNS",
    "KHAT_MAX",
    "PLAN_COLUMNS",
    "PPC_COLUMNS",
    "PRIOR_NAMES",
    "REPORT_PLAN",
    "SAMPLERS",
    "SENSITIVITY_COLUMNS",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "VARIANTS",
    "CalibrationLayout",
    "CalibrationResult",
    "ConvergenceCheck",
    "FitMismatchError",
    "GateThresholds",
    "ModelComparison",
    "PlanResult",
    "SamplerConfig",
    "SamplerError",
    "SimulationSpec",
    "UpdateResult",
    "calibrate",
    "change_report",
    "check_convergence",
    "classify",
    "compare_fits",
    "compare_models",
    "confidence",
    "default_fit_path",
    "evidence_units",
    "find_calibration",
    "fit",
    "fit_config",
    "fit_id",
    "fit_mismatches",
    "fit_or_reuse",
    "fit_waves",
    "influence",
    "load_calibration",
    "load_fit",
    "load_plan",
    "moved_most",
    "package_versions",
    "plan",
    "plan_or_reuse",
    "plan_result",
    "pointwise_loglik",
    "posterior_predictive",
    "ppc_summary",
    "prior_sensitivity",
    "provenance",
    "psis_versus_refit",
    "rank_uniformity",
    "refit_unreliable",
    "run_on_dask",
    "sample_model",
    "save_calibration",
    "save_fit",
    "save_plan",
    "sensitivity_tree",
    "simulate",
    "simulate_tables",
    "summarize",
    "update",
    "variant_path",
]


@pytest.mark.parametrize("name", ANALYSES_API)
def test_name_is_importable_from_cmoc_analyses(name):
    module = importlib.import_module("cmoc.analyses")
    assert name in module.__all__
    assert getattr(module, name) is not None


def test_every_submodule_lists_what_it_exports():
    """Each module of the sub-packages has an ``__all__`` whose names exist."""
    import pkgutil

    import cmoc.analyses

    for info in pkgutil.walk_packages(cmoc.analyses.__path__, "cmoc.analyses."):
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), info.name
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, (info.name, missing)


def test_plan_figures_moved_to_reports():
    from cmoc.reports.plots_plan import draw_plan, write_plan_figure

    assert callable(draw_plan) and callable(write_plan_figure)


def test_evidence_imports_no_pymc():
    """``import cmoc.evidence`` in a fresh interpreter loads no PyMC, PyTensor, nutpie, ArviZ."""
    code = (
        "import cmoc.evidence, sys; "
        "heavy = [m for m in ('pymc', 'pytensor', 'nutpie', 'arviz') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_layers_are_kept():
    """The import-linter contracts of ``pyproject.toml`` hold (``make lint`` runs them too)."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
