"""The notebooks and scripts of ``analyses/`` run, on a copy of ``evidence/ioc`` with small draws.

Every ``analyses/*.ipynb`` is executed with nbclient in a kernel on this interpreter (the
project's virtualenv); any cell error fails the test. The IOC notebook's tagged cells are
checked for content, and ``analyses/waves.py`` is run on the same copy (reusing the notebook's
fits, which have the same sampler settings) and its CSV checked.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

import cmoc

ROOT = Path(__file__).resolve().parents[1]
ANALYSES = ROOT / "analyses"
IOC = ROOT / "evidence" / "ioc"
NOTEBOOKS = sorted(ANALYSES.glob("*.ipynb"))

SETTINGS = {"seed": "20211", "chains": "2", "draws": "200", "tune": "200"}
"""Small sampler settings: enough for the notebook's story, far too few to pass the gate."""

CHECK_KERNEL = "import sys; print('kernel interpreter:', sys.executable)"


def _tree_hash(directory: Path) -> str:
    """SHA-256 over the files of ``directory``, the fit cache ``.cmoc/`` excluded."""
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and rel.parts[0] != ".cmoc":
            h.update(f"{rel}\0".encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def ioc_copy(tmp_path_factory) -> Path:
    """A copy of ``evidence/ioc`` without its saved fits."""
    dst = tmp_path_factory.mktemp("nb") / "ioc"
    shutil.copytree(IOC, dst, ignore=shutil.ignore_patterns(".cmoc"))
    return dst


def _kernel_manager(kernel_dir: Path) -> KernelManager:
    """A kernel manager whose only kernel spec runs ipykernel on this interpreter."""
    spec = kernel_dir / "cmoc-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "cmoc test", "language": "python"})
    )
    ksm = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name="cmoc-test", kernel_spec_manager=ksm)


@pytest.fixture(scope="module")
def executed(ioc_copy, tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """Every notebook, executed once (a cell error is kept and re-raised by its test)."""
    before = _tree_hash(ioc_copy)
    env = {f"CMOC_NB_{k.upper()}": v for k, v in SETTINGS.items()}
    env["CMOC_NB_EVIDENCE"] = str(ioc_copy)
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        for path in NOTEBOOKS:
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(CHECK_KERNEL))
            km = _kernel_manager(tmp_path_factory.mktemp("kernels"))
            client = NotebookClient(
                nb, km=km, timeout=600, resources={"metadata": {"path": str(ANALYSES)}}
            )
            try:
                client.execute()
            except Exception as err:  # reported by the notebook's own test
                out[path.name] = err
            else:
                out[path.name] = nb
    assert _tree_hash(ioc_copy) == before, "a notebook changed the evidence files"
    return out


def _outputs(nb: nbformat.NotebookNode, tag: str) -> str:
    """The text (stdout and text/plain) of the one cell tagged ``tag``."""
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    parts = []
    for o in cells[0].outputs:
        if o.output_type == "stream" and o.name == "stdout":
            parts.append(o.text)
        elif "data" in o:
            parts.append(o.data.get("text/plain", ""))
            if "image/png" in o.data:
                parts.append("<image/png>")
    return "\n".join(parts)


def test_committed_notebooks_have_no_outputs():
    """Outputs are stripped before committing, so diffs show only the source."""
    assert NOTEBOOKS, "no notebooks in analyses/"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow  # runs the notebook on the IOC base: real fits of both waves (3 min cold)
@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_notebook_runs(executed, name):
    """Every cell runs without error, in a kernel on the virtualenv's interpreter."""
    result = executed[name]
    if isinstance(result, Exception):
        raise result
    errors = [o for c in result.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in errors if o.output_type == "error"]
    last = result.cells[-1].outputs[0].text
    assert f"kernel interpreter: {sys.executable}" in last


@pytest.mark.slow  # runs the notebook on the IOC base: real fits of both waves (3 min cold)
def test_ioc_explore_content(executed, ioc_copy):
    """The IOC tour's tables list every target, and its findings say what the text says."""
    nb = executed["ioc_explore.ipynb"]
    if isinstance(nb, Exception):
        pytest.skip("the notebook failed: see test_notebook_runs")
    base = cmoc.load_evidence(ioc_copy)
    mechanisms = _outputs(nb, "mechanism-table")
    rows = re.findall(r"^(M\d\d)\s", mechanisms, flags=re.M)
    assert rows == list(base.mechanisms.index)
    assert len(rows) == 14
    assert "Perception of capacity" in mechanisms
    cmocs = _outputs(nb, "cmoc-table")
    assert re.findall(r"^(\S+)\s+M\d\d\s", cmocs, flags=re.M) == list(base.cmocs.index)
    assert "<image/png>" in _outputs(nb, "forest-plot")
    waves = _outputs(nb, "waves-summary")
    assert "targets after the review: 51; new in the interview wave: 8" in waves
    assert "status changes among them: 0" in waves
    what_if = _outputs(nb, "what-if-summary")
    hyper = float(re.search(r"refuting codes unknown: (-?[\d.]+)", what_if).group(1))
    assert hyper < 4.0  # about 2.5, against about 5.2 with refuting codes read as zero
    links = _outputs(nb, "links-table")
    assert "20 links" in links and "M12->M05" in links and "M10->M05" in links
    paths = _outputs(nb, "paths-table")
    assert "M12->M02->M10->M05" in paths and "p_all_hold" in paths
    by_kind = _outputs(nb, "context-table")
    assert "interview" in by_kind and "review" in by_kind and "p_differs_breadth" in by_kind
    assert "M10->M05" in by_kind


@pytest.mark.slow  # runs the notebook on the IOC base: real fits of both waves (3 min cold)
def test_waves_script(executed, ioc_copy):
    """``analyses/waves.py`` gives every target after both waves, with shifts and changes."""
    args = [f"--{k}={v}" for k, v in SETTINGS.items()]
    run = subprocess.run(
        [sys.executable, str(ANALYSES / "waves.py"), str(ioc_copy), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    if not isinstance(executed["ioc_explore.ipynb"], Exception):
        assert "review: reused the saved fit" in run.stderr  # the notebook's, same settings
    table = pd.read_csv(StringIO(run.stdout), keep_default_na=False, na_values=[""])
    base = cmoc.load_evidence(ioc_copy)
    assert list(table["target_id"]) == list(base.targets.index)
    for wave in base.waves:
        for col in ("support", "support_lo", "support_hi", "p_supported", "status"):
            assert f"{col}_{wave}" in table
    review = table[table["support_review"].notna()]
    new = table[table["support_review"].isna()]
    assert len(review) == 51 and len(new) == 8
    assert table["support_interviews"].notna().all()
    assert (review["support_lo_review"] <= review["support_review"]).all()
    assert review["shift_interviews"].abs().max() < 0.05
    assert set(new["status_change_interviews"]) == {"(new) -> novel"}
    assert review["status_change_interviews"].isna().all()  # no prior target changed status


def test_waves_script_bad_evidence(tmp_path):
    """A missing evidence base is bad input: exit status 2, a message, no traceback."""
    run = subprocess.run(
        [sys.executable, str(ANALYSES / "waves.py"), str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "not found" in run.stderr and "Traceback" not in run.stderr
