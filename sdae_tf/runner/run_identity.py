"""What identifies a run's computation, from its `TrainConfig` (`sdae_tf.runner.config`): the
run pool's key and a search's identity (`identity`), and the resume check (`differences`)."""

import dataclasses

from sdae_tf.runner import config as config_lib


def jsonable(value):
    """`value` as JSON holds it: tuples (nested too) as lists.

    Args:
        value: any field value.

    Returns:
        The value with tuples as lists.
    """
    return [jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def identity(cfg):
    """What identifies `cfg`'s computation: every setting that changes results and is not at
    its default (so a field added later, at a default that keeps today's behaviour, leaves the
    identity of older runs as it was; a model argument whose default changed is named unless
    it has the value earlier runs had: `config.explicit`), in the flat form (`config.flat`:
    the model's arguments by name at the top level) every run has been identified by.

    Args:
        cfg: a `TrainConfig`.

    Returns:
        A JSON-ready dict of the settings that identify the run.
    """
    default = config_lib.flat(dataclasses.asdict(config_lib.TrainConfig()))
    settings = config_lib.flat(dataclasses.asdict(config_lib.explicit(cfg)))
    neutral = set(config_lib.neutral_fields()) | _unread(settings)
    return {k: jsonable(v) for k, v in settings.items()
            if k not in neutral and jsonable(v) != jsonable(default.get(k))}


def _unread(config):
    """The fields `config` (a dict) computes nothing with: the fine-tuning ones of a run that
    does not fine-tune (so a pretraining-only cell and the pretraining a fine-tuned cell
    shares are one run in the pool, whatever fine-tuning settings the cell also names)."""
    return set() if has_task_stage(config) else set(config_lib.finetune_fields())


def has_task_stage(config):
    """Whether a run (a `TrainConfig` or its dict) trains a task after pretraining:
    fine-tuning (`finetune_epochs` > 0) or the clustering stage (`task=clustering`).

    Args:
        config: a `TrainConfig` or a config dict.

    Returns:
        A bool.
    """
    if not isinstance(config, dict):
        config = dataclasses.asdict(config)
    return (config.get("finetune_epochs", config_lib.TrainConfig.finetune_epochs) > 0
            or config.get("task", config_lib.TrainConfig.task) == "clustering")


def differences(old, new):
    """Settings (sorted, in `config.flat`'s form) in which two configs, as dicts (e.g. read
    from config.json, of any version), differ in what they compute; a setting missing from
    one side counts as its default.

    Args:
        old, new: two configs as dicts.

    Returns:
        The sorted names of the fields that differ.
    """
    defaults = {k: jsonable(v) for k, v in
                config_lib.flat(dataclasses.asdict(config_lib.TrainConfig())).items()}
    neutral = set(config_lib.neutral_fields()) | (_unread(old) & _unread(new))
    old = _compile_resolved(config_lib.flat(old))
    new = _compile_resolved(config_lib.flat(new))

    def get(config, key):
        return jsonable(config.get(key, defaults.get(key)))

    return sorted(k for k in set(old) | set(new)
                  if k not in neutral and get(old, k) != get(new, k))


def _compile_resolved(config):
    """`config` (a dict) with `jit_compile` unset read as its family's choice
    (`Family.pretrain_jit_compile`): what the run compiled with, so a run recorded with the
    same compile as today's default resumes, and one recorded with another does not."""
    if config.get("jit_compile") is not None:
        return config
    from sdae_tf import zoo

    name = config.get("model", config_lib.TrainConfig.model)
    if name not in zoo.REGISTRY.names():
        return config
    family = zoo.REGISTRY.get(name).build
    strategy = config.get("strategy", config_lib.TrainConfig.strategy)
    return {**config, "jit_compile": family.pretrain_jit_compile(None, strategy)}
