"""Writes a zoo model's SavedModel from a process on another Keras backend (JAX): the model is
saved as `.keras`, and this module, run in a TensorFlow process
(`python -m sdae_tf.zoo.saved_model_writer MODEL.keras AUTOENCODER OUT_DIR`), loads it in safe
mode and writes the same SavedModel endpoints a TensorFlow process writes (`serve`,
`serving_default`, `reconstruct` and the family's extra endpoints). AUTOENCODER is `self` (the
model's own autoencoder), `none`, or another `.keras` file of the same family (a run's
pretrained autoencoder). The exporting process then checks the reloaded SavedModel against
its own model's outputs, as on TensorFlow."""

import os
import pathlib
import subprocess
import sys
import tempfile


def write_through_tensorflow(model, source, path):
    """Writes `model`'s SavedModel (with `source`'s autoencoder and endpoints: `model` itself,
    another model, or None) into the folder `path` from a TensorFlow subprocess.

    Args:
        model: the zoo model (any backend).
        source: the model whose autoencoder is the `reconstruct` endpoint, or None.
        path: the (staged) export folder.

    Raises:
        RuntimeError: the TensorFlow process failed (its last lines of stderr quoted).
    """
    import sdae_tf

    with tempfile.TemporaryDirectory() as tmp:
        model_file = pathlib.Path(tmp) / "model.keras"
        model.save(model_file)
        if source is None:
            autoencoder = "none"
        elif source is model:
            autoencoder = "self"
        else:
            autoencoder = str(pathlib.Path(tmp) / "autoencoder.keras")
            source.save(autoencoder)
        root = str(pathlib.Path(sdae_tf.__file__).resolve().parents[1])
        env = {**os.environ, "KERAS_BACKEND": "tensorflow",
               "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get(
                   "PYTHONPATH")])])}
        done = subprocess.run([sys.executable, "-m", __name__, str(model_file), autoencoder,
                               str(path)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise RuntimeError(f"Writing the SavedModel in a TensorFlow process failed:\n{tail}")


def _main(argv):
    import keras

    import sdae_tf.zoo  # noqa: F401  (registers the families)
    from sdae_tf.hub import export

    model_file, autoencoder, out = argv
    model = keras.saving.load_model(model_file, safe_mode=True)
    source = {"self": model, "none": None}.get(autoencoder)
    if autoencoder not in ("self", "none"):
        source = keras.saving.load_model(autoencoder, safe_mode=True)
    export.write_saved_model(
        model.encoder, pathlib.Path(out), None if source is None else source.autoencoder(),
        None if source is None else source.export_endpoints())


if __name__ == "__main__":
    _main(sys.argv[1:])
