"""Bad input at the boundary (`sdae_tf.utils.checks`): one line naming what was received and
what is expected, for the Python API, scikit-learn and the command line alike, before anything
trains; loaders that check what the manifest lists; JSON errors that name their file."""

import shutil

import numpy as np
import pytest

import sdae_tf
from sdae_tf import models
from sdae_tf.hub import export as export_lib
from sdae_tf.hub import packing
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.utils import storage

from .conftest import REPO


@pytest.fixture(scope="module")
def small():
    return models.get("sdae_mnist", input_shape=(8, 8, 1), hidden_units=(16, 8), seed=0)


@pytest.mark.parametrize("images, message", [
    (lambda x: (x * 255).astype("uint8"), r"values in \[0, 255\].*binary cross-entropy.*"
                                           r"divide by 255"),
    (lambda x: x * 2 - 1, r"values in \[-1, 1\].*\(x \+ 1\) / 2.*recon_loss='mse'"),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 70, np.nan, x),
     r"1 NaN or infinite value\(s\) \(the first in image 1\)"),
    (lambda x: x[0], r"must be a batch of images, shape \(N, 8, 8, 1\).*Received one image.*"
                     r"x\[None\]"),
    (lambda x: x.reshape(len(x), -1), r"images of shape \(8, 8, 1\).*Received an array of "
                                      r"shape \(\d+, 64\)"),
])
def test_pretrain_refuses_images_it_cannot_train_on(small, digits, images, message):
    with pytest.raises(ValueError, match=message):
        small.pretrain(images(digits.x_train[:64]), epochs=1, verbose=0)


def test_pretrain_refuses_a_bad_batch_size_and_an_mse_model_takes_any_range(small, digits):
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 1. Received: 0"):
        small.pretrain(digits.x_train[:64], batch_size=0, verbose=0)
    mse = models.get("sdae_mnist", input_shape=(8, 8, 1), hidden_units=(8,), recon_loss="mse")
    history = mse.pretrain(digits.x_train[:64] * 2 - 1, epochs=1, verbose=0)
    assert np.isfinite(history[0].history["loss"][0])


def test_fit_before_compile_takes_the_family_defaults(digits):
    model = models.get("sdae_mnist", input_shape=(8, 8, 1), hidden_units=(16, 8), seed=0)
    assert model.can_train_end_to_end()
    history = model.fit(digits.x_train[:256], epochs=3, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert model.compiled and losses[-1] < losses[0], losses


@pytest.mark.parametrize("value, message", [
    ("48", r"list or tuple of positive integers.*Received: '48'"),
    ("abc", r"list or tuple of positive integers.*Received: 'abc'"),
    (48, r"list or tuple of positive integers.*Received: 48"),
    ((48, 0), r"positive integers.*Received: \(48, 0\)"),
    ((), r"at least one integer"),
])
def test_width_lists_are_parsed_strictly(value, message):
    with pytest.raises(ValueError, match=message):
        models.get("sdae_mnist", hidden_units=value)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: m.pretrain(x, learning_rate=-1), r"`learning_rate` must be a finite number > 0"),
    (lambda m, x: m.pretrain(x, epochs=0), r"`epochs` must be an integer >= 1. Received: 0"),
    (lambda m, x: m.classifier(10, learning_rate=float("nan")), r"`learning_rate` must be"),
    (lambda m, x: models.get("sdae_mnist", input_shape="28"),
     r"`input_shape` must be a list or tuple.*e.g. input_shape=\(28, 28, 1\)\). Received: '28'"),
])
def test_training_arguments_are_checked_before_anything_trains(small, digits, call, message):
    with pytest.raises(ValueError, match=message):
        call(small, digits.x_train[:64])


def test_scikit_learn_names_the_shape_it_was_fitted_on(digits):
    from sdae_tf.integrations.sklearn import SDAETransformer

    with pytest.raises(ValueError, match=r"values in \[0, 255\]"):
        SDAETransformer(hidden_units=(8,), pretrain_epochs=1).fit(
            (digits.x_train[:64] * 255).astype("uint8"))
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 1"):
        SDAETransformer(hidden_units=(8,), batch_size=0).fit(digits.x_train[:64])
    est = SDAETransformer(hidden_units=(8,), pretrain_epochs=1).fit(digits.x_train[:64])
    with pytest.raises(ValueError, match=r"fitted on examples of shape \(8, 8, 1\): reshape X "
                       r"to \(-1, 8, 8, 1\)"):
        est.transform(digits.x_test[:4].reshape(4, -1))


def test_an_inpainter_given_fewer_masks_than_images_says_so():
    inpaint = sdae_tf.inpainter("mae_mnist")
    images = np.zeros((8, 28, 28, 1), "float32")
    hidden = np.zeros((4, inpaint.patches), "float32")
    with pytest.raises(ValueError, match=r"`images` holds 8 examples and `hidden` 4"):
        inpaint([images, hidden])


