"""Recipes by name (`--recipe=NAME` of the CLIs, `sdae_tf.hub.resources`) and the quiet start of the
command-line tools."""

import os
import pathlib
import subprocess
import sys

import pytest
from absl import flags

from sdae_tf.hub import resources
from sdae_tf.utils.process import filter_startup

from .conftest import REPO

FLAGS_DIR = REPO / "flags"


def test_every_flagfile_but_the_includes_is_a_recipe_of_its_tool():
    recipes = resources.list_recipes()
    stems = {p.stem for p in FLAGS_DIR.glob("*/*.flags")}
    assert set(recipes) == stems and len(stems) == len(list(FLAGS_DIR.glob("*/*.flags")))
    for recipe in recipes.values():  # in the folder of its kind
        assert pathlib.Path(recipe["path"]).parent.name == resources.RECIPE_KINDS[recipe["tool"]]
    assert recipes["sdae_mnist"]["tool"] == "sdae-train"
    assert recipes["table1"]["tool"] == "sdae-experiment"
    assert recipes["tune_sigma_mnist"]["tool"] == "sdae-tune"
    assert all(r["summary"] for r in recipes.values())


def test_recipe_expands_nested_flagfiles_and_later_flags_override(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nested flags/common.flags must not depend on the cwd
    argv = resources.expand_argv(["sdae-train", "--recipe=sdae_mnist", "--seed=3"], "sdae-train")
    assert "--flagfile=flags/common.flags" not in argv
    assert "--batch_size=128" in argv  # from common.flags
    assert argv.index("--seed=0") < argv.index("--seed=3")  # common's seed, then ours
    same = resources.expand_argv(["x", "--recipe", "sdae_mnist"], "sdae-train")
    assert same[1:] == argv[1:-1]
    values = flags.FlagValues()
    flags.DEFINE_integer("seed", None, "", flag_values=values)
    flags.DEFINE_integer("batch_size", None, "", flag_values=values)
    values([a for a in argv if a.split("=")[0] in ("sdae-train", "--seed", "--batch_size")])
    assert values.seed == 3 and values.batch_size == 128
    # Two levels: table1_report -> report_recipe -> common.
    nested = resources.expand_argv(["x", "--recipe=table1_report"], "sdae-experiment")
    assert "--protocol=report" in nested and "--data_seed=0" in nested


def test_unknown_or_foreign_recipe_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"Unknown recipe 'sdae_mnsit'.*sdae_mnist"):
        resources.expand_argv(["x", "--recipe=sdae_mnsit"], "sdae-train")
    with pytest.raises(ValueError, match="run by sdae-experiment, not sdae-train"):
        resources.expand_argv(["x", "--recipe=table1"], "sdae-train")


def test_self_including_flagfile_is_refused(tmp_path):
    loop = tmp_path / "loop.flags"
    loop.write_text("--flagfile=flags/loop.flags\n")
    with pytest.raises(ValueError, match="includes itself"):
        resources.expand_flagfile(loop)


def test_startup_filter_drops_notices_and_repeats_but_keeps_real_warnings():
    text = "\n".join([
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:17.1 8606 port.cc:153] oneDNN custom operations are on. You may see ...",
        "W0000 00:00:17.2 8606 gpu.cc:1] Could not load dynamic library 'libcuda.so.1'",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:18.9 8607 port.cc:153] oneDNN custom operations are on. You may see ...",
        "W0000 00:00:18.9 8607 gpu.cc:1] Could not load dynamic library 'libcuda.so.1'",
        "/x.py:3: UserWarning: something real",
    ])
    assert filter_startup(text) == [
        "W0000 00:00:17.2 8606 gpu.cc:1] Could not load dynamic library 'libcuda.so.1'",
        "/x.py:3: UserWarning: something real"]


def test_cli_start_is_quiet_and_lists_models_and_recipes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SDAE_TF_STARTUP_LOGS"}
    result = subprocess.run([sys.executable, "-m", "sdae_tf.cli.models"], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "InitializeLog" not in result.stderr and "oneDNN" not in result.stderr
    assert len(set(result.stderr.splitlines())) == len(result.stderr.splitlines())
    assert "| sdae_mnist | sdae_mnist |" in result.stdout
    assert "| table1_report | sdae-experiment |" in result.stdout
    assert "gaussian 0.4" in result.stdout  # the denoiser column
