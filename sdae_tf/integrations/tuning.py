"""keras-tuner searches over zoo models: noise level and type, embedding size, learned-sigma
lambda and floor.

A trial is the layer-wise pretraining of `sdae_tf.runner.training` (the same builders and loop as
`sdae-train`) scored after every epoch of the last block by

* `val_probe_accuracy`: a ridge-regression linear probe (`sdae_tf.evaluation.probe`) fitted on the
  frozen embeddings of the first `probe_examples` training examples, scored on the validation
  split, or
* `val_reconstruction_loss`: mean per-component binary cross-entropy of the whole stack's clean
  reconstruction of the validation split.

Both are computed and recorded; `objective` picks the one the tuner optimises. The model a trial
hands to keras-tuner is the zoo model itself (an instance of its family's class, built through
the public API), so the tuner's own callbacks (best-epoch checkpoint, TensorBoard, ...) see it,
`get_best_models()` returns trained zoo models (`.encoder`, `.decoder`), and Hyperband carries
the whole autoencoder's weights from one round to the next.
"""

import collections
import dataclasses
import json
import os
import pathlib
import shutil

import keras
import keras_tuner

from sdae_tf import zoo
from sdae_tf.evaluation import probe
from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import run_data, run_export, run_identity
from sdae_tf.runner import validation as validation_lib
from sdae_tf.train import stages as stages_lib
from sdae_tf.train.checkpoints import write_text_atomic
from sdae_tf.utils import markdown, storage

OBJECTIVES = {
    "probe": keras_tuner.Objective("val_probe_accuracy", direction="max"),
    "reconstruction": keras_tuner.Objective("val_reconstruction_loss", direction="min"),
}
TUNERS = {
    "random": keras_tuner.RandomSearch,
    "hyperband": keras_tuner.Hyperband,
    "bayesian": keras_tuner.BayesianOptimization,
}
STATE_FILE = "sdae_tune.json"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"


def parse_spec(text, kind=float):
    """A search-space spec from a flag: "a,b,c" (choice), "lo:hi" (uniform range) or
    "lo:hi:log" (log-uniform range).

    Args:
        text: the flag's value.
        kind: `float` or `int`, the values' type.

    Returns:
        {"values": [...]} for a choice, {"min", "max", "sampling"} for a range.

    Raises:
        ValueError: a malformed spec, naming the problem.

    Example:

    ```python
    from sdae_tf.integrations import tuning
    tuning.parse_spec("0.1:0.5")  # {'min': 0.1, 'max': 0.5, 'sampling': 'linear'}
    tuning.parse_spec("250,1000", int)  # {'values': [250, 1000]}
    ```
    """
    text = str(text).strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("linear", "log")):
                raise ValueError("a range is lo:hi or lo:hi:log")
            lo, hi = kind(parts[0]), kind(parts[1])
            if not lo < hi:
                raise ValueError(f"lo must be below hi (got {lo} and {hi})")
            sampling = parts[2] if len(parts) == 3 else "linear"
            if sampling == "log" and lo <= 0:
                raise ValueError("a log range needs lo > 0")
            return {"min": lo, "max": hi, "sampling": sampling}
        values = [kind(v) for v in text.split(",") if v.strip()]
        if not values:
            raise ValueError("no values")
        return {"values": values}
    except ValueError as e:
        raise ValueError(f"Bad search-space spec {text!r}: {e}") from None


@dataclasses.dataclass
class SearchSpace:
    """What a search varies; None leaves the zoo entry's (or the base config's) value.

    Attributes:
        noise_level: spec (`parse_spec`) of the noise level (sigma or rate).
        noise_type: {"values": [...]} of noise types.
        embedding_size: spec of the last encoder layer's width.
        lambdas: spec of the learned-sigma families' lambda.
        floor: spec of the learned-sigma families' sigma floor.
    """

    noise_level: dict | None = None
    noise_type: dict | None = None
    embedding_size: dict | None = None
    lambdas: dict | None = None
    floor: dict | None = None

    def names(self):
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]


def _define(hp, name, spec, kind):
    if "values" in spec:
        return hp.Choice(name, spec["values"])
    if kind is int:
        return hp.Int(name, spec["min"], spec["max"], sampling=spec["sampling"])
    return hp.Float(name, spec["min"], spec["max"], sampling=spec["sampling"])


