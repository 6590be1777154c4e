"""Independent tasks run on Dask: a local cluster, an existing scheduler, or this process.

Used by the calibration (one fit per simulated dataset) and the plan (simulations and exact
refits). Results come back in task order, so they do not depend on the number of workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

__all__ = ["run_on_dask"]


def run_on_dask(
    func: Callable,
    tasks: Sequence[tuple],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = False,
    label: str = "tasks",
) -> list:
    """Run ``func(*args)`` for every tuple of ``tasks`` through ``dask.distributed``.

    Parameters
    ----------
    func : callable
        A module-level function (workers import it by name).
    tasks : sequence of tuple
        Arguments of each call.
    workers : int
        Worker processes of the local cluster (one thread each), ignored with ``scheduler``;
        0 runs the tasks one after the other in this process (no cluster to start: quicker
        for a few cheap tasks, same results).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers need cmoc.
    progress : bool
        A progress bar on stderr.
    label : str
        What the progress bar counts.

    Returns
    -------
    list
        The results in the order of ``tasks`` (never in order of completion), so they do not
        depend on the number of workers.
    """
    from dask.distributed import Client, LocalCluster, as_completed
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if scheduler is None and workers < 0:
        raise ValueError(f"workers must be at least 0 (got {workers})")
    if scheduler is None and workers == 0:
        return [func(*args) for args in tasks]
    cluster = None
    if scheduler is None:
        import dask

        # non-daemonic workers may start processes of their own (an isolated calibration task)
        with dask.config.set({"distributed.worker.daemon": False}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as err:
            raise ValueError(f"cannot reach the Dask scheduler {scheduler!r}: {err}") from err
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    try:
        futures = [client.submit(func, *args, pure=False) for args in tasks]
        where = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        with bar:
            job = bar.add_task(label, total=len(futures))
            for future in as_completed(futures):
                results[where[future.key]] = future.result()
                bar.advance(job)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
