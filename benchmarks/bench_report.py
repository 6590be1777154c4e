"""Benchmark the warm report: ``cmoc report`` of a base whose every fit is saved and reused.

A private copy of the base (default ``evidence/ioc``) is made in a temporary directory and
reported once, untimed, to fit and save everything (the two waves' fits, the comparison's two
variants, the plan). Then, ``--repeats`` times each (default 3), in a fresh process:

- the warm report: ``cmoc report COPY --out OUT`` (every fit reused, nothing sampled);
- the baseline: ``python -c "import cmoc.analyses"`` and reading the four saved fits, what any
  command using those fits pays before it computes anything.

Wall and CPU time (user + system of the process and its children) of each run; the medians
are reported with the ratio warm / baseline, and the warm report's wall time against the
target (:data:`TARGET_S`). The report's files of every warm run must be byte-identical to the
cold run's (checked). The machine may be shared: CPU time is the steadier figure.

Usage::

    python benchmarks/bench_report.py [--base evidence/ioc] [--repeats 3]

Results are printed and written as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["TARGET_S", "main", "timed"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
TARGET_S = 15.0
"""Wall seconds the warm report of the IOC base must stay under (2 cores)."""

_READ_FITS = """
import sys
from pathlib import Path
import cmoc.analyses
from cmoc.analyses import load_fit
for path in sorted(Path(sys.argv[1]).glob("fit*.nc")):
    load_fit(path)
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process; return its wall and CPU seconds (children included)."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "stderr": proc.stderr}


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print the figure and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=str(ROOT / "evidence" / "ioc"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cmoc = str(Path(sys.executable).parent / "cmoc")
    with tempfile.TemporaryDirectory(prefix="cmoc-bench-report-") as tmp:
        base = Path(tmp) / "base"
        shutil.copytree(args.base, base, ignore=shutil.ignore_patterns(".cmoc"))
        out = Path(tmp) / "report"
        print("cold report (fits everything; not timed)...", file=sys.stderr, flush=True)
        cold = timed([cmoc, "report", str(base), "--out", str(out)])
        expected = _files(out)
        warm, baseline = [], []
        for i in range(args.repeats):
            print(f"run {i + 1}/{args.repeats}: warm report, baseline", file=sys.stderr)
            run = timed([cmoc, "report", str(base), "--out", str(out)])
            if _files(out) != expected:
                raise RuntimeError("the warm report's files differ from the cold report's")
            if ": fitted (" in run["stderr"]:  # a wave's or a variant's fit was made again
                raise RuntimeError(f"the warm report fitted something:\n{run['stderr']}")
            warm.append(run)
            baseline.append(timed([sys.executable, "-c", _READ_FITS, str(base / ".cmoc")]))
        stderr_lines = warm[-1]["stderr"].splitlines()
    for run in (*warm, *baseline):
        run.pop("stderr")
    w_wall, w_cpu = _median(warm, "wall_s"), _median(warm, "cpu_s")
    b_wall, b_cpu = _median(baseline, "wall_s"), _median(baseline, "cpu_s")
    result = {
        "benchmark": "warm report",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "python": platform.python_version(),
        },
        "base": args.base,
        "repeats": args.repeats,
        "cold_wall_s": cold["wall_s"],
        "warm": warm,
        "baseline": baseline,
        "warm_wall_s": w_wall,
        "warm_cpu_s": w_cpu,
        "baseline_wall_s": b_wall,
        "baseline_cpu_s": b_cpu,
        "ratio_wall": round(w_wall / b_wall, 2),
        "ratio_cpu": round(w_cpu / b_cpu, 2),
        "target_wall_s": TARGET_S,
        "met": w_wall < TARGET_S,
        "messages": stderr_lines,
    }
    print(
        f"warm report: {w_wall:.1f} s wall, {w_cpu:.1f} s CPU (median of {args.repeats}); "
        f"baseline (import cmoc.analyses + read the fits): {b_wall:.1f} s wall, {b_cpu:.1f} s "
        f"CPU; ratio {result['ratio_wall']}x wall, {result['ratio_cpu']}x CPU; target "
        f"< {TARGET_S:g} s wall: {'met' if result['met'] else 'NOT met'} "
        f"(cold report {cold['wall_s']:.0f} s, load average at the end "
        f"{os.getloadavg()[0]:.1f})"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench_report_{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {path}")
    return result


if __name__ == "__main__":
    main()
