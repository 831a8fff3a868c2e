"""The cells of an experiment as a task graph on a Dask distributed cluster
(`sdae-experiment --executor=dask`).

Each cell is a task; a shared pretraining that several cells fine-tune from is a task of its
own that they depend on; a cell that reads another's metrics (`@COLUMN/ROW.key`) depends on
that cell's task (and does its own pretraining, whose configuration may depend on what it
reads). Every task trains through `experiments.run_cell`, so its runs live in the shared pool
under their claims: a run is trained once however many tasks reach it, and a task retried
after its worker was lost resumes the run from its last checkpoint (the dead worker's claim
died with it). The records are built in the client, in the flagfile's order, exactly as the
sequential runner builds them.

`ClusterSpec(workers=N, threads_per_worker=T)` starts a `LocalCluster` of N worker processes
on this machine, each running one cell at a time with T TensorFlow threads;
`ClusterSpec(scheduler="tcp://host:8786")` joins a running cluster (workers started with
`dask worker tcp://host:8786` on other machines, the pool on a shared file system).
"""

import dataclasses
import os

# Task retries beyond the scheduler's own rescheduling of a lost worker's tasks.
RETRIES = 2


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """Where the cells run: a `LocalCluster` of `workers` processes (`threads_per_worker`
    TensorFlow threads each), or the cluster at `scheduler`.

    Attributes:
        workers: worker processes of a `LocalCluster`.
        threads_per_worker: TensorFlow threads per worker.
        scheduler: the address of an existing cluster's scheduler, or None.
    """

    workers: int = 2
    threads_per_worker: int = 1
    scheduler: str | None = None

    def validate(self):
        if self.scheduler is None and self.workers < 1:
            raise ValueError(f"--workers must be at least 1. Received: {self.workers}")
        if self.threads_per_worker < 1:
            raise ValueError("--threads_per_worker must be at least 1. Received: "
                             f"{self.threads_per_worker}")

    def run_cells(self, name, specs, base_cfg, pool_dir, ledger, on_cell):
        """The cells of experiment `name` on this cluster (`run_cells`): the executor
        `experiments.run_experiment` calls, without importing this module."""
        return run_cells(name, specs, base_cfg, pool_dir, ledger, self, on_cell)


def _client(spec):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--executor=dask needs Dask distributed: pip install "
                         "'sdae_tf[dask]'") from None
    if spec.scheduler:
        return Client(spec.scheduler), None
    threads = str(spec.threads_per_worker)
    # One cell at a time per worker; TensorFlow's own threads set before it starts.
    cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0",
                           env={"TF_NUM_INTRAOP_THREADS": threads,
                                "TF_NUM_INTEROP_THREADS": threads,
                                # the CLI's oneDNN choice (utils.process), before TensorFlow
                                "TF_ENABLE_ONEDNN_OPTS": os.environ.get(
                                    "TF_ENABLE_ONEDNN_OPTS", "1"),
                                "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL",
                                                                       "2")})
    return Client(cluster), cluster


def _config(cfg_dict):
    from sdae_tf.runner import config as config_lib

    return config_lib.from_record(cfg_dict)


def pretraining_task(pre_dict, pool_dir):
    """A shared pretraining run (in a worker): its metrics.

    Args:
        pre_dict: the pretraining run's config, a dict.
        pool_dir: the run pool.

    Returns:
        The run's metrics.
    """
    from sdae_tf.utils import process

    process.setup()  # the tools' TensorFlow settings, as in the CLI
    from sdae_tf.reproduce import experiments

    return experiments.ensure_run(_config(pre_dict), pool_dir)


def cell_task(spec_dict, base_dict, pool_dir, ledger_path, experiment, refs, *after):
    """One cell (in a worker): `experiments.run_cell` with the metrics of the cells it reads
    (`refs`: {name: metrics}). `after` (the pretraining task's result) only orders it. Plain
    dicts travel to the worker, so nothing imports TensorFlow before `process.setup()`.

    Args:
        spec_dict: the cell's `RunSpec`, a dict.
        base_dict: the experiment's base config, a dict.
        pool_dir: the run pool.
        ledger_path: the ledger file, or None.
        experiment: the experiment's name.
        refs: {cell name: metrics} of the cells it reads.
        *after: results of the tasks it waits for (ignored).

    Returns:
        (metrics, the pretraining run's directory or None).
    """
    del after
    from sdae_tf.utils import process

    process.setup()
    from sdae_tf.reproduce import experiments
    from sdae_tf.reproduce.ledger import Ledger

    book = Ledger(ledger_path) if ledger_path else None
    return experiments.run_cell(experiments.RunSpec(**spec_dict), _config(base_dict),
                                dict(refs), pool_dir, ledger=book, experiment=experiment)


def run_cells(name, specs, base_cfg, pool_dir, ledger, spec, on_cell):
    """Runs `specs` on the cluster `spec` describes; returns {cell name: (metrics,
    pretraining run dir)} as `experiments._sequential` does, calling `on_cell` as cells
    finish.

    Args:
        name: the experiment's name.
        specs: the cells' `RunSpec`s.
        base_cfg: the experiment's base `TrainConfig`.
        pool_dir: the run pool.
        ledger: a `Ledger`, or None.
        spec: the `ClusterSpec`, or None (a two-worker LocalCluster).
        on_cell: called with (name, result) as cells finish.
    """
    from distributed import as_completed

    from sdae_tf.reproduce import experiments
    from sdae_tf.runner import config as config_lib

    spec = spec or ClusterSpec()
    spec.validate()
    pool_dir = os.path.abspath(pool_dir)
    ledger_path = str(ledger.path.absolute()) if ledger is not None else None
    base_dict = dataclasses.asdict(base_cfg)
    client, cluster = _client(spec)
    try:
        print(f"[{name}] Dask cluster: {len(client.scheduler_info()['workers'])} workers, "
              f"dashboard {client.dashboard_link}", flush=True)
        pretrainings, futures = {}, {}
        for cell in specs:
            after = []
            if not experiments.references(cell):
                cfg = config_lib.replace(base_cfg, **experiments._resolve(cell, {}))
                cfg, pre = experiments.with_shared_pretraining(cfg, pool_dir)
                if pre is not None and experiments.from_ledger(cfg, pool_dir, ledger) is None:
                    key = experiments.pool_dir_for(pre, pool_dir).name
                    if key not in pretrainings:
                        pretrainings[key] = client.submit(
                            pretraining_task, dataclasses.asdict(pre), pool_dir,
                            key=f"pretrain-{key}", retries=RETRIES, pure=False)
                    after.append(pretrainings[key])
            refs = {ref: futures[ref] for ref in experiments.references(cell)}
            futures[cell.name] = client.submit(
                cell_task, dataclasses.asdict(cell), base_dict, pool_dir, ledger_path, name,
                _metrics_only(client, refs), *after,
                key=f"cell-{name}-{cell.name}", retries=RETRIES, pure=False)
        done = {}
        by_future = {f.key: n for n, f in futures.items()}
        for future in as_completed(list(futures.values())):
            cell_name = by_future[future.key]
            done[cell_name] = tuple(future.result())
            print(f"[{name} {len(done)}/{len(specs)}] {cell_name} finished", flush=True)
            on_cell(done, [s.name for s in specs if s.name not in done])
        return done
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _first(pair):
    return pair[0]


def _metrics_only(client, refs):
    """{name: future of the referenced cell's metrics} (its task returns (metrics, pre))."""
    return {n: client.submit(_first, f, pure=False, key=f"metrics-of-{f.key}")
            for n, f in refs.items()}