class ZooHyperModel(keras_tuner.HyperModel):
    """Builds a trial through the zoo builder and trains it with the layer-wise pretraining of
    `sdae_tf.runner.training`.

    Args:
        base: the `TrainConfig` the search varies.
        space: the `SearchSpace`.
        data: the `Splits` trials train and are scored on (validation split).
        objective: a key of `OBJECTIVES` ("probe": linear-probe accuracy of the codes).
        probe_examples: training examples the probe is fitted on.
    """

    def __init__(self, base, space, data, objective="probe", probe_examples=5000):
        super().__init__(name=f"{base.model}_search")
        if objective not in OBJECTIVES:
            raise ValueError(f"Unknown objective {objective!r}; choose one of "
                             f"{', '.join(OBJECTIVES)}")
        self.base, self.space, self.data = base, space, data
        self.objective = OBJECTIVES[objective]
        self.probe_examples = min(probe_examples, len(data.x_train))
        self.entry = zoo.REGISTRY.get(base.model)
        if not self.entry.layerwise_pretraining:
            raise ValueError(f"{base.model} has no unsupervised pretraining to tune; pick a "
                             "model that pretrains (e.g. sdae_mnist)")
        if not space.names():
            raise ValueError("The search space is empty: give at least one of --tune_noise_level,"
                             " --tune_noise_type, --tune_embedding_size, --tune_lambda, "
                             "--tune_floor")
        if space.floor is not None and space.noise_level is not None:
            raise ValueError("--tune_floor and --tune_noise_level both set the learned sigma's "
                             "floor; give one")

    def _widths(self, key):
        return tuple(self.base.model_config.get(key) or self.entry.hparams.get(key) or ())

    def config_for(self, hp):
        """The `TrainConfig` of the trial whose hyperparameters `hp` holds (defining them):
        the search's base with the model's arguments they set."""
        s, changes = self.space, {}
        if s.noise_type is not None:
            changes["noise_type"] = _define(hp, "noise_type", s.noise_type, str)
        if s.noise_level is not None:
            changes["noise_level"] = _define(hp, "noise_level", s.noise_level, float)
        if s.floor is not None:
            changes["noise_level"] = _define(hp, "floor", s.floor, float)
        if s.embedding_size is not None:
            key = self.entry.build.EMBEDDING_PARAM  # the family's own tuning hook
            widths = self._widths(key) if key else ()
            if not widths:
                raise ValueError(f"{self.base.model} has no embedding width to tune")
            size = _define(hp, "embedding_size", s.embedding_size, int)
            changes[key] = (*widths[:-1], int(size))
        if s.lambdas is not None:
            blocks = len(self._widths("hidden_units"))
            changes["lambdas"] = tuple(
                _define(hp, f"lambda_{k + 1}", s.lambdas, float) for k in range(blocks))
        return config_lib.replace(self.base, model_config=changes)

    def build(self, hp):
        cfg = self.config_for(hp)
        keras.utils.set_random_seed(cfg.seed)
        return config_lib.build_model(cfg, self.data.input_shape)

    def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, **kwargs):
        cfg = self.config_for(hp)
        if epochs is not None:  # Hyperband's budget for this round
            cfg = dataclasses.replace(cfg, pretrain_epochs=max(1, int(epochs) - initial_epoch))
        if "verbose" in kwargs:
            cfg = dataclasses.replace(cfg, verbose=kwargs["verbose"])
        scorer = TrialScorer(model, self.data, callbacks or [], self.probe_examples)
        stages_lib.pretrain_layerwise(model, self.data, stages_lib.Stage.pretraining(cfg),
                                    last_block_callbacks=[scorer])
        return scorer.scores_at(scorer.best_epoch(self.objective))


class TrialScorer(keras.callbacks.Callback):
    """Joins the last block's `fit`: after every epoch it scores the whole encoder (linear probe,
    stack reconstruction), adds the scores to the epoch's logs, and passes the epoch on to the
    tuner's callbacks with the encoder as their model.

    Args:
        model: the trial's zoo model.
        data: the `Splits` it is scored on.
        callbacks: the tuner's callbacks for the trial.
        probe_examples: training examples the probe is fitted on.
    """

    def __init__(self, model, data, callbacks, probe_examples):
        super().__init__()
        self.stack, self.data, self.probe_examples = model, data, probe_examples
        self.trial_callbacks = keras.callbacks.CallbackList(list(callbacks), model=model)
        self.autoencoder = model.autoencoder()
        self.history = []

    def score(self):
        def encode(x):
            return self.stack.encoder(x, training=False)

        n, d = self.probe_examples, self.data
        return {
            "val_probe_accuracy": probe.encoder_probe_accuracy(
                encode, d.x_train[:n], d.y_train[:n], d.x_val, d.y_val),
            "val_reconstruction_loss": probe.reconstruction_loss(self.autoencoder, d.x_val),
        }

    def on_train_begin(self, logs=None):
        self.trial_callbacks.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        self.trial_callbacks.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs.update(self.score())  # in place: History and the progress bar see them too
        self.history.append({k: float(v) for k, v in logs.items()})
        self.trial_callbacks.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self.trial_callbacks.on_train_end(logs)

    def best_epoch(self, objective):
        values = [h[objective.name] for h in self.history]
        pick = max if objective.direction == "max" else min
        return values.index(pick(values))

    def scores_at(self, epoch):
        return dict(self.history[epoch])


