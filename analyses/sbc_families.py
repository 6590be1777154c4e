"""Simulation-based calibration of model v2 on a layout family, run in chunks and merged.

Every dataset of the ``ioc`` and ``mixed`` families compiles a graph of its own (a total's
counts are constants of model v2's graph), so a run of the ~85 datasets the tests need for
power 0.5 takes hours on two shared cores. This script runs it in chunks, one seed per chunk
(``cmoc calibrate``'s own datasets: chunk ``s`` is ``calibrate(size, seed=s, ...)``), saves
each chunk as it finishes, and merges the chunks found into one table: datasets of different
seeds are independent draws from the priors, so their ranks pool. A run stopped part way keeps
its finished chunks, and a later run adds more seeds.

Run from the repository root::

    NUMBA_OPT=0 .venv/bin/python analyses/sbc_families.py run ioc --first 100 --chunks 12
    .venv/bin/python analyses/sbc_families.py merge ioc

``NUMBA_OPT=0`` (numba's LLVM optimisation off) halves each compilation and leaves sampling
time unchanged; the draws differ from an optimised build's, which SBC does not need. Chunks go
to ``analyses/results/sbc/<family>-<seed>.json`` (the result files of ``cmoc calibrate
--out``); ``merge`` prints the uniformity tests, their power and the verdict as Markdown and
``cmoc calibrate`` would word it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from cmoc.analyses.planning.calibration import (
    CalibrationResult,
    calibrate,
    load_calibration,
    rank_uniformity,
)
from cmoc.models import ModelConfig
from cmoc.models.generate import CalibrationLayout

RESULTS = Path(__file__).parent / "results" / "sbc"
ALPHA = 0.01


def run(family: str, first: int, chunks: int, size: int, out: Path = RESULTS) -> None:
    """Run ``chunks`` chunks of ``size`` datasets (seeds ``first``, ``first + 1``, ...)."""
    out.mkdir(parents=True, exist_ok=True)
    layout = CalibrationLayout.family(family)
    for seed in range(first, first + chunks):
        path = out / f"{family}-{seed}.json"
        if path.exists():
            continue
        t0 = time.perf_counter()
        result = calibrate(
            size, seed=seed, layout=layout, config=ModelConfig(model="measurement"), workers=0
        )
        result.save(path)
        took = time.perf_counter() - t0
        print(f"{family} seed {seed}: {size} datasets in {took:.0f} s", file=sys.stderr)


def merge(family: str, out: Path = RESULTS) -> CalibrationResult:
    """Pool the ranks of every saved chunk of ``family`` and test them together."""
    parts, settings = [], None
    for path in sorted(out.glob(f"{family}-*.json")):
        chunk = load_calibration(path)
        seed = int(chunk.settings["seed"])
        ranks = chunk.ranks.assign(seed=seed, dataset=seed * 1000 + chunk.ranks["dataset"])
        parts.append(ranks)
        settings = chunk.settings.to_dict()
    if not parts:
        raise SystemExit(f"no saved chunk of {family!r} in {out}")
    ranks = pd.concat(parts, ignore_index=True)
    settings.update(datasets=int(ranks["dataset"].nunique()), seed=-1)
    return CalibrationResult.of(ranks, rank_uniformity(ranks, alpha=ALPHA), ALPHA, settings)


def markdown(result: CalibrationResult) -> str:
    """Return the tests as a Markdown table, then the verdict and the divergences."""
    t = result.tests
    lines = [
        "| quantity | p-value | mean rank | bins | power | uniform |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in t.iterrows():
        lines.append(
            f"| {r['quantity']} | {r['p_value']:.3f} | {r['mean_rank']:.3f} | {int(r['bins'])}"
            f" | {r['power']:.2f} | {'yes' if r['uniform'] else 'NO'} |"
        )
    per = result.ranks.groupby("dataset")["divergences"].first()
    lines += [
        "",
        f"{result.text}.",
        f"Datasets: {per.size} from {result.ranks['seed'].nunique()} seeds; with divergences: "
        f"{int((per > 0).sum())} (at most {int(per.max())}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run chunks, or merge the saved ones."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["run", "merge"])
    ap.add_argument("family", choices=["ioc", "mixed", "exact"])
    ap.add_argument("--first", type=int, default=100, help="seed of the first chunk")
    ap.add_argument("--chunks", type=int, default=12)
    ap.add_argument("--size", type=int, default=8, help="datasets per chunk")
    ap.add_argument("--dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.action == "run":
        run(args.family, args.first, args.chunks, args.size, args.dir)
    print(markdown(merge(args.family, args.dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
