"""All command-line flags, in one place, all optional; `config_from_flags` turns them into a
`TrainConfig`. Flags left unset (None) take the zoo entry's defaults."""

from absl import flags

from sdae_tf.data import DATASETS, MNIST_CONSTRUCTIONS
from sdae_tf.distribute import STRATEGIES
from sdae_tf.figures import FIGURES
from sdae_tf.layers import NOISE_TYPES
from sdae_tf.training import PROTOCOLS, TrainConfig
from sdae_tf.zoo import RECON_LOSSES, REGISTRY

_D = TrainConfig()

flags.DEFINE_enum("model", _D.model, REGISTRY.names(), "Zoo model to train.")
flags.DEFINE_enum("dataset", None, list(DATASETS), "Dataset (default: the model's own).")
flags.DEFINE_enum("pretrain_dataset", None, list(DATASETS),
                  "Dataset of layer-wise pretraining (default: --dataset). Table 1's protocol: "
                  "pretrain on mnist, fine-tune on a variant.")
flags.DEFINE_string("init_from", None,
                    "Skip pretraining: load the pretrained stack of this run directory (its "
                    "pretrained.weights.h5) or weights file.")
flags.DEFINE_string("data_dir", None, "Folder with the MNIST IDX files (default: vendored copy).")
flags.DEFINE_string("cache_dir", None,
                    "Cache of built MNIST variants (default: $SDAE_TF_CACHE or ~/.cache/sdae_tf).")
flags.DEFINE_integer("validation_size", None,
                     "Validation examples carved off the training set (MNIST default 10000).",
                     lower_bound=1)
flags.DEFINE_integer("train_examples", None,
                     "Keep only the first N training examples (default: all).", lower_bound=1)
flags.DEFINE_integer("data_seed", _D.data_seed, "Seed of dataset variants and splits.")
flags.DEFINE_enum("variant_construction", _D.variant_construction, list(MNIST_CONSTRUCTIONS),
                  "How the MNIST variants are built: report (the report's code: cubic-spline "
                  "rotation, exact zeros filled, per-image min-max scaling) or bilinear (this "
                  "project's first construction).")
flags.DEFINE_enum("protocol", _D.protocol, list(PROTOCOLS),
                  "validation: a validation split, the best validation epoch kept (ours); "
                  "report: all training examples, test set logged per epoch, test accuracy "
                  "after the last epoch (the report's scripts).")
flags.DEFINE_integer("seed", _D.seed, "Seed of the training run (init, noise, shuffling).")
flags.DEFINE_list("hidden_units", None, "Encoder block widths, e.g. 1000,1000.")
flags.DEFINE_enum("noise_type", None, ["none", *NOISE_TYPES, "learned_gaussian"],
                  "Input corruption (learned_gaussian: the learned-sigma models only).")
flags.DEFINE_float("noise_level", None, "Gaussian stddev, or fraction corrupted.", lower_bound=0)
flags.DEFINE_list("latent_units", None, "VAE family: latent size per block, e.g. 20.")
flags.DEFINE_float("kl_weight", None, "VAE family: weight of the KL term.", lower_bound=0)
flags.DEFINE_list("lambdas", None,
                  "Learned sigma: reward weight of mean(sigma) per block, e.g. 0.026,0.016. "
                  "(--noise_level sets the floor of sigma.)")
flags.DEFINE_bool("per_component", None,
                  "Learned sigma: one sigma per input component instead of one per example.")
flags.DEFINE_enum("recon_loss", None, list(RECON_LOSSES),
                  "Reconstruction loss: bce (binary cross-entropy) or mse (squared error, the "
                  "report's scripts); default: the model's own (bce).")
flags.DEFINE_float("weight_decay", _D.weight_decay,
                   "L2 weight decay added to the gradient (PyTorch Adam's weight_decay; the "
                   "report: 1e-7), every stage.", lower_bound=0)
flags.DEFINE_integer("batch_size", _D.batch_size, "Batch size of every stage.", lower_bound=1)
flags.DEFINE_integer("pretrain_epochs", _D.pretrain_epochs, "Epochs per pretrained block.",
                     lower_bound=0)
