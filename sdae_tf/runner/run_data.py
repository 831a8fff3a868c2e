"""A run's data: the dataset (or the segmentation variant's masks) under the run's
protocol, shrunk for `--quick` and `--train_examples`, and the pretraining data beside it."""

import dataclasses

from sdae_tf import zoo
from sdae_tf.data import load_dataset
from sdae_tf.runner.validation import segmentation_variant

# What `quick=True` shrinks a run to: smoke tests of every flagfile use it.
QUICK_TRAIN_EXAMPLES = 512
QUICK_EVAL_EXAMPLES = 256
QUICK_EPOCHS = 1
# ... and the clustering stage to this many batches, the target updated every few of them.
QUICK_CLUSTER_BATCHES = 20
QUICK_UPDATE_INTERVAL = 10
def load_data(cfg):
    """The dataset of a run, shrunk by `quick` / `train_examples`. Under the validation protocol
    with its validation split; under the report protocol every training example is trained on
    and the held-out split that `fit` logs after each epoch is the test set.

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        The run's `Splits`.
    """
    entry = zoo.REGISTRY.get(cfg.model)
    if cfg.task == "segmentation":  # the variant's images, their digit masks as labels
        from sdae_tf.data import segmentation

        data = segmentation.load_digit_masks(
            segmentation_variant(cfg), data_dir=cfg.data_dir,
            validation_size=cfg.validation_size, seed=cfg.data_seed, cache_dir=cfg.cache_dir,
            construction=cfg.variant_construction)
    else:
        data = load_dataset(cfg.dataset or entry.dataset, data_dir=cfg.data_dir,
                            validation_size=cfg.validation_size, seed=cfg.data_seed,
                            cache_dir=cfg.cache_dir, construction=cfg.variant_construction)
    if cfg.protocol == "report":
        data = data.without_validation()
    elif cfg.protocol == "all_images":
        data = data.pooled()
    if cfg.quick:
        return data.limit(QUICK_TRAIN_EXAMPLES, QUICK_EVAL_EXAMPLES)
    if cfg.train_examples:
        data = data.limit(train=cfg.train_examples)
    return data


def load_run_data(cfg):
    """(fine-tuning data, pretraining data) of a run, checked against each other and the batch
    size (`load_data`).

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        (fine-tuning `Splits`, pretraining `Splits`).

    Raises:
        ValueError: data of different shapes, or a batch larger than a split.
    """
    data = load_data(cfg)
    if cfg.batch_size > len(data.x_train):
        raise ValueError(f"`batch_size` ({cfg.batch_size}) is larger than the training "
                         f"data ({len(data.x_train)} examples of {data.name}); lower "
                         "--batch_size")
    pretrain_data = data
    if cfg.pretrain_dataset and cfg.pretrain_dataset != data.name:
        # Pretraining reads images alone: whatever the task, the dataset's own.
        pretrain_data = load_data(dataclasses.replace(cfg, dataset=cfg.pretrain_dataset,
                                                      task="classification"))
        if pretrain_data.input_shape != data.input_shape:
            raise ValueError(
                f"--pretrain_dataset {pretrain_data.name} has inputs of shape "
                f"{pretrain_data.input_shape}, --dataset {data.name} {data.input_shape}: "
                "pretraining and fine-tuning need the same input shape")
    return data, pretrain_data
