"""Benchmark ``cmoc plan`` on a 40-source simulated base with ``--max-new 20`` (issue 15).

Steps, each command in a fresh process:

1. ``cmoc simulate --sources 40 --seed 0`` into a temporary directory (40 CMOCs, 8 mechanisms,
   2 waves) and ``cmoc fit`` of it (untimed; 4 chains x 1,000 draws);
2. the new plan: ``cmoc plan DIR --max-new 20 --workers 2`` (targeted updates, refit budget 10);
3. the baseline, measured in the same run: the same command with the cmoc of ``--baseline-ref``
   (default ``HEAD``, extracted with ``git archive`` to a temporary directory and put first on
   ``PYTHONPATH``: the worker processes use it too), stopped after ``--baseline-timeout`` seconds
   (default 600; it then reports "> N s" and the ratio is a lower bound);
4. optionally (``--refits K``) the Monte Carlo check: K simulated batches of 20 new sources for
   each of two inconclusive CMOCs, each updated by the new targeted reweighting, by the whole
   likelihood (the old PSIS) and by an exact refit (:func:`psis_versus_refit`, 2 workers).

Wall time, CPU time (user + system, the process tree) and peak memory: the largest sum of the
resident sets of the process tree (the command and its Dask workers), sampled every 0.2 s, and
``ru_maxrss`` (largest single process). The load average is recorded before and after each run:
the machine may be shared, so compare the ratio (both measured under the same load), not the
absolute numbers alone.

Usage::

    python benchmarks/bench_plan.py [--baseline-ref HEAD] [--baseline-timeout 600] [--refits 8]

Results are printed and written as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["TARGET_GIB", "TARGET_S", "main", "run_tree"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CMOC = [sys.executable, "-m", "cmoc.cli"]
TARGET_S = 120.0
"""Wall seconds the plan must stay under (2 workers)."""
TARGET_GIB = 2.0
"""Peak memory of the process tree (GiB) the plan must stay under."""


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_tree(cmd: list[str], *, env: dict | None = None, timeout: float | None = None) -> dict:
    """Run ``cmd``; wall and CPU seconds, peak RSS of its process tree, exit status, load."""
    import psutil

    load_before = _load()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    top = psutil.Process(proc.pid)
    peak, cpu, timed_out = 0, {}, False
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            rss = 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        if timeout is not None and time.perf_counter() - start > timeout:
            timed_out = True
            os.killpg(proc.pid, 2)  # SIGINT to the command's own process group
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
            break
        time.sleep(0.2)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    return {
        "cmd": " ".join(cmd[2:]),
        "wall_s": round(wall, 1),
        "cpu_s": round(sum(cpu.values()), 1),
        "peak_tree_rss_gib": round(peak / 2**30, 2),
        "exit": proc.returncode,
        "timed_out": timed_out,
        "load_before": load_before,
        "load_after": _load(),
        "stdout": out.decode(errors="replace")[-4000:],
        "stderr": err.decode(errors="replace")[-2000:],
    }


def _baseline_src(ref: str, into: Path) -> Path:
    """Extract ``src/`` of commit ``ref`` into ``into`` (nothing in the checkout is touched)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _commit() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


_CHECK = """
import json, sys
import numpy as np
import pandas as pd
from cmoc.analyses.fitting.store import default_fit_path, load_fit
from cmoc.analyses.planning.plan import default_kind, inconclusive, psis_versus_refit
from cmoc.evidence import load_evidence

def main():
    d, k = sys.argv[1], int(sys.argv[2])
    ev = load_evidence(d)
    idata = load_fit(default_fit_path(d), ev)
    now = inconclusive(idata, ev).sort_values("p_supported", ascending=False)
    rows = []
    for target in list(now["target_id"])[:2]:
        r = psis_versus_refit(idata, ev, target, kind=default_kind(ev), n_new=20,
                              simulations=k, seed=1, workers=2)
        r["target"] = target
        rows.append(r)
    print(pd.concat(rows).to_json(orient="records"))

if __name__ == "__main__":
    main()
"""