flags.DEFINE_float("pretrain_learning_rate", _D.pretrain_learning_rate,
                   "Adam learning rate of layer-wise pretraining.", lower_bound=0)
flags.DEFINE_integer("finetune_epochs", _D.finetune_epochs, "Supervised fine-tuning epochs.",
                     lower_bound=0)
flags.DEFINE_float("learning_rate", _D.learning_rate, "Adam learning rate of fine-tuning.",
                   lower_bound=0)
flags.DEFINE_enum("lr_schedule", _D.lr_schedule, ["constant", "cosine"],
                  "Learning-rate schedule of each stage (cosine decays to 0 over the stage).")
flags.DEFINE_integer("head_units", _D.head_units, "Hidden width of the fine-tuning head.",
                     lower_bound=1)
flags.DEFINE_integer("num_samples", _D.num_samples,
                     "Top-down Bernoulli samples per example after pretraining, written to "
                     "<run_dir>/samples.png (dense stacks; 0: none).", lower_bound=0)
flags.DEFINE_list("figures", [],
                  f"Figures written to the run directory after pretraining: {', '.join(FIGURES)}.")
flags.DEFINE_bool("jit_compile", _D.jit_compile,
                  "XLA-compile train steps (on CPU it slows noisy models down).")
flags.DEFINE_integer("steps_per_execution", _D.steps_per_execution,
                     "Training steps per compiled call, at most: the largest divisor of an "
                     "epoch's steps up to this (epochs keep their length); 1: one per call.",
                     lower_bound=1)
flags.DEFINE_enum("strategy", _D.strategy, list(STRATEGIES),
                  "tf.distribute strategy: none (one device), mirrored (every local GPU, or "
                  "every logical CPU device), multi_worker (TF_CONFIG cluster).")
flags.DEFINE_string("run_dir", None, "Run directory (default: runs/<model>-<timestamp>).")
flags.DEFINE_string("export_dir", None, "Export the encoder here (SavedModel + .keras).")
flags.DEFINE_bool("overwrite_export", _D.overwrite_export, "Replace an existing export.")
flags.DEFINE_bool("quick", _D.quick,
                  "Smoke-run shrink: 1024 training / 512 eval examples, 1 epoch per stage.")
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                  "Keras progress: 1 bar, 2 one line per epoch, 0 silent.")


def config_from_flags(values=flags.FLAGS):
    """The `TrainConfig` that parsed flags describe."""
    hidden, latent = values.hidden_units, values.latent_units
    return TrainConfig(
        model=values.model,
        dataset=values.dataset,
        pretrain_dataset=values.pretrain_dataset,
        init_from=values.init_from,
        data_dir=values.data_dir,
        cache_dir=values.cache_dir,
        validation_size=values.validation_size,
        train_examples=values.train_examples,
        data_seed=values.data_seed,
        variant_construction=values.variant_construction,
        protocol=values.protocol,
        seed=values.seed,
        hidden_units=tuple(int(u) for u in hidden) if hidden else None,
        noise_type=values.noise_type,
        noise_level=values.noise_level,
        latent_units=tuple(int(u) for u in latent) if latent else None,
        kl_weight=values.kl_weight,
        lambdas=tuple(float(v) for v in values.lambdas) if values.lambdas else None,
        per_component=values.per_component,
        recon_loss=values.recon_loss,
        weight_decay=values.weight_decay,
        batch_size=values.batch_size,
        pretrain_epochs=values.pretrain_epochs,
        pretrain_learning_rate=values.pretrain_learning_rate,
        finetune_epochs=values.finetune_epochs,
        learning_rate=values.learning_rate,
        lr_schedule=values.lr_schedule,
        head_units=values.head_units,
        num_samples=values.num_samples,
        figures=tuple(values.figures),
        jit_compile=values.jit_compile,
        steps_per_execution=values.steps_per_execution,
        strategy=values.strategy,
        run_dir=values.run_dir,
        export_dir=values.export_dir,
        overwrite_export=values.overwrite_export,
        quick=values.quick,
        verbose=values.verbose if values.verbose == "auto" else int(values.verbose),
    )
