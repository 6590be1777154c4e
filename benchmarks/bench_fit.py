"""Benchmark cmoc's fit: speed-up over a naive baseline (part A) and scaling (part B).

Part A
    cmoc's fit (sufficient statistics, its own parametrisation, nutpie) against the naive reference
    in ``benchmarks/baseline.py`` (dense Poisson grid, centred hierarchy, PyMC's own NUTS) on one
    simulated base with exact counts only. Metric: smallest bulk ESS of ``support_cmoc`` per
    second of wall time, from model build to samples in hand (compilation included).
Part B
    cmoc's fit time (wall, compilation included) and peak memory (VmHWM) over sources and CMOCs,
    the flagship 2,000 sources x 500 CMOCs, the bundled IOC base and a default 300-source base.

Every fit runs in a fresh Python subprocess (so compilation is never cached in memory and the
peak RSS is that fit's own); the evidence base is simulated and loaded before the clock starts.
The on-disk compilation cache is private to the run and its state explicit (``--cache``).

Usage::

    python benchmarks/bench_fit.py [--part a|b|all] [--quick] [--cache warm|cold|shared]

Results are printed as tables and written as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
MARK = "BENCH-RESULT "
GIB = 1024**3

SIM_SEED = 20240
FIT_SEED = 20211


# --------------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class Case:
    """One fit to run in a fresh subprocess.

    Attributes
    ----------
    label : str
        Row label.
    model : {"cmoc", "baseline"}
    path : str
        Evidence base directory.
    chains, draws, tune : int
    seed : int
        Sampler seed.
    warmup : bool
        Only build and compile (filling the compilation cache), do not sample.
    """

    label: str
    model: str
    path: str
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int = FIT_SEED
    warmup: bool = False


def mechanisms_for(cmocs: int) -> int:
    """Mechanisms in a simulated base: one per ten CMOCs, at least the default eight."""
    return max(8, cmocs // 10)


def make_base(root: Path, name: str, **spec) -> str:
    """Simulate a base under ``root`` and return its path (outside any timing)."""
    from cmoc.analyses import SimulationSpec, simulate

    path = root / name
    simulate(path, SimulationSpec(**spec), seed=SIM_SEED)
    return str(path)


# --------------------------------------------------------------------------------------------
# the worker: one fit, in this (fresh) process


def _vm_hwm() -> int:
    """Peak resident set size of this process in bytes (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tree_stats(stats) -> dict:
    """Tree depth, leapfrog steps and step size from nutpie or PyMC sample stats."""
    depth = stats["depth"] if "depth" in stats else stats["tree_depth"]
    hit = stats.get("maxdepth_reached", stats.get("reached_max_treedepth"))
    return {
        "mean_tree_depth": float(depth.mean()),
        "max_tree_depth": int(depth.max()),
        "max_depth_hits": int(hit.sum()) if hit is not None else None,
        "mean_leapfrog_steps": float(stats["n_steps"].mean()),
        "mean_step_size": float(stats["step_size"].mean()),
    }


def warm_up(case: Case) -> dict:
    """Build and compile what the fit of ``case`` will compile, and time it."""
    from cmoc.evidence import load_evidence

    base = load_evidence(case.path)
    t0 = time.perf_counter()
    if case.model == "cmoc":
        import nutpie

        from cmoc.models import build_model

        nutpie.compile_pymc_model(build_model(base), backend="numba")
    else:
        import pymc as pm

        sys.path.insert(0, str(HERE))
        from baseline import build_baseline

        pm.sample(  # compiles what pm.sample compiles; one draw
            model=build_baseline(base),
            draws=1,
            tune=1,
            chains=1,
            cores=1,
            nuts_sampler="pymc",
            progressbar=False,
            compute_convergence_checks=False,
        )
    return {"cold_compile_s": time.perf_counter() - t0}


def run_case(case: Case) -> dict:
    """Fit one case and measure it (called in a fresh subprocess)."""
    import arviz as az

    import cmoc.analyses.fitting.sampling as sampling
    from cmoc.analyses import SamplerConfig, check_convergence, fit
    from cmoc.evidence import load_evidence
    from cmoc.models import ModelConfig
    from cmoc.models.data import model_data

    load_before = os.getloadavg()
    base = load_evidence(case.path)
    d = model_data(base)
    info = {
        "sources": len(d.sources),
        "cmocs": len(d.cmocs),
        "mechanisms": len(d.mechanisms),
        "nonzero_cells": int(d.n_cells),
        "aggregate_rows": len(d.agg_label),
        "coding_rows": len(base.codings),
    }
    phases: dict[str, float] = {}
    if case.model == "cmoc":
        import nutpie

        # time the phases of fit() by wrapping what it calls (no change to cmoc itself)
        build, compile_ = sampling.build_model, nutpie.compile_pymc_model

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

        sampling.build_model, nutpie.compile_pymc_model = timed_build, timed_compile
        s = SamplerConfig(seed=case.seed, chains=case.chains, draws=case.draws, tune=case.tune)
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        idata = fit(base, sampler=s)
        wall = time.perf_counter() - t0
        cores = s.n_cores
        info["adaptation"] = s.adaptation
        resolve = getattr(sampling, "nutpie_adaptation", None)  # how cmoc resolves "auto"
        limit = getattr(sampling, "LOW_RANK_MAX_DIM", None)  # (before nutpie_adaptation)
        if resolve is not None:
            family = ModelConfig().model
            info["adaptation"] = resolve(s.adaptation, info["parameters"], family)["adaptation"]
        elif s.adaptation == "auto" and isinstance(limit, int):
            info["adaptation"] = "low_rank" if info["parameters"] <= limit else "diag"
    else:
        import pymc as pm

        sys.path.insert(0, str(HERE))
        from baseline import build_baseline, dense_data

        if info["aggregate_rows"]:
            raise ValueError("the baseline needs a base whose model data has no aggregate rows")
        cores = max(1, min(os.cpu_count() or 1, case.chains))
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        dense = dense_data(base)
        model = build_baseline(dense)
        phases["build"] = time.perf_counter() - t0
        info["parameters"] = sum(int(v.size) for v in model.initial_point().values())
        info["adaptation"] = "diag (PyMC)"
        idata = pm.sample(
            model=model,
            draws=case.draws,
            tune=case.tune,
            chains=case.chains,
            cores=cores,
            random_seed=case.seed,
            nuts_sampler="pymc",
            progressbar=False,
            compute_convergence_checks=False,
        )
        wall = time.perf_counter() - t0
        info["dense_cells"] = int(dense.n_cells)
    cpu = _cpu_s() - cpu0
    phases["sampling"] = wall - sum(phases.values())  # includes PyMC's compilation for baseline
    post = idata["posterior"]
    ess = az.ess(post["support_cmoc"].to_dataset(), method="bulk")["support_cmoc"]
    check = check_convergence(idata)
    stats = idata["sample_stats"].to_dataset()
    tree = _tree_stats(stats)
    gradients = tree["mean_leapfrog_steps"] * case.chains * (case.draws + case.tune)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    min_ess = float(ess.min())
    return {
        **asdict(case),
        **info,
        "cores": cores,
        "wall_s": wall,
        "cpu_s": cpu,
        "phases_s": phases,
        "min_ess_bulk_support_cmoc": min_ess,
        "ess_per_s": min_ess / wall,
        "divergences": check.divergences,
        "converged": check.passed,
        "convergence": check.text,
        **tree,
        # rough: sampling wall x cores over all leapfrog steps (tuning steps assumed alike)
        "approx_ms_per_gradient": 1e3 * phases["sampling"] * cores / gradients,
        "peak_rss_bytes": _vm_hwm(),
        "children_peak_rss_bytes": children,
        "git": _git(),  # the model code may change between fits of one run: record it per fit
        "loadavg_before": load_before[0],
        "loadavg_after": os.getloadavg()[0],
    }


PARTIAL: list[Path] = []  # where spawn() appends each result as it comes (JSON lines)
CACHE: dict = {"mode": "warm", "root": None, "n": 0}  # see --cache


def _worker(case: Case, cache_dir: Path) -> dict:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache_dir}"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(asdict(case))],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise RuntimeError(f"{case.label} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def spawn(case: Case) -> dict:
    """Run one case in a fresh subprocess and return its measurements.

    The compilation cache (PyTensor's ``base_compiledir``, which holds numba's and the C
    backend's caches) is private to the benchmark: with ``--cache warm`` each fit gets a fresh
    one, filled first by a compile-only run in another process (whose time is reported as the
    cold compile); ``cold`` gives each fit a fresh, empty one; ``shared`` one for the whole run.
    """
    mode, root = CACHE["mode"], Path(CACHE["root"])
    CACHE["n"] += 1
    cache_dir = root / ("shared" if mode == "shared" else f"case{CACHE['n']}")
    cold = None
    if mode == "warm":
        print(
            f"  compiling {case.label} ({case.model}), cold cache ...", flush=True, file=sys.stderr
        )
        cold = _worker(replace(case, warmup=True), cache_dir)["cold_compile_s"]
        print(f"    {cold:.1f} s", flush=True, file=sys.stderr)
    print(f"  running {case.label} ({case.model}) ...", flush=True, file=sys.stderr)
    out = {**_worker(case, cache_dir), "cache": mode, "cold_compile_s": cold}
    print(
        f"    {out['wall_s']:.1f} s wall ({_phases(out)}), {out['cpu_s']:.0f} s CPU, "
        f"{out['divergences']} divergent, load {out['loadavg_before']:.1f}",
        flush=True,
        file=sys.stderr,
    )
    for path in PARTIAL:
        with path.open("a") as f:
            f.write(json.dumps(out) + "\n")
    return out


