"""The one typed configuration (`sdae_tf.runner.config`): flags, `--run` values, pool key, resume
check and model arguments all derive from its fields; regression tests for the defects that
copies of it produced."""

import dataclasses
import json

import pytest
from absl import flags

from sdae_tf import zoo
from sdae_tf.reproduce import experiments
from sdae_tf.runner import config, config_flags, config_values, run_identity, training
from sdae_tf.runner import run_dir as run_dir_lib
from sdae_tf.runner import validation as validation_lib
from sdae_tf.zoo.masked_autoencoder.masked_autoencoder_presets import HE_ET_AL

from .conftest import REPO

FIELDS = config.fields()
RESULTS = REPO / "benchmarks" / "results"


def test_every_field_has_help_and_a_flag():
    values = flags.FlagValues()
    config_flags.define_flags(values)
    values(["prog"])
    for name, f in config.keys().items():
        assert f.metadata["help"], name
        assert name in values, name
    assert "model_config" not in values  # its arguments have their flags (and --model_args)
    assert config_flags.from_flags(values) == config.TrainConfig()


@pytest.mark.parametrize("name, text, value", [
    ("per_component", "false", False), ("per_component", "True", True),
    ("per_component", "none", None), ("hidden_units", "64,32", (64, 32)),
    ("lambdas", "0.026,0.016", (0.026, 0.016)), ("figures", "filters,tsne", ("filters", "tsne")),
    ("weight_decay", "1e-7", 1e-7), ("batch_size", "64", 64), ("protocol", "report", "report"),
])
def test_typed_parsing(name, text, value):
    assert config_values.parse_value(name, text) == value


@pytest.mark.parametrize("name, text, match", [
    ("per_component", "maybe", "`per_component`: expected true or false. Received: 'maybe'"),
    ("batch_size", "1.5", "`batch_size`: expected an integer"),
    ("batch_size", "0", "`batch_size` must be >= 1"),
    ("learning_rate", "0", "`learning_rate` must be > 0"),
    ("protocol", "paper", "`protocol` must be one of validation, report"),
    ("figures", "filtres", "`figures` must be one of"),
    ("nope", "1", "Unknown setting 'nope'"),
])
def test_bad_values_are_one_line_errors_naming_the_field(name, text, match):
    with pytest.raises(ValueError, match=match) as err:
        config_values.parse_value(name, text)
    assert "\n" not in str(err.value)


def test_runner_and_neutral_fields():
    assert set(config.runner_fields()) == {"init_from", "run_dir", "export_dir",
                                           "overwrite_export", "quick", "verbose"}
    assert "steps_per_execution" in config.neutral_fields()
    assert "seed" not in config.neutral_fields() and "quick" not in config.neutral_fields()


def test_model_kwargs_reach_the_builder():
    cfg = config.TrainConfig(model="sdae_learned_sigma_mnist", seed=3, model_config={
        "hidden_units": (16, 8), "lambdas": (0.1, 0.2), "per_component": True,
        "recon_loss": "mse"})
    assert config.model_kwargs(cfg) == {"hidden_units": (16, 8), "lambdas": (0.1, 0.2),
                                        "per_component": True, "recon_loss": "mse", "seed": 3}
    stack = config.build_model(cfg, (8, 8, 1))
    assert stack.per_component is True and stack.lambdas == (0.1, 0.2)
    assert stack.block_loss(0) == "mean_squared_error" and stack.hidden_units == (16, 8)


# Regression tests for the defects of issue 14 (each was a copy of the configuration that
# disagreed with another).

def test_run_spec_false_is_false():
    """`per_component=false` in a `--run` cell reached LearnedGaussianNoise as the truthy
    string "false"; now it is parsed as the field's type."""
    spec = experiments.parse_run("l/digits: model=sdae_learned_sigma_mnist per_component=false")
    values = experiments._resolve(spec, {})
    assert values["per_component"] is False
    cfg = config.replace(config.TrainConfig(), **values)
    stack = config.build_model(cfg, (8, 8, 1))
    stack.pretrain_model(0)
    assert stack.noise_layers[0].per_component is False