def make_tuner(kind, hypermodel, objective, directory, project_name, max_trials=10,
               max_epochs=None, seed=0, overwrite=False, hyperband_factor=3):
    """A keras-tuner tuner of `kind` ("random", "hyperband", "bayesian"). With
    `overwrite=False` an existing search in directory/project_name is reloaded and resumed.

    Args:
        kind: a key of `TUNERS`.
        hypermodel: the `ZooHyperModel`.
        objective: a `keras_tuner.Objective`.
        directory, project_name: where the search lives.
        max_trials: trials of a random or Bayesian search.
        max_epochs: Hyperband's epoch budget per trial.
        seed: the search algorithm's seed.
        overwrite: start afresh instead of resuming.
        hyperband_factor: Hyperband's reduction factor.

    Returns:
        The keras-tuner `Tuner`.
    """
    if kind not in TUNERS:
        raise ValueError(f"Unknown tuner {kind!r}; choose one of {', '.join(TUNERS)}")
    if objective not in OBJECTIVES:
        raise ValueError(f"Unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    common = dict(hypermodel=hypermodel, objective=OBJECTIVES[objective], seed=seed,
                  directory=str(directory), project_name=project_name, overwrite=overwrite)
    if kind == "hyperband":
        return keras_tuner.Hyperband(max_epochs=max(2, int(max_epochs or 2)),
                                     factor=hyperband_factor, hyperband_iterations=1, **common)
    return TUNERS[kind](max_trials=max_trials, **common)


class SearchConflictError(ValueError):
    """The tuning directory holds another search (or something else)."""


