"""Experiments: the runs behind one table or figure of the report, trained by the one loop.

A flagfile for `sdae-experiment` gives the shared training flags (the budget: epochs, learning
rates, seeds) and one `--run` per cell:

    --run=sdae/mnist_rot: model=sdae_mnist dataset=mnist_rot pretrain_dataset=mnist

`COLUMN/ROW` names the cell (see `sdae_tf.reproduce.report` for the report's columns and rows); the
`key=value` pairs (separated by spaces) override `TrainConfig` fields for that run. A value
`@COLUMN/ROW.key` is read from an earlier run's metrics (Table 3's control takes
`noise_level=@sdae_learned/mnist_bg_rand.mean_sigma`).

Every run lives in a pool directory under a name that hashes its whole configuration, so runs
shared by several experiments (Table 1's SDAE on bg-rand is Table 3's fixed-sigma column) are
trained once, a finished run is reused, and an interrupted one resumes. Runs that fine-tune
after layer-wise pretraining share the pretraining: the stack is pretrained once per distinct
pretraining configuration (a run with no fine-tuning) and each cell starts from it
(`init_from`), so Table 1 pretrains the SDAE on MNIST once for its four datasets.

The experiment directory gets `experiment.json` (every run: its cell, run directory, test
accuracy, wall time, figures), `results.md` (report vs ours) and, for each figure the runs drew,
one PNG with the runs side by side.
"""

import dataclasses
import fnmatch
import hashlib
import json
import pathlib
import re
import time

from sdae_tf import zoo
from sdae_tf.reproduce import report
from sdae_tf.reproduce.ledger import Ledger
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import config_values, training
from sdae_tf.runner import run_identity as identity_lib
from sdae_tf.runner import validation as validation_lib
from sdae_tf.train.checkpoints import write_json_atomic, write_text_atomic
from sdae_tf.utils import claims, storage

# Fields an experiment's `--run` may not set: the runner owns them.
RUNNER_FIELDS = config_lib.runner_fields()


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One cell of an experiment: `column/row` and its `TrainConfig` overrides (strings).

    Attributes:
        column, row: the cell's place in the table.
        overrides: {field: value text} over the experiment's base config.
    """

    column: str
    row: str
    overrides: dict

    @property
    def name(self):
        return f"{self.column}/{self.row}"


def parse_run(text):
    """`"COLUMN/ROW: key=value key=value"` -> `RunSpec`; errors name the bad part.

    Args:
        text: a `--run` value.

    Returns:
        A `RunSpec`.

    Raises:
        ValueError: a malformed cell or an unknown field, naming it.

    Example:

    ```python
    from sdae_tf.reproduce import experiments
    spec = experiments.parse_run("sdae/mnist_rot: model=sdae_mnist dataset=mnist_rot")
    print(spec.name, spec.overrides)  # sdae/mnist_rot {'model': 'sdae_mnist', ...}
    ```
    """
    head, sep, rest = text.partition(":")
    if not sep or head.count("/") != 1 or not all(head.strip().split("/")):
        raise ValueError(f"--run {text!r}: expected 'COLUMN/ROW: key=value ...'")
    column, row = (part.strip() for part in head.split("/"))
    fields = set(config_lib.keys())
    overrides = {}
    for pair in rest.split():
        key, eq, value = pair.partition("=")
        if not eq or not value:
            raise ValueError(f"--run {text!r}: {pair!r} is not key=value")
        if key not in fields:
            raise ValueError(f"--run {text!r}: unknown setting {key!r}. Settings: "
                             f"{', '.join(sorted(fields - set(RUNNER_FIELDS)))}")
        if key in RUNNER_FIELDS:
            raise ValueError(f"--run {text!r}: {key} is set by the experiment runner, not a run")
        overrides[key] = value
    return RunSpec(column, row, overrides)


def _convert(key, value):
    """A `--run` value (string) as its setting's type (`config_values.parse_value`)."""
    return config_values.parse_value(key, value)


def _resolve(spec, finished):
    """`spec.overrides` as typed values, `@COLUMN/ROW.key` read from `finished` runs."""
    out = {}
    for key, value in spec.overrides.items():
        if value.startswith("@"):
            ref, _, metric = value[1:].rpartition(".")
            if ref not in finished:
                raise ValueError(f"--run {spec.name}: {key}={value} refers to {ref!r}, which is "
                                 "not an earlier run of this experiment")
            if finished[ref].get(metric) is None:
                raise ValueError(f"--run {spec.name}: {key}={value}: run {ref} has no "
                                 f"{metric!r} in its metrics")
            out[key] = _convert(key, str(finished[ref][metric]))
        else:
            try:
                out[key] = _convert(key, value)
            except ValueError as err:
                raise ValueError(f"--run {spec.name}: {err}") from None
    return out