def test_unsupported_figure_is_refused_before_training(tmp_path):
    """`--model=cdae_mnist --figures=traversal` pretrained, then died with a TypeError."""
    cfg = config.TrainConfig(model="cdae_mnist", dataset="digits", figures=("traversal",),
                             run_dir=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="cdae_mnist .ConvAutoencoder. cannot draw traversal"):
        training.run(cfg)
    assert not (tmp_path / "r").exists()
    with pytest.raises(ValueError, match="cannot draw samples"):
        validation_lib.check_config(dataclasses.replace(cfg, figures=(), num_samples=3))


def test_noise_type_without_level_is_refused(tmp_path):
    """`--model=cae_mnist --noise_type=masking` trained with no noise at all while config.json
    and the manifest said masking."""
    cfg = config.TrainConfig(model="cae_mnist", dataset="digits",
                             model_config={"noise_type": "masking"}, run_dir=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="trains without noise: give --noise_level"):
        training.run(cfg)
    assert not (tmp_path / "r").exists()
    with pytest.raises(ValueError, match="give --noise_type"):
        validation_lib.check_config(config.TrainConfig(model="sae_mnist",
                                                       model_config={"noise_level": 0.3}))
    with pytest.raises(ValueError, match="cannot train with noise_type='gaussian'"):
        validation_lib.check_config(config.TrainConfig(model="sdae_learned_sigma_mnist",
                                                 model_config={"noise_type": "gaussian"}))
    # What is asked and allowed is what is built, and what the manifest will record.
    ok = config.replace(cfg, noise_level=0.25)
    validation_lib.check_config(ok)
    assert config.build_model(ok, (8, 8, 1)).describe()["noise"] == {"type": "masking",
                                                                       "level": 0.25}


def test_steps_per_execution_does_not_block_a_resume(tmp_path):
    """The pool key ignored --steps_per_execution but the resume check did not: an interrupted
    experiment rerun with another value found its run and was then refused."""
    base = config.TrainConfig(model="sdae_mnist", dataset="digits")
    other = dataclasses.replace(base, steps_per_execution=1, verbose=2)
    assert experiments.pool_key(base) == experiments.pool_key(other)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(base)))
    assert run_dir_lib.prepare_run_dir(run_dir, dataclasses.asdict(other)) == (run_dir, True)


def test_every_family_declares_its_contract():
    for entry in zoo.REGISTRY:
        family = entry.build
        assert issubclass(family, zoo.Family), entry.name
        assert set(family.FIGURES) <= set(config_values.choices_of("figures")), entry.name
        assert set(family.RECON_LOSS_ARGS) == set(zoo.RECON_LOSSES), entry.name
        from sdae_tf.models.zoo_model import DATASET_SHAPES

        stack = zoo.build(entry.name, DATASET_SHAPES[entry.dataset])
        out = stack.reconstruct(stack.encoder.inputs[0])  # the decoder on the code (and, for
        assert tuple(out.shape[1:]) == stack.image_shape, entry.name  # kernels, the input)


def test_every_constructor_argument_is_settable_through_model_args():
    from absl import flags

    values = flags.FlagValues()
    config_flags.define_flags(values)
    values(["prog", "--model=resdae_mnist", "--model_args=widths=16:32,code_channels=8",
            "--blocks_per_stage=1"])
    cfg = config_flags.from_flags(values)
    assert cfg.model_config == {"widths": (16, 32), "code_channels": 8, "blocks_per_stage": 1}
    model = config.build_model(cfg, (28, 28, 1))
    assert model.widths == (16, 32) and model.code_channels == 8
    assert model.blocks_per_stage == 1
    assert model.get_config()["widths"] == [16, 32]
    # An experiment cell gives the same configuration.
    given = (("model_args", "widths=16:32,code_channels=8"), ("blocks_per_stage", "1"))
    cell = config.replace(config.TrainConfig(model="resdae_mnist"),
                          **{k: config_values.parse_value(k, v) for k, v in given})
    assert cell == cfg
    # Unset, it leaves a run's identity (its pool key, its resume check) as it was.
    assert "model_args" not in run_identity.identity(config.TrainConfig(model="resdae_mnist"))