def is_distributed_worker():
    """True in a keras-tuner worker process (KERASTUNER_ORACLE_IP set, tuner id not chief)."""
    return ("KERASTUNER_ORACLE_IP" in os.environ
            and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", ""))


def search_state(base, space, tuner, objective, max_trials, probe_examples, seed):
    """What identifies a search: resuming needs the same.

    Args:
        base, space, tuner, objective, max_trials, probe_examples, seed: the search's
            settings (see `run_search`).

    Returns:
        A JSON-ready dict.
    """
    state = {"config": run_identity.identity(base), "space": dataclasses.asdict(space),
             "tuner": tuner, "objective": objective, "max_trials": max_trials,
             "probe_examples": probe_examples, "seed": seed}
    return json.loads(json.dumps(state))  # as it reads back from sdae_tune.json


def _differences(old, new, prefix=""):
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def check_search_dir(tune_dir, state, overwrite=False):
    """Refuses a directory holding a different search (or foreign files) unless `overwrite`;
    removes it when told to.

    Args:
        tune_dir: the search directory.
        state: `search_state` of the search to run.
        overwrite: remove a different search instead of refusing it.

    Returns:
        True when an earlier search of `state` is there (it resumes).

    Raises:
        SearchConflictError: the directory holds another search, naming the differences.
    """
    tune_dir = pathlib.Path(tune_dir)
    if tune_dir.exists() and not tune_dir.is_dir():
        raise SearchConflictError(f"--tune_dir {tune_dir} exists and is not a directory")
    if not tune_dir.exists() or not any(tune_dir.iterdir()):
        return False
    if overwrite:
        shutil.rmtree(tune_dir)
        return False
    state_file = tune_dir / STATE_FILE
    if not state_file.exists():
        raise SearchConflictError(
            f"--tune_dir {tune_dir} is not empty and holds no {STATE_FILE}: not an sdae-tune "
            "search. Choose another --tune_dir")
    old = storage.read_json(state_file, "the search state")
    differ = _differences(old, state)
    if differ:
        raise SearchConflictError(
            f"--tune_dir {tune_dir} holds a different search (differs in: {', '.join(differ)}). "
            "Run it with its own flags to resume it, choose another --tune_dir, or pass "
            "--overwrite_search to delete it")
    return True


def trial_counts(tuner):
    """{status: number of trials} of a tuner's oracle (COMPLETED, RUNNING, FAILED, ...).

    Args:
        tuner: a keras-tuner `Tuner`.
    """
    return dict(collections.Counter(t.status for t in tuner.oracle.trials.values()))


def best_trials(tuner, top=5):
    """Completed trials best first; ties go to the earlier trial id (the oracle's own order of
    tied trials changes when a search is reloaded).

    Args:
        tuner: a keras-tuner `Tuner`.
        top: how many.

    Returns:
        A list of `keras_tuner` trials.
    """
    sign = -1.0 if tuner.oracle.objective.direction == "max" else 1.0
    done = [t for t in tuner.oracle.trials.values()
            if t.status == "COMPLETED" and t.score is not None]
    return sorted(done, key=lambda t: (sign * t.score, t.trial_id))[:top]


def summarize(tuner, top=5):
    """The best `top` trials, best first, as JSON-ready dicts.

    Args:
        tuner: a keras-tuner `Tuner`.
        top: how many.
    """
    rows = []
    for rank, trial in enumerate(best_trials(tuner, top), start=1):
        rows.append({
            "rank": rank,
            "trial_id": trial.trial_id,
            "score": None if trial.score is None else float(trial.score),
            "hyperparameters": dict(trial.hyperparameters.values),
            "metrics": {name: float(trial.metrics.get_last_value(name))
                        for name in trial.metrics.metrics},
        })
    return rows


def results_markdown(results):
    """A search's `results.json` record as Markdown: its heading, trial counts and the best
    trials' table.

    Args:
        results: the dict `write_results` returns.

    Returns:
        The Markdown text.
    """
    rows = results["best_trials"]
    names = sorted({k for r in rows for k in r["hyperparameters"] if not k.startswith("tuner/")})
    head = ["rank", "trial", *names, "val probe acc", "val recon loss"]
    lines = [f"# sdae-tune: {results['model']}, {results['tuner']} search, objective "
             f"{results['objective_name']} ({results['direction']})", "",
             f"Trials: {results['trial_counts']}", ""]
    table = []
    for r in rows:
        hp = [r["hyperparameters"].get(n, "") for n in names]
        hp = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in hp]
        m = r["metrics"]
        table.append([str(r["rank"]), r["trial_id"], *hp,
                      f"{m.get('val_probe_accuracy', float('nan')):.4f}",
                      f"{m.get('val_reconstruction_loss', float('nan')):.4f}"])
    return "\n".join(lines + markdown.table(head, table)) + "\n"


def write_results(tuner, tune_dir, meta, top=5):
    """Writes results.json and results.md to `tune_dir`; returns the results dict.

    Args:
        tuner: the finished keras-tuner `Tuner`.
        tune_dir: the search directory.
        meta: entries the record opens with (model, space, ...).
        top: best trials recorded.
    """
    objective = tuner.oracle.objective
    results = {**meta, "objective_name": objective.name, "direction": objective.direction,
               "trial_counts": trial_counts(tuner), "best_trials": summarize(tuner, top)}
    tune_dir = pathlib.Path(tune_dir)
    storage.write_json_atomic(tune_dir / RESULTS_JSON, results)
    write_text_atomic(tune_dir / RESULTS_MD, results_markdown(results))
    return results


def export_best(tuner, hypermodel, export_dir, overwrite=False, extra=None):
    """Exports the encoder of the best trial (weights of its best epoch) like `sdae-train`.

    Args:
        tuner: the finished keras-tuner `Tuner`.
        hypermodel: its `ZooHyperModel`.
        export_dir: the export folder.
        overwrite: replace an existing export.
        extra: more manifest entries.

    Returns:
        The export record (path, reload difference).
    """
    trial = best_trials(tuner, 1)[0]
    best = tuner.load_model(trial)  # the trial's zoo model with its best epoch's weights
    cfg = dataclasses.replace(hypermodel.config_for(trial.hyperparameters),
                              export_dir=str(export_dir), overwrite_export=overwrite)
    metrics = {name: float(trial.metrics.get_last_value(name)) for name in trial.metrics.metrics}
    return run_export.export_run(
        cfg, best, hypermodel.data, "pretrained (best trial of a search)", metrics,
        extra={"search": {**(extra or {}), "trial_id": trial.trial_id,
                          "hyperparameters": dict(trial.hyperparameters.values)}})


