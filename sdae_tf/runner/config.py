"""One typed configuration of a training run: `TrainConfig`, the shared training fields plus
`model_config`, the model's constructor arguments (big_vision's `config.model`, passed to the
family's class as they are: `Family(**model_config)` over the zoo entry's own).

Each setting is written once, here, with its type (the annotation), default, help text, allowed
values or range: the training fields on `TrainConfig`, the model arguments with a flag of their
own on `ModelFlags` (the others are set by `--model_args`, checked against the family's
signature). Two facts about the training fields the rest of the package needs:
- `runner`: set by whoever runs the training (the experiment runner, the tuner), not by an
  experiment's `--run` cell;
- `neutral`: does not change what a run computes (left out of the run pool's key, of the
  resume check and of a search's identity).
Everything else derives from these: the absl flags (`config_flags`), the settings' values
from text and their checks (`config_values`), the changes of cells and trials (`replace`), the
pool key, the resume check and the tuner's search identity (`run_identity`, on the flat form
`flat` that every run has been keyed by), the migration of older records (`from_record`) and
the model builder's arguments (`model_kwargs`).

Why a dataclass with field metadata rather than `ml_collections.ConfigDict` with absl's
`config_flags` (flax's and big_vision's choice): a run's configuration here is typed and one
level deep, `dataclasses.asdict` gives its JSON (config.json, manifests) for free, `replace`
gives the per-cell and per-trial variants, and it adds no dependency.
"""

import dataclasses
import functools

from sdae_tf.train.choices import LR_SCHEDULES, NOISE_SCHEDULES, OPTIMIZERS
from sdae_tf.utils.process import BACKENDS


