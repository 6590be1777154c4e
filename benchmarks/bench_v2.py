"""Benchmark model v2 (the measurement model): speed against a cell-by-cell baseline, IOC, scale.

Parts (issue 15, deliverable 8):

ratio
    cmoc's fit of model v2 (``ModelConfig(model="measurement")``: sufficient statistics, nutpie)
    against ``benchmarks/baseline_v2.py`` (the same model, one term per source x target cell
    and a mixture per (source, mechanism) pair, PyMC's own NUTS) on one base of 1,000 sources
    x 100 CMOCs drawn with the numpy generator of model v2, exact cells only. Metric: the
    smallest bulk ESS over ``breadth``, ``direction`` and ``depth_expected`` per second of wall
    time, model build to samples in hand (compilation included). Target: cmoc >= 20x.
ioc
    The IOC base (``evidence/ioc``), 4 chains x 1,000 draws + 1,000 tuning, per seed and
    target acceptance: wall time (build, compile, sampling), leapfrog steps, divergences,
    the convergence gate, largest R-hat and smallest bulk ESS. Target: < 20 s.
scale
    2,000 sources x 500 CMOCs (50 mechanisms, drawn as for ``ratio``): wall time and peak
    RSS (``VmHWM``). Targets: < 5 min, < 4 GiB.
gate
    The convergence gate at the defaults (extension included, ``cmoc.defaults.EXTEND``) on
    the two 1,000 x 100 bases whose true spreads are small (``spread=0.05``, and with
    ``mechanism_spread=0.05``), per seed: passed or not, the runs extended and why, wall
    time. Fits run in this process, one after another (the compilation shared, as a user's
    session would). Target: the gate passed at every seed.

Every fit runs in a fresh Python subprocess (nothing compiled in memory before it; its peak
RSS its own) with the machine's PyTensor compilation cache as it is (``--cache private`` for a
fresh one per run); bases are drawn and written before the clock starts. Results are printed
and written as JSON lines to ``benchmarks/results/``, with the 1-minute load average before
and after each fit: on a shared machine compare ratios within one run, not absolute times.

Usage::

    python benchmarks/bench_v2.py --part ratio [--baseline-draws 100 --baseline-tune 100]
        [--baseline-chains 2]
    python benchmarks/bench_v2.py --part gate --seeds 1 2 3 4 5 6 7 8 9 10 11 12
    python benchmarks/bench_v2.py --part ioc --seeds 20211 1 2 3 --target-accept 0.9 0.97
    python benchmarks/bench_v2.py --part ioc --seeds 20211 1 2 3 --target-accept 0.9 --tune 1000 500
    python benchmarks/bench_v2.py --part scale
    python benchmarks/bench_v2.py --part small --seeds 1 2 3 4 5 6 7 8 --extend 1 2
    python benchmarks/bench_v2.py --part context --seeds 1 2 3 4 5 6
    python benchmarks/bench_v2.py --part context --by group --seeds 1 2 3 4 5 6 --target-accept 0.99
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
MARK = "BENCH-RESULT "
GIB = 1024**3
SIM_SEED = 20240
FIT_SEED = 20211
QUANTITIES = ("breadth", "direction", "depth_expected")


@dataclass(frozen=True)
class Case:
    """One fit in a fresh subprocess: ``model`` is ``"cmoc"`` or ``"baseline"``."""

    label: str
    model: str
    path: str
    chains: int = 4
    draws: int = 1000
    tune: int = 500  # cmoc.defaults.TUNE["measurement"]
    seed: int = FIT_SEED
    target_accept: float = 0.9


# --------------------------------------------------------------------------------------------
# bases


def draw_base(
    root: Path,
    name: str,
    sources: int,
    cmocs: int,
    seed: int = SIM_SEED,
    spread: float | None = None,
    mechanism_spread: float | None = None,
) -> str:
    """Draw a base of exact cells with the v2 generator and write it under ``root``.

    Parameters are drawn from the priors, then the levels that set the base's size are fixed
    (activation 0.5 on average, evidencing logit -1.5, kind rates 0 and -0.5, dispersion 2), so
    that bases of different sizes have comparable density: about 0.1 non-zero cells per
    source and target. With ``spread``, every target-level spread (evidencing, depth and
    direction around their mechanism's) is that instead: the small-spread base of
    docs/model.md is ``spread=0.05``; with ``mechanism_spread`` too, the mechanisms'
    directions spread that much around their mean (``0.05``: every direction alike).
    """
    import numpy as np

    from cmoc.analyses.planning.calibration import _layout_files
    from cmoc.evidence import write_directory
    from cmoc.models import MeasurementPriors
    from cmoc.models.generate import CalibrationLayout
    from cmoc.models.generate_measurement import (
        draw_measurement_cells,
        draw_measurement_parameters,
        measurement_codings,
    )

    layout = CalibrationLayout(mechanisms=max(2, cmocs // 10), cmocs=cmocs, sources=sources)
    rng = np.random.default_rng(seed)
    p = draw_measurement_parameters(MeasurementPriors(), layout, rng)
    n_m, n_t = layout.mechanisms, len(p["evidencing_logit"])
    p["activation_mechanism"] = 0.3 * rng.standard_normal(n_m)
    p["evidencing_logit"] = -1.5 + (spread or 0.8) * rng.standard_normal(n_t)
    if mechanism_spread is not None:
        p["mu"] = p["support_mean"] + mechanism_spread * rng.standard_normal(n_m)
    if spread is not None:
        tm = np.concatenate([layout.cmoc_mechanism, np.arange(n_m)])
        p["depth_target"] = p["depth_mechanism"][tm] + spread * rng.standard_normal(n_t)
        p["eta"] = p["mu"][tm] + spread * rng.standard_normal(n_t)
    p["kind_rate"] = np.array([0.0, -0.5])
    p["dispersion"] = 2.0
    supports, refutes = draw_measurement_cells(p, layout, rng)
    path = root / name
    write_directory(path, _layout_files(layout, measurement_codings(supports, refutes, layout)))
    return str(path)


# --------------------------------------------------------------------------------------------
# the worker: one fit, in this (fresh) process


def _vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_case(case: Case) -> dict:
    """Fit one case and measure it (called in a fresh subprocess)."""
    import arviz as az

    import cmoc.analyses.fitting.sampling as sampling
    from cmoc.analyses import SamplerConfig, check_convergence, fit
    from cmoc.evidence import load_evidence
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import ModelConfig, measurement_data

    load_before = os.getloadavg()[0]
    base = load_evidence(case.path)
    md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
    info = {
        "sources": len(md.data.sources),
        "cmocs": len(md.data.cmocs),
        "mechanisms": len(md.data.mechanisms),
        "nonzero_cells": int(md.cell_n.size),
        "blocks": len(md.block_label),
        "block_targets": int(md.bt_tgt.size),
    }
    phases: dict[str, float] = {}
    compile_parts: dict[str, float] = {}  # PyTensor's functions (rewrites) and the C callbacks
    cores = max(1, min(os.cpu_count() or 1, case.chains))
    if case.model == "cmoc":
        import nutpie

        build, compile_ = sampling.build_measurement_model, nutpie.compile_pymc_model

        def timed_build(*args, **kwargs):
            t = time.perf_counter()
            out = build(*args, **kwargs)
            phases["build"] = time.perf_counter() - t
            return out

        def timed_compile(*args, **kwargs):
            t = time.perf_counter()
            out = compile_(*args, **kwargs)
            phases["compile"] = time.perf_counter() - t
            info["parameters"] = int(out.n_dim)
            return out

        sampling.build_measurement_model, nutpie.compile_pymc_model = timed_build, timed_compile
        import numba
        import nutpie.compile_pymc as ncp

        make_functions, cfunc = ncp._make_functions, numba.cfunc

        def timed_make_functions(*args, **kwargs):
            t = time.perf_counter()
            out = make_functions(*args, **kwargs)
            compile_parts["pytensor"] = time.perf_counter() - t
            return out

        def timed_cfunc(*args, **kwargs):
            decorate = cfunc(*args, **kwargs)

            def timed(fn):
                t = time.perf_counter()
                out = decorate(fn)
                compile_parts["callbacks"] = compile_parts.get("callbacks", 0.0) + (
                    time.perf_counter() - t
                )
                return out

            return timed

        ncp._make_functions, numba.cfunc = timed_make_functions, timed_cfunc
        s = SamplerConfig(
            seed=case.seed,
            chains=case.chains,
            draws=case.draws,
            tune=case.tune,
            target_accept=case.target_accept,
        )
        cpu0, t0 = _cpu_s(), time.perf_counter()
        idata = fit(base, ModelConfig(model="measurement"), s)
        wall = time.perf_counter() - t0
    else:
        import pymc as pm

        sys.path.insert(0, str(HERE))
        from baseline_v2 import build_baseline_v2, dense_cells

        cpu0, t0 = _cpu_s(), time.perf_counter()
        model = build_baseline_v2(md)
        phases["build"] = time.perf_counter() - t0
        info["dense_cells"] = dense_cells(md).n_cells
        info["parameters"] = sum(int(v.size) for v in model.initial_point().values())
        idata = pm.sample(
            model=model,
            draws=case.draws,
            tune=case.tune,
            chains=case.chains,
            cores=cores,
            random_seed=case.seed,
            nuts_sampler="pymc",
            target_accept=case.target_accept,
            progressbar=False,
            compute_convergence_checks=False,
        )
        wall = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    phases["sampling"] = wall - sum(phases.values())  # PyMC's compilation included (baseline)
    post = idata["posterior"].to_dataset()
    ess = az.ess(post[list(QUANTITIES)], method="bulk")
    min_ess = {q: float(ess[q].min()) for q in QUANTITIES}
    free = [v for v in post.data_vars if v not in QUANTITIES]
    rhat_all = az.rhat(post[free + list(QUANTITIES)])
    ess_all = az.ess(post[free + list(QUANTITIES)], method="bulk")
    t = time.perf_counter()
    check = check_convergence(idata)
    post_s = {"gate": time.perf_counter() - t}
    if case.model == "cmoc":
        from cmoc.analyses import summarize

        t = time.perf_counter()
        summarize(idata, base)
        post_s["summary"] = time.perf_counter() - t
    stats = idata["sample_stats"].to_dataset()
    steps = float(stats["n_steps"].mean())
    return {
        **asdict(case),
        **info,
        "cores": cores,
        "wall_s": wall,
        "cpu_s": cpu,
        "phases_s": phases,
        "compile_parts_s": compile_parts,
        "post_s": post_s,
        "min_ess_bulk": min_ess,
        "min_ess_bulk_quantities": min(min_ess.values()),
        "ess_per_s": min(min_ess.values()) / wall,
        "max_rhat": float(max(float(rhat_all[v].max()) for v in rhat_all.data_vars)),
        "min_ess_bulk_any": float(min(float(ess_all[v].min()) for v in ess_all.data_vars)),
        "divergences": int(stats["diverging"].sum()),
        "converged": bool(check.passed),
        "convergence": check.text,
        "mean_leapfrog_steps": steps,
        "approx_ms_per_gradient": 1e3
        * phases["sampling"]
        * cores
        / (steps * case.chains * (case.draws + case.tune)),
        "peak_rss_bytes": _vm_hwm(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "git": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
    }


def spawn(case: Case, env: dict, log: Path) -> dict:
    """Run one case in a fresh subprocess; append its result to ``log``."""
    print(f"  running {case.label} ({case.model}) ...", flush=True, file=sys.stderr)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(asdict(case))],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            out = json.loads(line[len(MARK) :])
            break
    else:
        raise RuntimeError(f"{case.label} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    ph = out["phases_s"]
    print(
        f"    {out['wall_s']:.1f} s wall ({'/'.join(f'{v:.0f}' for v in ph.values())} "
        f"{'/'.join(ph)}), {out['cpu_s']:.0f} s CPU, {out['divergences']} divergent, "
        f"min ESS {out['min_ess_bulk_quantities']:.0f}, R-hat {out['max_rhat']:.3f}, "
        f"steps {out['mean_leapfrog_steps']:.1f}, peak {out['peak_rss_bytes'] / GIB:.2f} GiB, "
        f"load {out['loadavg_before']:.1f}-{out['loadavg_after']:.1f}",
        flush=True,
        file=sys.stderr,
    )
    with log.open("a") as f:
        f.write(json.dumps(out) + "\n")
    return out


# --------------------------------------------------------------------------------------------
# parts


def part_ratio(root: Path, args, run) -> None:
    path = draw_base(root, "v2_1000x100", 1000, 100)
    cmoc = run(Case("1000 x 100", "cmoc", path))
    base = run(
        Case(
            "1000 x 100",
            "baseline",
            path,
            chains=args.baseline_chains,
            draws=args.baseline_draws,
            tune=args.baseline_tune,
        )
    )
    print(
        "\n| model | chains x (tune + draws) | wall s | CPU s | min bulk ESS | ESS/s | div | steps "
        "| ms/grad | max R-hat | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in (cmoc, base):
        print(
            f"| {r['model']} | {r['chains']} x ({r['tune']:,} + {r['draws']:,}) "
            f"| {r['wall_s']:.1f} "
            f"| {r['cpu_s']:.0f} | {r['min_ess_bulk_quantities']:.0f} | {r['ess_per_s']:.2f} "
            f"| {r['divergences']} | {r['mean_leapfrog_steps']:.1f} "
            f"| {r['approx_ms_per_gradient']:.2f} | {r['max_rhat']:.3f} "
            f"| {r['loadavg_before']:.1f}-{r['loadavg_after']:.1f} |"
        )
    per_cpu = [r["min_ess_bulk_quantities"] / r["cpu_s"] for r in (cmoc, base)]
    print(
        f"\nratio of ESS per wall second: {cmoc['ess_per_s'] / base['ess_per_s']:.1f}x "
        f"(per CPU second {per_cpu[0] / per_cpu[1]:.1f}x); target >= 20x"
    )


def part_ioc(root: Path, args, run) -> None:
    rows = [
        run(
            Case(
                f"IOC seed {seed} ta {ta} tune {tune}",
                "cmoc",
                str(ROOT / "evidence" / "ioc"),
                seed=seed,
                target_accept=ta,
                tune=tune,
            )
        )
        for tune in args.tune
        for ta in args.target_accept or [0.9]
        for seed in args.seeds
    ]
    print(
        "\n| tune | target_accept | seed | wall s | CPU s | build/compile/sampling s "
        "| compile: PyTensor/callbacks s | gate/summary s | steps | div | max R-hat "
        "| min bulk ESS (any) | min bulk ESS (quantities) | gate | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ph = "/".join(f"{r['phases_s'].get(k, 0):.1f}" for k in ("build", "compile", "sampling"))
        cp = "/".join(f"{r['compile_parts_s'].get(k, 0):.1f}" for k in ("pytensor", "callbacks"))
        post = "/".join(f"{r['post_s'].get(k, 0):.1f}" for k in ("gate", "summary"))
        print(
            f"| {r['tune']} | {r['target_accept']} | {r['seed']} | {r['wall_s']:.1f} "
            f"| {r['cpu_s']:.0f} | {ph} | {cp} | {post} "
            f"| {r['mean_leapfrog_steps']:.1f} | {r['divergences']} | {r['max_rhat']:.3f} "
            f"| {r['min_ess_bulk_any']:.0f} | {r['min_ess_bulk_quantities']:.0f} "
            f"| {'passed' if r['converged'] else 'failed'} "
            f"| {r['loadavg_before']:.1f}-{r['loadavg_after']:.1f} |"
        )


def part_scale(root: Path, args, run) -> None:
    path = draw_base(root, "v2_2000x500", 2000, 500)
    rows = [run(Case(f"2000 x 500 seed {seed}", "cmoc", path, seed=seed)) for seed in args.seeds]
    for seed, r in zip(args.seeds, rows, strict=True):
        ph = "/".join(f"{r['phases_s'].get(k, 0):.0f}" for k in ("build", "compile", "sampling"))
        print(
            f"\n2000 x 500, seed {seed}: {r['nonzero_cells']:,} non-zero cells, "
            f"{r['parameters']} parameters, {r['wall_s']:.1f} s wall ({ph} "
            f"build/compile/sampling), {r['cpu_s']:.0f} s CPU, "
            f"peak {r['peak_rss_bytes'] / GIB:.2f} GiB, {r['divergences']} divergent, "
            f"gate {'passed' if r['converged'] else 'failed: ' + r['convergence']}, "
            f"load {r['loadavg_before']:.1f}-{r['loadavg_after']:.1f}; targets < 300 s, < 4 GiB"
        )


def part_gate(root: Path, args, run) -> None:
    import time

    from cmoc.analyses import SamplerConfig, check_convergence, fit
    from cmoc.evidence import load_evidence
    from cmoc.models import ModelConfig

    print("\n| base | seed | gate | runs extended (draws + tune: failures) | wall s |")
    print("|---|---|---|---|---|")
    passed = total = 0
    for name, extra in (("spread 0.05", {}), ("spread 0.05, mechanisms 0.05", {"ms": 0.05})):
        path = draw_base(
            root, f"v2_small_{len(extra)}", 1000, 100, spread=0.05,
            mechanism_spread=extra.get("ms"),
        )  # fmt: skip
        base = load_evidence(path)
        for seed in args.seeds:
            start = time.perf_counter()
            idata = fit(base, ModelConfig(model="measurement"), SamplerConfig(seed=seed))
            wall = time.perf_counter() - start
            check = check_convergence(idata)
            runs = json.loads(idata.attrs.get("extended", "[]"))
            said = "; ".join(
                f"{r['draws']} + {r['tune']}: {', '.join(r['failures'])}" for r in runs
            )
            print(
                f"| {name} | {seed} | {'passed' if check.passed else 'FAILED'} "
                f"| {said or '-'} | {wall:.1f} |",
                flush=True,
            )
            passed += check.passed
            total += 1
    print(f"\ngate passed at {passed} of {total} fits; target: all")


def part_small(root: Path, args, run) -> None:
    """Check the gate at the defaults on a small theory: the planted web base of the link tests."""
    import time

    from cmoc.analyses import SamplerConfig, check_convergence, fit
    from cmoc.evidence import load_evidence
    from cmoc.models import ModelConfig

    sys.path.insert(0, str(ROOT / "tests"))
    from test_links_planted import draw_web_base

    print("\n| seed | --extend | gate | runs extended (draws + tune at target_accept) | wall s |")
    print("|---|---|---|---|---|")
    passed = total = 0
    for seed in args.seeds:
        base = load_evidence(draw_web_base(root / f"web{seed}", seed))
        for extend in args.extend:
            start = time.perf_counter()
            idata = fit(base, ModelConfig(), SamplerConfig(seed=seed, extend=extend))
            wall = time.perf_counter() - start
            check = check_convergence(idata)
            runs = json.loads(idata.attrs.get("extended", "[]"))
            said = "; ".join(
                f"{r['draws']} + {r['tune']} at {r['target_accept']:g}: {', '.join(r['failures'])}"
                for r in runs
            )
            verdict = "passed" if check.passed else f"FAILED ({'; '.join(check.failures)})"
            print(f"| {seed} | {extend} | {verdict} | {said or '-'} | {wall:.1f} |", flush=True)
            passed += check.passed
            total += 1
    print(f"\ngate passed at {passed} of {total} fits; target: all")


def part_context(root: Path, args, run) -> None:
    """Recover the planted context dependence per seed: detection, false flags, coverage.

    ``--by kind``: K1 (reviews 0.9, interviews 0.2); ``--by group``: G1 (site A 0.9, site B
    0.2, sources of both kinds in both sites), fitted with contexts by group level 2.
    """
    import time

    import numpy as np

    from cmoc.analyses import SamplerConfig, check_convergence, context_estimates, fit
    from cmoc.evidence import load_evidence
    from cmoc.models import ModelConfig

    sys.path.insert(0, str(ROOT / "tests"))
    from test_links_planted import (
        ACTIVE,
        CONTEXT_PLANTED,
        GROUP_PLANTED,
        PLANTED,
        SITES,
        draw_web_base,
    )

    by_group = args.by == "group"
    planted = PLANTED | (GROUP_PLANTED if by_group else CONTEXT_PLANTED)
    target, (first, second) = ("G1", SITES) if by_group else ("K1", ("review", "interview"))
    print(
        f"\n| seed | gate | {target} {first} | {target} {second} | P(direction differs) "
        "| others flagged | 90% coverage: breadth, direction | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        groups = SITES if by_group else ()
        base = load_evidence(draw_web_base(root / f"ctx{seed}", seed, planted, groups))
        start = time.perf_counter()
        ta = args.target_accept[0] if args.target_accept else 0.95
        sampler = SamplerConfig(seed=seed, tune=1000, target_accept=ta)
        idata = fit(base, ModelConfig(context="group:2" if by_group else "kind"), sampler)
        wall = time.perf_counter() - start
        frame = context_estimates(idata, base)
        k1 = frame[frame["target_id"] == target].set_index("context")
        others = frame[frame["target_id"] != target]
        flagged = others.loc[others["depends_on_context"] | others["beyond_contexts"], "target_id"]
        hits = {"breadth": [], "direction": []}
        for r in frame[frame["target_type"] == "cmoc"].itertuples():
            mech, _ctx, _sign, _origin, b, q = planted[r.target_id]
            b = b[r.context] if isinstance(b, dict) else b  # by kind, or by site
            q = q[r.context] if isinstance(q, dict) else q
            hits["breadth"].append(r.breadth_lo <= ACTIVE[mech] * b <= r.breadth_hi)
            if r.direction_identified:
                hits["direction"].append(r.direction_lo <= q <= r.direction_hi)

        def interval(kind, k1=k1):
            row = k1.loc[kind]
            return f"{row.direction_mean:.2f} [{row.direction_lo:.2f}, {row.direction_hi:.2f}]"

        cover = ", ".join(f"{np.mean(v):.2f} of {len(v)}" for v in hits.values())
        gate = "passed" if check_convergence(idata).passed else "FAILED"
        print(
            f"| {seed} | {gate} | {interval(first)} | {interval(second)} "
            f"| {k1['p_differs_direction'].iloc[0]:.2f} | {flagged.nunique()} of "
            f"{others['target_id'].nunique()} | {cover} | {wall:.1f} |",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--part", choices=("ratio", "ioc", "scale", "gate", "small", "context"), default="ratio"
    )
    parser.add_argument(
        "--by", choices=("kind", "group"), default="kind", help="--part context: the contexts"
    )
    parser.add_argument("--baseline-draws", type=int, default=100)
    parser.add_argument("--baseline-tune", type=int, default=100)
    parser.add_argument(
        "--baseline-chains",
        type=int,
        default=4,
        help="ratio: the baseline's chains (2 halves its wall time on 2 cores; ESS/s is per chain)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[FIT_SEED])
    parser.add_argument(
        "--target-accept",
        type=float,
        nargs="+",
        default=None,
        help="ioc: 0.9 (cmoc's default); context: 0.95 (the first value given)",
    )
    parser.add_argument(
        "--tune", type=int, nargs="+", default=[500], help="ioc: tuning steps (cmoc's default)"
    )
    parser.add_argument(
        "--extend", type=int, nargs="+", default=[1], help="small: extensions (cmoc's default)"
    )
    parser.add_argument("--cache", choices=("machine", "private"), default="machine")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(MARK + json.dumps(run_case(Case(**json.loads(args.worker)))), flush=True)
        return 0
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log = RESULTS / f"bench_v2_{args.part}_{stamp}.jsonl"
    with tempfile.TemporaryDirectory(prefix="cmoc-bench-v2-") as tmp:
        env = dict(os.environ)
        if args.cache == "private":
            env["PYTENSOR_FLAGS"] = f"base_compiledir={Path(tmp) / 'cache'}"
        parts = {
            "ratio": part_ratio,
            "ioc": part_ioc,
            "scale": part_scale,
            "gate": part_gate,
            "small": part_small,
            "context": part_context,
        }
        parts[args.part](Path(tmp), args, lambda case: spawn(case, env, log))
    if log.exists():  # the gate part prints its table only
        print(f"\nresults: {log.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