# --------------------------------------------------------------------------------------------
# parts


def part_a(root: Path, quick: bool, baseline_draws: int, baseline_tune: int) -> dict:
    """CMOC-support ESS per second: cmoc against the naive baseline on one base."""
    from cmoc.evidence import load_evidence
    from cmoc.models.data import model_data

    sources, cmocs = (200, 20) if quick else (1000, 100)
    spec = {
        "sources": sources,
        "cmocs": cmocs,
        "mechanisms": mechanisms_for(cmocs),
        "banded_fraction": 0.0,
    }
    path = make_base(root, "part_a", **spec)
    d = model_data(load_evidence(path))
    assert not d.agg_label, "part A's base must have exact counts only"
    draws = 300 if quick else 1000
    cmoc = Case("cmoc", "cmoc", path, draws=draws, tune=draws)
    base = Case("baseline", "baseline", path, draws=baseline_draws, tune=baseline_tune)
    rows = [spawn(cmoc), spawn(base)]
    return {"spec": spec, "rows": rows, "ratio": rows[0]["ess_per_s"] / rows[1]["ess_per_s"]}


def part_b(root: Path, quick: bool) -> dict:
    """Fit time and peak memory of cmoc over sizes, the flagship, IOC and a 300-source base."""
    if quick:  # a smoke run: two sizes and the IOC base only
        src_sizes, cmoc_sizes, fixed_cmocs, fixed_sources = [100, 200], [], 20, 200
        flagship, draws = None, 300
    else:
        src_sizes, cmoc_sizes, fixed_cmocs, fixed_sources = (
            [100, 300, 1000, 2000],
            [50, 100, 250, 500],
            100,
            1000,
        )
        flagship, draws = (2000, 500), 1000
    runs: dict[tuple[int, int], dict] = {}

    def sized(n_src: int, n_cmoc: int) -> dict:
        if (n_src, n_cmoc) not in runs:
            spec = {"sources": n_src, "cmocs": n_cmoc, "mechanisms": mechanisms_for(n_cmoc)}
            path = make_base(root, f"sim_{n_src}x{n_cmoc}", **spec)
            label = f"{n_src} sources x {n_cmoc} CMOCs"
            runs[n_src, n_cmoc] = spawn(Case(label, "cmoc", path, draws=draws, tune=draws))
        return runs[n_src, n_cmoc]

    series = {f"sources (CMOCs = {fixed_cmocs})": [sized(n, fixed_cmocs) for n in src_sizes]}
    if cmoc_sizes:
        series[f"CMOCs (sources = {fixed_sources})"] = [sized(fixed_sources, n) for n in cmoc_sizes]
    if flagship:
        series["flagship"] = [sized(*flagship)]
    ioc_path = str(ROOT / "evidence" / "ioc")
    bases = [spawn(Case("IOC (evidence/ioc)", "cmoc", ioc_path, draws=draws, tune=draws))]
    if not quick:
        sim300 = make_base(root, "sim_default")  # default SimulationSpec: 300 sources, 40 CMOCs
        label = "default SimulationSpec (300 sources)"
        bases.append(spawn(Case(label, "cmoc", sim300, draws=draws, tune=draws)))
    return {"series": series, "bases": bases}


