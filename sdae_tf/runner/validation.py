"""A run's configuration checked before anything is written or trained: every field
(`TrainConfig.validate`), then what needs the zoo and the file system."""

from sdae_tf import zoo
from sdae_tf.runner.init_from import init_source
from sdae_tf.utils import storage


def check_config(cfg):
    """`cfg.validate()` (every field's type, choices and range) plus what needs the zoo and the
    file system: the model's family takes the reconstruction loss, noise and figures asked
    for; `init_from` exists. Run before anything is written or trained.

    Args:
        cfg: the run's `TrainConfig`.

    Raises:
        ValueError: the first problem, in one line. FileNotFoundError: a missing `init_from`.
    """
    cfg.validate()
    for flag, path in (("--run_dir", cfg.run_dir), ("--export_dir", cfg.export_dir)):
        if path:
            storage.check_name(path, flag)
    arguments = cfg.model_config
    zoo.check_request(cfg.model, recon_loss=arguments.get("recon_loss"),
                      noise_type=arguments.get("noise_type"),
                      noise_level=arguments.get("noise_level"), figures=cfg.figures,
                      num_samples=cfg.num_samples)
    zoo.check_arguments(cfg.model, arguments)  # one line listing those the family takes
    if cfg.init_from is not None:
        init_source(cfg.init_from)  # names the missing file early
    family = zoo.REGISTRY.get(cfg.model).build
    # (--pretrain_mode's end-to-end training is refused by the runner, on the built model:
    # whether a family has it may depend on its arguments, as a one-block VAE has.)
    if cfg.task == "segmentation":
        check_segmentation(cfg)
    if cfg.precision != "float32":
        if not family.MIXED_PRECISION:
            able = sorted({e.build.__name__ for e in zoo.REGISTRY if e.build.MIXED_PRECISION})
            raise ValueError(
                f"--precision={cfg.precision}: {cfg.model} ({family.__name__}) trains in "
                f"float32 only; mixed precision is for the {' and '.join(able)} families")
        asked = [name for name, on in (("--figures", cfg.figures),
                                       ("--num_samples", cfg.num_samples),
                                       ("--unsupervised_metrics", cfg.unsupervised_metrics))
                 if on]
        if asked:
            raise ValueError(f"--precision={cfg.precision} with {', '.join(asked)}: those "
                             "evaluate the pretrained stack in float32; train with "
                             "--precision=float32 or drop them")


def segmentation_variant(cfg):
    """The background variant whose digit masks `cfg`'s segmentation task reads.

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        "bg_rand" or "bg_rand_rot".

    Raises:
        ValueError: a dataset without masks.
    """
    from sdae_tf.data import segmentation

    dataset = cfg.dataset or zoo.REGISTRY.get(cfg.model).dataset
    variant = dataset.removeprefix("mnist_")
    if variant not in segmentation.SEGMENTED:
        raise ValueError(f"--task=segmentation on {dataset}: it has no digit masks; the "
                         "background variants have: "
                         f"{', '.join('mnist_' + v for v in segmentation.SEGMENTED)}")
    return variant


def check_segmentation(cfg):
    """Refuses a segmentation task the run cannot do (one line, before any training): a
    dataset without masks, a family whose code has no spatial layout.

    Args:
        cfg: the run's `TrainConfig`.

    Raises:
        ValueError: the first problem, in one line.
    """
    segmentation_variant(cfg)
    if cfg.finetune_epochs == 0:
        raise ValueError("--task=segmentation trains the segmentation head in the fine-tuning "
                         "epochs: give --finetune_epochs > 0")
    family = zoo.REGISTRY.get(cfg.model).build
    if not family.SPATIAL_CODE:
        able = zoo.REGISTRY.with_spatial_code("mnist")
        raise ValueError(f"--task=segmentation: {cfg.model} ({family.__name__}) has a vector "
                         "code, nothing spatial to segment from; the conv models on MNIST have "
                         f"one: {', '.join(able)}")