def test_model_args_are_refused_in_one_line_before_anything_trains():
    with pytest.raises(ValueError, match=r"sdae_mnist \(DenseStack\) does not take width\. "
                                         r"It takes: hidden_units"):
        validation_lib.check_config(config.TrainConfig(model="sdae_mnist",
                                                       model_config={"width": 64}))
    with pytest.raises(ValueError, match=r"hidden_units is set by its own flag \(--hidden_units"):
        config_values.model_args(["hidden_units=8:4"])
    with pytest.raises(ValueError, match="'width' is not name=value"):
        config_values.model_args(["width"])


def test_an_unset_jit_compile_is_the_familys_measured_choice():
    """`--jit_compile` unset: pretraining takes the family's `JIT_COMPILE` (XLA for the masked
    autoencoder and the variational stacks), fine-tuning none; set, it wins. A run recorded
    with one compile resumes under the default only if that default is the same compile."""
    from sdae_tf.train import stages

    mae, sdae = zoo.build("mae_mnist", (28, 28, 1)), zoo.build("sdae_mnist", (28, 28, 1))
    unset = stages.Stage.pretraining(config.TrainConfig())
    assert unset.jit_compile is None and not unset.keras_jit_compile
    assert unset.for_family(mae).keras_jit_compile
    assert not unset.for_family(sdae).keras_jit_compile
    mirrored = stages.Stage.pretraining(config.TrainConfig(strategy="mirrored"))
    assert not mirrored.for_family(mae).keras_jit_compile  # XLA under tf.distribute fails
    off = stages.Stage.pretraining(config.TrainConfig(jit_compile=False))
    assert not off.for_family(mae).keras_jit_compile
    assert not stages.Stage.finetuning(config.TrainConfig(model="mae_mnist")).keras_jit_compile
    recorded = {"model": "mae_mnist", "jit_compile": False}  # before the family's choice
    assert run_identity.differences(recorded, {"model": "mae_mnist"}) == ["jit_compile"]
    assert run_identity.differences(recorded, {"model": "mae_mnist", "jit_compile": False}) == []
    mirrored_run = {**recorded, "strategy": "mirrored"}  # no XLA under a strategy, either way
    assert run_identity.differences(mirrored_run,
                                    {"model": "mae_mnist", "strategy": "mirrored"}) == []
    assert run_identity.differences({"model": "sdae_mnist", "jit_compile": False},
                                    {"model": "sdae_mnist"}) == []
    assert run_identity.differences({"model": "dvae_mnist", "jit_compile": True},
                                    {"model": "dvae_mnist"}) == []


