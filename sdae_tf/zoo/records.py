"""What an export records of its model, and the model rebuilt from that record: the family's
class and constructor arguments (`model_record`), or, for exports and `.keras` files of version
0.2.0, the config of the generic wrapper they were made with (`from_legacy_config`)."""

from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.family import Family


def from_legacy_config(config):
    """A model from the config of version 0.2.0's generic wrapper (`ZooModel`: `zoo_name`,
    `input_shape`, `seed`, `hparams`), as `.keras` files and export manifests of that version
    record it: the same layers, so its weights load.

    Args:
        config: that config, a dict.

    Returns:
        The model, an instance of its family's class.

    Example:

    ```python
    model = sdae_tf.zoo.records.from_legacy_config(
        {"name": "sdae_mnist", "zoo_name": "sdae_mnist", "input_shape": [28, 28, 1],
         "seed": 0, "hparams": {"hidden_units": [64, 16]}})
    ```
    """
    from sdae_tf import zoo

    hparams = zoo.REGISTRY.get(config["zoo_name"]).as_recorded(config.get("hparams") or {})
    model = zoo.build(config["zoo_name"], tuple(config["input_shape"]), seed=config.get("seed"),
                      **hparams)
    if config.get("name") not in (None, config["zoo_name"]):
        model.name = config["name"]
    model.trainable = config.get("trainable", True)
    return model


def model_record(model):
    """What an export's manifest records of `model` (its `zoo_model` entry) so that
    `model_from_record` rebuilds it: its class and its config (its constructor's arguments).

    Args:
        model: a zoo model (a `sdae_tf.zoo.Family`).

    Returns:
        {"class_name": the family's class name, "registered_name": its Keras registered name
        (e.g. "sdae_tf>DenseStack"), "config": `model.get_config()`}.

    Example:

    ```python
    record = sdae_tf.models.model_record(sdae_tf.models.get("sdae_mnist"))
    print(record["class_name"], record["config"]["hidden_units"])  # DenseStack [1000, 1000]
    ```
    """
    import keras

    return {"class_name": type(model).__name__,
            "registered_name": keras.saving.get_registered_name(type(model)),
            "config": model.get_config()}


def model_from_record(record):
    """The untrained model an export's manifest records (`model_record`), or, for an export of
    version 0.2.0, the config of its generic wrapper (`from_legacy_config`).

    Args:
        record: the manifest's `zoo_model` entry.

    Returns:
        The model, an instance of its family's class, freshly initialised.

    Raises:
        ValueError: a class this package does not register.

    Example:

    ```python
    record = sdae_tf.models.model_record(sdae_tf.models.get("sdae_mnist", hidden_units=(8,)))
    model = sdae_tf.models.model_from_record(record)  # a fresh DenseStack, the same config
    ```
    """
    import keras

    if "class_name" not in record:
        return from_legacy_config(record)
    name = record.get("registered_name") or f"{PACKAGE}>{record['class_name']}"
    cls = keras.saving.get_registered_object(name)
    if not (isinstance(cls, type) and issubclass(cls, Family)) or cls is Family:
        raise ValueError(f"{name!r} is no model family (a registered subclass of "
                         f"{PACKAGE}.zoo.Family)")
    return cls.from_config(dict(record["config"]))


def model_from_manifest(manifest, path="the export"):
    """The untrained model an export's manifest was made from: its `zoo_model` record
    (`model_from_record`); an export of version 0.1.0 records none, and its run configuration's
    settings of the family's constructor arguments (and `recon_loss`) rebuild it.

    Args:
        manifest: the export's manifest, a dict.
        path: the export, for the error message.

    Returns:
        The model, an instance of its family's class, freshly initialised.

    Raises:
        ValueError: a manifest that records no zoo model to rebuild.

    Example:

    ```python
    from sdae_tf.hub import export, pretrained
    manifest = export.load_manifest(pretrained.resolve("sdae_mnist"))
    model = sdae_tf.zoo.records.model_from_manifest(manifest)  # a DenseStack
    ```
    """
    import inspect

    from sdae_tf import zoo

    if "zoo_model" in manifest:
        return model_from_record(manifest["zoo_model"])
    given = manifest.get("config")
    if isinstance(given, dict):  # a run's config: its model's arguments nested or, older, flat
        given = {**given, **(given.get("model_config") or {})}
    if not isinstance(given, dict) or manifest.get("model") not in zoo.REGISTRY:
        raise ValueError(f"{path}: the manifest records no zoo model to rebuild (neither "
                         "`zoo_model` nor a `model` and `config` of this zoo)")
    entry = zoo.REGISTRY.get(manifest["model"])
    given = entry.as_recorded(given)
    accepted = {*inspect.signature(entry.build).parameters,
                "recon_loss"} - {"input_shape", "name", "kwargs"}
    return zoo.build(manifest["model"], tuple(manifest["input"]["shape"]),
                     **{k: v for k, v in given.items() if k in accepted and v is not None})