def test_an_export_missing_a_listed_file_or_holding_an_extra_one_is_named(tmp_path):
    path = tmp_path / "sdae"
    shutil.copytree(REPO / "exported_models" / "sdae_mnist", path)
    shutil.rmtree(path / "variables")
    with pytest.raises(ValueError, match=r"variables/variables\..*(no file)"):
        sdae_tf.feature_extractor(str(path))
    shutil.copytree(REPO / "exported_models" / "sdae_mnist", tmp_path / "extra")
    (tmp_path / "extra" / "variables" / "stray.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"variables/stray.bin is not recorded"):
        sdae_tf.feature_extractor(str(tmp_path / "extra"))


def test_a_damaged_pack_is_refused_even_with_a_genuine_copy_cached(tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(REPO / "packed_models" / "sdae_mnist", pack)
    cache = tmp_path / "cache"
    unpacked = packing.unpack(pack, cache=cache)
    shutil.rmtree(unpacked / "variables")  # the cached copy damaged: unpacked again
    assert packing.unpack(pack, cache=cache) == unpacked
    export_lib.verify_checksums(unpacked)
    weights = pack / packing.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"checksum of weights.npz does not match"):
        packing.unpack(pack, cache=cache)


def test_json_errors_name_their_file(tmp_path):
    from sdae_tf.reproduce import report

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"model": "sdae_mnist", ')
    with pytest.raises(storage.DamagedFileError, match=rf"{run / 'metrics.json'} is damaged"):
        report.gather([run])


def test_an_experiment_checks_every_cell_before_the_first_trains(tmp_path):
    from sdae_tf.reproduce import experiments

    base = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                  model_config={"hidden_units": (8,)}, pretrain_epochs=1,
                                  finetune_epochs=1, verbose=0)
    cells = ["a/digits: seed=1", "b/digits: seed=2", "c/digits: noise_type=masking noise_level=0"]
    with pytest.raises(ValueError, match=r"--run c/digits: .*trains without noise.*; nothing was "
                       "trained"):
        experiments.run_experiment("x", base, cells, out_dir=tmp_path / "x",
                                   pool_dir=tmp_path / "pool")
    assert not (tmp_path / "pool").exists() or not any((tmp_path / "pool").iterdir())


def test_a_run_with_a_too_long_name_is_refused_before_training(tmp_path):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (8,)},
                                 export_dir=str(tmp_path / ("e" * 250)), verbose=0)
    with pytest.raises(ValueError, match=r"--export_dir .*at most 207 are allowed"):
        training.run(cfg)
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (8,)},
                                 run_dir=str(tmp_path / ("r" * 300)), verbose=0)
    with pytest.raises(ValueError, match=r"--run_dir .*at most 207"):
        training.run(cfg)
    assert list(tmp_path.iterdir()) == []


def test_a_tensorflow_device_name_is_not_taken_for_the_path():
    err = RuntimeError("No space left on device [[{{node SaveV2}}]] "
                       "/job:localhost/replica:0/task:0/device:CPU:0")
    with pytest.raises(storage.StorageError, match=r"no space left on the device writing "
                       r"/runs/x; kept"):
        with storage.translate("kept", where="/runs/x"):
            raise err


def test_the_command_line_refuses_in_one_line_with_the_documented_status(tmp_path, capsys):
    """The statuses of docs/errors.md as the tools give them: 2 for our one-line errors, 1 for
    absl's flag errors (in process: the tools' own `main` and absl's parser)."""
    from absl import app, flags
    from absl.testing import flagsaver

    from sdae_tf.cli import models as models_cli
    from sdae_tf.cli import train as train_cli

    def status(call):
        with pytest.raises(SystemExit) as exit_info:
            call()
        return exit_info.value.code, capsys.readouterr().err

    with flagsaver.flagsaver():
        flags.FLAGS(["sdae-train", "--model=sdae_mnist", "--dataset=digits", "--hidden_units=",
                     f"--run_dir={tmp_path / 'run'}"])
        code, err = status(lambda: train_cli.main(["sdae-train"]))
    assert code == 2 and err.startswith("sdae-train: error: `hidden_units` is empty"), err
    assert not (tmp_path / "run").exists()
    with flagsaver.flagsaver(dir=str(tmp_path / "nowhere")):
        code, err = status(lambda: models_cli.main(["sdae-models"]))
    assert code == 2 and "nowhere: no such folder of exported models" in err, err
    bad = tmp_path / "bad" / "m"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{nope")
    with flagsaver.flagsaver(dir=str(tmp_path / "bad")):
        code, err = status(lambda: models_cli.main(["sdae-models"]))
    assert code == 2 and "manifest.json is damaged" in err and "Traceback" not in err, err
    with flagsaver.flagsaver():
        code, err = status(lambda: app.parse_flags_with_usage(["sdae-train", "--batch_size=0"]))
    assert code == 1 and "FATAL Flags parsing error: flag --batch_size=0" in err, err


def test_errors_md_lists_every_error_class_and_its_exit_status():
    import importlib
    import re

    from sdae_tf.cli import errors

    text = (REPO / "docs" / "errors.md").read_text()
    table = text[text.index("## Error classes and exit codes"):]
    rows = re.findall(r"^\| `([\w.]+)`[^|]*\| [^|]+ \| (\d) \|$", table, re.M)
    listed = {}
    for name, status in rows:
        module, _, cls = name.rpartition(".")
        obj = getattr(importlib.import_module(f"sdae_tf.{module}"), cls) if module else \
            __builtins__[cls] if isinstance(__builtins__, dict) else getattr(__builtins__, cls)
        assert issubclass(obj, errors.USER_ERRORS) == (status == "2"), name
        listed[obj] = status
    # Every error class the package defines is listed.
    defined = set()
    for path in (REPO / "sdae_tf").rglob("*.py"):
        for cls in re.findall(r"^class (\w+Error)\(", path.read_text(), re.M):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts)
            defined.add(getattr(importlib.import_module(module), cls))
    assert defined <= set(listed), defined - set(listed)