def test_the_model_arguments_are_nested_and_a_flat_record_migrates():
    """A run's configuration is its training fields plus `model_config`, the family's
    constructor arguments by name, from flags and cells alike; a `config.json` written before
    (each argument a top-level field) migrates by `config.from_record`, resumes as the same
    run, and keeps its identity."""
    values = flags.FlagValues()
    config_flags.define_flags(values)
    values(["prog", "--model=vqvae_mnist", "--commitment=0.5",
            "--model_args=code_channels=8,downsample=2", "--seed=2"])
    cfg = config_flags.from_flags(values)
    given = {"commitment": 0.5, "code_channels": 8, "downsample": 2}
    assert cfg.model_config == given
    record = json.loads(json.dumps(dataclasses.asdict(cfg)))
    assert record["model_config"] == given
    assert "commitment" not in record and config.from_record(record) == cfg
    model = config.build_model(cfg, (28, 28, 1))
    assert {k: model.get_config()[k] for k in given} == given and model.seed == 2
    # A cell of an experiment sets the same arguments with the same keys.
    spec = experiments.parse_run("m/mnist: model=vqvae_mnist commitment=0.5 "
                                 "model_args=code_channels=8,downsample=2 seed=2")
    assert config.replace(config.TrainConfig(), **experiments._resolve(spec, {})) == cfg
    # None gives an argument back to the zoo entry.
    assert config.replace(cfg, commitment=None).model_config == {"code_channels": 8,
                                                                "downsample": 2}
    # A record of the flat form (config.json before model_config): migrated, the same run.
    flat = {**{k: v for k, v in record.items() if k != "model_config"},
            **{name: None for name in config.model_flags()}, "commitment": 0.5,
            "model_args": ["code_channels=8", "downsample=2"]}
    assert config.from_record(flat) == cfg
    assert run_identity.differences(flat, record) == []
    assert run_identity.differences(flat, {**record, "model_config": {"commitment": 0.6}}) == [
        "commitment", "model_args"]
    # The identity (pool key, ledger, search) keeps the flat form every run was keyed by.
    assert run_identity.identity(cfg) == {"model": "vqvae_mnist", "seed": 2, "commitment": 0.5,
                                          "model_args": ["code_channels=8", "downsample=2"]}
    with pytest.raises(ValueError, match=r"`commitment` must be >= 0"):
        config.replace(cfg, commitment=-1)
    with pytest.raises(ValueError, match="Unknown setting 'width'"):
        config.replace(cfg, width=32)  # not a flag: model_args (or model_config) sets it
    with pytest.raises(TypeError, match=r"model arguments go in model_config.*given as fields: "
                                        r"hidden_units, noise_level$"):
        config.TrainConfig(hidden_units=(8,), noise_level=0.1)  # the flat form of before


def test_every_committed_record_keeps_its_identity():
    """Each configuration the committed ledgers hold (`run_identity.identity`'s flat form, what
    pool keys hash) migrates to a `TrainConfig` whose identity is the recorded one: no
    finished cell is lost to the nesting."""
    records = [json.loads(line)["config"] for path in sorted(RESULTS.glob("*.jsonl"))
               for line in path.read_text().splitlines()
               if line.strip() and "config" in json.loads(line)]
    assert len(records) > 100
    for recorded in records:
        # An argument whose default changed and that the runs of then named at its earlier
        # value too: a record leaving it out is named with that value (the same computation).
        entry = zoo.REGISTRY.get(recorded.get("model", config.TrainConfig.model))
        named = {k: v for k, v in entry.earlier_defaults.items()
                 if k in entry.named_before and k not in recorded}
        assert run_identity.identity(config.from_record(recorded)) == {**recorded, **named}


def test_a_changed_default_keeps_the_meaning_and_key_of_earlier_runs():
    """`mae_mnist`'s defaults changed (He et al.'s MAE -> the small-data recipe): a record of
    before that leaves them out still means He et al.'s model and keeps its key, a run that
    sets He et al.'s values gets that key, and a run at today's defaults names them, so it
    never takes an earlier run's place in the pool or the ledger."""
    before = {"model": "mae_mnist", "pretrain_epochs": 5, "finetune_epochs": 0}
    old = config.from_record(before)
    assert old.model_config == {**HE_ET_AL}
    built = config.build_model(old, (28, 28, 1))
    assert (built.patch_size, built.width, built.pooling, built.embedding_size) == (
        4, 128, "mean", 128)
    # named_before: mask_unit and mask_ratio were set by the cells of then, so named
    assert run_identity.identity(old) == {**before, "mask_unit": "patch", "mask_ratio": 0.75}
    today = config.TrainConfig(**before)
    pinned = config.replace(today, model_args=("width=128", "depth=4", "pooling=mean"),
                            patch_size=4, mask_unit="patch", mask_ratio=0.75)
    assert run_identity.identity(pinned) == run_identity.identity(old)
    named = run_identity.identity(today)
    assert named["patch_size"] == 7 and named["mask_unit"] == "pixel"
    assert "depth=1" in named["model_args"] and "pooling=flatten" in named["model_args"]
    # config.json holds today's values, so it reads back as the same run
    written = json.loads(json.dumps(dataclasses.asdict(config.explicit(today))))
    assert config.from_record(written) == config.explicit(today)
    assert run_identity.differences(written, before) == sorted(
        ["mask_ratio", "mask_unit", "model_args", "patch_size"])