# --------------------------------------------------------------------------------------------
# printing


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _phases(r: dict) -> str:
    p = r["phases_s"]
    return "/".join(f"{p[k]:.0f}" for k in ("build", "compile", "sampling") if k in p)


def _cold(r: dict) -> str:
    return "-" if r.get("cold_compile_s") is None else f"{r['cold_compile_s']:.0f}"


CACHE_NOTE = {
    "warm": "wall times are with a warm compilation cache (each fit's own, filled by a "
    "compile-only run first); 'cold comp s' is that run's build + compile with an empty cache "
    "(a first fit takes about wall - compile + cold comp)",
    "cold": "wall times are with an empty compilation cache (every fit compiles from scratch)",
    "shared": "one compilation cache for the whole run (the first fit compiles cold, later ones "
    "reuse what they share with earlier ones)",
}


def print_a(res: dict) -> None:
    cm, bl = res["rows"]
    print("\nPart A: smallest bulk ESS of support_cmoc per second (wall, compile included)")
    print(
        f"base: {res['spec']['sources']} sources x {res['spec']['cmocs']} CMOCs "
        f"({res['spec']['mechanisms']} mechanisms), exact counts only; "
        f"{cm['nonzero_cells']} non-zero cells, {bl['dense_cells']} dense cells x 2 stances"
    )
    head = [
        "model",
        "chains",
        "tune",
        "draws",
        "wall s",
        "CPU s",
        "phases s",
        "cold comp s",
        "min ESS",
        "ESS/s",
        "div",
        "converged",
        "depth",
        "params",
        "adapt",
        "steps",
        "ms/grad",
    ]
    rows = [
        [
            r["label"],
            str(r["chains"]),
            str(r["tune"]),
            str(r["draws"]),
            f"{r['wall_s']:.1f}",
            f"{r['cpu_s']:.0f}",
            _phases(r),
            _cold(r),
            f"{r['min_ess_bulk_support_cmoc']:.0f}",
            f"{r['ess_per_s']:.3f}",
            str(r["divergences"]),
            "yes" if r["converged"] else "no",
            f"{r['mean_tree_depth']:.1f}",
            str(r.get("parameters", "-")),
            str(r.get("adaptation", "-")).replace(" (PyMC)", ""),
            f"{r['mean_leapfrog_steps']:.0f}",
            f"{r['approx_ms_per_gradient']:.2f}",
        ]
        for r in (cm, bl)
    ]
    print(_table(head, rows))
    print(CACHE_NOTE[cm["cache"]] + ".")
    print(
        "phases: cmoc data+build/compile/sampling; baseline build/sampling (PyMC compiles inside "
        "pm.sample). CPU s: user + system of the fit's process and its children. ms/grad is "
        "approximate (sampling wall x cores / leapfrog steps of the draws, tuning assumed alike)."
    )
    if (bl["draws"], bl["tune"]) != (cm["draws"], cm["tune"]):
        print(
            f"NOTE: the baseline ran {bl['tune']} tune + {bl['draws']} draws per chain (cmoc "
            f"{cm['tune']} + {cm['draws']}) to keep its run short; the metric is per second."
        )
    print(f"ratio cmoc / baseline (ESS per second): {res['ratio']:.1f}x  (target >= 10x)")
    cpu_ratio = (cm["min_ess_bulk_support_cmoc"] / cm["cpu_s"]) / (
        bl["min_ess_bulk_support_cmoc"] / bl["cpu_s"]
    )
    print(f"same per CPU second (less sensitive to other load on the machine): {cpu_ratio:.1f}x")


