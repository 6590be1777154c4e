"""Where the time of one model v2 fit goes, phase by phase, in this (fresh) process.

Times (wall and CPU of this process, its threads included) the imports, loading the evidence,
building the model, compiling it for nutpie (split into PyTensor's functions, i.e. graph
rewriting and loading their numba code, and the C callbacks), sampling (split into tuning and
drawing by leapfrog steps: nutpie's warm-up is kept for the count), the provenance stamp, the
convergence gate and the summary; prints one ``RESULT {json}`` line. Run it once per process;
to time an earlier commit in the same session, extract its ``src`` and put it first on
``PYTHONPATH``::

    python benchmarks/bench_v2_phases.py --seed 20211 --tune 1000
    git archive b4dea08 src | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src python benchmarks/bench_v2_phases.py --seed 20211 --tune 1000

Sampling CPU is about (warm-up + draw steps) x the cost of a log density and gradient; on a
shared machine compare CPU seconds and ratios within one session, not wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import asdict

T0 = time.perf_counter()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--base", default=os.path.join(os.path.dirname(__file__), "..", "evidence", "ioc")
    )
    ap.add_argument("--seed", type=int, default=20211)
    ap.add_argument("--target-accept", type=float, default=0.9)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--adaptation", default="auto")
    ap.add_argument("--no-summary", action="store_true")
    a = ap.parse_args()
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def mark(name: str, t: float, c: float) -> None:
        wall[name], cpu[name] = time.perf_counter() - t, _cpu() - c

    t, c = T0, 0.0
    import numba
    import nutpie
    import nutpie.compile_pymc as ncp
    import xarray as xr

    import cmoc.analyses.fitting.sampling as sampling
    from cmoc.analyses import SamplerConfig, check_convergence, summarize
    from cmoc.analyses.fitting.provenance import stamp
    from cmoc.evidence import load_evidence
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import ModelConfig, build_measurement_model

    mark("import", t, c)
    t, c = time.perf_counter(), _cpu()
    base = load_evidence(a.base)
    recording = {k: r.refutes for k, r in refutes_recording(base).items()}
    mark("load", t, c)
    t, c = time.perf_counter(), _cpu()
    model = build_measurement_model(base, recording)
    mark("build", t, c)

    parts = {"pytensor": [0.0, 0.0], "callbacks": [0.0, 0.0]}
    make_functions, cfunc = ncp._make_functions, numba.cfunc

    def timed_make_functions(*args, **kwargs):
        t, c = time.perf_counter(), _cpu()
        out = make_functions(*args, **kwargs)
        parts["pytensor"][0] += time.perf_counter() - t
        parts["pytensor"][1] += _cpu() - c
        return out

    def timed_cfunc(*args, **kwargs):
        decorate = cfunc(*args, **kwargs)

        def timed(fn):
            t, c = time.perf_counter(), _cpu()
            out = decorate(fn)
            parts["callbacks"][0] += time.perf_counter() - t
            parts["callbacks"][1] += _cpu() - c
            return out

        return timed

    ncp._make_functions, numba.cfunc = timed_make_functions, timed_cfunc
    t, c = time.perf_counter(), _cpu()
    compiled = sampling._compile_nutpie(model, None)
    mark("compile", t, c)
    ncp._make_functions, numba.cfunc = make_functions, cfunc

    s = SamplerConfig(
        seed=a.seed,
        tune=a.tune,
        draws=a.draws,
        target_accept=a.target_accept,
        adaptation=a.adaptation,
    ).validated()
    adaptation = sampling.nutpie_adaptation(s.adaptation, compiled.n_dim, "measurement")
    t, c = time.perf_counter(), _cpu()
    trace = nutpie.sample(
        compiled,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        cores=s.n_cores,
        seed=s.seed,
        target_accept=s.target_accept,
        **adaptation,
        save_warmup=True,
        progress_bar=False,
    )
    mark("sampling", t, c)
    t, c = time.perf_counter(), _cpu()
    keep = {k: trace[k].to_dataset() for k in ("posterior", "sample_stats")}
    idata = stamp(xr.DataTree.from_dict(keep), base, ModelConfig(model="measurement"), asdict(s))
    mark("stamp", t, c)
    t, c = time.perf_counter(), _cpu()
    check = check_convergence(idata)
    mark("gate", t, c)
    if not a.no_summary:
        t, c = time.perf_counter(), _cpu()
        summarize(idata, base)
        mark("summary", t, c)
    stats = idata["sample_stats"].to_dataset()
    warm = trace["warmup_sample_stats"].to_dataset()
    out = {
        "args": vars(a),
        "parameters": int(compiled.n_dim),
        "adaptation": adaptation["adaptation"],
        "cores": s.n_cores,
        "wall_s": {k: round(v, 2) for k, v in wall.items()},
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "compile_wall_cpu_s": {k: [round(x, 2) for x in v] for k, v in parts.items()},
        "total_wall_s": round(time.perf_counter() - T0, 2),
        "total_cpu_s": round(_cpu(), 2),
        "warmup_steps": int(warm["n_steps"].sum()),
        "draw_steps": int(stats["n_steps"].sum()),
        "steps_per_draw": float(stats["n_steps"].mean()),
        "step_size": float(stats["step_size"].mean()),
        "divergences": int(stats["diverging"].sum()),
        "gate": bool(check.passed),
        "gate_text": check.text,
        "loadavg": os.getloadavg(),
    }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
