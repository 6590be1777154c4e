"""Benchmark ``cmoc validate``: time and peak memory against the number of coding rows.

A generated base (``make_base``) has ``rows`` coding rows of exact counts, 25 per source, and
``totals`` group totals for one target, nested two levels deep (sites of 15 teams each): the
shape on which the nesting check used to be quadratic (16,000 totals took 115 s). Every source
also has a row for that target, so each total contains exact rows whose sum it must cover.
Smaller sizes get proportionally fewer totals (the same shape, scaled).

Each size runs ``cmoc validate DIR`` in a fresh process (its peak RSS its own, from
``getrusage`` of the child); the base is written before the clock starts.

Targets: 1,000,000 codings and 16,000 totals validate in under 60 s and 2 GiB on the 2-core
benchmark machine, and the time per row at that size is at most 2x that at a tenth of it
(linear cost). Results are printed and written as JSON to ``benchmarks/results/``.

Usage::

    python benchmarks/bench_validate.py              # 100,000 and 1,000,000 rows, 16,000 totals
    python benchmarks/bench_validate.py --quick      # 20,000 and 200,000 rows, 3,200 totals
    python benchmarks/bench_validate.py --sizes 50000 --totals 1600 --keep /tmp/b
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
GIB = 1024**3

PER_SOURCE = 25
"""Coding rows per source (one of them for the target of the totals)."""
TEAMS = 15
"""Teams per site: ``totals`` = sites + teams = 16 x sites."""
CMOCS = 500
WAVES = 4
TARGET_S = 60.0
TARGET_GIB = 2.0
TARGET_RATIO = 2.0


def make_base(directory: Path, rows: int, totals: int) -> dict:
    """Write a valid evidence base with ``rows`` source rows and ``totals`` group totals.

    Returns
    -------
    dict
        Counts of what was written.
    """
    directory.mkdir(parents=True)
    n_src = max(1, rows // PER_SOURCE)
    sites = max(1, min(totals // (TEAMS + 1), n_src // TEAMS))  # no team without sources
    n_teams = sites * TEAMS
    waves = [f"wave{w + 1}" for w in range(WAVES)]
    (directory / "evidence.toml").write_text(
        'name = "bench"\ntitle = "Generated base for bench_validate"\n'
        'citation = "benchmarks/bench_validate.py"\nformat = 1\n'
        f"waves = [{', '.join(json.dumps(w) for w in waves)}]\n",
        encoding="utf-8",
    )
    n_mech = CMOCS // 10
    with open(directory / "mechanisms.csv", "w", encoding="utf-8") as fh:
        fh.write("mechanism_id,name,definition\n")
        fh.writelines(f"M{m:03d},Mechanism {m},Definition {m}\n" for m in range(n_mech))
    with open(directory / "cmocs.csv", "w", encoding="utf-8") as fh:
        fh.write("cmoc_id,mechanism_id,context,outcome,sign,origin\n")
        fh.writelines(
            f"C{c:04d},M{c // 10:03d},Context {c},Outcome {c},+,prior\n" for c in range(CMOCS)
        )
    team_of = [j % n_teams for j in range(n_src)]
    with open(directory / "sources.csv", "w", encoding="utf-8") as fh:
        fh.write("source_id,kind,wave,group\n")
        fh.writelines(
            f"S{j:07d},interview,{waves[j * WAVES // n_src]},"
            f"site{team_of[j] // TEAMS:05d}/team{team_of[j] % TEAMS:02d}\n"
            for j in range(n_src)
        )
    in_team = [0] * n_teams
    n_rows = 0
    with open(directory / "codings.csv", "w", encoding="utf-8") as fh:
        fh.write("source_id,target_id,stance,count,count_min,count_max\n")
        for j in range(n_src):
            sid = f"S{j:07d}"
            # target C0000 carries the totals; the others are distinct per source (13 is prime
            # to 499)
            lines = [f"{sid},C0000,supports,1,,\n"]
            for k in range(PER_SOURCE - 1):
                c = (j * 7 + k * 13) % (CMOCS - 1) + 1
                stance = "supports" if (j + k) % 3 else "refutes"
                lines.append(f"{sid},C{c:04d},{stance},{1 + (j + k) % 5},,\n")
            fh.writelines(lines)
            n_rows += len(lines)
            in_team[team_of[j]] += 1
        for t in range(n_teams):  # exact team totals, at least the sum of their sources
            fh.write(
                f"site{t // TEAMS:05d}/team{t % TEAMS:02d},C0000,supports,{in_team[t] + 1},,\n"
            )
        for s in range(sites):  # banded site totals: at least their teams, unbounded
            low = sum(in_team[s * TEAMS + i] + 1 for i in range(TEAMS))
            fh.write(f"site{s:05d},C0000,supports,,{low},\n")
    return {"sources": n_src, "coding_rows": n_rows, "totals": sites + n_teams}


def run_validate(directory: Path) -> dict:
    """Run ``cmoc validate`` on ``directory`` in a fresh process; wall time and peak RSS."""
    cmoc = Path(sys.executable).with_name("cmoc")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(cmoc), "validate", str(directory)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or not proc.stdout.rstrip().endswith("valid"):
        raise RuntimeError(f"cmoc validate failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        # ru_maxrss of RUSAGE_CHILDREN is the largest child so far (KiB on Linux); the sizes
        # run smallest first, so each row's value is its own
        "peak_gib": round(after.ru_maxrss * 1024 / GIB, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Generate bases of each size, validate them, print and save the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", help="coding rows per base")
    p.add_argument("--totals", type=int, help="group totals per base")
    p.add_argument("--quick", action="store_true", help="20,000 and 200,000 rows, 3,200 totals")
    p.add_argument("--keep", type=Path, help="write the bases here and keep them")
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON results")
    args = p.parse_args(argv)
    sizes = sorted(args.sizes or ([20_000, 200_000] if args.quick else [100_000, 1_000_000]))
    totals = args.totals or (3_200 if args.quick else 16_000)
    runs = []
    with tempfile.TemporaryDirectory(prefix="cmoc-bench-validate-") as tmp:
        root = args.keep or Path(tmp)
        for size in sizes:
            directory = root / f"base_{size}"
            # totals in proportion: every base has the shape of the largest, scaled
            made = make_base(directory, size, max(TEAMS + 1, totals * size // sizes[-1]))
            result = {**made, **run_validate(directory)}
            result["us_per_row"] = round(result["wall_s"] / made["coding_rows"] * 1e6, 2)
            runs.append(result)
            print(
                f"{made['coding_rows']:>9,} rows + {made['totals']:,} totals "
                f"({made['sources']:,} sources): {result['wall_s']:.1f} s wall, "
                f"{result['cpu_s']:.1f} s CPU, peak {result['peak_gib']:.2f} GiB, "
                f"{result['us_per_row']:.1f} us per row",
                flush=True,
            )
    largest, smallest = runs[-1], runs[0]
    ratio = largest["us_per_row"] / smallest["us_per_row"] if len(runs) > 1 else None
    checks = {
        f"largest < {TARGET_S:.0f} s": largest["wall_s"] < TARGET_S,
        f"largest < {TARGET_GIB:.0f} GiB": largest["peak_gib"] < TARGET_GIB,
    }
    if ratio is not None:
        checks[f"time per row, largest / smallest <= {TARGET_RATIO}"] = ratio <= TARGET_RATIO
        print(f"time per row, largest / smallest: {ratio:.2f}")
    for name, ok in checks.items():
        print(f"{'met' if ok else 'NOT MET'}: {name}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"bench_validate_{stamp}.json"
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    (args.out / name).write_text(
        json.dumps(
            {
                "when": stamp,
                "commit": commit,
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "runs": runs,
                "ratio": ratio,
                "checks": checks,
            },
            indent=2,
        )
    )
    print(f"results written to {args.out / name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