def print_b(res: dict) -> None:
    print("\nPart B: cmoc fit time (wall, compile included) and peak memory (VmHWM)")
    head = [
        "series",
        "sources",
        "CMOCs",
        "mechs",
        "non-zero",
        "agg",
        "wall s",
        "CPU s",
        "phases s",
        "cold comp s",
        "s/1k nz",
        "x smallest",
        "peak GiB",
        "div",
        "converged",
        "min ESS",
        "depth",
        "params",
        "adapt",
        "load",
    ]
    smallest = min(
        (r for rows in res["series"].values() for r in rows),
        key=lambda r: r["nonzero_cells"] + r["aggregate_rows"],
    )
    rows = []

    def row(name: str, r: dict, ref: dict) -> list[str]:
        nz = r["nonzero_cells"] + r["aggregate_rows"]
        return [
            name,
            str(r["sources"]),
            str(r["cmocs"]),
            str(r["mechanisms"]),
            str(r["nonzero_cells"]),
            str(r["aggregate_rows"]),
            f"{r['wall_s']:.1f}",
            f"{r['cpu_s']:.0f}",
            _phases(r),
            _cold(r),
            f"{1000 * r['wall_s'] / nz:.2f}" if nz else "-",
            f"{r['wall_s'] / ref['wall_s']:.2f}",
            f"{r['peak_rss_bytes'] / GIB:.2f}",
            str(r["divergences"]),
            "yes" if r["converged"] else "no",
            f"{r['min_ess_bulk_support_cmoc']:.0f}",
            f"{r['mean_tree_depth']:.1f}",
            str(r.get("parameters", "-")),
            str(r.get("adaptation", "-")).replace(" (PyMC)", ""),
            f"{r['loadavg_before']:.1f}",
        ]

    for name, series in res["series"].items():
        for r in series:
            rows.append(row(name, r, series[0] if len(series) > 1 else smallest))
    for r in res["bases"]:
        rows.append(row(r["label"], r, r))
    print(_table(head, rows))
    print(
        "non-zero: non-zero exact source-level counts; agg: wave/group totals and banded rows; "
        "s/1k nz: wall seconds per 1000 of (non-zero + agg); x smallest: wall time over the "
        "first row of the series (flagship: over the smallest sized run); phases: "
        "data+build/compile/sampling; load: 1-min load average when the fit started."
    )
    print(CACHE_NOTE[res["bases"][0]["cache"]] + ".")
    print("params: unconstrained parameters; adapt: nutpie's mass-matrix adaptation used.")
    print("targets: IOC < 20 s; 300 sources < 60 s; 2000 x 500 < 300 s and < 4 GiB; 0 divergent")


