"""Model v2's log density and gradient: cost ratios within one process, and equality of values.

Compiles the log density and gradient (Jacobians included) of:

- ``cmoc``: :func:`cmoc.models.build_measurement_model` as it is now (numba, as nutpie does);
- ``ref``: the same function from an earlier commit (``--ref``, read with ``git show``), to
  check that a change to the likelihood keeps the log density (to ``--tol``) and to time it;
- ``baseline``: ``baseline_v2.py``'s cell-by-cell model (C backend, as ``pm.sample``), on bases
  of exact cells only;

checks that all give the same log density and gradient at random points, then times them in
turn (best of 5 rounds, CPU time) and prints the ratios. Ratios within one run are what to
compare on a shared machine; the load average is printed with them.

Usage::

    python benchmarks/bench_v2_gradient.py --base evidence/ioc --ref 515d9a3
    python benchmarks/bench_v2_gradient.py --sources 1000 --cmocs 100 --baseline
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def _module_at(ref: str, directory: Path):
    """``cmoc.models.measurement`` as of commit ``ref``, imported as a stand-alone module."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:src/cmoc/models/measurement.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # its relative imports made absolute (the rest of the package as it is now)
    text = re.sub(r"^from \.\.", "from cmoc.", text, flags=re.MULTILINE)
    text = re.sub(r"^from \.", "from cmoc.models.", text, flags=re.MULTILINE)
    path = directory / f"measurement_{ref}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> int:
    import pytensor
    from bench_v2 import draw_base

    from cmoc.evidence import load_evidence
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import build_measurement_model, measurement_data

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", help="an evidence base directory (else one is drawn)")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--cmocs", type=int, default=100)
    parser.add_argument("--ref", help="a commit whose model v2 to compare with")
    parser.add_argument("--baseline", action="store_true", help="the cell-by-cell baseline too")
    parser.add_argument("--tol", type=float, default=1e-8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cmoc-bench-v2-") as tmp:
        path = args.base or draw_base(Path(tmp), "base", args.sources, args.cmocs)
        base = load_evidence(path)
        md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
        builders = {"cmoc": (build_measurement_model, "NUMBA")}
        if args.ref:
            builders["ref"] = (_module_at(args.ref, Path(tmp)).build_measurement_model, "NUMBA")
        if args.baseline:
            from baseline_v2 import build_baseline_v2

            builders["baseline"] = (build_baseline_v2, "FAST_RUN")
        print(
            f"base: {path}, {len(md.data.sources)} sources, {len(md.data.targets)} targets, "
            f"{md.cell_n.size} non-zero cells, {len(md.block_label)} blocks"
        )
        fns, names = {}, None
        for label, (build, mode) in builders.items():
            model = build(md)
            vv = model.value_vars
            names = names or [v.name for v in vv]
            assert [v.name for v in vv] == names, "models differ in their parameters"
            logp = model.logp(jacobian=True)
            t0 = time.process_time()
            fns[label] = pytensor.function(vv, [logp, *pytensor.grad(logp, vv)], mode=mode)
            print(f"  {label}: compiled in {time.process_time() - t0:.1f} s CPU", flush=True)
            ip = model.initial_point()
        rng = np.random.default_rng(1)
        points = [[ip[n] + rng.normal(0.0, 0.7, np.shape(ip[n])) for n in names] for _ in range(8)]
        values = {k: [f(*p) for p in points] for k, f in fns.items()}
        for label in fns:
            if label == "cmoc":
                continue
            pairs = list(zip(values["cmoc"], values[label], strict=True))
            dl = max(abs(float(a[0]) - float(b[0])) for a, b in pairs)
            dg = max(
                float(
                    np.max(
                        np.abs(
                            np.concatenate([np.ravel(x) for x in a[1:]])
                            - np.concatenate([np.ravel(y) for y in b[1:]])
                        )
                    )
                )
                for a, b in pairs
            )
            ok = "ok" if dl <= args.tol * max(1.0, abs(float(values["cmoc"][0][0]))) else "DIFFERS"
            print(f"  cmoc vs {label}: max |log density diff| {dl:.2e}, gradient {dg:.2e} ({ok})")
        cost = {k: [] for k in fns}
        for _ in range(5):
            for label, f in fns.items():
                n, t0 = 0, time.process_time()
                while n < 3 or time.process_time() - t0 < 0.5:
                    f(*points[0])
                    n += 1
                cost[label].append((time.process_time() - t0) / n)
        best = {k: min(v) for k, v in cost.items()}
        print(f"CPU per log density + gradient (load {os.getloadavg()[0]:.1f}):")
        for label, c in best.items():
            print(f"  {label}: {c * 1e3:.3f} ms ({c / best['cmoc']:.2f}x cmoc's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