def pool_key(cfg):
    """A short hash of everything that changes what `cfg` computes
    (`sdae_tf.runner.run_identity.identity`: fields at their default value are left out, so
    adding a field at a default that keeps today's behaviour keeps the keys of existing runs,
    and an interrupted pool resumes across versions).

    Args:
        cfg: a run's `TrainConfig`.

    Returns:
        10 hex characters.
    """
    text = json.dumps(run_identity(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# A pretraining run's folder in a pool (`pool_dir_for`): its name is its configuration's key.
_POOL_PRETRAINING = re.compile(r".+-pretrain-[0-9a-f]{10}")


def run_identity(cfg):
    """`sdae_tf.runner.run_identity.identity(cfg)` with a shared pretraining named by its run,
    not by where the pool is: a cell starting from `<any pool>/<pretraining run>` is the same
    computation whatever path the process spelled its pool with (relative, absolute, another
    mount), so
    processes sharing a pool, and the Dask workers, agree on its key (written as the default
    pool's `runs/pool/<run>`, the keys of existing runs unchanged).

    Args:
        cfg: a run's `TrainConfig`.

    Returns:
        A JSON-ready dict.
    """
    identity = identity_lib.identity(cfg)
    init = identity.get("init_from")
    if init:
        path = pathlib.PurePath(str(init))
        run = path if _POOL_PRETRAINING.fullmatch(path.name) else path.parent
        if _POOL_PRETRAINING.fullmatch(run.name):
            identity["init_from"] = str(pathlib.PurePath("runs/pool", run.name,
                                                         path.relative_to(run)))
    return identity


def pool_dir_for(cfg, pool_dir):
    """The run folder of `cfg` in the run pool: `<model>-<dataset>[-pretrain]-<pool key>`.

    Args:
        cfg: a run's `TrainConfig`.
        pool_dir: the run pool.

    Returns:
        The run's folder, a `pathlib.Path`.
    """
    dataset = cfg.dataset or zoo.REGISTRY.get(cfg.model).dataset
    suffix = "" if identity_lib.has_task_stage(cfg) else "-pretrain"
    return pathlib.Path(pool_dir) / f"{cfg.model}-{dataset}{suffix}-{pool_key(cfg)}"


WHEN_CLAIMED = ("wait", "skip")


def _reused(run_dir):
    metrics = storage.read_json(run_dir / "metrics.json", "the run's metrics")
    metrics["run_dir"] = str(run_dir)
    metrics["reused"] = True
    return metrics


def ensure_run(cfg, pool_dir, when_claimed="wait"):
    """The metrics of `cfg`'s run in the pool: read if finished, else trained (or resumed)
    under the run's claim (`sdae_tf.utils.claims`). A run another process is training is waited for
    and then reused (`when_claimed="wait"`), or left to it (`"skip"`: `RunClaimedError`, the
    caller comes back later). A run is finished only when its metrics.json is in place.

    Args:
        cfg: a run's `TrainConfig`.
        pool_dir: the run pool.
        when_claimed: "wait" or "skip".

    Returns:
        The run's metrics.

    Raises:
        RunClaimedError: with "skip", a run another process holds.
    """
    if when_claimed not in WHEN_CLAIMED:
        raise ValueError(f"--when_claimed={when_claimed}: choose one of "
                         f"{', '.join(WHEN_CLAIMED)}")
    run_dir = pool_dir_for(cfg, pool_dir)
    while True:
        if (run_dir / "metrics.json").exists():
            print(f"Reusing the finished run {run_dir}", flush=True)
            return _reused(run_dir)
        if claims.is_claimed(run_dir):
            if when_claimed == "skip":
                raise claims.RunClaimedError(run_dir, claims.holder(run_dir))
            claims.wait_until_free(run_dir, on_wait=lambda who: print(
                f"Waiting for {run_dir}: trained by process {who.get('pid')} on "
                f"{who.get('host')}", flush=True))
            continue
        try:
            return training.run(dataclasses.replace(cfg, run_dir=str(run_dir)))
        except FileExistsError:
            # Claimed, or finished, by another process between the look and the claim.
            if (run_dir / "metrics.json").exists() or claims.is_claimed(run_dir):
                if when_claimed == "skip" and not (run_dir / "metrics.json").exists():
                    raise
                continue
            raise


def pretraining_config(cfg):
    """The pretraining-only run that `cfg` starts from: same stack, noise, pretraining
    schedule, seeds and data settings, on `pretrain_dataset`; no fine-tuning, no figures.

    Args:
        cfg: a run's `TrainConfig`.

    Returns:
        The pretraining run's `TrainConfig`.
    """
    base = config_lib.TrainConfig()
    dataset = cfg.pretrain_dataset or cfg.dataset
    if dataset == zoo.REGISTRY.get(cfg.model).dataset:
        dataset = None  # the model's own, as a cell that names no dataset has it
    return dataclasses.replace(
        cfg, dataset=dataset, pretrain_dataset=None,
        finetune_epochs=0, **{name: getattr(base, name) for name in config_lib.finetune_fields()},
        figures=(), num_samples=0, export_dir=None, run_dir=None)


def _shares_pretraining(cfg):
    entry = zoo.REGISTRY.get(cfg.model)
    return (entry.layerwise_pretraining and cfg.pretrain_epochs > 0
            and identity_lib.has_task_stage(cfg) and cfg.init_from is None)


def with_shared_pretraining(cfg, pool_dir):
    """(`cfg` starting from its shared pretraining run in `pool_dir`, that run's config), or
    (`cfg`, None) when the cell pretrains nothing to share. Where the experiment runner puts a
    cell's runs, and where `benchmarks/report_tables.py` looks for them.

    Args:
        cfg: a run's `TrainConfig`.
        pool_dir: the run pool.
    """
    if not _shares_pretraining(cfg):
        return cfg, None
    pre = pretraining_config(cfg)
    return dataclasses.replace(cfg, init_from=str(pool_dir_for(pre, pool_dir))), pre


def _cell_record(spec, metrics, pretrain_dir):
    return {
        "column": spec.column,
        "row": spec.row,
        "model": metrics["model"],
        "dataset": metrics["dataset"],
        "pretrain_dataset": metrics.get("pretrain_dataset"),
        "run_dir": metrics["run_dir"],
        "pretrain_run": pretrain_dir,
        "test_accuracy": metrics.get("test_accuracy"),
        "val_accuracy": metrics.get("val_accuracy"),
        "mean_sigma": metrics.get("mean_sigma"),
        "seconds": metrics.get("seconds", 0.0),
        "figures": metrics.get("figures", {}),
        "reused": bool(metrics.get("reused")),
        **{k: metrics[k] for k in ("unsupervised", "interpolation", "segmentation")
           if k in metrics},
        **({"clustering": {k: v for k, v in metrics["clustering"].items() if k != "history"}}
           if "clustering" in metrics else {}),
    }


def compose_figures(runs, out_dir, title):
    """One PNG per figure name: the runs' pictures side by side (or the one picture).

    Args:
        runs: the cells' records (each with its `figures`).
        out_dir: the experiment directory.
        title: the figures' title.

    Returns:
        {figure name: path}.
    """
    from sdae_tf.evaluation import plots

    names = sorted({name for r in runs for name in r["figures"]})
    out = {}
    for name in names:
        drawn = [r for r in runs if name in r["figures"]
                 and pathlib.Path(r["figures"][name]).is_file()]
        if not drawn:  # every run drawing it came from the ledger, its files elsewhere
            print(f"Figure {name}: no run in this pool has it (rerun a cell to draw it)",
                  flush=True)
            continue
        target = pathlib.Path(out_dir) / f"{name}.png"
        if len(drawn) == 1:
            storage.copy_file(drawn[0]["figures"][name], target)
        else:
            plots.save_panels([r["figures"][name] for r in drawn], target,
                              titles=[f"{r['column']} / {report.row_label(r['row'])}"
                                      for r in drawn], title=title)
        out[name] = str(target)
    return out


def select_cells(name, specs, cells=None):
    """(`specs` parsed and checked, the names of the cells `cells` leaves out).

    Args:
        name: the experiment's name.
        specs: `RunSpec`s or `--run` strings.
        cells: names or shell patterns of the cells to run, or None (all).

    Raises:
        ValueError: no cells, a duplicate, or a pattern that matches none.
    """
    specs = [parse_run(s) if isinstance(s, str) else s for s in specs]
    if not specs:
        raise ValueError(f"Experiment {name}: no --run given")
    seen = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(f"Experiment {name}: --run {spec.name} given twice")
        seen.add(spec.name)
    if not cells:
        return specs, []
    chosen = [s for s in specs if any(fnmatch.fnmatchcase(s.name, c) for c in cells)]
    if not chosen:
        raise ValueError(f"Experiment {name}: --cells {','.join(cells)} matches no cell. "
                         f"Cells: {', '.join(s.name for s in specs)}")
    return chosen, [s.name for s in specs if s not in chosen]


def references(spec):
    """The names of the cells whose metrics `spec` reads (`@COLUMN/ROW.key` values).

    Args:
        spec: a `RunSpec`.

    Returns:
        A sorted list of cell names.
    """
    return sorted({v[1:].rpartition(".")[0] for v in spec.overrides.values()
                   if v.startswith("@")})


def run_cell(spec, base_cfg, finished, pool_dir, when_claimed="wait", ledger=None,
             experiment=None):
    """One cell: its configuration (references read from `finished`), its shared
    pretraining, its run, each reused, resumed or trained under its claim and appended to the
    `ledger`. Returns (metrics, the pretraining run's directory or None).

    Args:
        spec: the cell's `RunSpec`.
        base_cfg: the experiment's base `TrainConfig`.
        finished: {cell name: metrics} of the cells run so far.
        pool_dir: the run pool.
        when_claimed: "wait" or "skip".
        ledger: a `Ledger`, or None.
        experiment: the experiment's name, for the ledger.
    """
    cfg = config_lib.replace(base_cfg, **_resolve(spec, finished))
    validation_lib.check_config(cfg)
    cfg, pre = with_shared_pretraining(cfg, pool_dir)
    recorded = from_ledger(cfg, pool_dir, ledger)
    if recorded is not None:  # finished on another machine: neither it nor its pretraining reruns
        # The cell, under this experiment, points at the run it reused (once; with the facts of
        # the machine that measured it, not this one's).
        ledger.append(recorded["run_dir"], recorded, run_identity(cfg), experiment=experiment,
                      cell=spec.name, machine_facts=recorded["measured_on"])
        return recorded, None if pre is None else str(pool_dir_for(pre, pool_dir))
    pretrain_dir = None
    if pre is not None:
        pre_metrics = ensure_run(pre, pool_dir, when_claimed)
        pretrain_dir = pre_metrics["run_dir"]
        _log(ledger, pre_metrics, pre, experiment, f"{spec.name} (pretraining)")
    metrics = ensure_run(cfg, pool_dir, when_claimed)
    _log(ledger, metrics, cfg, experiment, spec.name)
    return metrics, pretrain_dir


def from_ledger(cfg, pool_dir, ledger):
    """The metrics of `cfg`'s run as the ledger recorded it, when the pool no longer has the
    run (a new machine, a cleaned pool) and the ledger holds it with this very configuration;
    else None (the pool's own copy, or training, decides).

    Args:
        cfg: a run's `TrainConfig` (as `with_shared_pretraining` returns it).
        pool_dir: the run pool.
        ledger: a `Ledger`, or None.

    Returns:
        The recorded metrics with `run_dir` (where the run would be in the pool), `reused`,
        `from_ledger` (the ledger's path) and `measured_on` (the machine facts the ledger holds
        for it) set, or None.
    """
    if ledger is None:
        return None
    run_dir = pool_dir_for(cfg, pool_dir)
    if (run_dir / "metrics.json").exists() or claims.is_claimed(run_dir):
        return None
    record = ledger.find(run_dir.name)
    wanted = json.loads(json.dumps(run_identity(cfg), sort_keys=True, default=str))
    if record is None or record.get("config") != wanted:
        return None
    print(f"Reusing the finished run {run_dir.name} from the ledger {ledger.path} (its files "
          "are not in this pool: figures and weights are not reused)", flush=True)
    return {**record["metrics"], "run_dir": str(run_dir), "reused": True,
            "from_ledger": str(ledger.path), "measured_on": record.get("machine")}


def _log(ledger, metrics, cfg, experiment, cell):
    if ledger is not None:
        ledger.append(metrics["run_dir"], metrics, run_identity(cfg),
                      experiment=experiment, cell=cell)


def _sequential(name, specs, base_cfg, pool_dir, when_claimed, ledger, on_cell):
    """Runs the cells in order. With `when_claimed="skip"`, a cell whose run (or shared
    pretraining) another process is training is put back, the next ones go on, and the
    runner comes back to it; when only claimed cells are left it waits for the first."""
    pending, finished, done = list(specs), {}, {}
    wait_now = when_claimed == "wait"
    while pending:
        progressed = False
        for spec in list(pending):
            if any(ref in {p.name for p in pending} for ref in references(spec)):
                continue  # a cell it reads has not finished yet
            print(f"[{name} {len(done) + 1}/{len(specs)}] {spec.name}", flush=True)
            try:
                metrics, pre = run_cell(spec, base_cfg, finished, pool_dir,
                                        "wait" if wait_now else "skip", ledger, name)
            except claims.RunClaimedError as err:
                print(f"[{name}] {spec.name}: {err.run_dir.name} is being trained by another "
                      "process; on with the other cells, back to it later", flush=True)
                continue
            finished[spec.name], done[spec.name] = metrics, (metrics, pre)
            pending.remove(spec)
            progressed, wait_now = True, when_claimed == "wait"
            on_cell(done, [p.name for p in pending])
        if not progressed:
            wait_now = True  # every cell left is someone else's now: wait for the first
    return done


def run_experiment(name, base_cfg, specs, out_dir=None, pool_dir="runs/pool", report_item=None,
                   title=None, cells=None, when_claimed="wait", ledger=None,
                   executor="sequential", cluster=None):
    """Runs every cell of an experiment (reusing finished runs) and writes its record.

    Args:
        name: the experiment's name (its flagfile's stem), e.g. "table1".
        base_cfg: the shared `TrainConfig` (the flagfile's training flags).
        specs: `RunSpec`s or their `--run` strings, in order (references look backwards).
        out_dir: the experiment directory (default `runs/<name>`).
        pool_dir: where runs live, shared between experiments and between processes (each
            run trained under an exclusive claim: `sdae_tf.utils.claims`).
        report_item: the report's table or figure, e.g. "table1" (default: `name`).
        title: a title for the figures and results.
        cells: run only the cells whose COLUMN/ROW name matches one of these shell patterns
            (`fnmatch`, e.g. "sdae*/mnist"); default every cell. The others are listed in the
            record as `skipped`.
        when_claimed: "wait" for a run another process trains, or "skip" it and come back.
        ledger: a results ledger path (`sdae_tf.reproduce.ledger`): every finished cell appended.
        executor: "sequential" (this process) or "dask" (`sdae_tf.reproduce.cluster`, with `cluster`
            its settings: a `cluster.ClusterSpec`).

    Returns:
        The experiment record (also `out_dir/experiment.json`).
    """
    start = time.perf_counter()
    specs, skipped = select_cells(name, specs, cells)
    out_dir = pathlib.Path(out_dir or pathlib.Path("runs") / name)
    storage.check_writable(out_dir, "--out_dir")
    storage.check_writable(pool_dir, "--pool_dir")
    for spec in specs:  # every cell's own configuration, before the first one trains
        own = _resolve(dataclasses.replace(spec, overrides={
            k: v for k, v in spec.overrides.items() if not v.startswith("@")}), {})
        try:
            validation_lib.check_config(config_lib.replace(base_cfg, **own))
        except (ValueError, FileNotFoundError) as err:
            raise type(err)(f"--run {spec.name}: {err}; nothing was trained") from None
        for ref in references(spec):
            if ref not in [s.name for s in specs[:specs.index(spec)]]:
                raise ValueError(f"--run {spec.name} refers to {ref!r}, which is not an earlier "
                                 "run of this experiment")
    out_dir.mkdir(parents=True, exist_ok=True)
    book = Ledger(ledger) if ledger else None

    def in_order(done):
        return [_cell_record(s, *done[s.name]) for s in specs if s.name in done]

    def on_cell(done, pending):
        # The record so far, after every cell: a long experiment stopped part-way keeps the
        # results of its finished cells (and names the cells still to run).
        _write_record(out_dir, _record(name, report_item, title, base_cfg, in_order(done),
                                       start, pending=pending, skipped=skipped))

    if executor == "dask":
        if cluster is None:
            raise ValueError("executor='dask' needs `cluster`, a "
                             "sdae_tf.reproduce.cluster.ClusterSpec (--workers or --scheduler)")
        done = cluster.run_cells(name, specs, base_cfg, pool_dir, book, on_cell)
    elif executor == "sequential":
        done = _sequential(name, specs, base_cfg, pool_dir, when_claimed, book, on_cell)
    else:
        raise ValueError(f"--executor={executor}: choose sequential or dask")
    runs = in_order(done)
    record = _record(name, report_item, title, base_cfg, runs, start, skipped=skipped)
    record["figures"] = compose_figures(runs, out_dir, title or name)
    _write_record(out_dir, record)
    return record


def _record(name, report_item, title, base_cfg, runs, start, pending=(), skipped=()):
    return {
        "experiment": name,
        "report_item": report_item or name,
        "title": title,
        "config": dataclasses.asdict(base_cfg),
        "runs": runs,
        "pending": list(pending),
        **({"skipped": list(skipped)} if skipped else {}),
        "seconds": round(time.perf_counter() - start, 1),
    }


def _write_record(out_dir, record):
    write_json_atomic(out_dir / "experiment.json", record)
    write_text_atomic(out_dir / "results.md", "\n".join(report.experiment_table(record)) + "\n")