# --------------------------------------------------------------------------------------------
# main


def _git() -> dict:
    """Commit of the working tree and whether ``src/`` has uncommitted changes."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return ""
        return out.stdout.strip()

    diff = git("diff", "HEAD", "--", "src")
    return {
        "commit": git("rev-parse", "HEAD"),
        "src_dirty": bool(git("status", "--short", "src")),
        # identifies uncommitted changes to src/ (the model may change while a run is going)
        "src_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else "",
    }


def machine_info() -> dict:
    """CPU count, platform and package versions."""
    from importlib.metadata import version

    from cmoc.analyses import package_versions

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": {**package_versions(), "numba": version("numba")},
        "git": _git(),
        "loadavg_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one fit)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=["a", "b", "all"], default="all")
    p.add_argument("--quick", action="store_true", help="small sizes and draws (smoke run)")
    p.add_argument("--baseline-draws", type=int, help="baseline draws per chain")
    p.add_argument("--baseline-tune", type=int, help="baseline tuning steps per chain")
    p.add_argument(
        "--cache",
        choices=["warm", "cold", "shared"],
        help="compilation cache of each fit: fresh and pre-filled by a compile-only run (warm, "
        "the default), fresh and empty (cold), or one for the whole run (shared, the default "
        "with --quick)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON results")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        case = Case(**json.loads(args.worker))
        result = warm_up(case) if case.warmup else run_case(case)
        print(MARK + json.dumps(result), flush=True)
        return 0

    # the baseline is slow: by default 200 + 200 per chain (100 + 100 for --quick)
    b_draws = args.baseline_draws or (100 if args.quick else 200)
    b_tune = args.baseline_tune or b_draws
    info = machine_info()
    print(f"cmoc fit benchmark, {info['date']}, {info['cpu_count']} cores, {info['platform']}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    dirty = " (src/ has uncommitted changes)" if info["git"]["src_dirty"] else ""
    print(f"commit {info['git']['commit'][:12]}{dirty}")
    out: dict = {"machine": info, "quick": args.quick, "command": " ".join(sys.argv)}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"bench_fit_{args.part}{'_quick' if args.quick else ''}_{stamp}.json"
    PARTIAL.append(args.out / (name + "l.partial"))  # each fit as it finishes
    t0 = time.perf_counter()
    CACHE["mode"] = out["cache"] = args.cache or ("shared" if args.quick else "warm")
    print(f"compilation cache: {CACHE['mode']} (see --cache)")
    with tempfile.TemporaryDirectory(prefix="cmoc-bench-") as tmp:
        root = Path(tmp)
        CACHE["root"] = str(root / "pytensor-cache")
        if args.part in ("a", "all"):
            out["part_a"] = part_a(root, args.quick, b_draws, b_tune)
            print_a(out["part_a"])
        if args.part in ("b", "all"):
            out["part_b"] = part_b(root, args.quick)
            print_b(out["part_b"])
    out["total_s"] = time.perf_counter() - t0
    out["machine"]["loadavg_at_end"] = os.getloadavg()
    (args.out / name).write_text(json.dumps(out, indent=2, default=str) + "\n")
    PARTIAL[0].unlink(missing_ok=True)
    print(f"\ntotal {out['total_s']:.0f} s; results written to {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