def _mc_check(directory: Path, k: int) -> dict:
    """Targeted and whole-likelihood PSIS against exact refits at n = 20 (``_CHECK``)."""
    import numpy as np
    import pandas as pd

    run = run_tree([sys.executable, "-c", _CHECK, str(directory), str(k)])
    if run["exit"] != 0:
        return {"run": run}
    rows = pd.read_json(io.StringIO(run["stdout"].strip().splitlines()[-1]))
    settled = {
        name: (rows[col] >= 0.9) | (rows[col] <= 0.1)
        for name, col in (("targeted", "p_targeted"), ("full", "p_psis"), ("refit", "p_refit"))
    }
    return {
        "run": {key: v for key, v in run.items() if key != "stdout"},
        "batches": len(rows),
        "mean_abs_targeted_minus_refit": float(np.abs(rows.p_targeted - rows.p_refit).mean()),
        "max_abs_targeted_minus_refit": float(np.abs(rows.p_targeted - rows.p_refit).max()),
        "mean_abs_full_minus_refit": float(np.abs(rows.p_psis - rows.p_refit).mean()),
        "share_full_k_above_0.7": float((rows.khat > 0.7).mean()),
        "share_targeted_k_above_0.7": float((rows.khat_targeted > 0.7).mean()),
        "settled": {name: int(s.sum()) for name, s in settled.items()},
        "settled_agree_targeted_refit": int((settled["targeted"] == settled["refit"]).sum()),
        "rows": rows.round(4).to_dict(orient="records"),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default="HEAD")
    parser.add_argument("--baseline-timeout", type=float, default=600.0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--refits", type=int, default=0, help="batches per CMOC for the MC check")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench_plan_"))
    result: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    try:
        base = tmp / "base40"
        sim = run_tree([*CMOC, "simulate", "--out", str(base), "--sources", "40", "--seed", "0"])
        assert sim["exit"] == 0, sim["stderr"]
        fitted = run_tree([*CMOC, "fit", str(base)])
        assert fitted["exit"] == 0, fitted["stderr"]
        result["fit"] = {k: v for k, v in fitted.items() if k not in ("stdout", "stderr")}
        print(f"fit: {fitted['wall_s']} s, load {fitted['load_before']}", flush=True)
        plan_args = ["plan", None, "--max-new", "20", "--workers", "2", "--format", "csv"]

        new_dir = tmp / "new"
        shutil.copytree(base, new_dir)
        plan_args[1] = str(new_dir)
        new = run_tree([*CMOC, *plan_args])
        assert new["exit"] == 0, new["stderr"]
        result["new"] = new
        print(
            f"new plan: {new['wall_s']} s wall, {new['cpu_s']} s CPU, peak "
            f"{new['peak_tree_rss_gib']} GiB, load {new['load_before']} -> {new['load_after']}",
            flush=True,
        )
        if not args.no_baseline:
            old_dir = tmp / "old"
            shutil.copytree(base, old_dir)
            src = _baseline_src(args.baseline_ref, tmp / "baseline")
            env = {
                **os.environ,
                "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            }
            plan_args[1] = str(old_dir)
            old = run_tree([*CMOC, *plan_args], env=env, timeout=args.baseline_timeout)
            old["ref"] = args.baseline_ref
            result["baseline"] = old
            bound = ">" if old["timed_out"] else ""
            result["ratio_wall"] = f"{bound}{old['wall_s'] / new['wall_s']:.1f}"
            print(
                f"baseline ({args.baseline_ref}): {bound}{old['wall_s']} s wall, "
                f"{old['cpu_s']} s CPU, peak {old['peak_tree_rss_gib']} GiB, load "
                f"{old['load_before']} -> {old['load_after']}; ratio {result['ratio_wall']}",
                flush=True,
            )
        if args.refits:
            result["mc_check"] = _mc_check(base, args.refits)
            m = result["mc_check"]
            print(json.dumps({k: v for k, v in m.items() if k not in ("rows", "run")}), flush=True)
        result["targets"] = {
            "wall_s": TARGET_S,
            "peak_gib": TARGET_GIB,
            "met": new["wall_s"] < TARGET_S and new["peak_tree_rss_gib"] < TARGET_GIB,
        }
        print(f"targets (< {TARGET_S:.0f} s, < {TARGET_GIB} GiB): {result['targets']['met']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"bench_plan-{stamp}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    print(path)
    return result


if __name__ == "__main__":
    main()