def setting(default, help, *, choices=None, minimum=None, positive=False, runner=False,
            neutral=False, finetune=False):
    """A `TrainConfig` field: `default` plus the metadata the rest derives from.

    Args:
        default: the value when unset (None: "the zoo entry's own").
        help: one line for `--helpfull`.
        choices: allowed values (or a callable returning them, read when first needed).
        minimum: the smallest allowed value (numbers).
        positive: the value must be > 0 (numbers).
        runner: set by the runner, not by an experiment cell.
        neutral: does not change what the run computes.
        finetune: read by fine-tuning alone; the shared pretraining run a cell starts from
            (`experiments.pretraining_config`) takes the default, so cells differing only in
            such fields reuse one pretraining.
    """
    metadata = dict(help=help, choices=choices, minimum=minimum, positive=positive,
                    runner=runner, neutral=neutral, finetune=finetune)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=metadata)
    if isinstance(default, (list, tuple)):
        factory = tuple(default)
        return dataclasses.field(default_factory=lambda: factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _zoo_names():
    from sdae_tf import zoo

    return tuple(zoo.REGISTRY.names())


def _datasets():
    from sdae_tf.data import DATASETS

    return tuple(DATASETS)


def _constructions():
    from sdae_tf.data import MNIST_CONSTRUCTIONS

    return tuple(MNIST_CONSTRUCTIONS)


def _noise_types():
    from sdae_tf.layers import NOISE_TYPES

    return ("none", *NOISE_TYPES, "learned_gaussian")


def _recon_losses():
    from sdae_tf import zoo

    return tuple(zoo.RECON_LOSSES)


def _figures():
    from sdae_tf.evaluation.figures import FIGURES

    return tuple(FIGURES)


def _strategies():
    from sdae_tf.train.distribute import STRATEGIES

    return tuple(STRATEGIES)


# Training protocols: "validation" (ours, the default) carves a validation split off the
# training set and keeps the fine-tuning epoch with the best validation accuracy; "report" (the
# report's scripts) trains on every training example, logs the test set after each epoch and
# reports the test accuracy after the last epoch (never the best test epoch); "all_images"
# (DEC's, for clustering) pretrains on, clusters and scores every image of the three splits.
PROTOCOLS = ("validation", "report", "all_images")
VERBOSITY = ("auto", "0", "1", "2")
PRETRAIN_MODES = ("layerwise", "end_to_end", "layerwise_then_end_to_end")


def process_backend():
    """The Keras backend of this process: Keras' own once it is imported, else
    `$KERAS_BACKEND` (default tensorflow), without importing Keras.

    Returns:
        A backend name.
    """
    import os
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


@dataclasses.dataclass
class ModelFlags:
    """The family constructor arguments with a flag (and a `--run` key) of their own, and
    `--model_args` for every other one. A run keeps what it sets of them in one place,
    `TrainConfig.model_config` (the arguments, by name, passed to the family's class: its
    `get_config()`'s vocabulary), so this class is never instantiated: it declares each flag's
    type, help and allowed values, as `TrainConfig` does for the training flags."""

    hidden_units: tuple[int, ...] | None = setting(
        None, "Encoder block widths, e.g. 1000,1000.", minimum=1)
    noise_type: str | None = setting(
        None, "Input corruption (learned_gaussian: the learned-sigma models only).",
        choices=_noise_types)
    noise_level: float | None = setting(
        None, "Gaussian stddev, or fraction corrupted (learned sigma: the floor of sigma).",
        minimum=0)
    block_noise_types: tuple[str, ...] | None = setting(
        None, "Dense stacks: one noise type per block, overriding --noise_type block by block "
        "(e.g. masking,gaussian).", choices=_noise_types)
    block_noise_levels: tuple[float, ...] | None = setting(
        None, "Dense stacks: one noise level per block, overriding --noise_level (e.g. "
        "0.2,0.4: sigma increasing with depth).", minimum=0)
    hidden_dropout: float | None = setting(
        None, "Dense stacks: dropout rate on each block's hidden code while pretraining (the "
        "dropout autoencoder).", minimum=0)
    latent_units: tuple[int, ...] | None = setting(
        None, "VAE family: latent size per block, e.g. 20.", minimum=1)
    kl_weight: float | None = setting(None, "VAE family: weight of the KL term.", minimum=0)
    lambdas: tuple[float, ...] | None = setting(
        None, "Learned sigma: reward weight of mean(sigma) per block, e.g. 0.026,0.016.",
        minimum=0)
    per_component: bool | None = setting(
        None, "Learned sigma: one sigma per input component instead of one per example.")
    mask_ratio: float | None = setting(
        None, "Masked autoencoder: share of patches (or pixels) hidden while training, in "
        "(0, 1); default 0.75.", minimum=0)
    mask_unit: str | None = setting(
        None, "Masked autoencoder: hide whole patches (patch, the MAE) or the same share of "
        "single pixels (pixel).", choices=("patch", "pixel"))
    patch_size: int | None = setting(
        None, "Masked autoencoder: side of the square patches (divides the image).", minimum=1)
    num_codes: int | None = setting(
        None, "VQ-VAE: codebook size (at least 2); default 128.", minimum=0)
    commitment: float | None = setting(
        None, "VQ-VAE: weight of the commitment loss (beta); default 0.25.", minimum=0)
    ema: bool | None = setting(
        None, "VQ-VAE: exponential-moving-average codebook updates instead of the codebook "
        "loss.")
    kernel_size: int | None = setting(
        None, "Kernel-prediction denoiser: side of the per-pixel kernel (odd, at least 3); "
        "default 5.", minimum=0)
    blocks_per_stage: int | None = setting(
        None, "Residual autoencoders: residual blocks per resolution; default 2.", minimum=1)
    recon_loss: str | None = setting(
        None, "Reconstruction loss: bce (binary cross-entropy) or mse (squared error, the "
        "report's scripts); default: the model's own (bce).", choices=_recon_losses)
    model_args: tuple[str, ...] | None = setting(
        None, "The model's other constructor arguments, name=value each (a list's items "
        "joined by ':'), e.g. width=64,depth=2 (the masked autoencoder) or widths=16:32 (the "
        "residual ones); an argument the model does not take is an error listing those it "
        "does.")


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on: the training fields (`None`: the zoo entry's
    default) and `model_config`, the model's constructor arguments."""

    model: str = setting("sdae_mnist", "Zoo model to train.", choices=_zoo_names)
    model_config: dict = setting(
        {}, "The model's constructor arguments this run sets, by name (the zoo entry's own "
        "for the others), as its class takes them: from the flags of `ModelFlags` and "
        "--model_args on the command line, the same keys in a `--run` cell.")
    dataset: str | None = setting(None, "Dataset (default: the model's own).",
                                  choices=_datasets)
    pretrain_dataset: str | None = setting(
        None, "Dataset of layer-wise pretraining (default: --dataset). Table 1's protocol: "
        "pretrain on mnist, fine-tune on a variant.", choices=_datasets)
    init_from: str | None = setting(
        None, "Skip pretraining: load the pretrained stack of this run directory (its "
        "pretrained.weights.h5) or weights file, a saved model (.keras, "
        "a zoo model's `save`) or an export (a shipped model's name or an export "
        "folder: its autoencoder).", runner=True)
    data_dir: str | None = setting(None, "Folder with the MNIST IDX files (default: vendored "
                                   "copy); for cifar10 / cub200 the TFDS data directory.")
    cache_dir: str | None = setting(None, "Cache of built MNIST variants (default: "
                                    "$SDAE_TF_CACHE or ~/.cache/sdae_tf).", neutral=True)
    validation_size: int | None = setting(
        None, "Validation examples carved off the training set (MNIST default 10000).",
        minimum=1)
    train_examples: int | None = setting(
        None, "Keep only the first N training examples (default: all).", minimum=1)
    data_seed: int = setting(0, "Seed of dataset variants and splits.")
    variant_construction: str = setting(
        "report", "How the MNIST variants are built: report (the report's code: cubic-spline "
        "rotation, exact zeros filled, per-image min-max scaling) or bilinear (this project's "
        "first construction).", choices=_constructions)
    protocol: str = setting(
        "validation", "validation: a validation split, the best validation epoch kept (ours); "
        "report: all training examples, test set logged per epoch, test accuracy after the "
        "last epoch (the report's scripts); all_images: every image (training, validation and "
        "test) pretrained on, clustered and scored, labels only scored (DEC's protocol; "
        "--task=clustering only).", choices=PROTOCOLS)
    seed: int = setting(0, "Seed of the training run (init, noise, shuffling).")
    weight_decay: float = setting(
        0.0, "L2 weight decay added to the gradient (PyTorch Adam's weight_decay; the report: "
        "1e-7), every stage.", minimum=0)
    batch_size: int = setting(128, "Batch size of every stage.", minimum=1)
    pretrain_epochs: int = setting(2, "Epochs per pretrained block.", minimum=0)
    pretrain_mode: str = setting(
        "layerwise", "layerwise: greedy, block by block (the report); end_to_end: the whole "
        "stacked autoencoder at once, for pretrain_epochs x blocks epochs (dense stacks); "
        "layerwise_then_end_to_end: block by block, then --end_to_end_epochs of the whole "
        "autoencoder (DEC's and pt-sdae's recipe).", choices=PRETRAIN_MODES)
    end_to_end_epochs: int = setting(
        0, "--pretrain_mode=layerwise_then_end_to_end: epochs of end-to-end training of the "
        "whole (denoising) autoencoder after the layer-wise pretraining.", minimum=0)
    noise_schedule: str = setting(
        "constant", "Noise level over a block's pretraining epochs: constant, ramp_up (linear "
        "from 0 to twice the level: a curriculum) or ramp_down (twice the level to 0); the "
        "ramps average the level.", choices=NOISE_SCHEDULES)
    unsupervised_metrics: bool = setting(
        False, "After pretraining, measure the pretrained stack before any label, on the "
        "pretraining dataset's test set: k-means clustering accuracy of the embeddings and PSNR "
        "of its reconstructions (clean and Gaussian-0.4 inputs).")
    pretrain_learning_rate: float = setting(1e-3, "Learning rate of pretraining (layer-wise "
                                            "or end to end).", positive=True)
    pretrain_optimizer: str = setting(
        "adam", "Optimizer of pretraining: adam, or sgd (momentum 0.9: DEC-keras's autoencoder "
        "pretraining, with --pretrain_learning_rate=1 --lr_schedule=constant).",
        choices=OPTIMIZERS)
    finetune_epochs: int = setting(5, "Supervised fine-tuning epochs.", minimum=0)
    learning_rate: float = setting(1e-3, "Adam learning rate of fine-tuning.", positive=True,
                                   finetune=True)
    lr_schedule: str = setting("cosine", "Learning-rate schedule of each stage (cosine decays "
                               "to 0 over the stage).", choices=LR_SCHEDULES)
    finetune_lr_schedule: str | None = setting(
        None, "Learning-rate schedule of fine-tuning alone (default: --lr_schedule's), e.g. a "
        "cosine fine-tuning from a constant-rate pretraining reused from the run pool.",
        choices=LR_SCHEDULES, finetune=True)
    head_units: int = setting(1000, "Hidden width of the fine-tuning head.", minimum=1,
                              finetune=True)
    head_layers: int = setting(
        1, "Hidden layers of the fine-tuning head (1: the report's two-layer head; 2: its "
        "three-layer head on CUB-200).", minimum=1, finetune=True)
    task: str = setting(
        "classification", "What fine-tuning learns: classification (the dense head, test "
        "accuracy) or segmentation (the digit's mask of the background variants from a conv "
        "code: a light decoder head, foreground IoU and pixel accuracy, Otsu's threshold "
        "beside it) or clustering (DEC's self-training of the code's clusters, --cluster_*; "
        "it replaces fine-tuning: --finetune_epochs is not read).",
        choices=("classification", "segmentation", "clustering"), finetune=True)
    cluster_count: int = setting(
        0, "--task=clustering: the clusters (0: the dataset's classes).", minimum=0,
        finetune=True)
    cluster_max_batches: int = setting(
        20000, "--task=clustering: the DEC stage's batch budget (DEC-keras: 20000; 0: the "
        "k-means initialisation alone).", minimum=0, finetune=True)
    cluster_update_interval: int = setting(
        140, "--task=clustering: batches between updates of the target distribution "
        "(DEC-keras on MNIST: 140).", minimum=1, finetune=True)
    cluster_tol: float = setting(
        0.001, "--task=clustering: stop when fewer than this share of the images changed "
        "cluster between two target updates (DEC: 0.001).", minimum=0, finetune=True)
    cluster_batch_size: int = setting(256, "--task=clustering: batch size of the DEC stage "
                                      "(DEC: 256).", minimum=1, finetune=True)
    cluster_learning_rate: float | None = setting(
        None, "--task=clustering: learning rate of the DEC stage (default: DEC's SGD 0.01 "
        "with momentum 0.9; IDEC's Adam 1e-3).", positive=True, finetune=True)
    cluster_reconstruction_weight: float = setting(
        0.0, "--task=clustering: IDEC's weight of the decoder's reconstruction loss beside "
        "the clustering loss (0: DEC; IDEC's gamma 0.1 with Adam is 10).", minimum=0,
        finetune=True)
    cluster_projection: str = setting(
        "none", "--task=clustering: how a spatial code becomes a vector: none (vector codes "
        "only), flatten, or an integer: flattened, then a linear Dense of that width.",
        finetune=True)
    cluster_n_init: int = setting(20, "--task=clustering: k-means restarts of the centres' "
                                  "initialisation (DEC-keras: 20).", minimum=1, finetune=True)
    freeze_encoder: bool = setting(
        False, "Fine-tune the head alone, the pretrained encoder frozen.", finetune=True)
    finetune_noise: float = setting(
        0.0, "Gaussian noise (stddev) on the inputs while fine-tuning: a regulariser; the "
        "exported encoder has none (0: none).", minimum=0, finetune=True)
    num_samples: int = setting(
        0, "Top-down Bernoulli samples per example after pretraining, written to "
        "<run_dir>/samples.png (dense stacks; 0: none).", minimum=0)
    figures: tuple[str, ...] = setting(
        (), "Figures written to the run directory after pretraining.", choices=_figures)
    jit_compile: bool | None = setting(
        None, "XLA-compile train steps on TensorFlow: true or false; unset, pretraining takes "
        "the family's measured choice (its JIT_COMPILE, from benchmarks/perf.py backends; not "
        "under a --strategy) and fine-tuning runs without. JAX always compiles its steps.")
    precision: str = setting(
        "float32", "Compute precision of training: float32, or mixed_bfloat16 (Keras mixed "
        "precision: bfloat16 compute, float32 weights and losses; dense and conv stacks). "
        "Faster only on CPUs with native bfloat16 (AVX512-BF16 or AMX), and there by a margin "
        "to measure (benchmarks/perf.py precision); on others it can be many times slower, "
        "and the run says so. The export always computes in float32.",
        choices=("float32", "mixed_bfloat16"))
    steps_per_execution: int = setting(
        32, "Training steps per compiled call, at most: the largest divisor of an epoch's "
        "steps up to this (epochs keep their length); 1: one per call.", minimum=1,
        neutral=True)
    backend: str | None = setting(
        None, "Keras backend: tensorflow (the default) or jax. On the command line it is set "
        "before Keras is imported; from Python, KERAS_BACKEND chooses it. Part of the run's "
        "identity: a JAX run never resumes or reuses a TensorFlow one.", choices=BACKENDS)
    strategy: str = setting(
        "none", "Devices to train on: none (one device), mirrored (each batch split over "
        "every local GPU or logical CPU device: tf.distribute's MirroredStrategy on "
        "tensorflow, keras.distribution's DataParallel on jax, where "
        "XLA_FLAGS=--xla_force_host_platform_device_count=N splits a CPU), multi_worker "
        "(tensorflow only: TF_CONFIG cluster).", choices=_strategies)
    run_dir: str | None = setting(None, "Run directory (default: runs/<model>-<timestamp>).",
                                  runner=True, neutral=True)
    export_dir: str | None = setting(None, "Export the encoder here (SavedModel + .keras).",
                                     runner=True, neutral=True)
    overwrite_export: bool = setting(False, "Replace an existing export.", runner=True,
                                     neutral=True)
    quick: bool = setting(False, "Smoke-run shrink: 512 training / 256 eval examples, 1 "
                          "epoch per stage, 20 clustering batches, no XLA unless "
                          "--jit_compile asks.", runner=True)
    verbose: str = setting("auto", "Keras progress: 1 bar, 2 one line per epoch, 0 silent.",
                           choices=VERBOSITY, runner=True, neutral=True)

    def __post_init__(self):
        if not isinstance(self.model_config, dict):
            raise ValueError(f"`model_config` must be a dict of constructor arguments. "
                             f"Received: {self.model_config!r}")
        # A value set to None is the zoo entry's own: left out; lists (JSON's) as tuples.
        self.model_config = {str(k): _frozen(v) for k, v in self.model_config.items()
                             if v is not None}
        if isinstance(self.verbose, int) and not isinstance(self.verbose, bool):
            self.verbose = str(self.verbose)  # Keras' integers are accepted too
        # The backend: None means TensorFlow, so the identities of TensorFlow runs stay as
        # they were before the field existed; unset, it is the process's.
        if self.backend is None:
            self.backend = process_backend()
        if self.backend == "tensorflow":
            self.backend = None

    @property
    def keras_verbose(self):
        """`verbose` as Keras' `fit` takes it."""
        return self.verbose if self.verbose == "auto" else int(self.verbose)

    def validate(self):
        """Every field against its type, choices and range, then the checks across fields.
        Errors are one line naming the field."""
        from sdae_tf import zoo
        from sdae_tf.runner import config_values

        zoo.REGISTRY.get(self.model)  # an unknown name lists the known ones
        for f in dataclasses.fields(self):
            if f.name != "model_config":
                config_values.check_field(f.name, getattr(self, f.name))
        for name, value in self.model_config.items():
            if name in model_flags() and name != "model_args":
                config_values.check_field(name, value)
        if self.pretrain_epochs == 0 and self.finetune_epochs == 0:
            raise ValueError("Nothing to train: `pretrain_epochs` and `finetune_epochs` are "
                             "both 0")
        if self.protocol == "all_images" and self.task != "clustering" and \
                self.finetune_epochs > 0:
            raise ValueError(f"`protocol=all_images` trains on the test images (DEC's "
                             f"protocol): it is for pretraining and `task=clustering`, not "
                             f"fine-tuning on {self.task}")
        if self.cluster_projection not in ("none", "flatten") and not (
                self.cluster_projection.isdigit() and int(self.cluster_projection) > 0):
            raise ValueError(f"`cluster_projection` must be none, flatten or a positive "
                             f"integer. Received: {self.cluster_projection!r}")
        then = self.pretrain_mode == "layerwise_then_end_to_end"
        if then and self.end_to_end_epochs == 0:
            raise ValueError("`pretrain_mode=layerwise_then_end_to_end` needs "
                             "`end_to_end_epochs` >= 1 (the end-to-end epochs after the blocks)")
        if self.end_to_end_epochs and not then:
            raise ValueError(f"`end_to_end_epochs={self.end_to_end_epochs}` is for "
                             "`pretrain_mode=layerwise_then_end_to_end`; received "
                             f"pretrain_mode={self.pretrain_mode}")
        if (self.noise_schedule != "constant" and self.model_config.get("noise_level") == 0
                and not any(self.model_config.get("block_noise_levels") or ())):
            raise ValueError(f"`noise_schedule={self.noise_schedule}` ramps the noise level, "
                             "and there is none: `noise_level` is 0 (and no "
                             "`block_noise_levels`); set a level or drop the schedule")


def fields():
    """name -> `dataclasses.Field` of `TrainConfig`, in order.

    Returns:
        A dict name -> `dataclasses.Field`.
    """
    return {f.name: f for f in dataclasses.fields(TrainConfig)}


def model_flags():
    """name -> `dataclasses.Field` of `ModelFlags`: the constructor arguments with a flag of
    their own, and `model_args`.

    Returns:
        A dict name -> `dataclasses.Field`.
    """
    return {f.name: f for f in dataclasses.fields(ModelFlags)}


def keys():
    """name -> `dataclasses.Field` of every setting a flag or a `--run` cell sets: the
    training fields of `TrainConfig` and, in place of its `model_config`, the `ModelFlags`.

    Returns:
        A dict name -> `dataclasses.Field`.
    """
    out = {}
    for name, f in fields().items():
        if name == "model_config":
            out.update(model_flags())
        else:
            out[name] = f
    return out


def runner_fields():
    """The fields the runner sets, not an experiment's `--run` cell."""
    return tuple(n for n, f in fields().items() if f.metadata["runner"])


def neutral_fields():
    """The fields that do not change what a run computes (out of pool keys and resume checks)."""
    return tuple(n for n, f in fields().items() if f.metadata["neutral"])


def finetune_fields():
    """The fields read by fine-tuning alone (a cell's shared pretraining takes their defaults)."""
    return tuple(n for n, f in fields().items() if f.metadata["finetune"])


def replace(cfg, **changes):
    """`cfg` with `changes` (settings by name, `keys()`), as `dataclasses.replace` with the
    `ModelFlags` routed into `model_config`: a value sets that argument, None gives it back
    to the zoo entry, `model_args` items (and a `model_config` given) add theirs. How a flag,
    a `--run` cell and a search's trial change a configuration.

    Args:
        cfg: a `TrainConfig`.
        **changes: settings by name.

    Returns:
        A new `TrainConfig`.

    Raises:
        ValueError: an unknown setting, or a model argument of the wrong type.

    Example:

    ```python
    from sdae_tf.runner import config
    cfg = config.replace(config.TrainConfig(), hidden_units=(500, 250), seed=1)
    cfg.model_config  # {'hidden_units': (500, 250)}
    ```
    """
    from sdae_tf.runner import config_values  # it reads this module's classes

    arguments, training = dict(cfg.model_config), {}
    for name, value in changes.items():
        if name == "model_args":
            arguments.update(config_values.model_args(value))
        elif name in model_flags():
            value = _frozen(value)
            config_values.check_field(name, value)
            if value is None:
                arguments.pop(name, None)
            else:
                arguments[name] = value
        elif name in fields():
            training[name] = value
        else:
            raise ValueError(f"Unknown setting {name!r}")
    if "model_config" in training:
        arguments = {**arguments, **dict(training.pop("model_config") or {})}
    return dataclasses.replace(cfg, model_config=arguments, **training)


def flat(config):
    """A recorded configuration (a dict: `dataclasses.asdict` of a `TrainConfig`, or a
    `config.json` of any version) in the flat form that identifies runs: the `ModelFlags`
    as top-level keys and the other constructor arguments as `model_args` items (in name
    order), as every run recorded before `model_config` existed was written. The pool keys,
    the ledger's records and a search's identity are computed from it, so they stayed what
    they were.

    Args:
        config: a configuration, a dict (nested or flat).

    Returns:
        A flat dict.
    """
    out = {k: v for k, v in config.items() if k not in ("model_config", "model_args")}
    from sdae_tf.runner import config_values

    extra = config_values.model_args(config.get("model_args"))  # a flat record's own
    for name, value in (config.get("model_config") or {}).items():
        if name in model_flags():
            out[name] = value
        else:
            extra[name] = value
    # An argument at the value runs were identified by before its default changed is left
    # out, as it was then (`ZooEntry.earlier_defaults`).
    for name, value in unnamed_defaults(config.get("model")).items():
        held = out if name in model_flags() else extra
        if name in held and _frozen(held[name]) == _frozen(value):
            del held[name]
    if extra:  # in one order, whatever order they were given in
        out["model_args"] = sorted(f"{k}={config_values.model_arg_text(v)}"
                                   for k, v in extra.items())
    return out


def _entry(model):
    """The zoo entry named `model`, or None for a name the zoo does not know."""
    from sdae_tf import zoo

    return zoo.REGISTRY.get(model) if model in zoo.REGISTRY else None


def unnamed_defaults(model):
    """The arguments of the zoo entry `model` whose default changed after runs had been
    identified without them (`ZooEntry.earlier_defaults`, less its `named_before`), with the
    value they had: a run's identity leaves such an argument out at that value.

    Args:
        model: a zoo model's name.

    Returns:
        A dict ({} for a name the zoo does not know).
    """
    entry = _entry(model)
    return {} if entry is None else {k: v for k, v in entry.earlier_defaults.items()
                                     if k not in entry.named_before}


def explicit(cfg):
    """`cfg` with every argument of its zoo entry's `earlier_defaults` that it leaves out set to
    today's default: the form a run is identified and recorded in, where leaving such an
    argument out means the value earlier runs had.

    Args:
        cfg: a `TrainConfig`.

    Returns:
        A `TrainConfig`.
    """
    entry = _entry(cfg.model)
    missing = [name for name in (entry.earlier_defaults if entry else ())
               if name not in cfg.model_config]
    if not missing:
        return cfg
    return dataclasses.replace(cfg, model_config={
        **cfg.model_config, **{name: _frozen(entry.default(name)) for name in missing}})


def from_record(record):
    """The `TrainConfig` of a recorded configuration (a `config.json`), today's nested form or
    the flat form of runs recorded before `model_config` existed (each `ModelFlags` a
    top-level key, the others `model_args` items), which it migrates; settings unknown to
    this version are left out.

    Args:
        record: a configuration, a dict.

    Returns:
        A `TrainConfig`.
    """
    # JSON's lists as the tuple fields take them
    training = {k: _frozen(v) for k, v in record.items()
                if k in fields() and k != "model_config"}
    cfg = TrainConfig(**training, model_config=dict(record.get("model_config") or {}))
    legacy = {k: v for k, v in record.items() if k in model_flags()}
    cfg = replace(cfg, **legacy) if legacy else cfg
    entry = _entry(cfg.model)  # what a record leaves out of the defaults that changed since
    return cfg if entry is None else dataclasses.replace(
        cfg, model_config=entry.as_recorded(cfg.model_config))


def _frozen(value):
    """Lists (JSON's, nested too) as tuples."""
    return tuple(_frozen(v) for v in value) if isinstance(value, (list, tuple)) else value


def model_kwargs(cfg):
    """The zoo builder's arguments of `cfg`: its `model_config` and its seed.

    Args:
        cfg: a `TrainConfig`.

    Returns:
        A dict of the zoo builder's arguments (the seed included).
    """
    return {**cfg.model_config, "seed": cfg.seed}


def _attributes_doc(described):
    """The `Attributes:` section of a class's docstring, from each field's help text (the
    one place a field is described)."""
    return "\n\nAttributes:\n" + "\n".join(f"    {n}: {f.metadata['help']}"
                                            for n, f in described.items())


TrainConfig.__doc__ += _attributes_doc(fields())


def _init_naming_model_arguments(init):
    """`TrainConfig.__init__` refusing a model argument given as a field (as before
    `model_config` existed) in one line that says where it goes."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        misplaced = sorted(set(kwargs) & set(model_flags()))
        if misplaced:
            first = misplaced[0]
            raise TypeError(f"TrainConfig: model arguments go in model_config, e.g. "
                            f"TrainConfig(model_config={{{first!r}: ...}}) or "
                            f"config.replace(cfg, {first}=...); given as fields: "
                            f"{', '.join(misplaced)}")
        init(self, *args, **kwargs)

    return wrapper


TrainConfig.__init__ = _init_naming_model_arguments(TrainConfig.__init__)
ModelFlags.__doc__ += _attributes_doc(model_flags())


def build_model(cfg, input_shape):
    """The zoo model of `cfg` as the public API builds it (`sdae_tf.zoo.build`, what
    `sdae_tf.models.get` calls), with the config's hyperparameter overrides.

    Args:
        cfg: the run's `TrainConfig`.
        input_shape: one example's shape.

    Returns:
        The model, an instance of its family's class (`sdae_tf.zoo.Family`).
    """
    from sdae_tf import zoo

    return zoo.build(cfg.model, tuple(input_shape), **model_kwargs(cfg))