def run_search(base, space, tuner_kind="random", objective="probe", tune_dir="runs/tune",
               max_trials=10, probe_examples=5000, seed=0, overwrite=False, top=5):
    """Runs (or resumes) a search and returns its results dict (None in a distributed worker).

    The search lives in `tune_dir`: keras-tuner's oracle and trials, `sdae_tune.json` (what the
    search is; resuming needs the same flags), and at the end results.json / results.md. Run
    again with the same flags, it resumes; a finished search only reprints its results.

    Args:
        base: the `TrainConfig` the search varies (validation protocol).
        space: the `SearchSpace`.
        tuner_kind: "random", "hyperband" or "bayesian".
        objective: a key of `OBJECTIVES`.
        tune_dir: the search directory.
        max_trials: trials of a random or Bayesian search.
        probe_examples: training examples the probe is fitted on.
        seed: the search algorithm's seed.
        overwrite: start afresh instead of resuming (or refusing) a search in `tune_dir`.
        top: best trials recorded and printed.

    Returns:
        The results dict (also in results.json), or None in a distributed worker.

    Raises:
        ValueError: a bad config or space, the report protocol. SearchConflictError: another
            search in `tune_dir`.

    Example:

    ```python
    from sdae_tf.integrations import tuning
    from sdae_tf.runner.config import TrainConfig
    base = TrainConfig(model="sdae_mnist", model_config={"hidden_units": (16, 8)},
                       dataset="digits", pretrain_epochs=1, finetune_epochs=0, verbose=0)
    space = tuning.SearchSpace(noise_level=tuning.parse_spec("0.1:0.5"))
    results = tuning.run_search(base, space, tune_dir="search", max_trials=1,
                                probe_examples=500)
    print(results["best_trials"][0]["hyperparameters"])
    ```
    """
    validation_lib.check_config(base)
    if base.protocol != "validation":
        raise ValueError(f"sdae-tune scores trials on the validation split: --protocol="
                         f"{base.protocol} would select hyperparameters on the test set; use "
                         "--protocol=validation")
    if base.quick:
        base = dataclasses.replace(base, pretrain_epochs=min(base.pretrain_epochs,
                                                             run_data.QUICK_EPOCHS))
    if base.export_dir and not is_distributed_worker():
        export_lib.check_export_target(base.export_dir, base.overwrite_export)
    tune_dir = pathlib.Path(tune_dir)
    state = search_state(base, space, tuner_kind, objective, max_trials, probe_examples, seed)
    worker = is_distributed_worker()
    resumed = False if worker else check_search_dir(tune_dir, state, overwrite)
    data = run_data.load_data(base)
    hypermodel = ZooHyperModel(base, space, data, objective, probe_examples)
    hypermodel.build(keras_tuner.HyperParameters())  # a bad space fails here, before any trial
    if not worker:
        storage.check_writable(tune_dir, "--tune_dir")
        tune_dir.mkdir(parents=True, exist_ok=True)
        storage.write_json_atomic(tune_dir / STATE_FILE, state)
    try:
        tuner = make_tuner(tuner_kind, hypermodel, objective, tune_dir.parent, tune_dir.name,
                           max_trials=max_trials, max_epochs=base.pretrain_epochs, seed=seed)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError) as err:
        raise storage.DamagedFileError(
            f"--tune_dir {tune_dir}: keras-tuner's saved state (oracle.json or a "
            f"trial_*/trial.json) is damaged ({type(err).__name__}: {err}); rerun with "
            "--overwrite_search to start the search again") from err
    if resumed:
        print(f"Resuming the search in {tune_dir}: trials so far {trial_counts(tuner)}",
              flush=True)
    with storage.translate(f"the finished trials are kept in {tune_dir}", where=tune_dir):
        tuner.search(verbose=1 if base.verbose == "auto" else base.keras_verbose)
    if worker:
        return None
    meta = {"model": base.model, "dataset": data.name, "tuner": tuner_kind,
            "objective": objective, "tune_dir": str(tune_dir), "space": dataclasses.asdict(space),
            "probe": f"ridge classifier on the first {hypermodel.probe_examples} training "
                     "examples, scored on the validation split"}
    results = write_results(tuner, tune_dir, meta, top)
    if base.export_dir:
        results["export"] = export_best(tuner, hypermodel, base.export_dir,
                                        base.overwrite_export, extra=meta)
        storage.write_json_atomic(tune_dir / RESULTS_JSON, results)
    return results
